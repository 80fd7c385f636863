// The supervisor's page: queue health, timings against the targets, case replay, dead
// letters and the audit chain. All numbers come from /api/supervision; nothing is computed here
// beyond drawing.
import { BO } from "./backoffice.js";
import { KC } from "./common.js";
import { SIG } from "./signals.js";

const PAGE = "supervisor";
let refreshTimer = null;

// An expired login shows the login form again.
const guarded = (action) => KC.guarded(action, (error) => error.status === 401 && (showLogin(), true));

function showLogin() {
  clearInterval(refreshTimer);
  KC.show("login-view", true);
  KC.show("dashboard", false);
}

async function showDashboard() {
  KC.show("login-view", false);
  KC.show("dashboard", true);
  await Promise.all([loadQueues(), loadServices(), loadTimings(), loadDeadLetters(), loadStalledDocuments(), loadStuckSignals()]);
  await SIG.wirePanel(PAGE, (id) => guarded(() => replay(id)), guarded);
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => guarded(loadQueues), 5000);
}

function presenceText(presence) {
  if (!presence.length) return KC.t("Supervisor.nobody_online");
  return presence.map((p) => KC.t("Supervisor.presence_count", { label: p.label, count: p.count })).join("·");
}

async function loadQueues() {
  const queues = await KC.api(PAGE, "GET", "/api/supervision/queues");
  const staffing = await Promise.all(
    queues.map((q) => KC.api(PAGE, "GET", `/api/supervision/staffing/${q.jurisdiction_code}`)),
  );
  const rows = queues.map((q, i) =>
    KC.el(
      "tr",
      {},
      KC.el("td", { textContent: q.jurisdiction_name }),
      KC.el("td", { textContent: q.waiting }),
      KC.el("td", { textContent: KC.duration(q.longest_wait_seconds) }),
      KC.el("td", { textContent: KC.t("Supervisor.roster", { count: q.operators_on_roster, presence: presenceText(q.presence) }) }),
      KC.el("td", { textContent: q.operators_in_call }),
      KC.el("td", {
        textContent: KC.t("Supervisor.needed", {
          needed: staffing[i].operators_needed, rate: staffing[i].calls_per_hour.toFixed(1),
        }),
        className: staffing[i].operators_needed > q.operators_on_roster ? "short" : "",
      }),
    ),
  );
  document.getElementById("queue-rows").replaceChildren(...rows);
}

// Each jurisdiction's pause switch (bad weather, an incident): pausing needs a reason.
async function loadServices() {
  const services = await KC.api(PAGE, "GET", "/api/supervision/jurisdictions/service");
  const rows = services.map((s) => {
    const reason = KC.el("input", { maxLength: 500, placeholder: KC.t("Supervisor.pause_reason_required"), value: s.pause_reason || "" });
    reason.disabled = s.paused;
    const button = KC.el("button", {
      type: "button",
      className: s.paused ? "" : "secondary",
      textContent: KC.t(s.paused ? "Supervisor.resume" : "Supervisor.pause"),
    });
    button.addEventListener("click", () =>
      guarded(async () => {
        const body = s.paused ? { paused: false } : { paused: true, reason: reason.value.trim() };
        await KC.api(PAGE, "PUT", `/api/supervision/jurisdictions/${s.code}/service`, body);
        await loadServices();
      }),
    );
    // Mutual self-claim where the province's insurance association adopted it (who pays what).
    const mutual = KC.el("input", { type: "checkbox", checked: s.mutual_self_claim, title: KC.t("Supervisor.mutual_self_claim_hint") });
    mutual.addEventListener("change", () =>
      guarded(async () => {
        const keep = s.paused ? { paused: true, reason: s.pause_reason } : { paused: false };
        await KC.api(PAGE, "PUT", `/api/supervision/jurisdictions/${s.code}/service`, { ...keep, mutual_self_claim: mutual.checked });
        await loadServices();
      }),
    );
    return KC.el(
      "tr",
      {},
      KC.el("td", { textContent: s.name }),
      KC.el("td", { textContent: s.status.hours }),
      KC.el("td", {}, mutual),
      KC.el("td", { textContent: s.status.open ? KC.t("Supervisor.open") : s.status.message }),
      KC.el("td", {}, reason),
      KC.el("td", {}, button),
    );
  });
  document.getElementById("service-rows").replaceChildren(...rows);
}

// A bar per minute bucket, and the target as a red line.
function drawHistogram(svg, distribution) {
  const width = 320;
  const height = 140;
  const bars = distribution.histogram;
  const peak = Math.max(1, ...bars);
  const barWidth = width / bars.length;
  const ns = "http://www.w3.org/2000/svg";
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 16}`);
  svg.replaceChildren();
  bars.forEach((count, i) => {
    const rect = document.createElementNS(ns, "rect");
    const h = (count / peak) * height;
    rect.setAttribute("x", i * barWidth + 2);
    rect.setAttribute("y", height - h);
    rect.setAttribute("width", barWidth - 4);
    rect.setAttribute("height", h);
    rect.setAttribute("class", "bar-rect");
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", i * barWidth + barWidth / 2);
    label.setAttribute("y", height + 13);
    label.setAttribute("text-anchor", "middle");
    label.textContent = i === bars.length - 1 ? `${i}+` : `${i}`;
    svg.append(rect, label);
  });
  const targetX = Math.min(distribution.target_seconds / 60, bars.length) * barWidth;
  const line = document.createElementNS(ns, "line");
  line.setAttribute("x1", targetX);
  line.setAttribute("x2", targetX);
  line.setAttribute("y1", 0);
  line.setAttribute("y2", height);
  line.setAttribute("class", "target-line");
  svg.append(line);
}

async function loadTimings() {
  const timings = await KC.api(PAGE, "GET", "/api/supervision/timings");
  for (const name of ["queue_wait", "collection", "determination"]) {
    const d = timings[name];
    drawHistogram(document.getElementById(`chart-${name}`), d);
    const share = d.within_target == null ? "—" : `${Math.round(d.within_target * 100)}%`;
    KC.text(`stat-${name}`, KC.t("Supervisor.timing", {
      count: d.count, p50: KC.duration(d.p50_seconds), p90: KC.duration(d.p90_seconds), share,
    }));
  }
}

async function loadDeadLetters() {
  const letters = await KC.api(PAGE, "GET", "/api/supervision/dead-letters");
  const items = letters.map((letter) => {
    const resend = KC.el("button", { type: "button", className: "secondary", textContent: KC.t("Supervisor.resend") });
    resend.onclick = () =>
      guarded(async () => {
        await KC.api(PAGE, "POST", `/api/supervision/dead-letters/${letter.id}/resend`);
        await loadDeadLetters();
      });
    return KC.el(
      "li",
      {},
      `${KC.t("Supervisor.dead_letter", {
        target: letter.target, case: letter.case_id ?? "—", attempts: letter.attempts, error: letter.last_error,
      })} `,
      resend,
    );
  });
  document.getElementById("dead-letters").replaceChildren(...(items.length ? items : [KC.el("li", { textContent: KC.t("Supervisor.none") })]));
}

// Determination documents whose signing failed: retried by the server, shown until made.
async function loadStalledDocuments() {
  const stalled = await KC.api(PAGE, "GET", "/api/supervision/documents");
  const items = stalled.map((d) => KC.el("li", {
    textContent: KC.t("Supervisor.stalled_document", {
      number: d.number, case: d.case_id, attempts: d.attempts, next: KC.time(d.next_attempt_at), error: d.last_error,
    }),
  }));
  document.getElementById("stalled-documents").replaceChildren(...(items.length ? items : [KC.el("li", { textContent: KC.t("Supervisor.none") })]));
}

// Other cases' signals to compute again whose computation failed or is overdue: retried by the
// server, shown until computed.
async function loadStuckSignals() {
  const stuck = await KC.api(PAGE, "GET", "/api/supervision/signals");
  KC.text("stuck-signals-summary", stuck.count
    ? KC.t("Supervisor.stuck_signals_summary", { count: stuck.count, oldest: KC.time(stuck.oldest_ordered_at) })
    : "");
  const items = stuck.cases.map((c) => KC.el("li", {
    textContent: c.attempts
      ? KC.t("Supervisor.stuck_signal", {
        number: c.number, orders: c.orders, attempts: c.attempts, next: KC.time(c.next_attempt_at), error: c.last_error,
      })
      : KC.t("Supervisor.overdue_signal", { number: c.number, orders: c.orders, next: KC.time(c.next_attempt_at) }),
  }));
  document.getElementById("stuck-signals").replaceChildren(...(items.length ? items : [KC.el("li", { textContent: KC.t("Supervisor.none") })]));
}

// What a person needs to read beside an event: what was let through, and why.
function eventNote(event) {
  const parts = [];
  const items = event.detail.items && event.detail.items.map((i) => i.message).join(KC.t("Common.separator"));
  if (items) parts.push(KC.t("Supervisor.note_overridden", { items }));
  if (event.detail.reason) parts.push(KC.t("Supervisor.note_reason", { reason: event.detail.reason }));
  if (event.detail.note) parts.push(KC.t("Supervisor.note_opinion", { note: event.detail.note }));
  return parts.length ? KC.t("Supervisor.note", { parts: parts.join(KC.t("Common.sentence_separator")) }) : "";
}

// Insurers' agents who were in the case's calls: who, from when to when (hh:mm, Beijing time).
function insurerSeats(seats) {
  const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString(KC.locale === "en" ? "en-GB" : "zh-CN", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false,
  }) : "—");
  const lines = seats.map((seat) => KC.el("li", {
    textContent: KC.t("Supervisor.insurer_seat", {
      insurer: seat.insurer_name, agent: seat.agent, from: clock(seat.joined_at), to: clock(seat.left_at),
    }),
  }));
  return lines.length ? lines : [KC.el("li", { textContent: KC.t("Supervisor.none") })];
}

async function replay(caseId) {
  const data = await KC.api(PAGE, "GET", `/api/supervision/cases/${caseId}/replay`);
  KC.text("replay-number", data.case.number);
  KC.text("replay-state", data.case.state_label);
  const facts = [
    [KC.t("Staff.jurisdiction"), data.case.jurisdiction_name],
    [KC.t("Supervisor.occurred_at"), data.case.occurred_at ? KC.time(data.case.occurred_at) : "—"],
    [KC.t("Field.address"), data.case.address || "—"],
    [KC.t("Supervisor.accident_type"), data.case.accident_type_label || "—"],
    [KC.t("Staff.parties"), data.case.parties.map((p) => `${p.name} ${p.plate_number}`).join(KC.t("Common.separator")) || "—"],
  ];
  document.getElementById("replay-facts").replaceChildren(
    ...facts.flatMap(([k, v]) => [KC.el("dt", { textContent: k }), KC.el("dd", { textContent: v })]),
  );
  await SIG.renderCase(PAGE, caseId, "replay-signals");
  document.getElementById("replay-timeline").replaceChildren(
    ...data.timeline.map((e) =>
      KC.el(
        "li",
        { className: e.detail.reason ? "noted" : "" },
        KC.el("time", { textContent: KC.time(e.at) }),
        ` ${e.label} · ${e.actor} → ${e.state_label}${eventNote(e)}`,
      ),
    ),
  );
  const gallery = await Promise.all(
    data.evidence.map(async (item) => {
      const url = await KC.evidenceUrl(PAGE, data.case.id, item.id);
      const media = item.media_type.startsWith("video/")
        ? KC.el("video", { src: url, controls: true })
        : KC.el("img", { src: url, alt: item.kind_label });
      return KC.el("figure", {}, media, KC.el("figcaption", { textContent: `${item.kind_label} · ${item.sha256.slice(0, 12)}…` }));
    }),
  );
  document.getElementById("replay-gallery").replaceChildren(...gallery);
  document.getElementById("replay-insurer-seats").replaceChildren(...insurerSeats(data.insurer_seats));
  document.getElementById("replay-checks").replaceChildren(
    ...data.registry_checks.map((c) =>
      KC.el("li", {
        textContent: KC.t("Staff.check_line", {
          party: c.party_name, plate: c.plate_number, kind: c.kind_label,
          result: c.outcome === "passed" ? KC.t("CaseFile.passed") : BO.failures(c.failures),
        }),
        className: c.outcome === "passed" ? "" : "short",
      }),
    ),
  );
  const documents = data.documents.map((d) => {
    const open = KC.el("button", { type: "button", className: "link", textContent: BO.documentLabel(d) });
    open.onclick = () =>
      guarded(async () => window.open(URL.createObjectURL(await KC.api(PAGE, "GET", d.download_url))));
    return KC.el("li", {}, open);
  });
  const decisions = [
    ...documents,
    ...data.determinations.map((d) =>
      KC.el("li", {
        textContent: [
          KC.t("Supervisor.determination", {
            status: d.status_label, at: KC.time(d.decided_at),
            shares: d.shares.map((s) => `${s.party} ${s.responsibility_label}`).join(KC.t("Common.separator")),
          }),
          BO.reasoningLine(d.reasoning),
          ...(d.rule_label ? [KC.t("Supervisor.rule", { rule: d.rule_label })] : []),
          ...(d.override_reason ? [BO.overrideReasonLine(d.override_reason)] : []),
        ].join(KC.t("Common.sentence_separator")),
      }),
    ),
    ...(data.review ? [KC.el("li", { textContent: KC.t("Supervisor.review", { outcome: data.review.outcome_label, reasons: data.review.reasons }) })] : []),
    ...data.claims.map((c) => KC.el("li", { textContent: KC.t("Supervisor.claim", { insurer: c.insurer_name, status: c.status_label }) })),
  ];
  document.getElementById("replay-decisions").replaceChildren(...decisions);
  document.getElementById("replay-access").replaceChildren(
    ...data.access_log.map((a) =>
      KC.el(
        "tr",
        {},
        KC.el("td", { textContent: KC.time(a.at) }),
        KC.el("td", { textContent: a.role_label }),
        KC.el("td", { textContent: a.actor_label }),
        KC.el("td", { textContent: a.address || "—" }),
        KC.el("td", { textContent: a.action_label }),
      ),
    ),
  );
  KC.show("replay", true);
}

document.getElementById("login-form").onsubmit = (event) => {
  event.preventDefault();
  guarded(async () => {
    const result = await KC.staffLogin(PAGE, ["supervisor", "admin"]);
    KC.text("me-name", result.name);
    await showDashboard();
  });
};

BO.wireSearch(PAGE, { form: "search-form", input: "search-q", rows: "search-rows", open: (id) => guarded(() => replay(id)), guard: guarded });

document.getElementById("verify-audit").onclick = () =>
  guarded(async () => {
    const result = await KC.api(PAGE, "GET", "/api/supervision/audit");
    KC.text(
      "audit-result",
      result.ok
        ? KC.t("Supervisor.audit_intact", { entries: result.entries, checkpoints: result.checkpoints })
        : KC.t("Supervisor.audit_broken", { entry: result.first_broken_id ?? "?", reason: result.reason }),
    );
  });

// Staff pages read Chinese first, from the same catalogue.
guarded(async () => {
  await KC.useLocale(KC.DEFAULT_LOCALE);
  if (KC.token(PAGE)) await showDashboard();
  else showLogin();
});
