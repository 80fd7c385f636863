// What the stills show, suggested into the console's party form (kuaichu.recognition): the server
// reads a plate or driving-licence still off the request path; the suggestion appears as a chip
// beside its field and fills nothing until the operator confirms it (Enter on the chip, or a
// click). A recorded value the still contradicts is flagged under its field.
import { KC } from "./common.js";

const PAGE = "console";
// The stills the server reads, and the party field each suggests into.
const FIELDS = { plate: "plate_number", driving_licence: "licence_number" };
export const LICENCE_SHOT = "driving_licence";
const POLL_SECONDS = 10;

export const isReadable = (kind) => kind in FIELDS;

export class StillSuggestions {
  constructor(form) {
    this.form = form;
    this.caseId = null;
    // Where a still taken before its party was recorded suggests: evidence id → position.
    this.targets = new Map();
  }

  // A call opened (or reopened): what its stills were read as, offered again; a plate or
  // licence the party photographed (photo mode) and nobody had read yet is read now.
  async open(caseId) {
    this.caseId = caseId;
    this.targets = new Map();
    const readings = await this.refresh();
    const read = new Set(readings.map((reading) => reading.evidence_id));
    const items = await KC.api(PAGE, "GET", `/api/cases/${caseId}/evidence`);
    for (const item of items) {
      if (isReadable(item.kind) && !item.purged && !read.has(item.id)) await this.read(item);
    }
  }

  // Reads the case's stills again: new suggestions, and the mismatches as the party data stands.
  async refresh() {
    if (!this.caseId) return [];
    const readings = await KC.api(PAGE, "GET", `/api/cases/${this.caseId}/readings`);
    for (const node of this.form.querySelectorAll(".still-mismatch")) node.remove();
    for (const reading of readings) this.offer(reading);
    return readings;
  }

  // A still just taken: the server reads it; the suggestion follows when the worker is done.
  async read(item, position = null) {
    if (!isReadable(item.kind)) return;
    if (position && !item.party_position) this.targets.set(item.id, position);
    const caseId = this.caseId;
    const path = `/api/cases/${caseId}/readings/${item.id}`;
    let reading = await KC.api(PAGE, "POST", path);
    this.note(item, KC.t("Console.ocr_reading"));
    for (let tries = 0; reading.status === "pending" && tries < 6; tries += 1) {
      reading = await KC.api(PAGE, "GET", `${path}?wait=${POLL_SECONDS}`);
    }
    if (caseId !== this.caseId) return;
    this.note(item, reading.status === "failed" ? KC.t("Console.ocr_failed") : "");
    this.offer(reading);
  }

  position(reading) {
    return reading.party_position || this.targets.get(reading.evidence_id) || 1;
  }

  input(reading, name = FIELDS[reading.kind]) {
    return this.form.elements[`${name}-${this.position(reading)}`];
  }

  // A short line under the field while its still is read, or why nothing was suggested.
  note(item, textContent) {
    const input = this.input({ kind: item.kind, party_position: item.party_position, evidence_id: item.id });
    if (!input) return;
    const label = input.closest("label");
    let node = label.querySelector(".ocr-note");
    if (!node) label.append((node = KC.el("small", { className: "hint ocr-note" })));
    node.textContent = textContent;
  }

  offer(reading) {
    const value = reading.kind === LICENCE_SHOT ? reading.licence_number : reading.plate_number;
    const input = this.input(reading);
    if (!value || !input) return;
    const label = input.closest("label");
    for (const old of label.querySelectorAll(`[data-evidence="${reading.evidence_id}"]`)) old.remove();
    if (reading.mismatch.length) {
      const flag = KC.el("small", { className: "failed still-mismatch", role: "alert", textContent: reading.mismatch_text });
      flag.dataset.evidence = String(reading.evidence_id);
      label.append(flag);
    }
    if (input.value.trim() === value) return;
    const described = reading.plate_type_label ? `${value} ${reading.plate_type_label}` : value;
    const chip = KC.el("button", {
      type: "button",
      className: "suggestion",
      textContent: KC.t("Console.ocr_suggestion", { value: described }),
      title: KC.t("Console.ocr_confirm_hint"),
      onclick: () => this.confirm(reading, input, chip),
    });
    chip.dataset.evidence = String(reading.evidence_id);
    label.append(chip);
    // One key confirms: the chip takes the focus unless the operator is typing somewhere.
    if (!document.activeElement || !document.activeElement.closest("input, textarea, select")) {
      chip.focus({ preventScroll: true });
      chip.scrollIntoView({ block: "center" }); // clear of the action bar along the bottom
    }
  }

  // The operator's confirmation: the field (and, for a plate, its type) takes the still's value.
  confirm(reading, input, chip) {
    input.value = reading.kind === LICENCE_SHOT ? reading.licence_number : reading.plate_number;
    const plateType = this.input(reading, "plate_type");
    if (reading.plate_type && plateType && reading.kind !== LICENCE_SHOT) plateType.value = reading.plate_type;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    chip.remove();
    input.focus();
  }
}
