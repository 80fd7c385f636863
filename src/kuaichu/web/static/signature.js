// The parties confirm and sign: before leaving the scene a party reads the recorded facts, the
// parties and the stills on their own phone, and signs with a finger on a canvas, or disputes
// them with a reason (the case then goes to police on site). A signature binds what was read:
// the server's hash of the facts and parties, sent back with the drawing. The console shows
// each party's standing with `showConfirmations`.
import { KC } from "./common.js";

const STATUS_REFRESH_MS = 8000;

// How a party is named on the pages, as the document names them (jia, yi, bing).
function who(position, name) {
  const letter = KC.t(`Party.letter_${position}`);
  return `${KC.t("Party.designation", { letter })} ${name}`;
}

function statusLine(entry) {
  const params = { who: who(entry.position, entry.name), status: KC.label("ConfirmationStatus", entry.status) };
  if (entry.status === "disputed" && entry.reason) return KC.t("PartyConfirm.status_reason", { ...params, reason: entry.reason });
  if (entry.status === "signed" && entry.at) return KC.t("PartyConfirm.status_at", { ...params, at: KC.time(entry.at) });
  return KC.t("PartyConfirm.status_line", params);
}

function statusItems(confirmations) {
  return confirmations.map((entry) => {
    const item = KC.el("li", { textContent: statusLine(entry), className: `confirm-${entry.status}` });
    item.dataset.position = entry.position;
    item.dataset.status = entry.status;
    return item;
  });
}

// The operator's console: each party's standing, live. Returns the dispute, if one was made.
export async function showConfirmations(page, caseId, listId = "confirmation-list") {
  const seen = await KC.api(page, "GET", `/api/cases/${caseId}/confirmation`);
  document.getElementById(listId).replaceChildren(...statusItems(seen.confirmations));
  return seen.confirmations.find((entry) => entry.status === "disputed") || null;
}

// Pushes are best effort (one may pass while a socket reconnects): while a call is shown, the
// console also reads the standing every few seconds.
export function followConfirmations(page, currentCase, listId = "confirmation-list") {
  setInterval(() => {
    if (document.getElementById("call-view").hidden || !currentCase() || !KC.token(page)) return;
    showConfirmations(page, currentCase(), listId).catch(() => {});
  }, STATUS_REFRESH_MS);
}

// Who has not signed yet (or must sign again), as one sentence for the operator; "" when all have.
export async function unsignedParties(page, caseId) {
  const seen = await KC.api(page, "GET", `/api/cases/${caseId}/confirmation`);
  const waiting = seen.confirmations.filter((entry) => entry.status !== "signed");
  if (!waiting.length) return "";
  return KC.t("Console.not_all_signed", { parties: waiting.map(statusLine).join(KC.t("Legal.separator")) });
}

// A signature pad: pointer events (finger, pen or mouse) draw strokes; `empty` until one is drawn.
class SignaturePad {
  constructor(canvas) {
    this.canvas = canvas;
    this.strokes = 0;
    this.drawing = false;
    canvas.style.touchAction = "none"; // the finger draws instead of scrolling the page
    canvas.addEventListener("pointerdown", (event) => this.start(event));
    canvas.addEventListener("pointermove", (event) => this.move(event));
    for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
      canvas.addEventListener(type, () => { this.drawing = false; });
    }
  }

  // Sized to how it is shown, in device pixels, so the strokes stay sharp.
  fit() {
    const ratio = window.devicePixelRatio || 1;
    const box = this.canvas.getBoundingClientRect();
    this.canvas.width = Math.max(1, Math.round(box.width * ratio));
    this.canvas.height = Math.max(1, Math.round(box.height * ratio));
    const context = this.canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.lineWidth = 3;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#111";
    this.strokes = 0;
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  start(event) {
    event.preventDefault();
    this.canvas.setPointerCapture(event.pointerId);
    this.drawing = true;
    const context = this.canvas.getContext("2d");
    const [x, y] = this.point(event);
    context.beginPath();
    context.moveTo(x, y);
    context.lineTo(x + 0.1, y + 0.1); // a tap leaves a dot
    context.stroke();
    this.strokes += 1;
  }

  move(event) {
    if (!this.drawing) return;
    const context = this.canvas.getContext("2d");
    const [x, y] = this.point(event);
    context.lineTo(x, y);
    context.stroke();
  }

  clear() {
    this.canvas.getContext("2d").clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.strokes = 0;
  }

  get empty() {
    return this.strokes === 0;
  }

  png() {
    return new Promise((resolve) => this.canvas.toBlob(resolve, "image/png"));
  }
}

// The party's page: the confirm button in the call, the dialog, the standing line under it.
export function installConfirmation(page, currentCase) {
  const dialog = document.getElementById("sign-dialog");
  const pad = new SignaturePad(document.getElementById("signature-pad"));
  const state = { seen: null };
  const say = (text) => KC.text("confirm-error", text || "");

  function showStanding(seen) {
    const mine = seen.confirmations.find((entry) => entry.position === seen.my_position);
    const standing = !mine ? "" : mine.status === "signed" ? KC.t("PartyConfirm.signed", { at: KC.time(mine.at) })
      : mine.status === "stale" ? KC.t("PartyConfirm.stale") : "";
    KC.text("confirm-status", standing);
    KC.text("confirm-stale", mine && mine.status === "stale" ? KC.t("PartyConfirm.stale") : "");
    // In the call, or on the progress page of a party the call is not theirs (no media server).
    const open = seen.my_position !== null && ["in_call", "collected"].includes(seen.state);
    KC.show("confirm-open", open);
    for (const button of document.querySelectorAll("[data-confirm-open]")) button.hidden = !open;
  }

  function render(seen) {
    const facts = seen.facts;
    const lines = [
      [KC.t("PartyConfirm.occurred_at"), facts.occurred_at ? KC.time(facts.occurred_at) : ""],
      [KC.t("PartyConfirm.address"), facts.address || ""],
      [KC.t("PartyConfirm.accident_type"), facts.accident_type ? KC.label("AccidentType", facts.accident_type) : ""],
      [KC.t("PartyConfirm.description"), facts.description || ""],
    ];
    document.getElementById("confirm-facts").replaceChildren(...lines.flatMap(([term, value]) => [
      KC.el("dt", { textContent: term }), KC.el("dd", { textContent: value || "—" }),
    ]));
    document.getElementById("confirm-parties").replaceChildren(...seen.parties.map((party) => KC.el("li", {
      textContent: KC.t("PartyConfirm.party", {
        who: who(party.position, party.name), plate: party.plate_number, phone: party.phone,
        vehicle: KC.label("VehicleType", party.vehicle_type),
      }),
    })));
    document.getElementById("confirm-statuses").replaceChildren(...statusItems(seen.confirmations));
    const stills = document.getElementById("confirm-stills");
    stills.replaceChildren();
    for (const still of seen.stills) {
      const image = KC.el("img", { alt: still.kind_label, title: still.kind_label });
      stills.append(KC.el("figure", {}, image, KC.el("figcaption", { textContent: still.kind_label })));
      KC.evidenceUrl(page, seen.case_id, still.id).then((url) => { image.src = url; }).catch(() => {});
    }
    const mine = seen.confirmations.find((entry) => entry.position === seen.my_position);
    KC.show("confirm-sign-area", seen.may_sign);
    KC.show("confirm-done", Boolean(mine && mine.status === "signed"));
    KC.text("confirm-done", mine && mine.status === "signed" ? KC.t("PartyConfirm.signed", { at: KC.time(mine.at) }) : "");
    showStanding(seen);
  }

  async function load() {
    state.seen = await KC.api(page, "GET", `/api/cases/${currentCase()}/confirmation`);
    render(state.seen);
    return state.seen;
  }

  async function open() {
    say("");
    document.getElementById("dispute-reason").value = "";
    KC.show("dispute-form", false);
    dialog.showModal();
    await load();
    if (state.seen.may_sign) pad.fit(); // sized once the pad is shown
  }

  async function signNow() {
    if (pad.empty) {
      say(KC.t("PartyConfirm.empty"));
      return;
    }
    const form = new FormData();
    form.append("file", await pad.png(), "signature.png");
    form.append("content_sha256", state.seen.content_sha256);
    try {
      state.seen = await KC.api(page, "POST", `/api/cases/${currentCase()}/signature`, form);
    } catch (error) {
      if (error.status === 409) await load(); // the record changed meanwhile: show it afresh
      throw error;
    }
    pad.clear();
    render(state.seen);
    say("");
  }

  async function dispute() {
    const reason = document.getElementById("dispute-reason").value.trim();
    if (reason.length < 2) {
      say(KC.t("PartyConfirm.reason_needed"));
      return;
    }
    await KC.api(page, "POST", `/api/cases/${currentCase()}/dispute`, { reason });
    dialog.close();
  }

  // What goes wrong is said in the dialog, in front of the page's own message line.
  const guarded = (action) => () => KC.guarded(action, (error) => {
    say(KC.readable(error));
    return true;
  });
  for (const button of [document.getElementById("confirm-open"), ...document.querySelectorAll("[data-confirm-open]")]) {
    button.onclick = guarded(open);
  }
  document.getElementById("confirm-close").onclick = () => dialog.close();
  document.getElementById("signature-clear").onclick = () => { pad.clear(); say(""); };
  document.getElementById("signature-submit").onclick = guarded(signNow);
  document.getElementById("dispute-open").onclick = () => KC.show("dispute-form", true);
  document.getElementById("dispute-submit").onclick = guarded(dispute);

  // The standing under the button follows the record (the operator may change it after a signature).
  setInterval(() => {
    const inCall = !document.getElementById("call-view").hidden;
    // On the progress page only while the case may still be signed.
    const last = state.seen && state.seen.case_id === currentCase() ? state.seen.state : null;
    const onProgress = !document.getElementById("progress-view").hidden && (!last || ["in_call", "collected"].includes(last));
    if (!(inCall || onProgress) || dialog.open || !currentCase() || !KC.token(page)) return;
    load().catch(() => {});
  }, STATUS_REFRESH_MS);

  return {
    close() {
      if (dialog.open) dialog.close();
    },
    refresh() {
      return currentCase() ? load().catch(() => {}) : null;
    },
  };
}
