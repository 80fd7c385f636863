// The supervisor's page: queue health, timings against the targets, case replay, dead
// letters and the audit chain. All numbers come from /api/supervision; nothing is computed here
// beyond drawing.
import { BO } from "./backoffice.js";
import { KC } from "./common.js";

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
  await Promise.all([loadQueues(), loadServices(), loadTimings(), loadDeadLetters()]);
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => guarded(loadQueues), 5000);
}

function presenceText(presence) {
  return presence.length ? presence.map((p) => `${p.label}${p.count}`).join("·") : "均未上线";
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
      KC.el("td", { textContent: `${q.operators_on_roster}（${presenceText(q.presence)}）` }),
      KC.el("td", { textContent: q.operators_in_call }),
      KC.el("td", {
        textContent: `${staffing[i].operators_needed}（到达${staffing[i].calls_per_hour.toFixed(1)}起/小时）`,
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
    const reason = KC.el("input", { maxLength: 500, placeholder: "暂停原因（必填）", value: s.pause_reason || "" });
    reason.disabled = s.paused;
    const button = KC.el("button", {
      type: "button",
      className: s.paused ? "" : "secondary",
      textContent: s.paused ? "恢复服务" : "暂停服务",
    });
    button.addEventListener("click", () =>
      guarded(async () => {
        const body = s.paused ? { paused: false } : { paused: true, reason: reason.value.trim() };
        await KC.api(PAGE, "PUT", `/api/supervision/jurisdictions/${s.code}/service`, body);
        await loadServices();
      }),
    );
    return KC.el(
      "tr",
      {},
      KC.el("td", { textContent: s.name }),
      KC.el("td", { textContent: s.status.hours }),
      KC.el("td", { textContent: s.status.open ? "服务中" : s.status.message }),
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
    KC.text(`stat-${name}`, `共${d.count}起；中位数${KC.duration(d.p50_seconds)}，90%分位${KC.duration(d.p90_seconds)}；达标${share}`);
  }
}

async function loadDeadLetters() {
  const letters = await KC.api(PAGE, "GET", "/api/supervision/dead-letters");
  const items = letters.map((letter) => {
    const resend = KC.el("button", { type: "button", className: "secondary", textContent: "重新投递" });
    resend.onclick = () =>
      guarded(async () => {
        await KC.api(PAGE, "POST", `/api/supervision/dead-letters/${letter.id}/resend`);
        await loadDeadLetters();
      });
    return KC.el(
      "li",
      {},
      `${letter.target}（案件${letter.case_id ?? "—"}，${letter.attempts}次失败：${letter.last_error}） `,
      resend,
    );
  });
  document.getElementById("dead-letters").replaceChildren(...(items.length ? items : [KC.el("li", { textContent: "无" })]));
}

// What a person needs to read beside an event: what was let through, and why.
function eventNote(event) {
  const parts = [];
  if (event.detail.items) parts.push(`放行：${event.detail.items.map((i) => i.message).join("；")}`);
  if (event.detail.reason) parts.push(`理由：${event.detail.reason}`);
  if (event.detail.note) parts.push(`意见：${event.detail.note}`);
  return parts.length ? `（${parts.join("。")}）` : "";
}

async function replay(caseId) {
  const data = await KC.api(PAGE, "GET", `/api/supervision/cases/${caseId}/replay`);
  KC.text("replay-number", data.case.number);
  KC.text("replay-state", data.case.state_label);
  const facts = [
    ["辖区", data.case.jurisdiction_name],
    ["事故时间", data.case.occurred_at ? KC.time(data.case.occurred_at) : "—"],
    ["地点", data.case.address || "—"],
    ["类型", data.case.accident_type_label || "—"],
    ["当事人", data.case.parties.map((p) => `${p.name} ${p.plate_number}`).join("；") || "—"],
  ];
  document.getElementById("replay-facts").replaceChildren(
    ...facts.flatMap(([k, v]) => [KC.el("dt", { textContent: k }), KC.el("dd", { textContent: v })]),
  );
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
  document.getElementById("replay-checks").replaceChildren(
    ...data.registry_checks.map((c) =>
      KC.el("li", {
        textContent: `${c.party_name} ${c.plate_number} · ${c.kind_label}：` +
          (c.outcome === "passed" ? "通过" : c.failures.map((f) => f.reason).join("；") || "未能核验"),
        className: c.outcome === "passed" ? "" : "short",
      }),
    ),
  );
  const documents = data.documents.map((d) => {
    const open = KC.el("button", { type: "button", className: "link", textContent: `认定书 ${d.number}（${d.status_label}）` });
    open.onclick = () =>
      guarded(async () => window.open(URL.createObjectURL(await KC.api(PAGE, "GET", d.download_url))));
    return KC.el("li", {}, open);
  });
  const decisions = [
    ...documents,
    ...data.determinations.map((d) =>
      KC.el("li", {
        textContent: `认定（${d.status_label}）${KC.time(d.decided_at)}：` +
          d.shares.map((s) => `${s.party} ${s.responsibility_label}`).join("；") +
          `。认定理由：${d.reasoning || "（未填写）"}` +
          (d.rule_label ? `。适用规则：${d.rule_label}` : "") +
          (d.override_reason ? `。不采纳规则建议的理由：${d.override_reason}` : ""),
      }),
    ),
    ...(data.review ? [KC.el("li", { textContent: `复核：${data.review.outcome_label}（申请理由：${data.review.reasons}）` })] : []),
    ...data.claims.map((c) => KC.el("li", { textContent: `理赔：${c.insurer_name} · ${c.status_label}` })),
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
        ? `完整：${result.entries}条记录，${result.checkpoints}个签名检查点`
        : `已被篡改：第${result.first_broken_id ?? "?"}条（${result.reason}）`,
    );
  });

// Staff pages read Chinese first, from the same catalogue.
guarded(async () => {
  await KC.useLocale(KC.DEFAULT_LOCALE);
  if (KC.token(PAGE)) await showDashboard();
  else showLogin();
});
