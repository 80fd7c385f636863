// The reviewer's page (复核民警, a superior unit): review requests, the determination under
// review with its evidence, and the decision. Separation of duties is the server's rule.
"use strict";

const PAGE = "review";
const VIEWS = ["login-view", "list-view", "case-view"];
const GRADES = { full: "全部责任", main: "主要责任", equal: "同等责任", minor: "次要责任", none: "无责任" };
const view = (id) => KC.view(VIEWS, id);
const say = KC.say;
const guarded = (action) => KC.guarded(action);
let caseId = null;

async function login(event) {
  event.preventDefault();
  await KC.staffLogin(PAGE, "reviewer", "复核民警");
  await list();
}

async function list() {
  view("list-view");
  const me = await KC.api(PAGE, "GET", "/api/auth/me");
  KC.text("me-name", me.name);
  const cases = await KC.api(PAGE, "GET", "/api/cases?state=under_review");
  KC.caseRows(cases, "复核", (id) => guarded(() => open(id)), "暂无待复核案件");
}

async function open(id) {
  caseId = id;
  view("case-view");
  const [detail, review, documents, items] = await Promise.all([
    KC.api(PAGE, "GET", `/api/cases/${id}`),
    KC.api(PAGE, "GET", `/api/cases/${id}/review`),
    KC.api(PAGE, "GET", `/api/cases/${id}/documents`),
    KC.api(PAGE, "GET", `/api/cases/${id}/evidence`),
  ]);
  KC.text("case-number", detail.number);
  const facts = [
    ["辖区", detail.jurisdiction_name], ["发生时间", detail.occurred_at ? KC.time(detail.occurred_at) : "—"],
    ["地点", detail.address || "—"], ["事故类型", detail.accident_type || "—"], ["经过", detail.description || "—"],
  ];
  document.getElementById("facts").replaceChildren(
    ...facts.flatMap(([k, v]) => [KC.el("dt", { textContent: k }), KC.el("dd", { textContent: v })]));
  const names = Object.fromEntries(detail.parties.map((p) => [p.id, `${p.name}（${p.plate_number}）`]));
  document.getElementById("shares").replaceChildren(...(detail.determination?.shares || []).map((s) =>
    KC.el("li", { textContent: `${names[s.party_id]}：${GRADES[s.responsibility]}` })));
  document.getElementById("documents").replaceChildren(...documents.map((d) => {
    const button = KC.el("button", { type: "button", className: "link", textContent: `认定书 ${d.number}（${d.status_label}）` });
    button.onclick = () => guarded(async () => window.open(URL.createObjectURL(await KC.api(PAGE, "GET", d.download_url))));
    return KC.el("li", {}, button);
  }));
  KC.text("reasons", `${names[review.applicant_party_id]}于${KC.time(review.submitted_at)}申请：${review.reasons}`);
  const gallery = document.getElementById("gallery");
  gallery.replaceChildren();
  for (const item of items.filter((i) => i.media_type.startsWith("image/"))) {
    gallery.append(KC.el("figure", {}, KC.el("img", { src: await KC.evidenceUrl(PAGE, id, item.id), alt: item.kind })));
  }
}

async function decide(event) {
  event.preventDefault();
  const outcome = document.querySelector('input[name="outcome"]:checked').value;
  await KC.api(PAGE, "POST", `/api/cases/${caseId}/review/decision`, {
    outcome, note: document.getElementById("note").value,
  });
  say(outcome === "upheld" ? "已维持原认定，已通知各方当事人" : "已撤销原认定，案件转由其他民警重新认定");
  await list();
}

async function start() {
  document.getElementById("login-form").onsubmit = (event) => guarded(() => login(event));
  document.getElementById("decision-form").onsubmit = (event) => guarded(() => decide(event));
  document.getElementById("back").onclick = () => guarded(list);
  await KC.resume(PAGE, list, () => view("login-view"));
}

guarded(start);
