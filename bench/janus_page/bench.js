// The benchmark's page (bench/janus.py): one browser publishes its fake camera, another receives
// it N times, either forwarded by Janus (one VideoRoom subscriber handle per stream) or straight
// from the publisher (one RTCPeerConnection per stream, the SDP carried by the driver).
window.kcb = (() => {
  const state = { janus: null, handle: null, subscribers: [], pcs: new Map(), stream: null };
  const ready = new Promise((resolve) =>
    Janus.init({ debug: false, dependencies: Janus.useDefaultDependencies(), callback: resolve }),
  );

  async function session(server, apisecret) {
    await ready;
    return new Promise((resolve, reject) => {
      const janus = new Janus({ server, apisecret, iceServers: [], success: () => resolve(janus), error: reject });
    });
  }

  function attach(janus, callbacks) {
    return new Promise((resolve, reject) =>
      janus.attach({ plugin: "janus.plugin.videoroom", success: resolve, error: reject, ...callbacks }),
    );
  }

  function show(track) {
    const video = document.createElement("video");
    Object.assign(video, { autoplay: true, muted: true, playsInline: true });
    video.srcObject = new MediaStream([track]);
    document.body.appendChild(video);
  }

  // Create the room (admin key) and publish the fake camera and microphone into it.
  async function publish(server, apisecret, adminKey, room) {
    state.janus = await session(server, apisecret);
    let joined;
    let up;
    const joinedNow = new Promise((resolve) => (joined = resolve));
    const mediaUp = new Promise((resolve) => (up = resolve));
    const handle = await attach(state.janus, {
      onmessage: (msg, jsep) => {
        if (msg.videoroom === "joined") joined(msg.id);
        if (jsep) handle.handleRemoteJsep({ jsep });
      },
      webrtcState: (on) => on && up(),
    });
    state.handle = handle;
    const create = { request: "create", room, admin_key: adminKey, publishers: 1, permanent: false,
      audiocodec: "opus", videocodec: "vp8" };
    await new Promise((resolve, reject) => handle.send({ message: create, success: resolve, error: reject }));
    handle.send({ message: { request: "join", ptype: "publisher", room, display: "bench" } });
    const feed = await joinedNow;
    handle.createOffer({
      tracks: [{ type: "audio", capture: true, recv: false }, { type: "video", capture: true, recv: false }],
      success: (jsep) => handle.send({ message: { request: "configure", audio: true, video: true }, jsep }),
      error: (cause) => console.error("offer", cause),
    });
    await mediaUp;
    return feed;
  }

  // `count` more subscriptions to the feed, each its own handle and PeerConnection.
  async function subscribe(server, apisecret, room, feed, count) {
    if (!state.janus) state.janus = await session(server, apisecret);
    for (let i = 0; i < count; i++) {
      let handle;
      handle = await attach(state.janus, {
        onmessage: (msg, jsep) => {
          if (!jsep) return;
          handle.createAnswer({
            jsep,
            tracks: [{ type: "data" }],
            success: (answer) => handle.send({ message: { request: "start", room }, jsep: answer }),
            error: (cause) => console.error("answer", cause),
          });
        },
        onremotetrack: (track, mid, on) => {
          if (track.kind === "video" && on && !handle.shown) {
            handle.shown = true;
            show(track);
          }
        },
      });
      state.subscribers.push(handle);
      handle.send({ message: { request: "join", ptype: "subscriber", room, streams: [{ feed }] } });
    }
  }

  async function leave() {
    if (state.janus) await new Promise((resolve) => state.janus.destroy({ success: resolve, error: resolve }));
    state.janus = null;
    state.subscribers = [];
    document.querySelectorAll("video").forEach((video) => video.remove());
  }

  function gathered(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    }));
  }

  // Browser to browser: the publisher's offer for stream `i`, all candidates in it.
  async function p2pOffer(i) {
    if (!state.stream) state.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    const pc = new RTCPeerConnection({ iceServers: [] });
    state.stream.getTracks().forEach((track) => pc.addTrack(track, state.stream));
    state.pcs.set(i, pc);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    return pc.localDescription.sdp;
  }

  async function p2pAnswer(i, sdp) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    pc.ontrack = (event) => event.track.kind === "video" && show(event.track);
    state.pcs.set(i, pc);
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    return pc.localDescription.sdp;
  }

  async function p2pAccept(i, sdp) {
    await state.pcs.get(i).setRemoteDescription({ type: "answer", sdp });
  }

  function connections() {
    const janus = state.subscribers.map((h) => h.webrtcStuff && h.webrtcStuff.pc).filter(Boolean);
    return janus.concat([...state.pcs.values()]);
  }

  // What this page receives: streams decoding, and the video bytes and frames so far.
  async function received() {
    const totals = { decoding: 0, bytes: 0, frames: 0, width: 0, height: 0 };
    for (const pc of connections()) {
      for (const report of (await pc.getStats()).values()) {
        if (report.type !== "inbound-rtp" || report.kind !== "video") continue;
        if (report.framesDecoded > 0) totals.decoding += 1;
        totals.bytes += report.bytesReceived || 0;
        totals.frames += report.framesDecoded || 0;
        totals.width = report.frameWidth || totals.width;
        totals.height = report.frameHeight || totals.height;
      }
    }
    return totals;
  }

  return { publish, subscribe, leave, p2pOffer, p2pAnswer, p2pAccept, received };
})();
