// A participant's page on the media server, driven by the Janus tests: janus.js (served by
// the app) joins the room with the pass the app handed out, publishes the fake camera and
// microphone when the pass says so, and subscribes to every other publisher.
window.kc = (() => {
  const state = { janus: null, pass: null, publisher: null, privateId: null, subscribers: new Map(), videos: new Map() };

  async function api(method, path, body, token) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(path, { method, headers, body: body === null ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  const ready = new Promise((resolve) =>
    Janus.init({ debug: false, dependencies: Janus.useDefaultDependencies(), callback: resolve }),
  );

  async function session(server, token) {
    await ready;
    return new Promise((resolve, reject) => {
      const janus = new Janus({
        server,
        token,
        iceServers: [],
        success: () => resolve(janus),
        error: (cause) => reject(new Error(`session: ${cause}`)),
      });
    });
  }

  function attach(janus, callbacks) {
    return new Promise((resolve, reject) =>
      janus.attach({
        plugin: "janus.plugin.videoroom",
        success: resolve,
        error: (cause) => reject(new Error(`attach: ${cause}`)),
        ...callbacks,
      }),
    );
  }

  // A request whose answer comes as an event (join): resolves with it, or rejects with its error code.
  function request(handle, waiting, message) {
    return new Promise((resolve, reject) => {
      waiting.push({ resolve, reject });
      handle.send({ message, error: (cause) => reject(new Error(String(cause))) });
    });
  }

  function answered(waiting, msg) {
    const next = waiting.shift();
    if (!next) return;
    if (msg.error_code) next.reject(Object.assign(new Error(msg.error), { code: msg.error_code }));
    else next.resolve(msg);
  }

  async function subscribe(feed) {
    if (state.subscribers.has(feed)) return;
    const { pass } = state;
    let handle;
    const waiting = [];
    handle = await attach(state.janus, {
      onmessage: (msg, jsep) => {
        if (msg.videoroom === "attached" || msg.error_code) answered(waiting, msg);
        if (jsep) {
          handle.createAnswer({
            jsep,
            tracks: [{ type: "data" }],
            success: (answer) => handle.send({ message: { request: "start", room: pass.room }, jsep: answer }),
            error: (cause) => console.error("answer", cause),
          });
        }
      },
      onremotetrack: (track, mid, on) => {
        // Fired again on unmute: one <video> per feed.
        if (track.kind !== "video" || !on || state.videos.has(feed)) return;
        const video = document.createElement("video");
        Object.assign(video, { autoplay: true, muted: true, playsInline: true });
        video.srcObject = new MediaStream([track]);
        document.body.appendChild(video);
        state.videos.set(feed, video);
      },
    });
    state.subscribers.set(feed, handle);
    await request(handle, waiting, {
      request: "join",
      ptype: "subscriber",
      room: pass.room,
      pin: pass.pin,
      private_id: state.privateId,
      streams: [{ feed }],
    });
  }

  function publishersIn(msg) {
    for (const publisher of msg.publishers || []) subscribe(publisher.id);
  }

  // Join with the pass; publish when it says so; resolves once the own media flows (or at once
  // for a watcher), with the feeds already in the room.
  async function join(pass) {
    state.pass = pass;
    state.janus = await session(pass.server, pass.token);
    const waiting = [];
    let up;
    const mediaUp = new Promise((resolve) => (up = resolve));
    state.publisher = await attach(state.janus, {
      onmessage: (msg, jsep) => {
        if (msg.videoroom === "joined" || msg.error_code) answered(waiting, msg);
        if (msg.videoroom === "event") publishersIn(msg);
        if (jsep) state.publisher.handleRemoteJsep({ jsep });
      },
      webrtcState: (on) => on && up(),
    });
    const joined = await request(state.publisher, waiting, {
      request: "join",
      ptype: "publisher",
      room: pass.room,
      pin: pass.pin,
      token: pass.token,
      id: pass.feed_id,
      display: pass.display,
    });
    state.privateId = joined.private_id;
    publishersIn(joined);
    if (!pass.publish) return joined.publishers.map((p) => p.id);
    state.publisher.createOffer({
      tracks: [
        { type: "audio", capture: true, recv: false },
        { type: "video", capture: true, recv: false },
      ],
      success: (jsep) =>
        state.publisher.send({ message: { request: "configure", audio: true, video: true }, jsep }),
      error: (cause) => console.error("offer", cause),
    });
    await mediaUp;
    return joined.publishers.map((p) => p.id);
  }

  // Frames of this feed decoded here, and its picture has a size.
  async function receiving(feed) {
    const handle = state.subscribers.get(feed);
    const video = state.videos.get(feed);
    const pc = handle && handle.webrtcStuff && handle.webrtcStuff.pc;
    if (!pc || !video || video.videoWidth === 0) return false;
    const stats = await pc.getStats();
    for (const report of stats.values()) {
      if (report.type === "inbound-rtp" && report.kind === "video" && report.framesDecoded > 0) return true;
    }
    return false;
  }

  // Try to get into a room: where Janus refused ("session" or "join") and its code, or null.
  async function tryJoin(server, sessionToken, room, pin, roomToken) {
    let janus;
    try {
      janus = await session(server, sessionToken);
    } catch (error) {
      return { stage: "session", reason: error.message };
    }
    try {
      const waiting = [];
      const handle = await attach(janus, {
        onmessage: (msg) => (msg.videoroom === "joined" || msg.error_code) && answered(waiting, msg),
      });
      await request(handle, waiting, { request: "join", ptype: "publisher", room, pin, token: roomToken });
      return null;
    } catch (error) {
      return { stage: "join", code: error.code, reason: error.message };
    } finally {
      await new Promise((resolve) => janus.destroy({ success: resolve, error: resolve }));
    }
  }

  async function leave() {
    if (!state.janus) return;
    await new Promise((resolve) => state.janus.destroy({ success: resolve, error: resolve }));
    state.janus = null;
  }

  return { api, join, receiving, tryJoin, leave };
})();
