// The party's page (the party, dang shi ren): login, one-tap call, queue, the call, evacuate,
// progress. It resumes where the case is (a reload lands on the same screen) and stays live on
// the page's socket; warnings that matter (camera, microphone, location, network) stay as
// banners. Every word comes from the catalogue (KC.t) in the party's language: Chinese or
// English, chosen on the page and remembered; the API's own Chinese labels are not shown, the
// page reads the stable codes (state, kind, responsibility...) and says them itself.
import { CallLink, KC, SHOT_KINDS, shots } from "./common.js";
import { joinByLink, joinedWithoutMedia, showJoinedNote, watchJoinCode } from "./join-party.js";
import { joinRoom, mediaPass } from "./sfu.js";
import { installConfirmation } from "./signature.js";

const PAGE = "party";
const VIEWS = [
  "login-view", "consent-view", "home-view", "wait-view", "call-view", "photo-view",
  "evacuate-view", "transfer-view", "progress-view", "join-view",
];
const party = {
  config: null,
  me: null,
  caseId: null,
  state: null,
  socket: null,
  link: null,
  joiningMedia: false, // asking for a media pass and joining the room (sfu.js)
  stream: null,
  facing: "environment",
  done: new Set(),
  stills: null,
  photos: new Set(),
  service: null,
  coords: null,
  codeTimer: null,
};
window.kuaichuParty = party; // for diagnostics (the browser tests close its socket, read what it watches)

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
  say(KC.t("Party.code_sent"));
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
      button.textContent = KC.t("Party.send_code");
      return;
    }
    button.disabled = true;
    button.textContent = KC.t("Party.code_again_in", { seconds: left });
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
  // The language this page reads in is the party's: their SMS follow it from now on.
  if (localStorage.getItem(LOCALE_KEY) || KC.locale !== KC.DEFAULT_LOCALE) {
    await KC.api(PAGE, "PUT", "/api/me/locale", { locale: KC.locale });
  }
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
  if (await joinByLink(PAGE, { view, resume })) return; // opened by a case's join link
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
      textContent: `${c.number} · ${KC.label("CaseState", c.state)}`,
      onclick: () => guarded(() => resume(c.id)),
    }))),
  );
  if (!cases.length) list.append(KC.el("li", { className: "hint", textContent: KC.t("Party.no_cases") }));
  checkService(); // where the phone is: open for video reports? (not awaited: GPS may take a while)
}

// A timeline line's kind is a transition (Action) or another event (EventKind).
function eventLabel(event) {
  for (const prefix of ["Action", "EventKind"]) {
    const key = `${prefix}.${event.kind}`;
    if (Object.hasOwn(KC.words, key)) return KC.t(key);
  }
  return KC.t("Party.event_other");
}

// Who acted, as a party may see it: the role, in the page's language.
function actorLabel(role) {
  return KC.t(`Role.${role}`);
}

// The timeline as a person reads it: the call's recording chunks fold into one line, and
// a recording or photo retention has deleted says so (`purged`: the kinds deleted).
function timelineItems(events, purged = new Set()) {
  const items = [];
  let recording = null;
  for (const e of events) {
    if (e.kind === "evidence_added" && e.detail && e.detail.kind === "recording") {
      if (!recording) {
        recording = { at: e.at, count: 0, role: e.actor_role };
        items.push(recording);
      }
      recording.count += 1;
      continue;
    }
    const gone = e.kind === "evidence_added" && purged.has("still") ? KC.t("Party.and_purged") : "";
    items.push({ at: e.at, text: KC.t("Party.event_line", { event: eventLabel(e), actor: actorLabel(e.actor_role) }) + gone });
  }
  const recordingText = (item) =>
    ` ${KC.t("Party.recordings", { count: item.count, actor: actorLabel(item.role) })}` +
    (purged.has("recording") ? KC.t("Party.and_purged") : "");
  return items.map((item) => KC.el("li", {},
    KC.el("time", { textContent: KC.time(item.at) }),
    KC.el("span", { textContent: item.text ? ` ${item.text}` : recordingText(item) })));
}

// Retention (PIPL, the personal information protection law): how long each kind of the case's
// data is kept, what is gone, and the party's own data to download.
function purgedKinds(retention) {
  return new Set(retention ? retention.kinds.filter((k) => k.purged_at).map((k) => k.kind) : []);
}

function showRetention(retention) {
  KC.show("my-data-card", Boolean(retention));
  if (!retention) return;
  document.getElementById("retention").replaceChildren(...retention.kinds.map((k) =>
    KC.el("li", { className: k.purged_at ? "purged" : "", textContent: retentionLine(k) })));
  KC.text("retention-kept", KC.t("Retention.kept"));
}

function retentionLine(kind) {
  const status = kind.purged_at
    ? KC.t("Retention.purged")
    : kind.due_at
      ? KC.t("Retention.kept_until", { date: KC.time(kind.due_at) })
      : KC.t("Retention.kept_days", { days: kind.days });
  return KC.t("Party.retention_line", { kind: KC.label("RetentionKind", kind.kind), status });
}

async function downloadMyData() {
  const data = await KC.api(PAGE, "GET", `/api/cases/${party.caseId}/my-data`);
  const file = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const link = KC.el("a", { href: URL.createObjectURL(file), download: KC.t("Party.my_data_file", { number: data.case.number }) });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  say(KC.t("Party.my_data_downloaded"));
}

// report → evidence → leave the scene → liability → document → review/claim, and when the next
// step is expected (12123: information collected in 5 minutes, determination within 8).
const COLLECT_MINUTES = 5;
const DETERMINE_MINUTES = 8;
const STEPS = ["report", "collect", "evacuate", "determine", "document", "review_or_claim"];

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
      return KC.t("PartyNext.collecting", { minutes: COLLECT_MINUTES });
    case "more_evidence":
      return KC.t("PartyNext.more_evidence", { button: KC.t("Party.call_back") });
    case "evacuated": {
      const since = lastOf("evacuated");
      return KC.t("PartyNext.determining", {
        minutes: since ? minutesLeft(since.at, DETERMINE_MINUTES) : DETERMINE_MINUTES,
      });
    }
    case "under_review":
      return KC.t("PartyNext.under_review");
    case "determined":
      return KC.t(reached[5] ? "PartyNext.claim_pushed" : "PartyNext.determined");
    case "closed":
      return KC.t("PartyNext.closed");
    case "transferred":
      return KC.t("PartyNext.transferred");
    case "ordinary_procedure":
      return KC.t("PartyNext.ordinary_procedure");
    default:
      return "";
  }
}

function renderSteps(detail, events, documents, claims, review) {
  const reached = stepsReached(detail, events, documents, claims, review);
  const current = reached.indexOf(false);
  const off = ["transferred", "abandoned", "ordinary_procedure", "agreement_pending", "agreed"].includes(detail.state);
  KC.show("steps", !off);
  document.getElementById("steps").replaceChildren(...STEPS.map((step, i) => {
    const item = KC.el("li", { textContent: KC.label("PartyStep", step) });
    item.className = reached[i] ? "done" : i === current ? "current" : "";
    if (i === current) item.setAttribute("aria-current", "step");
    return item;
  }));
  KC.text("next-step", nextStepText(detail, events, reached));
}

function yuan(amount) {
  const number = Number(amount).toLocaleString(KC.locale === "en" ? "en-GB" : "zh-CN", {
    minimumFractionDigits: 2, maximumFractionDigits: 2,
  });
  return KC.t("Party.yuan", { amount: number });
}

function compensationLines(split) {
  const payments = split.payments.map((p) => KC.el("li", {
    textContent: KC.t(p.on_behalf_of_insurer_code ? "Party.compensation_on_behalf" : "Party.compensation_payment", {
      payer: p.payer_insurer_name || p.payer_insurer_code,
      insurer: p.on_behalf_of_insurer_name || p.on_behalf_of_insurer_code,
      plate: p.beneficiary_plate, amount: yuan(p.amount), rule: p.rule_label,
    }),
  }));
  const excess = split.vehicles.filter((v) => Number(v.excess) > 0).map((v) => KC.el("li", {
    textContent: KC.t("Party.compensation_excess", { plate: v.plate_number, note: v.excess_note, amount: yuan(v.excess) }),
  }));
  return [...payments, ...excess];
}

// Who pays what under compulsory insurance, once an insurer has reported its assessment: each
// payment, and what is beyond the limits; until every vehicle is assessed, which ones it waits for.
async function showCompensation(caseId, claims) {
  const assessed = claims.some((c) => c.loss_assessed);
  KC.show("compensation", assessed);
  if (!assessed) return;
  const split = await KC.api(PAGE, "GET", `/api/cases/${caseId}/compensation`);
  const note = split.refused || (split.complete
    ? (split.mutual_self_claim ? KC.t("Party.compensation_mutual") : "")
    : KC.t("Party.compensation_pending", { plates: split.pending.join(KC.t("Legal.separator")) }));
  KC.text("compensation-note", note);
  document.getElementById("compensation-lines").replaceChildren(...(split.complete ? compensationLines(split) : []));
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
  KC.text("progress-state", KC.label("CaseState", detail.state));
  showJoinedNote(detail, party.config);
  renderSteps(detail, events, documents, claims, review);
  showDetermination(detail, documents, purged);
  // The officer sent the case back for more evidence: why, and one tap back into the call.
  const sentBack = [...events].reverse().find((e) => e.kind === "send_back");
  KC.show("more-evidence-card", detail.state === "more_evidence");
  // The officer's reason is what they typed (Chinese): shown as written, and marked as Chinese.
  const reason = sentBack && sentBack.detail && sentBack.detail.reason;
  document.getElementById("send-back-reason").replaceChildren(reason ? staffWords(reason) : KC.t("Party.send_back_default"));
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
    textContent: KC.t("Party.claim_line", {
      insurer: c.insurer_name || c.insurer_code, status: KC.label("ClaimStep", c.status),
    }),
  })));
  await showCompensation(caseId, claims);
  showReview(review);
  showRetention(retention);
  document.getElementById("timeline").replaceChildren(...timelineItems(events, purged));
  watchCase(); // pushes (determined, review decided, ...) redraw this view
}

// What an officer or a reviewer wrote: Chinese, whatever the page's language (a screen reader
// reads it as Chinese; an English page shows it as the text of record).
function staffWords(words) {
  return KC.el("span", { lang: "zh-CN", textContent: words });
}

function showReview(review) {
  KC.show("review-outcome", Boolean(review));
  if (!review) return;
  if (review.outcome) {
    const outcome = KC.label("ReviewOutcome", review.outcome);
    if (!review.decision_note) {
      KC.text("review-outcome-text", outcome);
      return;
    }
    // The sentence in the page's language, the reviewer's note in it as they wrote it.
    const [before, after] = KC.t("Party.review_outcome_note", { outcome, note: "\u0000" }).split("\u0000");
    document.getElementById("review-outcome-text").replaceChildren(before, staffWords(review.decision_note), after);
    return;
  }
  const submitted = KC.t("Party.review_submitted", { date: KC.time(review.submitted_at) });
  KC.text("review-outcome-text", review.decide_by
    ? `${submitted}${KC.t("Party.review_decide_by", { date: review.decide_by })}` : submitted);
}

// The determination, its signed document and the review period (art. 71).
function showDetermination(detail, documents, purged = new Set()) {
  KC.show("determination-card", Boolean(detail.determination) || documents.length > 0);
  if (!detail.determination) return;
  // Once retention masked the parties' data, the names and plates read as deleted (the signed
  // document below still carries them).
  const who = (p) => purged.has("personal_data")
    ? KC.t("Party.party_purged", { party: designation(p.position) })
    : KC.t("Party.party_named", { name: p.name, plate: p.plate_number });
  const names = Object.fromEntries(detail.parties.map((p) => [p.id, who(p)]));
  document.getElementById("determination-shares").replaceChildren(...detail.determination.shares.map((s) =>
    KC.el("li", { textContent: KC.t("Party.share", {
      party: names[s.party_id], responsibility: KC.label("Responsibility", s.responsibility),
    }) })));
  showSummary(detail);
  document.getElementById("documents").replaceChildren(...documents.map((d) => {
    const open = KC.el("button", { type: "button", className: "link", textContent: KC.t("Party.open_document", {
      number: d.number, status: KC.label("DeterminationStatus", d.status),
    }) });
    open.onclick = () => KC.busy(open, async () => window.open(URL.createObjectURL(await KC.api(PAGE, "GET", d.download_url))));
    return KC.el("li", {}, open);
  }), ...(detail.determination.document_pending
    // Signed just after the determination: a push redraws this once it is stored.
    ? [KC.el("li", { id: "document-pending", textContent: KC.t("Document.generating") })] : []));
  KC.text("review-deadline", detail.review_deadline && detail.state === "determined"
    ? KC.t("Party.review_deadline", { date: KC.time(new Date(new Date(detail.review_deadline) - 1000).toISOString()) })
    : "");
}

// The parties' designations as the document prints them (jia, yi, bing), in both languages.
function designation(position) {
  return KC.t("Party.designation", { letter: KC.t(`Party.letter_${position}`) });
}

// The English page's summary of the Chinese determination (the legal text stays Chinese):
// the case number, each party's designation and grade, the date, and the note on the PDF.
function showSummary(detail) {
  const english = KC.locale !== KC.DEFAULT_LOCALE;
  KC.show("determination-summary", english);
  if (!english) return;
  const byId = Object.fromEntries(detail.parties.map((p) => [p.id, p]));
  KC.text("summary-text", KC.t("Party.summary", {
    number: detail.number,
    date: KC.time(detail.determination.decided_at),
  }));
  document.getElementById("summary-shares").replaceChildren(...detail.determination.shares.map((s) =>
    KC.el("li", { textContent: KC.t("Party.share", {
      party: designation(byId[s.party_id] ? byId[s.party_id].position : 0),
      responsibility: KC.label("Responsibility", s.responsibility),
    }) })));
}

async function applyForReview() {
  await KC.api(PAGE, "POST", `/api/cases/${party.caseId}/review`, {
    reasons: document.getElementById("review-reasons").value,
  });
  say(KC.t("Party.review_sent"));
  await progress(party.caseId);
}

async function pushClaim() {
  const claim = await KC.api(PAGE, "POST", `/api/cases/${party.caseId}/claim`);
  say(KC.t("Party.claim_sent", { insurer: claim.insurer_name || claim.insurer_code }));
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
  // A party who joined by the link follows the case while the call stays one to one.
  party.joinedOnly = !status && joinedWithoutMedia(detail, party.config);
  if (party.joinedOnly) {
    await progress(caseId);
    return;
  }
  if (["queued", "in_call", "collected"].includes(detail.state)) {
    remembered.write({ caseId, screen: same && last.screen === "photo" ? "photo" : "call" });
    if (status) showStatus(status);
    if (same && last.screen === "photo") {
      // The shots already handed in stay ticked after a reload.
      const items = await KC.api(PAGE, "GET", `/api/cases/${caseId}/evidence`).catch(() => []);
      for (const item of items) if (SHOT_KINDS.includes(item.kind)) party.photos.add(item.kind);
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
      reject(new Error(KC.t("Party.no_geolocation")));
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
        reject(new Error(KC.t("Party.location_refused")));
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  });
}

// Location refused: a banner that stays, and the district and place typed by hand.
function locationDenied() {
  KC.banner("location", KC.t("Party.location_banner"),
    [[KC.t("Party.location_by_hand"), () => guarded(openManualLocation)]]);
  guarded(openManualLocation);
}

async function openManualLocation() {
  const select = document.getElementById("manual-district");
  if (!select.options.length) {
    const districts = await KC.api(PAGE, "GET", "/api/jurisdictions");
    select.replaceChildren(KC.el("option", { value: "", textContent: KC.t("Party.choose_district") }),
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
  const text = closed ? serviceText(service) : "";
  KC.show("service-card", closed);
  KC.text("service-text", text);
  KC.show("wait-service", closed);
  KC.text("wait-service-text", text);
  KC.show("queue-numbers", !closed);
}

// Why video reports are not taken now, by the service's reason code (its message is Chinese).
function serviceText(service) {
  const key = `PartyService.${service.reason}`;
  return Object.hasOwn(KC.words, key) ? KC.t(key) : KC.t("PartyService.closed");
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
    KC.banner("camera", KC.t("Party.camera_refused"), [[KC.t("Party.photo_mode"), () => guarded(photoMode)]]);
    if (!party.stream) {
      KC.banner("microphone", KC.t("Party.microphone_refused"));
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
  // The version agreed to is the server's; its words are the catalogue's, in the page's language.
  document.getElementById("privacy-text").replaceChildren(...KC.t("Consent.notice").split(/\n+/).filter(Boolean)
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
      say(KC.t("Party.consent_refused"));
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
  if (!code) throw new Error(KC.t("Party.district_missing"));
  if (address.length < 2) throw new Error(KC.t("Party.address_missing"));
  await report({ jurisdiction_code: code, address });
}

function waitText(seconds) {
  if (seconds == null) return "—";
  return KC.t("Party.about_minutes", { minutes: Math.max(1, Math.ceil(seconds / 60)) });
}

function showStatus(status) {
  if (status.service) showService(status.service);
  showPosition(status.position, status.estimated_wait_seconds);
}

function showPosition(position, wait) {
  if (position == null) return;
  // An estimate means someone is on duty again.
  if (wait != null && party.service && party.service.reason === "nobody_on_duty") showService({ open: true });
  KC.text("position", String(position - 1));
  KC.text("photo-position", String(position - 1));
  KC.text("wait", waitText(wait));
}

// More evidence by video: the same case goes back to the head of the queue; then as after the
// one tap.
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
  say(KC.t("Party.abandoned"));
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
      if (["in_call", "collected"].includes(party.state) && !photoModeOn() && !party.joinedOnly) {
        party.socket.send({ type: "join", case_id: party.caseId });
      }
    },
    onState: showNetwork,
    // A push does not clear the message line (guarded would): what the party's own tap just
    // said ("switched to voice only", "review sent") stays while the push redraws the view.
    onMessage: (message) => onMessage(message).catch((error) => say(KC.readable(error))),
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
  else KC.banner("network", KC.t("Party.network_lost"));
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
    case "joined":
      if (party.config.media_server && message.case_id === party.caseId) await joinMedia();
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
  // Signing is for the call: the standing is read afresh there, the dialog closes elsewhere.
  if (["in_call", "collected"].includes(state)) party.confirmation.refresh();
  else party.confirmation.close();
  if (!document.getElementById("progress-view").hidden) {
    // The progress view redraws on every push (determined, review decided, claim...).
    if (["queued", "in_call", "collected"].includes(state)) await resume(party.caseId);
    else await progress(party.caseId);
    return;
  }
  if (state === "queued") {
    if (party.link) party.link.close();
    party.link = null;
    if (event === "call_requeued") say(KC.t("Party.call_requeued"));
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

// The call link's states (CallLink, and the operator leaving) as the party reads them.
const CALL_STATES = ["new", "connecting", "connected", "disconnected", "reconnecting", "failed", "peer-left"];

function showCallState(state) {
  const known = CALL_STATES.includes(state) ? state : "connecting";
  KC.text("call-state", KC.label("PartyCall", known.replace("-", "_")));
  document.getElementById("call-state").dataset.state = state;
  KC.show("reconnect", !["connected", "new", "connecting"].includes(state));
}

// A weak link (loss, round trip, bitrate): suggest voice only, while video is still on.
function showWeak(weak) {
  const video = party.stream && party.stream.getVideoTracks().length > 0;
  if (weak && video) {
    KC.banner("weak", KC.t("Party.weak_link"), [[KC.t("Party.switch_to_audio"), () => guarded(audioOnly)]]);
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

// With a media server the call goes through its room (sfu.js), joined once the signaling server
// let this page join the call; the room is then the call link (close, replaceVideo, reconnect).
async function joinMedia() {
  if (party.link || party.joiningMedia) return;
  party.joiningMedia = true;
  try {
    const pass = await mediaPass(PAGE, party.caseId);
    if (pass) {
      document.getElementById("remote-video").hidden = true; // every feed shows in remote-feeds
      party.link = await joinRoom(pass, {
        localStream: party.stream,
        container: document.getElementById("remote-feeds"),
        onState: showCallState,
      });
    }
  } finally {
    party.joiningMedia = false;
  }
}

// Reconnect by hand: a silent socket is replaced, and the operator is asked for a fresh offer.
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

// The operator's list of stills (each vehicle's own when the console sends them, as codes).
function stillLabel(still) {
  const label = KC.label("EvidenceKind", still.kind);
  return still.party_position ? `${designation(still.party_position)} ${label}` : label;
}

function renderChecklist() {
  const items = party.stills
    ? party.stills.map((still) => [stillLabel(still), still.present])
    : shots().map(([kind, label]) => [label, party.done.has(kind)]);
  document.getElementById("checklist").replaceChildren(
    ...items.map(([label, done]) => KC.el("li", {
      className: done ? "done" : "",
      textContent: `${done ? "✔" : "○"} ${label}`,
    })),
  );
}

// Poor network: voice only, or photos (queue position, the shots, done, and back to video).

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
  say(KC.t("Party.audio_on"));
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
    ...shots().map(([kind, label]) => {
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
  const missing = shots().filter(([kind]) => !party.photos.has(kind)).map(([, label]) => label);
  const question = KC.t("Party.photos_missing", { shots: missing.join(KC.t("Party.list_separator")) });
  if (missing.length && !(await KC.confirm(question, { yes: KC.t("Party.send_anyway"), no: KC.t("Party.keep_filming") }))) {
    return;
  }
  remembered.write({ photosSubmitted: true });
  showPhotoMode(true);
  say(KC.t("Party.photos_sent"));
}

async function backToVideo() {
  await startCamera();
  await KC.api(PAGE, "PUT", `/api/calls/${party.caseId}/mode`, { mode: "video" });
  remembered.write({ caseId: party.caseId, screen: "call", photosSubmitted: false });
  view(party.state === "queued" ? "wait-view" : "call-view");
  if (["in_call", "collected"].includes(party.state)) party.socket.send({ type: "join", case_id: party.caseId });
}

// Start.

// The language: the saved choice, else the browser's; the switch redraws the page at once,
// is remembered on this phone, and tells the server (the party's SMS follow it).
const LOCALE_KEY = `kuaichu.${PAGE}.locale`;

async function setLocale(locale, chosen = false) {
  await KC.useLocale(locale);
  for (const button of document.querySelectorAll("[data-locale]")) {
    button.setAttribute("aria-pressed", String(button.dataset.locale === locale));
  }
  if (!chosen) return;
  localStorage.setItem(LOCALE_KEY, locale);
  say("");
  if (KC.token(PAGE)) await KC.api(PAGE, "PUT", "/api/me/locale", { locale });
  if (party.socket) party.socket.send({ type: "locale", locale });
  await redraw();
}

// What is on screen now, drawn again in the new language.
async function redraw() {
  renderChecklist();
  if (!document.getElementById("photo-view").hidden) renderPhotoList();
  if (!document.getElementById("call-view").hidden) {
    showCallState(document.getElementById("call-state").dataset.state || "connecting");
  }
  if (party.service) showService(party.service);
  if (!document.getElementById("home-view").hidden) await home();
  else if (!document.getElementById("progress-view").hidden) await progress(party.caseId);
}

async function start() {
  await setLocale(KC.chosenLocale(PAGE));
  for (const button of document.querySelectorAll("[data-locale]")) {
    button.onclick = () => guarded(() => setLocale(button.dataset.locale, true));
  }
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
  KC.action("abandon", abandon, { confirm: KC.t("Party.abandon_confirm") });
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
  party.confirmation = installConfirmation(PAGE, () => party.caseId);
  window.addEventListener("offline", () => showNetwork("closed"));
  window.addEventListener("online", () => party.socket && party.socket.ws && party.socket.ws.readyState === WebSocket.OPEN
    ? KC.unbanner("network") : null);
  renderChecklist();
  setInterval(() => resync().catch((error) => console.warn("resync", error)), RESYNC_MS);
  party.config = await KC.api(PAGE, "GET", "/api/calls/config");
  watchJoinCode(PAGE, party);
  await KC.resume(PAGE, enter, () => view("login-view"));
}

guarded(start);
