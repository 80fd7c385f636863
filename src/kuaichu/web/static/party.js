// The party's page (当事人): login, one-tap call, queue, the call, evacuate, progress.
"use strict";

const PAGE = "party";
const VIEWS = [
  "login-view", "home-view", "wait-view", "call-view", "photo-view",
  "evacuate-view", "transfer-view", "progress-view",
];
const party = {
  config: null,
  caseId: null,
  state: null,
  socket: null,
  link: null,
  stream: null,
  facing: "environment",
  done: new Set(),
  stills: null,
  photos: new Set(),
};

const view = (id) => KC.view(VIEWS, id);
const say = KC.say;
const guarded = (action) => KC.guarded(action);

// Large text for elderly users, remembered on this phone.
function applyLargeText(on) {
  document.documentElement.classList.toggle("large", on);
  document.getElementById("large-text").setAttribute("aria-pressed", String(on));
  localStorage.setItem("kuaichu.largeText", on ? "1" : "");
}

// Login.

async function sendCode() {
  const phone = document.getElementById("phone").value.trim();
  await KC.api(PAGE, "POST", "/api/auth/sms-code", { phone });
  say("验证码已发送，请查收短信");
}

async function login(event) {
  event.preventDefault();
  const phone = document.getElementById("phone").value.trim();
  const code = document.getElementById("code").value.trim();
  const result = await KC.api(PAGE, "POST", "/api/auth/party", { phone, code });
  KC.setToken(PAGE, result.access_token);
  await home();
}

// Home and progress.

async function home() {
  view("home-view");
  const cases = await KC.api(PAGE, "GET", "/api/cases");
  const list = document.getElementById("my-cases");
  list.replaceChildren(
    ...cases.map((c) => {
      const item = KC.el("li", {}, KC.el("button", {
        type: "button",
        className: "link",
        textContent: `${c.number} · ${c.state_label}`,
        onclick: () => guarded(() => resume(c.id)),
      }));
      return item;
    }),
  );
  if (!cases.length) list.append(KC.el("li", { className: "hint", textContent: "暂无事故记录" }));
}

const GRADES = { full: "全部责任", main: "主要责任", equal: "同等责任", minor: "次要责任", none: "无责任" };
const CLAIM_STATUS = {
  pushed: "已推送", surveyor_assigned: "已指派查勘员", contacted: "查勘员已联系您", assessed: "定损完成", paid: "赔款已支付",
};

// Timeline kinds the server may send without a label of its own (the raw key as label).
const EVENT_LABELS = {
  call_mode: "切换接入方式",
  propose_agreement: "发起自行协商",
  send_back: "民警要求补充证据",
  call_back: "补充视频取证",
  collection_override: "坐席说明理由后放行",
  ordinary_procedure: "转为一般程序处理",
};

function eventLabel(event) {
  if (event.label && event.label !== event.kind && /[\u4e00-\u9fff]/.test(event.label)) return event.label;
  return EVENT_LABELS[event.kind] || "办理记录";
}

async function progress(caseId) {
  view("progress-view");
  party.caseId = caseId;
  const [detail, events, documents, claims] = await Promise.all([
    KC.api(PAGE, "GET", `/api/cases/${caseId}`),
    KC.api(PAGE, "GET", `/api/cases/${caseId}/timeline`),
    KC.api(PAGE, "GET", `/api/cases/${caseId}/documents`),
    KC.api(PAGE, "GET", `/api/cases/${caseId}/claims`),
  ]);
  KC.text("progress-number", detail.number);
  KC.text("progress-state", detail.state_label);
  showDetermination(detail, documents);
  // The officer sent the case back (待补充证据): why, and one tap back into the call.
  const sentBack = [...events].reverse().find((e) => e.kind === "send_back");
  KC.show("more-evidence-card", detail.state === "more_evidence");
  KC.text("send-back-reason", (sentBack && sentBack.detail && sentBack.detail.reason) || "请按坐席要求补充拍摄");
  const can = (action) => detail.allowed_actions.includes(action);
  KC.show("agreement-card", detail.state === "agreement_pending");
  KC.show("review-form", can("request_review") && detail.review_deadline && new Date(detail.review_deadline) > new Date());
  KC.show("claim-card", ["determined", "agreed", "closed"].includes(detail.state));
  document.getElementById("claims").replaceChildren(...claims.map((c) => KC.el("li", {
    textContent: `理赔已推送至${c.insurer_name || c.insurer_code}：${CLAIM_STATUS[c.status] || c.status}`,
  })));
  document.getElementById("timeline").replaceChildren(
    ...events.map((e) => KC.el("li", {},
      KC.el("time", { textContent: KC.time(e.at) }),
      KC.el("span", { textContent: ` ${eventLabel(e)}（${e.actor}）` }))),
  );
}

// The determination, its signed document and the review period (art. 71).
function showDetermination(detail, documents) {
  KC.show("determination-card", Boolean(detail.determination) || documents.length > 0);
  if (!detail.determination) return;
  const names = Object.fromEntries(detail.parties.map((p) => [p.id, `${p.name}（${p.plate_number}）`]));
  document.getElementById("determination-shares").replaceChildren(...detail.determination.shares.map((s) =>
    KC.el("li", { textContent: `${names[s.party_id]}：${GRADES[s.responsibility]}` })));
  document.getElementById("documents").replaceChildren(...documents.map((d) => {
    const open = KC.el("button", { type: "button", className: "link", textContent: `查看认定书 ${d.number}（${d.status_label}）` });
    open.onclick = () => guarded(async () => window.open(URL.createObjectURL(await KC.api(PAGE, "GET", d.download_url))));
    return KC.el("li", {}, open);
  }));
  KC.text("review-deadline", detail.review_deadline
    ? `如对认定有异议，可在${KC.time(new Date(new Date(detail.review_deadline) - 1000).toISOString())}前提出书面复核申请。`
    : "");
}

async function applyForReview(event) {
  event.preventDefault();
  await KC.api(PAGE, "POST", `/api/cases/${party.caseId}/review`, {
    reasons: document.getElementById("review-reasons").value,
  });
  say("复核申请已提交，其他当事人将收到通知");
  await progress(party.caseId);
}

async function pushClaim() {
  const claim = await KC.api(PAGE, "POST", `/api/cases/${party.caseId}/claim`);
  say(`已推送至${claim.insurer_name || claim.insurer_code}，查勘员将与您联系`);
  await progress(party.caseId);
}

async function answerAgreement(accept) {
  await KC.api(PAGE, "POST", `/api/cases/${party.caseId}/settlement/${accept ? "confirm" : "reject"}`);
  await progress(party.caseId);
}

async function resume(caseId) {
  const detail = await KC.api(PAGE, "GET", `/api/cases/${caseId}`);
  party.caseId = caseId;
  party.state = detail.state;
  if (["queued", "in_call", "collected"].includes(detail.state)) {
    await startCamera();
    view(detail.state === "queued" ? "wait-view" : "call-view");
    openSocket();
  } else {
    await progress(caseId);
  }
}

// Location and camera.

function locate() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) {
      reject(new Error("此设备不支持定位，请开启定位后重试"));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (position) => resolve(position.coords),
      () => reject(new Error("无法获取您的位置，请允许定位后重试")),
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  });
}

async function startCamera() {
  if (party.stream) return;
  try {
    party.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: party.facing, width: { ideal: 1280 } },
      audio: true,
    });
  } catch {
    // No camera (or refused): the call can still go on with voice, or by photos.
    party.stream = await navigator.mediaDevices.getUserMedia({ audio: true }).catch(() => null);
    say("无法打开摄像头，可使用仅语音或拍照上传");
  }
  document.getElementById("preview").srcObject = party.stream;
  document.getElementById("local-video").srcObject = party.stream;
}

function stopCamera() {
  if (party.stream) for (const track of party.stream.getTracks()) track.stop();
  party.stream = null;
}

async function switchCamera() {
  party.facing = party.facing === "environment" ? "user" : "environment";
  const fresh = await navigator.mediaDevices.getUserMedia({ video: { facingMode: party.facing } });
  const track = fresh.getVideoTracks()[0];
  for (const old of party.stream.getVideoTracks()) {
    party.stream.removeTrack(old);
    old.stop();
  }
  party.stream.addTrack(track);
  if (party.link) await party.link.replaceVideo(track);
}

// One tap.

async function report() {
  const coords = await locate();
  await startCamera();
  const status = await KC.api(PAGE, "POST", "/api/calls", { lat: coords.latitude, lng: coords.longitude });
  party.caseId = status.case_id;
  party.state = status.state;
  showPosition(status.position, status.estimated_wait_seconds);
  view(status.state === "queued" ? "wait-view" : "call-view");
  openSocket();
}

function showPosition(position, wait) {
  if (position == null) return;
  KC.text("position", String(position - 1));
  KC.text("wait", KC.duration(wait));
}

// 补充视频取证: the same case goes back to the head of the queue; then as after the one tap.
async function callBack() {
  await startCamera();
  const status = await KC.api(PAGE, "POST", `/api/cases/${party.caseId}/call-back`);
  party.state = status.state;
  party.done = new Set();
  party.stills = null;
  renderChecklist();
  showPosition(status.position, status.estimated_wait_seconds);
  view(status.state === "queued" ? "wait-view" : "call-view");
  openSocket();
}

async function abandon() {
  await KC.api(PAGE, "POST", `/api/calls/${party.caseId}/abandon`);
  leaveCall();
  await home();
}

// The page's connection: watch the case; join the call once an operator has it.

function openSocket() {
  if (party.socket) return;
  party.socket = KC.socket(PAGE, {
    onOpen: () => {
      party.socket.send({ type: "watch", case_id: party.caseId });
      if (["in_call", "collected"].includes(party.state)) party.socket.send({ type: "join", case_id: party.caseId });
    },
    onMessage: (message) => guarded(() => onMessage(message)),
  });
}

function leaveCall() {
  if (party.link) party.link.close();
  party.link = null;
  if (party.socket) party.socket.close();
  party.socket = null;
  stopCamera();
}

async function onMessage(message) {
  switch (message.type) {
    case "position":
      showPosition(message.position, message.estimated_wait_seconds);
      break;
    case "watching":
      await onState(message.state);
      break;
    case "case":
      await onState(message.state, message.event);
      break;
    case "peer":
      if (message.event === "joined") sendSignal({ kind: "here" });
      else KC.text("call-state", "坐席连接中断，正在等待重新接通…");
      break;
    case "signal":
      await onSignal(message.data || {});
      break;
    case "error":
      say(message.detail);
      break;
    default:
      break;
  }
}

async function onState(state, event) {
  const previous = party.state;
  party.state = state;
  if (state === "queued") {
    if (party.link) party.link.close();
    party.link = null;
    if (event === "call_requeued") say("通话中断，已为您优先重新排队");
    view("wait-view");
  } else if (state === "in_call" || state === "collected") {
    if (!document.getElementById("photo-view").hidden) return; // photo mode: no call
    view("call-view");
    if (previous === "queued" || event === "call_taken" || !party.link) {
      party.socket.send({ type: "join", case_id: party.caseId });
    }
  } else if (state === "evacuated") {
    leaveCall();
    view("evacuate-view");
  } else if (state === "transferred") {
    leaveCall();
    view("transfer-view");
  }
}

function sendSignal(data) {
  party.socket.send({ type: "signal", case_id: party.caseId, data });
}

async function onSignal(data) {
  if (data.kind === "checklist") {
    party.done = new Set(data.done);
    party.stills = data.stills || null;
    renderChecklist();
    return;
  }
  if (data.kind === "offer" && !party.link) {
    party.link = new CallLink({
      iceServers: party.config.ice_servers,
      send: sendSignal,
      onTrack: (stream) => {
        document.getElementById("remote-video").srcObject = stream;
      },
      onState: (state) => {
        const labels = { connected: "已接通交警坐席", connecting: "正在连接…", disconnected: "网络不稳定，正在重连…", failed: "连接失败，正在重试…" };
        KC.text("call-state", labels[state] || state);
      },
    });
  }
  if (party.link) {
    party.link.localStream = party.stream;
    await party.link.handle(data);
  }
}

// The operator's list of stills (each vehicle's own when the console sends them).
function renderChecklist() {
  const items = party.stills
    ? party.stills.map((still) => [still.label, still.present])
    : SHOTS.map(([kind, label]) => [label, party.done.has(kind)]);
  document.getElementById("checklist").replaceChildren(
    ...items.map(([label, done]) => KC.el("li", {
      className: done ? "done" : "",
      textContent: `${done ? "✔" : "○"} ${label}`,
    })),
  );
}

// Poor network.

async function audioOnly() {
  if (party.stream) {
    for (const track of party.stream.getVideoTracks()) {
      party.stream.removeTrack(track);
      track.stop();
    }
  }
  if (party.link) await party.link.replaceVideo(null);
  await KC.api(PAGE, "PUT", `/api/calls/${party.caseId}/mode`, { mode: "audio" });
  say("已切换为仅语音");
}

async function photoMode() {
  await KC.api(PAGE, "PUT", `/api/calls/${party.caseId}/mode`, { mode: "photo" });
  if (party.link) party.link.close();
  party.link = null;
  stopCamera();
  view("photo-view");
  renderPhotoList();
}

function renderPhotoList() {
  document.getElementById("photo-list").replaceChildren(
    ...SHOTS.map(([kind, label]) => {
      const input = KC.el("input", { type: "file", accept: "image/*", capture: "environment" });
      input.onchange = () => guarded(async () => {
        const form = new FormData();
        form.append("file", input.files[0]);
        form.append("kind", kind);
        await KC.api(PAGE, "POST", `/api/cases/${party.caseId}/evidence`, form);
        party.photos.add(kind);
        renderPhotoList();
      });
      const done = party.photos.has(kind);
      return KC.el("li", { className: done ? "done" : "" },
        KC.el("label", { textContent: `${done ? "✔" : "○"} ${label} ` }, input));
    }),
  );
}

// Start.

async function start() {
  applyLargeText(Boolean(localStorage.getItem("kuaichu.largeText")));
  document.getElementById("large-text").onclick = () =>
    applyLargeText(!document.documentElement.classList.contains("large"));
  document.getElementById("send-code").onclick = () => guarded(sendCode);
  document.getElementById("login-form").onsubmit = (event) => guarded(() => login(event));
  document.getElementById("report").onclick = () => guarded(report);
  document.getElementById("review-form").onsubmit = (event) => guarded(() => applyForReview(event));
  document.getElementById("claim").onclick = () => guarded(pushClaim);
  document.getElementById("agreement-confirm").onclick = () => guarded(() => answerAgreement(true));
  document.getElementById("agreement-reject").onclick = () => guarded(() => answerAgreement(false));
  document.getElementById("abandon").onclick = () => guarded(abandon);
  document.getElementById("audio-only").onclick = () => guarded(audioOnly);
  document.getElementById("call-audio-only").onclick = () => guarded(audioOnly);
  document.getElementById("photo-mode").onclick = () => guarded(photoMode);
  document.getElementById("call-photo-mode").onclick = () => guarded(photoMode);
  document.getElementById("switch-camera").onclick = () => guarded(switchCamera);
  document.getElementById("evacuate-ok").onclick = () => guarded(() => progress(party.caseId));
  document.getElementById("transfer-ok").onclick = () => guarded(() => progress(party.caseId));
  document.getElementById("back-home").onclick = () => guarded(home);
  document.getElementById("call-back").onclick = () => guarded(callBack);
  renderChecklist();
  party.config = await KC.api(PAGE, "GET", "/api/calls/config");
  await KC.resume(PAGE, home, () => view("login-view"));
}

guarded(start);
