// A call through the media server (Janus's VideoRoom): used by every page that sits in a call
// when the server has Janus configured (GET /api/calls/config media_server); otherwise the
// pages keep the browser-to-browser call (CallLink in common.js).
//
//   const pass = await mediaPass(page, caseId);       // null: no media server, stay P2P
//   const room = await joinRoom(pass, { localStream, container, onRemote });
//   room.leave();
//
// The pass (POST /api/cases/{id}/media-pass) is this participant's seat in this one call: the
// token Janus knows, the feed id to publish under, whether to publish at all. The app decides
// who sits where; this module only does what the pass says. The server records every publisher.
import { KC } from "./common.js";

const VIDEOROOM = "janus.plugin.videoroom";
// Debian's janus.js expects the global `adapter`; both are served by the app under /vendor.
const LIBRARIES = ["/vendor/adapter.js", "/vendor/janus.js"];
let loaded = null;

function script(src) {
  return new Promise((resolve, reject) => {
    const node = document.createElement("script");
    node.src = src;
    node.onload = resolve;
    node.onerror = () => reject(new Error(`${src} did not load`));
    document.head.appendChild(node);
  });
}

function janusReady() {
  loaded ||= (async () => {
    for (const src of LIBRARIES) await script(src);
    await new Promise((resolve) =>
      window.Janus.init({ debug: false, dependencies: window.Janus.useDefaultDependencies(), callback: resolve }));
  })();
  return loaded;
}

// This page's pass to the case's call, or null when the server has no media server (404:
// the page config said there was one, but the server was configured without it since).
export async function mediaPass(page, caseId) {
  try {
    return await KC.api(page, "POST", `/api/cases/${caseId}/media-pass`);
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

function session(pass, onLost) {
  return new Promise((resolve, reject) => {
    let up = false;
    const janus = new window.Janus({
      server: pass.server,
      token: pass.token,
      iceServers: pass.ice_servers || [],
      success: () => {
        up = true;
        resolve(janus);
      },
      error: (cause) => (up ? onLost(cause) : reject(new Error(String(cause)))),
    });
  });
}

function attach(janus, callbacks) {
  return new Promise((resolve, reject) =>
    janus.attach({ plugin: VIDEOROOM, success: resolve, error: (cause) => reject(new Error(String(cause))), ...callbacks }));
}

// A join's answer comes as an event: the next answer (or error) settles the oldest request.
class Requests {
  constructor() {
    this.waiting = [];
  }

  send(handle, message) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      handle.send({ message, error: (cause) => reject(new Error(String(cause))) });
    });
  }

  answer(msg) {
    const next = this.waiting.shift();
    if (!next) return;
    if (msg.error_code) next.reject(Object.assign(new Error(msg.error), { code: msg.error_code }));
    else next.resolve(msg);
  }
}

// One remote participant on screen: a <video> labelled with their display name, made once
// (janus.js reports a track again when it is unmuted).
function feedView(display, stream) {
  const video = KC.el("video", { autoplay: true, playsInline: true });
  video.srcObject = stream;
  const figure = KC.el("figure", { className: "feed" }, video, KC.el("figcaption", { textContent: display }));
  return { figure, video };
}

export class Room {
  constructor(pass, { localStream = null, container = null, onRemote = () => {}, onLeft = () => {}, onState = () => {} }) {
    this.pass = pass;
    this.localStream = localStream;
    this.container = container;
    this.onRemote = onRemote;
    this.onLeft = onLeft;
    this.onState = onState;
    this.janus = null;
    this.publisher = null;
    this.privateId = null;
    // By feed id: { display, handle, stream, video, figure }.
    this.feeds = new Map();
  }

  async join() {
    await janusReady();
    this.janus = await session(this.pass, () => this.onState("failed"));
    const requests = new Requests();
    this.publisher = await attach(this.janus, {
      onmessage: (msg, jsep) => {
        if (msg.videoroom === "joined" || msg.error_code) requests.answer(msg);
        if (msg.videoroom === "event") this.roomEvent(msg);
        if (jsep) this.publisher.handleRemoteJsep({ jsep });
      },
      webrtcState: (on) => this.onState(on ? "connected" : "disconnected"),
      iceState: (state) => state === "failed" && this.onState("failed"),
    });
    const { pass } = this;
    const joined = await requests.send(this.publisher, {
      request: "join", ptype: "publisher", room: pass.room, pin: pass.pin,
      token: pass.token, id: pass.feed_id, display: pass.display,
    });
    this.privateId = joined.private_id;
    this.roomEvent(joined);
    if (pass.publish) this.publish();
    return this;
  }

  // The own camera and microphone, as the page opened them (janus.js leaves them running).
  publish() {
    const stream = this.localStream;
    const tracks = stream
      ? stream.getTracks().map((track) => ({ type: track.kind, capture: track, recv: false, dontStop: true }))
      : [];
    if (!tracks.length) return;
    this.publisher.createOffer({
      tracks,
      success: (jsep) => this.publisher.send({ message: { request: "configure", audio: true, video: true }, jsep }),
      error: (cause) => console.warn("media offer", cause),
    });
  }

  // The same surface as CallLink (common.js), so a page holds either as its call link:
  // replaceVideo, reconnect, close.

  // Another camera, or none (voice only): sent in place of the video, without renegotiating.
  async replaceVideo(track) {
    const pc = this.publisher && this.publisher.webrtcStuff && this.publisher.webrtcStuff.pc;
    const video = pc && pc.getTransceivers().find((t) => t.receiver.track.kind === "video");
    if (video) await video.sender.replaceTrack(track);
  }

  // Join again with the same seat (same token and feed): a fresh session and fresh connections.
  async reconnect() {
    this.leave();
    window.kuaichuRoom = this;
    try {
      await this.join();
    } catch (error) {
      this.onState("failed");
      throw error;
    }
  }

  close() {
    this.leave();
  }

  roomEvent(msg) {
    for (const publisher of msg.publishers || []) {
      this.subscribe(publisher.id, publisher.display).catch((error) => console.warn("subscribe", error));
    }
    const gone = msg.unpublished || msg.leaving;
    if (gone && gone !== "ok") this.drop(gone);
  }

  async subscribe(feed, display) {
    if (this.feeds.has(feed) || feed === this.pass.feed_id) return;
    const entry = { display: display || "", handle: null, stream: new MediaStream(), video: null, figure: null };
    this.feeds.set(feed, entry);
    const requests = new Requests();
    entry.handle = await attach(this.janus, {
      onmessage: (msg, jsep) => {
        if (msg.videoroom === "attached" || msg.error_code) requests.answer(msg);
        if (jsep) this.answer(entry.handle, jsep);
      },
      onremotetrack: (track, mid, on) => on && this.remoteTrack(feed, entry, track),
      // A subscription whose connection failed is made again (the publisher is still there).
      iceState: (state) => state === "failed" && this.resubscribe(feed),
    });
    const { pass } = this;
    await requests.send(entry.handle, {
      request: "join", ptype: "subscriber", room: pass.room, pin: pass.pin,
      private_id: this.privateId, streams: [{ feed }],
    });
  }

  resubscribe(feed) {
    const entry = this.feeds.get(feed);
    if (!entry || !this.janus) return;
    this.drop(feed);
    this.subscribe(feed, entry.display).catch((error) => console.warn("subscribe again", error));
  }

  answer(handle, jsep) {
    handle.createAnswer({
      jsep,
      tracks: [{ type: "data" }],
      success: (answer) => handle.send({ message: { request: "start", room: this.pass.room }, jsep: answer }),
      error: (cause) => console.warn("media answer", cause),
    });
  }

  remoteTrack(feed, entry, track) {
    if (!entry.stream.getTrackById(track.id)) entry.stream.addTrack(track);
    if (entry.video) return;
    const { figure, video } = feedView(entry.display, entry.stream);
    Object.assign(entry, { figure, video });
    figure.dataset.feed = String(feed);
    if (this.container) this.container.appendChild(figure);
    this.onRemote({ feed, display: entry.display, stream: entry.stream, video, figure });
  }

  drop(feed) {
    const entry = this.feeds.get(feed);
    if (!entry) return;
    this.feeds.delete(feed);
    if (entry.handle) entry.handle.detach();
    if (entry.figure) entry.figure.remove();
    this.onLeft({ feed, display: entry.display });
  }

  // Video frames of this feed decoded here (getStats), for the page's own checks and tests.
  async framesDecoded(feed) {
    const entry = this.feeds.get(feed);
    const pc = entry && entry.handle && entry.handle.webrtcStuff && entry.handle.webrtcStuff.pc;
    if (!pc) return 0;
    let frames = 0;
    (await pc.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") frames += report.framesDecoded || 0;
    });
    return frames;
  }

  leave() {
    for (const feed of [...this.feeds.keys()]) this.drop(feed);
    if (this.janus) this.janus.destroy({});
    this.janus = null;
    this.publisher = null;
    if (window.kuaichuRoom === this) window.kuaichuRoom = null;
  }
}

// Join the call's room with the pass: publish `localStream` when the pass says so, and show
// every other publisher (in `container`, and to `onRemote`). Resolves once joined.
export async function joinRoom(pass, options = {}) {
  const room = new Room(pass, options);
  window.kuaichuRoom = room; // what the browser tests read, like window.kuaichuPeer
  try {
    return await room.join();
  } catch (error) {
    room.leave();
    throw error;
  }
}
