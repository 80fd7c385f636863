// The party's page (当事人): login, one-tap call, queue, the call, evacuate, progress.
// It resumes where the case is (a reload lands on the same screen) and stays live on the
// page's socket; warnings that matter (camera, microphone, location, network) stay as banners.
"use strict";

const PAGE = "party";
const VIEWS = [
  "login-view", "consent-view", "home-view", "wait-view", "call-view", "photo-view",
  "evacuate-view", "transfer-view", "progress-view",
];
const party = {
  config: null,
  me: null,
  caseId: null,
  state: null,
  socket: null,
  link: null,
  stream: null,
  facing: "environment",
  done: new Set(),
  stills: null,
  photos: new Set(),
  service: null,
  coords: null,
  codeTimer: null,
};

const view = (id) => {
  KC.view(VIEWS, id);
  KC.show("logout", id !== "login-view");
};
const say = KC.say;
const guarded = (action) => KC.guarded(action);

// What this tab was showing, so a reload lands there again (evacuate, photo mode, progress).
const remembered = {
  key: "kuaichu.party.case",
  read() {
    try {
      return JSON.parse(sessionStorage.getItem(this.key)) || {};
    } catch {
      return {};
    }
  },
  write(update) {
    const current = this.read();
    const base = update.caseId && update.caseId !== current.caseId ? {} : current; // another case
    sessionStorage.setItem(this.key, JSON.stringify({ ...base, ...update }));
  },
  forget() {
    sessionStorage.removeItem(this.key);
  },
};

// Large text for elderly users, remembered on this phone.
function applyLargeText(on) {
  document.documentElement.classList.toggle("large", on);
  document.getElementById("large-text").setAttribute("aria-pressed", String(on));
  localStorage.setItem("kuaichu.largeText", on ? "1" : "");
}

// Login, and the code's countdown (the server refuses a new code within its interval).

const CODE_INTERVAL_SECONDS = 60;

async function sendCode() {
  const phone = document.getElementById("phone").value.trim();
  await KC.api(PAGE, "POST", "/api/auth/sms-code", { phone });
  say("验证码已发送，请查收短信");
  countDown(CODE_INTERVAL_SECONDS);
}

function countDown(seconds) {
  const button = document.getElementById("send-code");
  clearInterval(party.codeTimer);
  let left = seconds;
  const tick = () => {
    if (left <= 0) {
      clearInterval(party.codeTimer);
      button.disabled = false;
      button.textContent = "获取验证码";
      return;
    }
    button.disabled = true;
    button.textContent = `${left}秒后重新获取`;
    left -= 1;
  };
  tick();
  party.codeTimer = setInterval(tick, 1000);
}

async function login() {
  const phone = document.getElementById("phone").value.trim();
  const code = document.getElementById("code").value.trim();
  const result = await KC.api(PAGE, "POST", "/api/auth/party", { phone, code });
  KC.setToken(PAGE, result.access_token);
  await enter();
}

async function logout() {
  try {
    await KC.api(PAGE, "POST", "/api/auth/logout");
  } catch (error) {
    console.warn("logout", error); // the token is forgotten either way
  }
  leaveCall();
  KC.setToken(PAGE, null);
  remembered.forget();
  party.caseId = null;
  party.me = null;
  for (const key of ["camera", "microphone", "location", "network", "weak"]) KC.unbanner(key);
  say("");
  view("login-view");
}

// Start: straight back to the open case, if there is one.

async function enter() {
  party.me = await KC.api(PAGE, "GET", "/api/auth/me");
  let active = null;
  try {
    active = await KC.api(PAGE, "GET", "/api/calls/active");
  } catch (error) {
    if (error.status === 401) throw error;
    if (error.status !== 404) console.warn("active case", error);
  }
  const last = remembered.read();
  if (active) {
    await resume(active.case_id, active);
  } else if (last.caseId) {
    try {
      await resume(last.caseId);
    } catch (error) {
      if (error.status === 401) throw error;
      console.warn("remembered case", error); // another phone's case, or gone: start afresh
      await home();
    }
  } else {
    await home();
  }
}

// Home and progress.

async function home() {
  view("home-view");
  party.caseId = null;
  remembered.forget();
  leaveCall();
  const cases = await KC.api(PAGE, "GET", "/api/cases");
  const list = document.getElementById("my-cases");
  list.replaceChildren(
    ...cases.map((c) => KC.el("li", {}, KC.el("button", {
      type: "button",
      className: "link",
      textContent: `${c.number} · ${c.state_label}`,
      onclick: () => guarded(() => resume(c.id)),
    }))),
  );
  if (!cases.length) list.append(KC.el("li", { className: "hint", textContent: "暂无事故记录" }));
  checkService(); // where the phone is: open for video reports? (not awaited: GPS may take a while)
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
  evidence_added: "上传证据",
};

function eventLabel(event) {
  if (event.label && event.label !== event.kind && /[\u4e00-\u9fff]/.test(event.label)) return event.label;
  return EVENT_LABELS[event.kind] || "办理记录";
}

// The timeline as a person reads it: the call's recording chunks fold into one line, and
// a recording or photo retention has deleted says so (`purged`: the kinds deleted).
function timelineItems(events, purged = new Set()) {
  const items = [];
  let recording = null;
  for (const e of events) {
    if (e.kind === "evidence_added" && e.detail && e.detail.kind === "recording") {
      if (!recording) {
        recording = { at: e.at, count: 0, actor: e.actor };
        items.push(recording);
      }
      recording.count += 1;
      continue;
    }
    const gone = e.kind === "evidence_added" && purged.has("still") ? `，${PURGED}` : "";
    items.push({ at: e.at, text: `${eventLabel(e)}（${e.actor}）${gone}` });
  }
  const recordingText = (item) =>
    ` 通话录像 ${item.count} 段（${item.actor}）${purged.has("recording") ? `，${PURGED}` : ""}`;
  return items.map((item) => KC.el("li", {},
    KC.el("time", { textContent: KC.time(item.at) }),
    KC.el("span", { textContent: item.text ? ` ${item.text}` : recordingText(item) })));
}

// Retention (个人信息保护法): how long each kind of the case's data is kept, what is gone, and
// the party's own data to download.
const PURGED = "已按规定期限删除";

function purgedKinds(retention) {
  return new Set(retention ? retention.kinds.filter((k) => k.purged_at).map((k) => k.kind) : []);
}

function showRetention(retention) {
  KC.show("my-data-card", Boolean(retention));
  if (!retention) return;
  document.getElementById("retention").replaceChildren(...retention.kinds.map((k) =>
    KC.el("li", { className: k.purged_at ? "purged" : "", textContent: `${k.kind_label}：${k.status_label}` })));
  KC.text("retention-kept", retention.kept_label);
}

async function downloadMyData() {
  const data = await KC.api(PAGE, "GET", `/api/cases/${party.caseId}/my-data`);
  const file = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const link = KC.el("a", { href: URL.createObjectURL(file), download: `事故${data.case.number}-我的数据.json` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  say("已下载本人在本起事故中的数据");
}

// 报警 → 取证 → 撤离 → 定责 → 认定书 → 复核/理赔, and when the next step is expected
// (12123: information collected in 5 minutes, determination within 8).
const COLLECT_MINUTES = 5;
const DETERMINE_MINUTES = 8;
const STEPS = ["报警", "取证", "撤离", "定责", "认定书", "复核/理赔"];

function stepsReached(detail, events, documents, claims, review) {
  const after = (states) => states.includes(detail.state);
  const decided = ["determined", "under_review", "closed"];
  return [
    true,
    after(["evacuated", ...decided]),
    after(["evacuated", ...decided]),
    Boolean(detail.determination) || after(decided),
    documents.length > 0,
    claims.length > 0 || Boolean(review && review.outcome),
  ];
}

function minutesLeft(sinceIso, minutes) {
  const left = minutes - (Date.now() - new Date(sinceIso).getTime()) / 60000;
  return Math.max(1, Math.ceil(left));
}

function nextStepText(detail, events, reached) {
  const lastOf = (kind) => [...events].reverse().find((e) => e.kind === kind || e.state === kind);
  switch (detail.state) {
    case "queued":
    case "in_call":
    case "collected":
      return `正在视频取证，预计${COLLECT_MINUTES}分钟内完成取证`;
    case "more_evidence":
      return "民警需要您补充视频取证，请点击下方“补充视频取证”";
    case "evacuated": {
      const since = lastOf("evacuated");
      return `正在后台定责，预计${since ? minutesLeft(since.at, DETERMINE_MINUTES) : DETERMINE_MINUTES}分钟内作出认定，结果将以短信通知`;
    }
    case "under_review":
      return "复核申请已受理，复核结果将以短信通知";
    case "determined":
      return reached[5] ? "理赔已推送，保险公司查勘员将与您联系" : "认定书已出具：可申请复核，或一键定损理赔";
    case "closed":
      return "本起事故已办结";
    case "transferred":
      return "本起事故已转民警现场处置，请在安全地带等候";
    case "ordinary_procedure":
      return "本起事故转为一般程序处理，办案民警将与您联系";
    default:
      return "";
  }
}

function renderSteps(detail, events, documents, claims, review) {
  const reached = stepsReached(detail, events, documents, claims, review);
  const current = reached.indexOf(false);
  const off = ["transferred", "abandoned", "ordinary_procedure", "agreement_pending", "agreed"].includes(detail.state);
  KC.show("steps", !off);
  document.getElementById("steps").replaceChildren(...STEPS.map((label, i) => {
    const item = KC.el("li", { textContent: label });
    item.className = reached[i] ? "done" : i === current ? "current" : "";
    if (i === current) item.setAttribute("aria-current", "step");
    return item;
  }));
  KC.text("next-step", nextStepText(detail, events, reached));
}

async function progress(caseId) {
  party.caseId = caseId;
  remembered.write({ caseId, screen: "progress" });
  const [detail, events, documents, claims, retention] = await Promise.all([
    KC.api(PAGE, "GET", `/api/cases/${caseId}`),
    KC.api(PAGE, "GET", `/api/cases/${caseId}/timeline`),
    KC.api(PAGE, "GET", `/api/cases/${caseId}/documents`),
    KC.api(PAGE, "GET", `/api/cases/${caseId}/claims`),
    KC.api(PAGE, "GET", `/api/cases/${caseId}/retention`).catch(() => null),
  ]);
  const purged = purgedKinds(retention);
  const applied = events.some((e) => e.kind === "request_review" || e.state === "under_review");
  const review = applied
    ? await KC.api(PAGE, "GET", `/api/cases/${caseId}/review`).catch(() => null)
    : null;
  party.state = detail.state;
  view("progress-view");
  KC.text("progress-number", detail.number);
  KC.text("progress-state", detail.state_label);
  renderSteps(detail, events, documents, claims, review);
  showDetermination(detail, documents, purged);
  // The officer sent the case back (待补充证据): why, and one tap back into the call.
  const sentBack = [...events].reverse().find((e) => e.kind === "send_back");
  KC.show("more-evidence-card", detail.state === "more_evidence");
  KC.text("send-back-reason", (sentBack && sentBack.detail && sentBack.detail.reason) || "请按坐席要求补充拍摄");
  const can = (action) => detail.allowed_actions.includes(action);
  KC.show("agreement-card", detail.state === "agreement_pending");
  // Controls that no longer apply go: the review form once applied, the claim button once pushed.
  KC.show("review-form", !review && can("request_review") && detail.review_deadline &&
    new Date(detail.review_deadline) > new Date());
  // Once the parties' data is deleted there is nothing left for an insurer to settle a claim on.
  const claimable = ["determined", "agreed", "closed"].includes(detail.state) && !purged.has("personal_data");
  KC.show("claim-card", claimable || claims.length > 0);
  KC.show("claim", claims.length === 0 && claimable);
  document.getElementById("claims").replaceChildren(...claims.map((c) => KC.el("li", {
    textContent: `理赔已推送至${c.insurer_name || c.insurer_code}：${CLAIM_STATUS[c.status] || c.status}`,
  })));
  showReview(review);
  showRetention(retention);
  document.getElementById("timeline").replaceChildren(...timelineItems(events, purged));
  watchCase(); // pushes (determined, review decided, ...) redraw this view
}

function showReview(review) {
  KC.show("review-outcome", Boolean(review));
  if (!review) return;
  KC.text("review-outcome-text", review.outcome
    ? `${review.outcome_label || review.outcome}${review.decision_note ? `：${review.decision_note}` : ""}`
    : `已于${KC.time(review.submitted_at)}提交复核申请，正在复核${review.decide_by ? `，复核机关应在${review.decide_by}前作出决定` : ""}`);
}

// The determination, its signed document and the review period (art. 71).
function showDetermination(detail, documents, purged = new Set()) {
  KC.show("determination-card", Boolean(detail.determination) || documents.length > 0);
  if (!detail.determination) return;
  // Once retention masked the parties' data, the names and plates read as deleted (the signed
  // document below still carries them).
  const who = (p) => purged.has("personal_data")
    ? `当事人${p.position}（个人信息${PURGED}）`
    : `${p.name}（${p.plate_number}）`;
  const names = Object.fromEntries(detail.parties.map((p) => [p.id, who(p)]));
  document.getElementById("determination-shares").replaceChildren(...detail.determination.shares.map((s) =>
    KC.el("li", { textContent: `${names[s.party_id]}：${GRADES[s.responsibility]}` })));
  document.getElementById("documents").replaceChildren(...documents.map((d) => {
    const open = KC.el("button", { type: "button", className: "link", textContent: `查看认定书 ${d.number}（${d.status_label}）` });
    open.onclick = () => KC.busy(open, async () => window.open(URL.createObjectURL(await KC.api(PAGE, "GET", d.download_url))));
    return KC.el("li", {}, open);
  }));
  KC.text("review-deadline", detail.review_deadline && detail.state === "determined"
    ? `如对认定有异议，可在${KC.time(new Date(new Date(detail.review_deadline) - 1000).toISOString())}前提出书面复核申请。`
    : "");
}

async function applyForReview() {
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

// Back to the screen the case is at: the queue, the call, photo mode, evacuate, or progress.
async function resume(caseId, status = null) {
  const detail = status ? { state: status.state } : await KC.api(PAGE, "GET", `/api/cases/${caseId}`);
  const last = remembered.read();
  const same = last.caseId === caseId;
  party.caseId = caseId;
  party.state = detail.state;
  if (["queued", "in_call", "collected"].includes(detail.state)) {
    remembered.write({ caseId, screen: same && last.screen === "photo" ? "photo" : "call" });
    if (status) showStatus(status);
    if (same && last.screen === "photo") {
      // The shots already handed in stay ticked after a reload.
      const items = await KC.api(PAGE, "GET", `/api/cases/${caseId}/evidence`).catch(() => []);
      for (const item of items) if (SHOTS.some(([kind]) => kind === item.kind)) party.photos.add(item.kind);
      showPhotoMode(Boolean(last.photosSubmitted));
    } else {
      await startCamera();
      view(detail.state === "queued" ? "wait-view" : "call-view");
    }
    openSocket();
  } else if (detail.state === "evacuated" && !(same && last.seen === "evacuated")) {
    remembered.write({ caseId, screen: "evacuate" });
    view("evacuate-view");
    watchCase();
  } else if (detail.state === "transferred" && !(same && last.seen === "transferred")) {
    remembered.write({ caseId, screen: "transfer" });
    view("transfer-view");
    watchCase();
  } else {
    await progress(caseId);
  }
}

async function acknowledge(state) {
  remembered.write({ seen: state });
  await progress(party.caseId);
}

// Where the phone is, and whether video reports are taken there now.

function locate() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) {
      reject(new Error("此设备不支持定位，请手动填写事故地点"));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (position) => {
        party.coords = position.coords;
        KC.unbanner("location");
        resolve(position.coords);
      },
      () => {
        locationDenied();
        reject(new Error("无法获取您的位置，请允许定位，或手动填写事故地点"));
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  });
}

// Location refused: a banner that stays, and the district and place typed by hand.
function locationDenied() {
  KC.banner("location", "无法获取您的位置。请在浏览器设置中允许定位，或手动选择辖区并填写事故地点。",
    [["手动填写地点", () => guarded(openManualLocation)]]);
  guarded(openManualLocation);
}

async function openManualLocation() {
  const select = document.getElementById("manual-district");
  if (!select.options.length) {
    const districts = await KC.api(PAGE, "GET", "/api/jurisdictions");
    select.replaceChildren(KC.el("option", { value: "", textContent: "请选择辖区" }),
      ...districts.map((d) => KC.el("option", { value: d.code, textContent: d.name })));
  }
  KC.show("manual-location");
  select.onchange = () => guarded(() => checkService({ jurisdiction_code: select.value }));
}

async function checkService(where = null) {
  let query = "";
  try {
    if (where && where.jurisdiction_code) {
      query = `jurisdiction_code=${encodeURIComponent(where.jurisdiction_code)}`;
    } else {
      const coords = party.coords || await locate();
      query = `lat=${coords.latitude}&lng=${coords.longitude}`;
    }
  } catch {
    return; // location refused: the banner says so
  }
  try {
    showService(await KC.api(PAGE, "GET", `/api/calls/service-status?${query}`));
  } catch (error) {
    console.warn("service status", error);
  }
}

// Outside hours, paused, or nobody on duty: said plainly, with 122 one tap away.
function showService(service) {
  party.service = service;
  const closed = Boolean(service && !service.open);
  const text = closed ? service.message || "当前无法视频报警，请拨打122报警" : "";
  KC.show("service-card", closed);
  KC.text("service-text", text);
  KC.show("wait-service", closed);
  KC.text("wait-service-text", text);
  KC.show("queue-numbers", !closed);
}

// Camera and microphone; what is refused stays said in a banner.

async function startCamera() {
  if (party.stream) return;
  try {
    party.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: party.facing, width: { ideal: 1280 } },
      audio: true,
    });
    KC.unbanner("camera");
    KC.unbanner("microphone");
  } catch {
    // No camera (or refused): the call can still go on with voice, or by photos.
    party.stream = await navigator.mediaDevices.getUserMedia({ audio: true }).catch(() => null);
    KC.banner("camera", "无法打开摄像头：请在浏览器设置中允许使用摄像头。也可以仅语音通话，或改用拍照上传。",
      [["改用拍照上传", () => guarded(photoMode)]]);
    if (!party.stream) {
      KC.banner("microphone", "无法使用麦克风：请在浏览器设置中允许使用麦克风，否则坐席听不到您的声音。");
    }
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

// Told before they are recorded: the notice, and the party's agreement, before the first call.

async function consented() {
  if (party.me && party.me.consented !== false) return true;
  const notice = await KC.api(PAGE, "GET", "/api/privacy-notice");
  document.getElementById("privacy-text").replaceChildren(...notice.text.split(/\n+/).filter(Boolean)
    .map((line) => KC.el("p", { textContent: line })));
  view("consent-view");
  return new Promise((resolve) => {
    KC.action("consent-agree", async () => {
      await KC.api(PAGE, "POST", "/api/consents", { version: notice.version });
      party.me = { ...party.me, consented: true };
      resolve(true);
    });
    document.getElementById("consent-back").onclick = () => guarded(async () => {
      resolve(false);
      await home();
      say("不同意录音录像的，无法使用视频快处，请拨打122报警，由民警现场处理");
    });
  });
}

// One tap (or the district and place typed by hand).

async function report(where = null) {
  if (!(await consented())) return;
  let body = where;
  if (!body) {
    let coords;
    try {
      coords = await locate();
    } catch (error) {
      view("home-view"); // where the district and place can be typed instead
      throw error;
    }
    body = { lat: coords.latitude, lng: coords.longitude };
  }
  await startCamera();
  let status;
  try {
    status = await KC.api(PAGE, "POST", "/api/calls", body);
  } catch (error) {
    if (error.problem && error.problem.code === "consent_required") {
      party.me = { ...party.me, consented: false };
      return report(where);
    }
    view("home-view");
    throw error;
  }
  party.caseId = status.case_id;
  party.state = status.state;
  remembered.write({ caseId: status.case_id, screen: "call" });
  showStatus(status);
  view(status.state === "queued" ? "wait-view" : "call-view");
  openSocket();
}

async function reportByHand() {
  const code = document.getElementById("manual-district").value;
  const address = document.getElementById("manual-address").value.trim();
  if (!code) throw new Error("请选择事故所在辖区");
  if (address.length < 2) throw new Error("请填写事故详细地点");
  await report({ jurisdiction_code: code, address });
}

function waitText(seconds) {
  if (seconds == null) return "—";
  return `约 ${Math.max(1, Math.ceil(seconds / 60))} 分钟`;
}

function showStatus(status) {
  if (status.service) showService(status.service);
  showPosition(status.position, status.estimated_wait_seconds, status.estimated_wait_text);
}

function showPosition(position, wait, text = null) {
  if (position == null) return;
  // An estimate means someone is on duty again.
  if (wait != null && party.service && party.service.reason === "nobody_on_duty") showService({ open: true });
  KC.text("position", String(position - 1));
  KC.text("photo-position", String(position - 1));
  KC.text("wait", text || waitText(wait));
}

// 补充视频取证: the same case goes back to the head of the queue; then as after the one tap.
async function callBack() {
  if (!(await consented())) return;
  await startCamera();
  const status = await KC.api(PAGE, "POST", `/api/cases/${party.caseId}/call-back`);
  party.state = status.state;
  party.done = new Set();
  party.stills = null;
  remembered.write({ caseId: party.caseId, screen: "call" });
  renderChecklist();
  showStatus(status);
  view(status.state === "queued" ? "wait-view" : "call-view");
  openSocket();
}

async function abandon() {
  await KC.api(PAGE, "POST", `/api/calls/${party.caseId}/abandon`);
  say("已取消报警");
  await home();
}

// The page's connection: watch the case; join the call once an operator has it.

function openSocket() {
  if (party.socket) {
    if (party.watching !== party.caseId && party.socket.send({ type: "watch", case_id: party.caseId })) {
      party.watching = party.caseId;
    }
    return;
  }
  party.socket = KC.socket(PAGE, {
    onOpen: () => {
      party.watching = party.caseId;
      party.socket.send({ type: "watch", case_id: party.caseId });
      if (["in_call", "collected"].includes(party.state) && !photoModeOn()) {
        party.socket.send({ type: "join", case_id: party.caseId });
      }
    },
    onState: showNetwork,
    onMessage: (message) => guarded(() => onMessage(message)),
  });
}

// The progress view watches its case too (pushes redraw it).
function watchCase() {
  openSocket();
}

// Pushes are best effort (one may pass while the socket reconnects): while the case is in the
// queue or the call, the page also reads its state every few seconds and catches up.
const RESYNC_MS = 8000;

async function resync() {
  if (!party.caseId || !KC.token(PAGE)) return;
  const live = ["wait-view", "call-view", "photo-view"].some((id) => !document.getElementById(id).hidden);
  if (!live) return;
  const status = await KC.api(PAGE, "GET", `/api/calls/${party.caseId}/queue`);
  if (status.case_id !== party.caseId) return;
  showStatus(status);
  if (status.state !== party.state) await onState(status.state);
}

function showNetwork(state) {
  if (state === "open" && navigator.onLine) KC.unbanner("network");
  else KC.banner("network", "网络连接中断，正在自动重新连接…请保持本页面打开。");
}

function leaveCall() {
  if (party.link) party.link.close();
  party.link = null;
  if (party.socket) party.socket.close();
  party.socket = null;
  party.watching = null;
  KC.unbanner("weak");
  KC.unbanner("network");
  stopCamera();
}

async function onMessage(message) {
  switch (message.type) {
    case "position":
      if (message.case_id === party.caseId) showPosition(message.position, message.estimated_wait_seconds);
      break;
    case "watching":
      if (message.case_id === party.caseId) await onState(message.state);
      break;
    case "case":
      if (message.case_id === undefined || message.case_id === party.caseId) await onState(message.state, message.event);
      break;
    case "peer":
      if (message.event === "joined") sendSignal({ kind: "here" });
      else showCallState("peer-left");
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
  if (!document.getElementById("progress-view").hidden) {
    // The progress view redraws on every push (determined, review decided, claim...).
    if (["queued", "in_call", "collected"].includes(state)) await resume(party.caseId);
    else await progress(party.caseId);
    return;
  }
  if (state === "queued") {
    if (party.link) party.link.close();
    party.link = null;
    if (event === "call_requeued") say("通话中断，已为您优先重新排队");
    if (!photoModeOn()) view("wait-view");
  } else if (state === "in_call" || state === "collected") {
    if (photoModeOn()) return; // photo mode: no call
    view("call-view");
    if (previous === "queued" || event === "call_taken" || !party.link) {
      party.socket.send({ type: "join", case_id: party.caseId });
    }
  } else if (state === "evacuated") {
    if (party.link) party.link.close();
    party.link = null;
    stopCamera();
    remembered.write({ caseId: party.caseId, screen: "evacuate" });
    if (remembered.read().seen !== "evacuated") view("evacuate-view");
  } else if (state === "transferred") {
    if (party.link) party.link.close();
    party.link = null;
    stopCamera();
    remembered.write({ caseId: party.caseId, screen: "transfer" });
    view("transfer-view");
  } else if (["abandoned", "closed", "determined", "more_evidence", "under_review", "ordinary_procedure"].includes(state)) {
    if (party.link) party.link.close();
    party.link = null;
    stopCamera();
    if (state !== "abandoned") await progress(party.caseId);
  }
}

function sendSignal(data) {
  party.socket.send({ type: "signal", case_id: party.caseId, data });
}

const CALL_LABELS = {
  new: "正在连接…",
  connecting: "正在连接…",
  connected: "已接通交警坐席",
  disconnected: "网络不稳定，正在恢复…",
  reconnecting: "连接中断，正在自动重新连接…",
  failed: "连接中断，正在自动重新连接…",
  "peer-left": "坐席连接中断，正在等待重新接通…",
};

function showCallState(state) {
  KC.text("call-state", CALL_LABELS[state] || "正在连接…");
  document.getElementById("call-state").dataset.state = state;
  KC.show("reconnect", !["connected", "new", "connecting"].includes(state));
}

// A weak link (loss, round trip, bitrate): suggest voice only, while video is still on.
function showWeak(weak) {
  const video = party.stream && party.stream.getVideoTracks().length > 0;
  if (weak && video) {
    KC.banner("weak", "网络较差，视频可能卡顿。建议切换为仅语音，坐席仍可听到您。",
      [["切换为仅语音", () => guarded(audioOnly)]]);
  } else {
    KC.unbanner("weak");
  }
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
      iceTransportPolicy: party.config.ice_transport_policy,
      send: sendSignal,
      onTrack: (stream) => {
        document.getElementById("remote-video").srcObject = stream;
      },
      onState: showCallState,
    });
    party.link.watchQuality(showWeak);
  }
  if (party.link) {
    party.link.localStream = party.stream;
    await party.link.handle(data);
  }
}

// 重新连接 by hand: a silent socket is replaced, and the operator is asked for a fresh offer.
function reconnect() {
  showCallState("reconnecting");
  if (party.socket && (!party.socket.ws || party.socket.ws.readyState !== WebSocket.OPEN)) {
    party.socket.reconnect();
  } else if (party.link) {
    party.link.reconnect();
  } else if (party.socket) {
    party.socket.send({ type: "join", case_id: party.caseId });
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

// Poor network: voice only, or photos (queue position, the shots, 完成, and back to video).

async function audioOnly() {
  if (party.stream) {
    for (const track of party.stream.getVideoTracks()) {
      party.stream.removeTrack(track);
      track.stop();
    }
  }
  if (party.link) await party.link.replaceVideo(null);
  await KC.api(PAGE, "PUT", `/api/calls/${party.caseId}/mode`, { mode: "audio" });
  KC.unbanner("weak");
  say("已切换为仅语音");
}

function photoModeOn() {
  return remembered.read().screen === "photo" && remembered.read().caseId === party.caseId;
}

async function photoMode() {
  await KC.api(PAGE, "PUT", `/api/calls/${party.caseId}/mode`, { mode: "photo" });
  remembered.write({ caseId: party.caseId, screen: "photo", photosSubmitted: false });
  if (party.link) party.link.close();
  party.link = null;
  stopCamera();
  KC.unbanner("camera");
  KC.unbanner("weak");
  showPhotoMode(false);
  openSocket();
}

function showPhotoMode(submitted) {
  view("photo-view");
  KC.show("photo-upload", !submitted);
  KC.show("photo-submitted", submitted);
  KC.show("photo-queue", party.state === "queued");
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
  document.getElementById("photo-done").disabled = party.photos.size === 0;
}

async function photosDone() {
  const missing = SHOTS.filter(([kind]) => !party.photos.has(kind)).map(([, label]) => label);
  if (missing.length && !(await KC.confirm(`还有${missing.join("、")}未上传，确定提交吗？`, { yes: "确定提交", no: "继续拍摄" }))) {
    return;
  }
  remembered.write({ photosSubmitted: true });
  showPhotoMode(true);
  say("照片已提交，请等待坐席处理");
}

async function backToVideo() {
  await startCamera();
  await KC.api(PAGE, "PUT", `/api/calls/${party.caseId}/mode`, { mode: "video" });
  remembered.write({ caseId: party.caseId, screen: "call", photosSubmitted: false });
  view(party.state === "queued" ? "wait-view" : "call-view");
  if (["in_call", "collected"].includes(party.state)) party.socket.send({ type: "join", case_id: party.caseId });
}

// Start.

async function start() {
  applyLargeText(Boolean(localStorage.getItem("kuaichu.largeText")));
  document.getElementById("large-text").onclick = () =>
    applyLargeText(!document.documentElement.classList.contains("large"));
  KC.action("send-code", sendCode);
  KC.submit("login-form", login);
  KC.action("logout", logout);
  KC.action("report", () => report());
  KC.submit("manual-location", reportByHand);
  KC.submit("review-form", applyForReview);
  KC.action("claim", pushClaim);
  KC.action("agreement-confirm", () => answerAgreement(true));
  KC.action("agreement-reject", () => answerAgreement(false));
  KC.action("abandon", abandon, { confirm: "确定取消本次报警吗？取消后需重新排队。" });
  KC.action("audio-only", audioOnly);
  KC.action("call-audio-only", audioOnly);
  KC.action("photo-mode", photoMode);
  KC.action("call-photo-mode", photoMode);
  KC.action("photo-done", photosDone);
  KC.action("photo-to-video", backToVideo);
  KC.action("switch-camera", switchCamera);
  document.getElementById("reconnect").onclick = reconnect;
  KC.action("evacuate-ok", () => acknowledge("evacuated"));
  KC.action("transfer-ok", () => acknowledge("transferred"));
  KC.action("back-home", home);
  KC.action("call-back", callBack);
  KC.action("download-my-data", downloadMyData);
  window.addEventListener("offline", () => showNetwork("closed"));
  window.addEventListener("online", () => party.socket && party.socket.ws && party.socket.ws.readyState === WebSocket.OPEN
    ? KC.unbanner("network") : null);
  renderChecklist();
  setInterval(() => resync().catch((error) => console.warn("resync", error)), RESYNC_MS);
  party.config = await KC.api(PAGE, "GET", "/api/calls/config");
  await KC.resume(PAGE, enter, () => view("login-view"));
}

guarded(start);
