// Shared by the officer's, the reviewer's and the supervisor's pages: finding a case by what a
// person knows of it (the accident number, a phone, a plate), and the case file: registry checks,
// eligibility, each party's acts and impact point, collection overrides, stills, recordings.
// Every word shown comes from the catalogue (KC.t) or the server's labels.
import { KC } from "./common.js";

export const BO = {
  // A search form whose results fill a table; `open` receives the case's id (never typed).
  wireSearch(page, { form, input, rows, open, guard = KC.guarded }) {
    document.getElementById(form).onsubmit = (event) => {
      event.preventDefault();
      guard(async () => {
        const q = document.getElementById(input).value;
        const found = await KC.api(page, "GET", `/api/cases/search?q=${encodeURIComponent(q)}`);
        BO.foundRows(rows, found, open);
      });
    };
  },

  foundRows(rowsId, found, open) {
    const rows = found.map((c) => KC.el("tr", {},
      KC.el("td", { textContent: c.number }),
      KC.el("td", { textContent: c.state_label }),
      KC.el("td", {
        textContent: c.parties.map((p) => `${p.designation} ${p.name} ${p.plate_number} ${p.phone}`).join(KC.t("Common.separator")),
      }),
      KC.el("td", { textContent: `${c.jurisdiction_name} · ${KC.time(c.reported_at)}` }),
      KC.el("td", {}, KC.el("button", {
        type: "button", className: "secondary", textContent: KC.t("Staff.open"), onclick: () => open(c.id),
      }))));
    if (!rows.length) {
      rows.push(KC.el("tr", {}, KC.el("td", { colSpan: 5, textContent: KC.t("Staff.none_found") })));
    }
    const body = document.getElementById(rowsId);
    body.replaceChildren(...rows);
    body.closest("table").hidden = false;
  },

  items(id, lines) {
    document.getElementById(id).replaceChildren(...lines.map(([text, className]) =>
      KC.el("li", { textContent: text, className: className || "" })));
  },

  who(p) {
    return KC.t("Staff.party_line", { designation: p.designation, name: p.name, plate: p.plate_number });
  },

  renderChecks(id, parties) {
    BO.items(id, parties.flatMap((p) => {
      if (!p.checks.length) return [[KC.t("CaseFile.not_checked", { who: BO.who(p) }), "failed"]];
      return p.checks.map((c) => {
        const passed = c.outcome === "passed";
        const result = passed ? BO.passed(c.found) : BO.failures(c.failures);
        return [KC.t("CaseFile.check_line", { who: BO.who(p), kind: c.kind_label, result }), passed ? "passed" : "failed"];
      });
    }));
  },

  // A determination document, by its number and status.
  documentLabel(d) {
    return KC.t("Staff.document", { number: d.number, status: d.status_label });
  },

  // A registry check that passed, with the policy it found; one that failed, with its reasons.
  passed(found) {
    if (!found.policy_number) return KC.t("CaseFile.passed");
    return KC.t("CaseFile.passed_policy", { policy: found.policy_number, insurer: found.insurer_name });
  },

  failures(failures) {
    return failures.map((f) => f.reason).join(KC.t("Common.separator")) || KC.t("CaseFile.not_verified");
  },

  renderEligibility(id, eligibility) {
    const node = document.getElementById(id);
    if (eligibility.eligible === true) {
      node.textContent = eligibility.notes.length
        ? KC.t("CaseFile.eligible_notes", { notes: eligibility.notes.join(KC.t("Common.separator")) })
        : KC.t("CaseFile.eligible");
      node.className = "passed";
    } else if (eligibility.eligible === false) {
      const reasons = eligibility.reasons.map((r) => KC.t("CaseFile.with_basis", { text: r.reason, basis: r.basis }));
      node.textContent = KC.t("CaseFile.ineligible", { reasons: reasons.join(KC.t("Common.separator")) });
      node.className = "failed";
    } else {
      node.textContent = KC.t("CaseFile.undecided", { missing: eligibility.missing.join(KC.t("Common.separator")) });
      node.className = "failed";
    }
  },

  renderActs(id, parties) {
    BO.items(id, parties.map((p) => {
      if (!p.acts_recorded) return [KC.t("CaseFile.acts_not_recorded", { who: BO.who(p) }), "failed"];
      const acts = p.acts.length ? p.acts.map((a) => a.label).join(KC.t("Common.list_separator")) : KC.t("CaseFile.no_listed_acts");
      const impact = p.impact_point || KC.t("CaseFile.not_recorded");
      return [KC.t("CaseFile.acts_line", { who: BO.who(p), acts, impact })];
    }));
  },

  // What the operator let through without (a collection override), with the written reason.
  renderOverrides(id, collection) {
    const separator = KC.t("Common.separator");
    const lines = collection.overrides.map((o) => [
      KC.t("CaseFile.override_line", {
        at: KC.time(o.at), operator: o.operator, items: o.items.map((i) => i.message).join(separator), reason: o.reason,
      }),
      "failed",
    ]);
    // Missing now and never let through (a case that left the scene should have none).
    const overridden = new Set(collection.overrides.flatMap((o) => o.items.map((i) => i.key)));
    const open = collection.missing.filter((i) => !overridden.has(i.key));
    if (open.length) lines.push([KC.t("CaseFile.still_missing", { items: open.map((i) => i.message).join(separator) }), "failed"]);
    BO.items(id, lines.length ? lines : [[KC.t("CaseFile.nothing_overridden"), "passed"]]);
  },

  renderDetermination(id, d) {
    if (!d) return BO.items(id, [[KC.t("CaseFile.no_determination")]]);
    const rule = d.rule_label ? KC.t("CaseFile.with_basis", { text: d.rule_label, basis: d.rule_basis }) : KC.t("CaseFile.no_rule");
    const lines = [
      [KC.t("CaseFile.determination_line", { at: KC.time(d.decided_at), officer: d.officer, status: d.status_label })],
      ...d.shares.map((s) => [KC.t("CaseFile.share_line", {
        designation: s.designation, name: s.name, responsibility: s.responsibility_label,
      })]),
      [BO.reasoningLine(d.reasoning)],
      [KC.t("CaseFile.rule_line", { rule, accepted: d.proposal_accepted_label })],
    ];
    if (d.override_reason) lines.push([BO.overrideReasonLine(d.override_reason), "failed"]);
    if (d.document_pending) lines.push([KC.t("Document.generating")]);
    BO.items(id, lines);
  },

  reasoningLine(reasoning) {
    return KC.t("CaseFile.reasoning_line", { reasoning: reasoning || KC.t("CaseFile.not_filled") });
  },

  overrideReasonLine(reason) {
    return KC.t("CaseFile.override_reason_line", { reason });
  },

  // What OCR read on a plate or licence still, and a recorded value the still contradicts
  // (kuaichu.recognition): lines under the still's caption.
  readingLines(reading) {
    const value = reading && (reading.plate_number || reading.licence_number);
    if (!value) return [];
    const lines = [KC.el("small", { className: "hint ocr-note", textContent: KC.t("CaseFile.still_reads", { value }) })];
    if (reading.mismatch_text) lines.push(KC.el("small", { className: "failed still-mismatch", textContent: reading.mismatch_text }));
    return lines;
  },

  // The stills with their captions ("Party 2 Number plate"); recordings are played elsewhere.
  async renderStills(page, caseId, id, items) {
    const readings = await KC.api(page, "GET", `/api/cases/${caseId}/readings`);
    const figures = await Promise.all(items.filter((i) => i.media_type.startsWith("image/")).map(async (item) =>
      KC.el("figure", {},
        KC.el("img", { src: await KC.evidenceUrl(page, caseId, item.id), alt: item.kind_label }),
        KC.el("figcaption", {}, `${item.kind_label} · ${KC.time(item.uploaded_at)}`,
          ...BO.readingLines(readings.find((r) => r.evidence_id === item.id))))));
    const none = KC.el("p", { className: "hint", textContent: KC.t("CaseFile.no_photos") });
    document.getElementById(id).replaceChildren(...(figures.length ? figures : [none]));
  },

  // The call recording is a series of complete WebM chunks: played one after another.
  recording(page, caseId, videoId, infoId, items) {
    const chunks = items.filter((i) => i.kind === "recording");
    const video = document.getElementById(videoId);
    let playing = 0;
    const load = async () => {
      if (chunks[playing]) video.src = await KC.evidenceUrl(page, caseId, chunks[playing].id);
    };
    video.onended = () => {
      playing += 1;
      KC.guarded(async () => {
        await load();
        if (playing < chunks.length) await video.play();
      });
    };
    KC.text(infoId, chunks.length ? KC.t("CaseFile.recordings", { count: chunks.length }) : KC.t("CaseFile.no_recording"));
    video.hidden = !chunks.length;
    return load();
  },
};
