// The operator's console: presence, the queue, the call, collection, wrap-up.
import { CallLink, KC, SHOT_KINDS, shots } from "./common.js";
import { initJoins, joinsChanged } from "./join-console.js";
import { LICENCE_SHOT, StillSuggestions, isReadable } from "./suggestions.js";
import { joinRoom, mediaPass } from "./sfu.js";
import { followConfirmations, showConfirmations, unsignedParties } from "./signature.js";

const PAGE = "console";
const VIEWS = ["login-view", "queue-view", "call-view", "wrapup-view"];
const consoleState = {
  config: null,
  catalogue: null, // GET /api/catalogue: the lists the facts are picked from, as {code, label}
  me: null,
  socket: null,
  caseId: null,
  link: null,
  room: null, // the call's room on the media server (sfu.js), when there is one
  joiningMedia: false,
  camera: null,
  remote: null,
  done: new Set(),
  queue: null,
  queueFetchedAt: 0,
  recorder: null,
  audio: null,
  chunks: 0,
  uploads: [],
  detail: null,
  gate: null, // GET /collection: what collection still lacks, and the stills to take
  ineligible: null, // the transfer reason, when the case may only be transferred
  collected: false,
};

const view = (id) => KC.view(VIEWS, id);
const say = KC.say;
const guarded = (action) => KC.guarded(action);
// Plate and licence numbers read off the stills, offered into the party form (suggestions.js).
const stillSuggestions = new StillSuggestions(document.getElementById("parties-form"));

async function login(event) {
  event.preventDefault();
  await KC.staffLogin(PAGE, "operator");
  await enter();
}

// Presence and the queue.

function showPresence(presence) {
  KC.show("presence-bar");
  KC.text("me-name", presence.name);
  KC.text("me-status", presence.status_label);
  document.getElementById("me-status").dataset.status = presence.status;
}

async function setPresence(status) {
  showPresence(await KC.api(PAGE, "PUT", "/api/operators/me/presence", { status }));
  await refreshQueue();
}

async function refreshQueue() {
  const queue = await KC.api(PAGE, "GET", "/api/calls/queue");
  consoleState.queue = queue;
  consoleState.queueFetchedAt = Date.now();
  showPresence(queue.me);
  renderQueue();
}

function renderQueue() {
  const queue = consoleState.queue;
  if (!queue) return;
  const elapsed = (Date.now() - consoleState.queueFetchedAt) / 1000;
  KC.text("queue-length", String(queue.waiting.length));
  document.getElementById("queue-rows").replaceChildren(
    ...queue.waiting.map((w) => KC.el("tr", { className: w.returned ? "returned" : "" },
      KC.el("td", { textContent: String(w.position) }),
      KC.el("td", { textContent: w.returned ? KC.t("Console.returned", { number: w.number }) : w.number }),
      KC.el("td", { textContent: KC.label("CallMode", w.mode) }),
      KC.el("td", { textContent: KC.duration(w.waiting_seconds + elapsed) }))),
  );
  document.getElementById("operators").replaceChildren(
    ...queue.operators.map((o) => KC.el("li", { textContent: `${o.name} · ${o.status_label}` })),
  );
}

async function takeNext() {
  const offer = await KC.api(PAGE, "POST", "/api/calls/take-next");
  if (offer.presence) showPresence(offer.presence); // busy
  await enterCall(offer.case_id, offer.mode);
}

// The call.

async function ownCamera() {
  if (consoleState.camera) return consoleState.camera;
  consoleState.camera = await navigator.mediaDevices
    .getUserMedia({ video: true, audio: true })
    .catch(() => navigator.mediaDevices.getUserMedia({ audio: true }))
    .catch(() => null);
  document.getElementById("local-video").srcObject = consoleState.camera;
  return consoleState.camera;
}

async function enterCall(caseId, mode) {
  if (consoleState.caseId === caseId) return;
  consoleState.caseId = caseId;
  consoleState.done = new Set();
  consoleState.chunks = 0;
  consoleState.gate = null;
  consoleState.ineligible = null;
  consoleState.collected = false;
  document.getElementById("gallery").replaceChildren();
  clearNotes();
  view("call-view");
  KC.text("call-mode", KC.label("CallMode", mode || "video"));
  KC.text("recording-status", KC.t("Console.recording_not_started"));
  KC.text("call-state", KC.t(mode === "photo" ? "Console.photo_mode" : "Console.waiting_for_party"));
  const detail = await KC.api(PAGE, "GET", `/api/cases/${caseId}`);
  consoleState.detail = detail;
  KC.text("case-number", detail.number);
  showConsent(detail);
  KC.text("report-point", KC.t("Console.report_point", {
    lat: detail.report_lat.toFixed(5), lng: detail.report_lng.toFixed(5),
    jurisdiction: detail.jurisdiction_name, at: KC.time(detail.reported_at),
  }));
  fillForms(detail);
  showIneligible(null);
  guarded(refreshInsurerSeat);
  await showUploadedEvidence();
  guarded(() => stillSuggestions.open(caseId));
  await refreshGate();
  const camera = await ownCamera();
  if (consoleState.config.media_server) {
    // The server records the call; the room is joined once the socket has joined the call.
    KC.text("recording-status", KC.t("Console.recording_on_server"));
  } else {
    consoleState.link = new CallLink({
      iceServers: consoleState.config.ice_servers,
      iceTransportPolicy: consoleState.config.ice_transport_policy,
      offerer: true,
      send: (data) => consoleState.socket.send({ type: "signal", case_id: caseId, data }),
      onTrack: onRemoteTrack,
      onState: showLinkState,
    });
    consoleState.link.localStream = camera;
  }
  consoleState.socket.send({ type: "join", case_id: caseId });
}

// With a media server the call goes through its room (sfu.js): every party is a labelled feed;
// the first fills the main picture (the stills are taken from it) and a click puts another there.
async function joinMedia(caseId) {
  if (consoleState.room || consoleState.joiningMedia) return;
  consoleState.joiningMedia = true;
  try {
    const pass = await mediaPass(PAGE, caseId);
    if (pass && consoleState.caseId === caseId) {
      consoleState.room = await joinRoom(pass, {
        localStream: await ownCamera(),
        container: document.getElementById("remote-feeds"),
        onRemote: showFeed,
        onState: showLinkState,
      });
    }
  } finally {
    consoleState.joiningMedia = false;
  }
}

function showFeed({ stream, figure }) {
  const main = document.getElementById("remote-video");
  main.muted = true; // the feed's own <video> plays its sound
  if (!main.srcObject) main.srcObject = stream;
  figure.onclick = () => {
    main.srcObject = stream;
  };
}

// The call's connection as the operator reads it; "reconnect" whenever it is not connected.
// The call stays this operator's through the grace period while it heals.
// The call link's states (CallLink) as the operator reads them.
const LINK_STATES = ["new", "connecting", "connected", "disconnected", "reconnecting", "failed"];

function showLinkState(state) {
  KC.text("call-state", KC.label("ConsoleLink", LINK_STATES.includes(state) ? state : "connecting"));
  document.getElementById("call-state").dataset.state = state;
  KC.show("reconnect", state !== "connected" && state !== "new" && state !== "connecting");
}

// Whether the party has read and agreed to the notice that the call is recorded (Personal
// Information Protection Law), from the case.
function showConsent(detail) {
  const node = document.getElementById("consent-line");
  node.textContent = detail.consented_at
    ? KC.t("Console.consented", { at: KC.time(detail.consented_at) })
    : KC.t("Console.not_consented");
  node.className = detail.consented_at ? "consent-ok" : "failed";
}

function onRemoteTrack(stream) {
  consoleState.remote = stream;
  const video = document.getElementById("remote-video");
  if (video.srcObject === stream) return;
  video.srcObject = stream;
  if (!consoleState.recorder) startRecording();
  // A new stream (the party reconnected): end the chunk now, the next one records the new one.
  else if (consoleState.recorder.current && consoleState.recorder.current.state === "recording") {
    consoleState.recorder.current.stop();
  }
}

// A party signed or disputed on their phone: the standing shows at once; a dispute has sent the
// case to police on site, so the call ends with the party's reason.
async function onConfirmation() {
  const disputed = await showConfirmations(PAGE, consoleState.caseId);
  if (!disputed) return;
  await stopRecording();
  await endCall(KC.t("Console.disputed", { position: disputed.position, reason: disputed.reason || "" }));
}

async function onMessage(message) {
  switch (message.type) {
    case "confirmation":
      if (message.case_id === consoleState.caseId) await onConfirmation();
      break;
    case "hello":
      await resync();
      break;
    case "offer":
      if (message.presence) showPresence(message.presence);
      await enterCall(message.case_id, message.mode);
      break;
    case "queue_changed":
      if (!document.getElementById("queue-view").hidden) await refreshQueue();
      break;
    case "joined":
      if (consoleState.config.media_server && message.case_id === consoleState.caseId) await joinMedia(message.case_id);
      break;
    case "peer":
      if (message.case_id !== consoleState.caseId) break;
      if (message.event === "joined") {
        if (consoleState.link) await consoleState.link.offer();
      }
      else {
        KC.text("call-state", KC.t("Console.party_dropped", { grace: KC.duration(consoleState.config.grace_seconds) }));
        KC.show("reconnect");
      }
      break;
    case "signal":
      if (message.case_id !== consoleState.caseId || !consoleState.link) break;
      if (message.data.kind === "here") await consoleState.link.offer();
      else await consoleState.link.handle(message.data);
      break;
    case "mode":
      if (message.case_id === consoleState.caseId) {
        KC.text("call-mode", KC.label("CallMode", message.mode));
        if (message.mode === "photo") await showUploadedEvidence();
      }
      break;
    case "joins":
      await joinsChanged(message);
      break;
    case "error":
      say(message.detail);
      break;
    default:
      break;
  }
}

// Stills: one click takes the party's current frame into typed evidence; a still of one
// vehicle (its overview, its plate) names whose vehicle it shows.

function perVehicle(kind) {
  return consoleState.config.catalogues.per_vehicle_stills.includes(kind);
}

function chosenVehicle() {
  const chosen = document.querySelector('input[name="still-vehicle"]:checked');
  return chosen ? Number(chosen.value) : 1;
}

async function capture(kind, position = perVehicle(kind) ? chosenVehicle() : null) {
  const video = document.getElementById("remote-video");
  if (!video.videoWidth) throw new Error(KC.t("Console.no_party_video"));
  const canvas = KC.el("canvas", { width: video.videoWidth, height: video.videoHeight });
  canvas.getContext("2d").drawImage(video, 0, 0);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  // A plate or licence read before its party is recorded is still worth taking: OCR suggests
  // the party's numbers (the still counts for the checklist once taken of a recorded party).
  const recorded = consoleState.detail.parties.some((p) => p.position === position);
  const item = await upload(blob, `${kind}.jpg`, kind, isReadable(kind) && !recorded ? null : position);
  guarded(() => stillSuggestions.read(item, position));
  consoleState.done.add(kind);
  addThumbnail(URL.createObjectURL(blob), item.kind_label || stillLabel(kind, position));
  await refreshGate();
}

function stillLabel(kind, position) {
  const label = KC.label("EvidenceKind", SHOT_KINDS.includes(kind) ? kind : "other");
  return position ? `${KC.t("Common.party_n", { position })} ${label}` : label;
}

async function upload(blob, name, kind, position = null) {
  const form = new FormData();
  form.append("file", blob, name);
  form.append("kind", kind);
  if (position) form.append("party_position", String(position));
  return KC.api(PAGE, "POST", `/api/cases/${consoleState.caseId}/evidence`, form);
}

function addThumbnail(url, label) {
  document.getElementById("gallery").append(
    KC.el("figure", {}, KC.el("img", { src: url, alt: label }), KC.el("figcaption", { textContent: label })),
  );
}

async function showUploadedEvidence() {
  const items = await KC.api(PAGE, "GET", `/api/cases/${consoleState.caseId}/evidence`);
  document.getElementById("gallery").replaceChildren();
  for (const item of items) {
    if (item.kind === "recording") continue;
    consoleState.done.add(item.kind);
    addThumbnail(await KC.evidenceUrl(PAGE, consoleState.caseId, item.id),
      item.kind_label || stillLabel(item.kind, item.party_position));
  }
}

// The gate (the check that collection is complete): the server says what is still missing;
// each item is shown where it is fixed, the stills as a list the operator ticks off by taking them.

async function refreshGate() {
  const gate = await KC.api(PAGE, "GET", `/api/cases/${consoleState.caseId}/collection`);
  await showConfirmations(PAGE, consoleState.caseId);
  consoleState.gate = gate;
  renderStills();
  showMissing(gate.missing, false);
  await prefillTransferReason();
  consoleState.socket.send({
    type: "signal",
    case_id: consoleState.caseId,
    data: {
      kind: "checklist",
      done: [...consoleState.done],
      // Codes, not words: the party's page says them in its own language.
      stills: gate.stills.map((still) => ({
        kind: still.kind, party_position: still.party_position, present: still.present,
      })),
    },
  });
}

function renderStills() {
  const stills = consoleState.gate ? consoleState.gate.stills : [];
  const items = stills.map((still) => {
    const button = KC.el("button", {
      type: "button",
      className: `still ${still.present ? "done" : ""}`,
      textContent: `${still.present ? "✔" : "○"} ${still.label}`,
      onclick: () => guarded(() => capture(still.kind, still.party_position)),
    });
    button.dataset.key = `still:${still.kind}${still.party_position ? `:${still.party_position}` : ""}`;
    return KC.el("li", {}, button);
  });
  if (!consoleState.detail || consoleState.detail.parties.length === 0) {
    items.push(KC.el("li", { className: "hint", textContent: KC.t("Console.stills_after_parties") }));
  }
  document.getElementById("stills").replaceChildren(...items);
}

function clearNotes() {
  for (const node of document.querySelectorAll("#call-view .gate-note")) {
    node.textContent = "";
    node.hidden = true;
  }
  for (const node of document.querySelectorAll("#call-view .field-error")) node.remove();
  for (const node of document.querySelectorAll("#call-view [aria-invalid]")) node.removeAttribute("aria-invalid");
  for (const node of document.querySelectorAll("#stills .missing")) node.classList.remove("missing");
}

// Where a gate item belongs: its party's fieldset (registry checks, acts) or its step.
function noteFor(item) {
  const [what, position] = item.key.split(":");
  const party = `fieldset[data-party="${position}"]`;
  if (what === "registry") return document.querySelector(`${party} > .gate-note`);
  if (what === "acts") return document.querySelector(`${party} .acts > .gate-note`);
  const step = what === "eligibility" ? "eligibility" : item.code === "accident_facts" ? "facts" : "parties";
  return document.querySelector(`.gate-note[data-gate="${step}"]`);
}

// Shows the missing items next to where they are fixed; `loud` also says so in the action bar.
function showMissing(missing, loud = true) {
  clearNotes();
  for (const item of missing) {
    if (item.key.startsWith("still:")) {
      const still = document.querySelector(`#stills [data-key="${item.key}"]`);
      if (still) {
        still.classList.add("missing");
        still.title = item.message;
      }
      continue;
    }
    const note = noteFor(item);
    if (!note) continue;
    note.hidden = false;
    note.textContent = note.textContent ? `${note.textContent}${KC.t("Common.separator")}${item.message}` : item.message;
  }
  const ineligible = missing.find((item) => item.code === "ineligible");
  if (ineligible) showIneligible(ineligible.message);
  const summary = document.getElementById("gate-summary");
  summary.className = `gate-summary ${missing.length && loud ? "failed" : ""}`;
  summary.textContent = consoleState.ineligible
    ? consoleState.ineligible
    : missing.length
      ? KC.t("Console.missing_items", {
        count: missing.length, items: missing.map((m) => m.message).join(KC.t("Common.separator")),
      })
      : KC.t("Console.all_collected");
}

// An ineligible case (art. 13) can only be transferred: "collection complete" goes, the
// transfer's reason is the rules' own (stored on the case as it is).
function showIneligible(reason, transferReason = null) {
  consoleState.ineligible = reason;
  KC.show("complete", !reason);
  const transfer = document.getElementById("transfer-open");
  transfer.classList.toggle("emphasis", Boolean(reason));
  if (reason && transferReason) document.getElementById("transfer-reason").value = transferReason;
}

// The gate found the case ineligible (a reload, another tab): the rules' transfer reason, unless
// the operator has written one.
async function prefillTransferReason() {
  const field = document.getElementById("transfer-reason");
  if (!consoleState.ineligible || field.value) return;
  const judged = await KC.api(PAGE, "GET", `/api/cases/${consoleState.caseId}/eligibility`);
  if (judged.transfer_reason && !field.value) field.value = judged.transfer_reason;
}

// Recording: each chunk is a complete WebM file (a fresh recorder per chunk), uploaded as
// it ends, so a crash loses at most the chunk being recorded.

function recordingStream() {
  const tracks = consoleState.remote.getVideoTracks().slice(0, 1);
  try {
    consoleState.audio = consoleState.audio || new AudioContext();
    const mix = consoleState.audio.createMediaStreamDestination();
    for (const source of [consoleState.remote, consoleState.camera]) {
      if (source && source.getAudioTracks().length) consoleState.audio.createMediaStreamSource(source).connect(mix);
    }
    tracks.push(...mix.stream.getAudioTracks());
  } catch (error) {
    console.warn("recording without the mixed sound", error);
  }
  return new MediaStream(tracks);
}

// A chunk that caught no frame (its stream ended as it began) is a bare WebM header.
const EMPTY_CHUNK_BYTES = 1024;

function startRecording() {
  const recorder = { active: true, current: null };
  consoleState.recorder = recorder;
  const seconds = consoleState.config.recording_chunk_seconds;
  const next = () => {
    if (!recorder.active || !consoleState.remote) return;
    // Each chunk records the current streams: after a reconnect they are new ones.
    const media = new MediaRecorder(recordingStream(), { mimeType: "video/webm" });
    recorder.current = media;
    media.ondataavailable = (event) => {
      if (event.data.size > EMPTY_CHUNK_BYTES) {
        const sent = upload(event.data, "recording.webm", "recording").then(() => {
          consoleState.chunks += 1;
          KC.text("recording-status", KC.t("Console.recording", { count: consoleState.chunks }));
        }).catch((error) => say(KC.t("Console.recording_upload_failed", { error: error.message })));
        consoleState.uploads.push(sent);
      }
    };
    media.onstop = next;
    media.start();
    setTimeout(() => media.state === "recording" && media.stop(), seconds * 1000);
  };
  next();
}

async function stopRecording() {
  const recorder = consoleState.recorder;
  consoleState.recorder = null;
  if (recorder) {
    recorder.active = false;
    if (recorder.current && recorder.current.state === "recording") {
      await new Promise((resolve) => {
        recorder.current.addEventListener("stop", resolve, { once: true });
        recorder.current.stop();
      });
    }
  }
  await Promise.all(consoleState.uploads);
  consoleState.uploads = [];
}

// Facts and parties.

// An insurer's seat in the call: the insurers the registry checks found for the
// parties first, then every registered one; the call's invitations and who of them is in it.
async function refreshInsurerSeat() {
  const seat = await KC.api(PAGE, "GET", `/api/cases/${consoleState.caseId}/insurer-invitations`);
  document.getElementById("insurer-choice").replaceChildren(...seat.insurers.map((choice) => KC.el("option", {
    value: choice.code,
    textContent: choice.parties.length
      ? KC.t("Console.insurer_of_parties", { name: choice.name, parties: choice.parties.join(" ") })
      : choice.name,
  })));
  document.getElementById("insurer-invitations").replaceChildren(...seat.invitations.map((invitation) =>
    KC.el("li", {
      textContent: KC.t("Console.insurer_invited", {
        name: invitation.insurer_name, until: KC.time(invitation.expires_at),
        present: invitation.present.join(" ") || "—",
      }),
    })));
}

async function inviteInsurer() {
  const insurer = document.getElementById("insurer-choice").value;
  await KC.api(PAGE, "POST", `/api/cases/${consoleState.caseId}/insurer-invitations`, { insurer_code: insurer });
  await refreshInsurerSeat();
}

function options(select, values) {
  select.replaceChildren(...values.map(([value, label]) => KC.el("option", { value, textContent: label })));
}

function partyFieldset(index) {
  const c = consoleState.catalogue;
  const field = (name, label, extra = {}) =>
    KC.el("label", { textContent: `${label} ` }, KC.el("input", { name: `${name}-${index}`, ...extra }));
  const plateType = KC.el("select", { name: `plate_type-${index}` });
  options(plateType, c.plate_types.map(({ code, label }) => [code, `${code} ${label}`]));
  plateType.value = "02";
  const vehicleType = KC.el("select", { name: `vehicle_type-${index}` });
  options(vehicleType, c.vehicle_types.map(({ code, label }) => [code, label]));
  const lookUp = KC.el("button", {
    type: "button", className: "secondary lookup", textContent: KC.t("Console.look_up"),
    onclick: () => guarded(() => lookUpParty(index)),
  });
  const fieldset = KC.el("fieldset", { className: "party" },
    KC.el("legend", { textContent: KC.t("Common.party_n", { position: index }) }),
    KC.el("p", { className: "gate-note", hidden: true }),
    KC.el("div", { className: "three" },
      field("plate_number", KC.t("Field.plate_number"), { maxLength: 10 }),
      KC.el("label", { textContent: `${KC.t("Field.plate_type")} ` }, plateType),
      field("licence_number", KC.t("Field.licence_number"), { maxLength: 18 })),
    KC.el("div", { className: "row lookup-row" }, lookUp,
      KC.el("span", { className: "hint lookup-result", textContent: "" })),
    KC.el("div", { className: "three" },
      field("name", KC.t("Field.name")), field("phone", KC.t("Field.phone"), { inputMode: "numeric", maxLength: 11 }),
      field("id_number", KC.t("Field.id_number"), { maxLength: 18 }),
      KC.el("label", { textContent: `${KC.t("Field.vehicle_type")} ` }, vehicleType),
      field("insurer_code", KC.t("Console.insurer_code"), { maxLength: 16 }),
      field("policy_number", KC.t("Field.policy_number"), { maxLength: 32 })),
    KC.el("fieldset", { className: "acts" },
      KC.el("legend", { textContent: KC.t("Console.acts") }),
      KC.el("p", { className: "gate-note", hidden: true }),
      KC.el("div", { className: "choices" },
        ...Object.entries(consoleState.config.catalogues.acts).map(([act, label]) =>
          KC.el("label", { className: "inline" }, KC.el("input", { type: "checkbox", name: `act-${index}`, value: act }), ` ${label}`)))),
    field("impact_point", KC.t("Field.impact_point"), { maxLength: 32, placeholder: KC.t("Console.impact_point_example") }));
  fieldset.dataset.party = String(index);
  return fieldset;
}

// Look-up to fill in: the registries know the name, the vehicle and its compulsory insurance.
async function lookUpParty(index) {
  const form = document.getElementById("parties-form");
  const value = (key) => form.elements[`${key}-${index}`].value.trim();
  const query = new URLSearchParams();
  if (value("plate_number")) {
    query.set("plate_number", value("plate_number"));
    query.set("plate_type", value("plate_type"));
  }
  if (value("licence_number")) query.set("licence_number", value("licence_number"));
  const result = form.querySelector(`fieldset[data-party="${index}"] .lookup-result`);
  result.textContent = KC.t("Console.looking_up");
  let found;
  try {
    found = await KC.api(PAGE, "GET", `/api/cases/${consoleState.caseId}/registry-lookup?${query}`);
  } catch (error) {
    result.textContent = KC.readable(error);
    result.className = "lookup-result failed";
    return;
  }
  for (const key of ["name", "licence_number", "plate_number", "plate_type", "vehicle_type", "insurer_code", "policy_number"]) {
    if (found[key]) form.elements[`${key}-${index}`].value = found[key];
  }
  result.className = "hint lookup-result";
  result.textContent = [found.name, found.vehicle_type_label, found.insurer_name,
    found.licence_status ? KC.t("Console.licence_status", { status: found.licence_status }) : ""]
    .filter(Boolean).join(" · ") + KC.t("Console.filled_in");
}

function fillForms(detail) {
  const c = consoleState.catalogue;
  options(document.getElementById("accident-type"), c.accident_types.map(({ code, label }) => [code, label]));
  options(document.getElementById("weather"), c.weather.map(({ code, label }) => [code, label]));
  const occurred = detail.occurred_at ? new Date(detail.occurred_at) : new Date(detail.reported_at);
  const local = new Date(occurred.getTime() - occurred.getTimezoneOffset() * 60000);
  document.getElementById("occurred-at").value = local.toISOString().slice(0, 16);
  // What the system knows: the GPS point's jurisdiction until the operator names the place.
  document.getElementById("address").value = detail.address || KC.t("Console.near_report_point", { jurisdiction: detail.jurisdiction_name });
  if (detail.accident_type) document.getElementById("accident-type").value = detail.accident_type;
  if (detail.weather) document.getElementById("weather").value = detail.weather;
  document.getElementById("description").value = detail.description || "";
  document.getElementById("party-fieldsets").replaceChildren(...partyPositions().map(partyFieldset));
  renderStillVehicles(detail.parties.length);
  renderQuestions(); // a new call starts with no answers and no results of the last one
  document.getElementById("eligibility").textContent = "";
  document.getElementById("checks").replaceChildren(
    KC.el("li", { className: "hint", textContent: KC.t("Console.checks_hint") }));
  const form = document.getElementById("parties-form");
  detail.parties.forEach((p, i) => {
    for (const key of ["name", "phone", "id_number", "licence_number", "plate_number", "plate_type", "vehicle_type", "insurer_code", "policy_number"]) {
      const input = form.elements[`${key}-${i + 1}`];
      if (input && p[key]) input.value = p[key];
    }
  });
  // The reporter's phone is party 1's until the operator says otherwise.
  if (!detail.parties.length && detail.reporter_phone) form.elements["phone-1"].value = detail.reporter_phone;
}

async function saveForms() {
  await saveFacts();
  await saveParties();
}

async function saveFacts() {
  const id = consoleState.caseId;
  const occurred = new Date(document.getElementById("occurred-at").value);
  if (Number.isNaN(occurred.getTime())) throw new Error(KC.t("Console.occurred_at_needed"));
  await placed("facts-form", () => KC.api(PAGE, "PUT", `/api/cases/${id}/facts`, {
    occurred_at: occurred.toISOString(),
    lat: consoleState.detail.report_lat,
    lng: consoleState.detail.report_lng,
    address: document.getElementById("address").value,
    accident_type: document.getElementById("accident-type").value,
    weather: document.getElementById("weather").value,
    description: document.getElementById("description").value,
  }));
}

// A 422 names each wrong field by its path (errors[].field) and in words (errors[].message):
// the words go next to the field, the path finds it.
async function placed(formId, request) {
  try {
    return await request();
  } catch (error) {
    const errors = error.problem && error.problem.errors;
    if (!errors) throw error;
    const form = document.getElementById(formId);
    let first = null;
    for (const e of errors) {
      const target = fieldFor(form, e.field);
      if (!target) continue;
      if (target.matches("input, select, textarea")) target.setAttribute("aria-invalid", "true");
      const holder = target.closest("label") || target;
      holder.append(KC.el("small", { className: "field-error", textContent: e.message }));
      first = first || target;
    }
    if (first) first.scrollIntoView({ block: "center" });
    throw error;
  }
}

function fieldFor(form, path) {
  const parts = path.split(".");
  if (parts[0] === "parties" && parts.length >= 2) {
    const position = Number(parts[1]) + 1;
    const fieldset = form.querySelector(`fieldset[data-party="${position}"]`);
    if (parts.length === 2 || !fieldset) return fieldset && fieldset.querySelector(".gate-note");
    return form.elements[`${parts[2]}-${position}`] || fieldset.querySelector(".gate-note");
  }
  return form.elements[parts[0]] || form.querySelector(".gate-note");
}

// One form per vehicle quick handling takes (the setting; a jurisdiction may allow fewer); those left empty are not parties.
function partyPositions() {
  return Array.from({ length: consoleState.config.max_vehicles }, (_, i) => i + 1);
}

// Whose vehicle a per-vehicle still shows: one choice per recorded party (at least two).
function renderStillVehicles(count) {
  const choices = Array.from({ length: Math.max(2, count) }, (_, i) => KC.el("label", { className: "inline" },
    KC.el("input", { type: "radio", name: "still-vehicle", value: String(i + 1), checked: i === 0 }),
    ` ${KC.t("Common.party_n", { position: i + 1 })}`));
  const fieldset = document.getElementById("still-vehicle");
  fieldset.replaceChildren(fieldset.querySelector("legend"), ...choices);
}

async function saveParties() {
  const id = consoleState.caseId;
  const form = document.getElementById("parties-form");
  const filled = partyPositions().filter((i) => form.elements[`name-${i}`].value.trim());
  const parties = filled
    .map((i) => {
      const value = (key) => form.elements[`${key}-${i}`].value.trim();
      return {
        name: value("name"), phone: value("phone"), id_number: value("id_number"),
        licence_number: value("licence_number"), plate_number: value("plate_number"),
        plate_type: value("plate_type"), vehicle_type: value("vehicle_type"),
        insurer_code: value("insurer_code") || null, policy_number: value("policy_number") || null,
      };
    });
  if (!parties.length) throw new Error(KC.t("Console.parties_needed"));
  await placed("parties-form", () => KC.api(PAGE, "PUT", `/api/cases/${id}/parties`, { parties }));
  consoleState.detail = await KC.api(PAGE, "GET", `/api/cases/${id}`);
  renderStillVehicles(parties.length);
  // The parties are numbered in the order they were filled in; each one's acts follow it.
  const acts = filled.map((i, n) => ({
    position: n + 1,
    acts: [...form.querySelectorAll(`input[name="act-${i}"]:checked`)].map((box) => box.value),
    impact_point: form.elements[`impact_point-${i}`].value.trim(),
  }));
  await KC.api(PAGE, "PUT", `/api/cases/${id}/liability-facts`, { parties: acts });
  await stillSuggestions.refresh();
}

// Automatic checks: the registries answer for each party as soon as the parties are saved.
async function saveAndCheck() {
  await saveForms();
  const checks = await KC.api(PAGE, "POST", `/api/cases/${consoleState.caseId}/checks`);
  document.getElementById("checks").replaceChildren(...checks.map((c) => KC.el("li", {
    className: c.outcome === "passed" ? "passed" : "failed",
    textContent: KC.t("Staff.check_line", {
      party: c.party_name, plate: c.plate_number, kind: c.kind_label,
      result: c.outcome === "passed"
        ? KC.t("CaseFile.passed")
        : c.failures.map((f) => f.reason).join(KC.t("Common.separator")) || KC.t("Console.check_unavailable"),
    }),
  })));
  await refreshGate();
}

// Eligibility: the operator's answers and the registry results against the rules (art. 13, 19).
async function checkEligibility() {
  const id = consoleState.caseId;
  const answers = Object.fromEntries(Object.keys(consoleState.config.catalogues.circumstances).map((field) =>
    [field, document.querySelector(`#circumstance-questions input[name="${field}"]`).checked]));
  await KC.api(PAGE, "PUT", `/api/cases/${id}/circumstances`, answers);
  const result = await KC.api(PAGE, "GET", `/api/cases/${id}/eligibility`);
  const node = document.getElementById("eligibility");
  if (result.eligible === null) {
    node.textContent = KC.t("Console.eligibility_missing", { missing: result.missing.join(KC.t("Common.list_separator")) });
  } else if (result.eligible) {
    node.textContent = KC.t("Console.eligible");
    showIneligible(null);
  } else {
    const separator = KC.t("Common.separator");
    const reasons = result.reasons.map((r) => KC.t("CaseFile.with_basis", { text: r.reason, basis: r.basis }));
    node.textContent = KC.t("Console.ineligible", { reasons: reasons.join(separator) });
    showIneligible(KC.t("Console.transfer_only", { reasons: result.reasons.map((r) => r.reason).join(separator) }),
      result.transfer_reason || null);
  }
  node.className = result.eligible === false ? "failed" : "hint";
  await refreshGate();
}

function renderQuestions() {
  const questions = consoleState.config.catalogues.circumstances;
  document.getElementById("circumstance-questions").replaceChildren(...Object.entries(questions).map(([field, label]) =>
    KC.el("label", { className: "inline" }, KC.el("input", { type: "checkbox", name: field }), ` ${label}`)));
}

// Collection complete → leave the scene: the server's gate decides; what it finds missing is
// shown next to where it is fixed, and the overridable part may be let through with a written reason.
async function completeAndEvacuate(override = null) {
  const id = consoleState.caseId;
  if (consoleState.ineligible) throw new Error(consoleState.ineligible);
  if (!consoleState.collected) {
    await saveForms();
    try {
      await KC.api(PAGE, "POST", `/api/cases/${id}/collection-complete`, override ? { override } : undefined);
    } catch (error) {
      if (error.status !== 409 || !error.problem || !error.problem.missing) throw error;
      showMissing(error.problem.missing);
      openOverride(error.problem.missing);
      throw error;
    }
    consoleState.collected = true;
  }
  // Every party signs first (the server refuses too): the recording goes on until they have.
  const unsigned = await unsignedParties(PAGE, id);
  if (unsigned) throw new Error(unsigned);
  await stopRecording();
  await KC.api(PAGE, "POST", `/api/cases/${id}/evacuate`);
  await endCall(KC.t("Console.evacuated"));
}

function openOverride(missing) {
  const blocking = missing.filter((item) => !item.overridable);
  const overridable = missing.filter((item) => item.overridable);
  document.getElementById("override-blocking").replaceChildren(...blocking.map((item) =>
    KC.el("li", { className: "failed", textContent: item.message })));
  KC.show("override-blocking", blocking.length > 0);
  // Only when nothing else blocks is there anything to let through.
  const canOverride = blocking.length === 0 && overridable.length > 0;
  KC.show("override-choice", canOverride);
  KC.show("override-confirm", canOverride);
  document.getElementById("override-items").replaceChildren(...overridable.map((item) => {
    const box = KC.el("input", { type: "checkbox", name: "override-key", value: item.key, checked: true });
    return KC.el("label", { className: "inline" }, box, ` ${item.message}`);
  }));
  KC.text("override-error", "");
  document.getElementById("override-dialog").showModal();
}

async function confirmOverride() {
  const keys = [...document.querySelectorAll('input[name="override-key"]:checked')].map((box) => box.value);
  const reason = document.getElementById("override-reason").value.trim();
  const problem = !keys.length ? KC.t("Console.override_pick")
    : reason.length < 4 ? KC.t("Console.override_reason_short") : "";
  KC.text("override-error", problem);
  if (problem) return;
  document.getElementById("override-dialog").close();
  await completeAndEvacuate({ keys, reason });
}

function openTransfer() {
  document.getElementById("transfer-dialog").showModal();
  document.getElementById("transfer-reason").focus();
}

async function transfer() {
  const reason = document.getElementById("transfer-reason").value.trim();
  KC.text("transfer-error", reason.length < 2 ? KC.t("Console.transfer_reason_needed") : "");
  if (reason.length < 2) return;
  document.getElementById("transfer-dialog").close();
  await stopRecording();
  await KC.api(PAGE, "POST", `/api/cases/${consoleState.caseId}/transfer`, { reason });
  await endCall(KC.t("Console.transferred", { reason }));
}

// Keyboard: 1–4 take the stills (not while typing), Ctrl+Enter completes.
function onKey(event) {
  if (document.getElementById("call-view").hidden || document.querySelector("dialog[open]")) return;
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    if (!consoleState.ineligible) guarded(() => completeAndEvacuate());
    return;
  }
  const typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
  if (typing || event.ctrlKey || event.altKey || event.metaKey) return;
  const shot = shots()[Number(event.key) - 1];
  if (shot && /^[1-4]$/.test(event.key)) {
    event.preventDefault();
    guarded(() => capture(shot[0]));
  }
}

async function endCall(summary) {
  const presence = await KC.api(PAGE, "POST", `/api/calls/${consoleState.caseId}/hangup`);
  if (consoleState.link) consoleState.link.close();
  consoleState.link = null;
  if (consoleState.room) consoleState.room.leave();
  consoleState.room = null;
  consoleState.caseId = null;
  consoleState.remote = null;
  document.getElementById("remote-video").srcObject = null;
  showPresence(presence);
  KC.text("wrapup-text", summary);
  view("wrapup-view");
}

async function ready() {
  view("queue-view");
  await setPresence("available");
}

// Start.

async function enter() {
  const me = await KC.api(PAGE, "GET", "/api/auth/me");
  if (me.role !== "operator") throw new Error(KC.t("Console.not_operator"));
  consoleState.me = me;
  consoleState.socket = KC.socket(PAGE, {
    onOpen: () => {
      if (consoleState.caseId) consoleState.socket.send({ type: "join", case_id: consoleState.caseId });
    },
    onMessage: (message) => guarded(() => onMessage(message)),
  });
  await resync();
}

// The server follows this page's channels before it says hello; what happened before that
// (an offer, a queue change) is read back here, so nothing falls between the two.
async function resync() {
  const current = await KC.api(PAGE, "GET", "/api/calls/current");
  showPresence(current.presence);
  if (current.case_id) {
    await enterCall(current.case_id, current.mode);
  } else if (consoleState.caseId) {
    return; // the call is ending on this page (hang-up in flight)
  } else if (current.presence.status === "wrap_up") {
    KC.text("wrapup-text", KC.t("Console.last_call_ended"));
    view("wrapup-view");
  } else {
    view("queue-view");
    await refreshQueue();
  }
}

async function start() {
  await KC.useLocale(KC.DEFAULT_LOCALE); // staff pages read Chinese first
  document.getElementById("login-form").onsubmit = (event) => guarded(() => login(event));
  KC.action("go-available", () => setPresence("available"));
  KC.action("go-away", () => setPresence("away"));
  KC.action("take-next", takeNext);
  KC.action("complete", () => completeAndEvacuate());
  document.getElementById("transfer-open").onclick = openTransfer;
  KC.action("transfer", transfer);
  document.getElementById("transfer-cancel").onclick = () => document.getElementById("transfer-dialog").close();
  KC.action("override-confirm", confirmOverride);
  document.getElementById("override-cancel").onclick = () => document.getElementById("override-dialog").close();
  document.addEventListener("keydown", onKey);
  // The facts are saved as they are entered: the gate (and any wrong field) shows at once.
  document.getElementById("facts-form").addEventListener("change", () => guarded(async () => {
    for (const node of document.querySelectorAll("#facts-form .field-error")) node.remove();
    await saveFacts();
    await refreshGate();
  }));
  KC.action("save-parties", saveAndCheck);
  initJoins(PAGE, consoleState, enterCall);
  KC.action("check-eligibility", checkEligibility);
  KC.action("invite-insurer", inviteInsurer);
  KC.action("ready", ready);
  document.getElementById("reconnect").onclick = () => {
    const link = consoleState.link || consoleState.room;
    if (link) link.reconnect();
  };
  document.getElementById("capture-buttons").replaceChildren(
    ...shots().map(([kind, label], index) => {
      const button = KC.el("button", {
        type: "button", className: "secondary shot", textContent: `${index + 1} ${label}`,
        title: KC.t("Console.capture_title", { label, key: index + 1 }),
        onclick: () => guarded(() => capture(kind)),
      });
      button.dataset.kind = kind;
      return button;
    }),
  );
  document.getElementById("capture-buttons").append(KC.el("button", {
    type: "button", className: "secondary shot", textContent: KC.label("EvidenceKind", LICENCE_SHOT),
    onclick: () => guarded(() => capture(LICENCE_SHOT, chosenVehicle())),
  }));
  setInterval(renderQueue, 1000); // waiting times tick between queue changes
  followConfirmations(PAGE, () => consoleState.caseId);
  consoleState.config = await KC.api(PAGE, "GET", "/api/calls/config");
  consoleState.catalogue = await KC.api(PAGE, "GET", "/api/catalogue");
  renderQuestions();
  await KC.resume(PAGE, enter, () => view("login-view"));
}

guarded(start);
