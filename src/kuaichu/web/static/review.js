// The reviewer's page (a reviewing officer of a superior unit): review requests, found also by number, phone
// or plate; the determination under review as the officer made it (reasoning, rule applied),
// what the officer saw (recordings, captioned stills, checks, acts, overrides), the days left
// to decide (art. 73), and the decision. Separation of duties is the server's rule.
import { BO } from "./backoffice.js";
import { KC } from "./common.js";

const PAGE = "review";
const VIEWS = ["login-view", "list-view", "case-view"];
const view = (id) => KC.view(VIEWS, id);
const say = KC.say;
const guarded = (action) => KC.guarded(action);
let caseId = null;

async function login(event) {
  event.preventDefault();
  await KC.staffLogin(PAGE, "reviewer");
  await list();
}

async function list() {
  view("list-view");
  const me = await KC.api(PAGE, "GET", "/api/auth/me");
  KC.text("me-name", me.name);
  const cases = await KC.api(PAGE, "GET", "/api/cases?state=under_review");
  KC.caseRows(cases, KC.t("Review.handle"), (id) => guarded(() => open(id)), KC.t("Review.no_cases"));
}

// A case without a review request has none to read: the page shows the rest.
async function reviewOf(id) {
  try {
    return await KC.api(PAGE, "GET", `/api/cases/${id}/review`);
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

function periodText(review) {
  if (!review) return "";
  if (review.outcome) return KC.t("Review.decided", { outcome: review.outcome_label, at: KC.time(review.decided_at) });
  const left = review.days_left >= 0
    ? KC.t("Review.days_left", { days: review.days_left })
    : KC.t("Review.days_overdue", { days: -review.days_left });
  return KC.t("Review.deadline", { date: review.decide_by, left });
}

async function open(id) {
  caseId = id;
  view("case-view");
  const [detail, file, review, collection, documents, items] = await Promise.all([
    KC.api(PAGE, "GET", `/api/cases/${id}`),
    KC.api(PAGE, "GET", `/api/cases/${id}/case-file`),
    reviewOf(id),
    KC.api(PAGE, "GET", `/api/cases/${id}/collection`),
    KC.api(PAGE, "GET", `/api/cases/${id}/documents`),
    KC.api(PAGE, "GET", `/api/cases/${id}/evidence`),
  ]);
  KC.text("case-number", detail.number);
  KC.text("case-state", detail.state_label);
  KC.text("period", periodText(review));
  KC.show("period", Boolean(review));
  const facts = [
    [KC.t("Staff.jurisdiction"), detail.jurisdiction_name], [KC.t("Field.occurred_at"), detail.occurred_at ? KC.time(detail.occurred_at) : "—"],
    [KC.t("Field.address"), detail.address || "—"], [KC.t("Field.accident_type"), detail.accident_type_label || "—"], [KC.t("Field.description"), detail.description || "—"],
    ...file.parties.map((p) => [KC.t("Staff.side", { designation: p.designation }), `${p.name} · ${p.plate_number} · ${p.vehicle_type_label}`]),
  ];
  document.getElementById("facts").replaceChildren(
    ...facts.flatMap(([k, v]) => [KC.el("dt", { textContent: k }), KC.el("dd", { textContent: v })]));
  const names = Object.fromEntries(file.parties.map((p) => [
    p.id, KC.t("Staff.side_party", { designation: p.designation, name: p.name, plate: p.plate_number }),
  ]));
  KC.text("reasons", review
    ? KC.t("Review.request_line", { party: names[review.applicant_party_id], at: KC.time(review.submitted_at), reasons: review.reasons })
    : KC.t("Review.no_request"));
  BO.renderDetermination("determination", file.determination);
  document.getElementById("documents").replaceChildren(...documents.map((d) => {
    const button = KC.el("button", { type: "button", className: "link", textContent: BO.documentLabel(d) });
    button.onclick = () => guarded(async () => window.open(URL.createObjectURL(await KC.api(PAGE, "GET", d.download_url))));
    return KC.el("li", {}, button);
  }));
  BO.renderOverrides("overrides", collection);
  BO.renderChecks("checks", file.parties);
  BO.renderEligibility("eligibility", file.eligibility);
  BO.renderActs("acts", file.parties);
  KC.show("decision-form", detail.allowed_actions.includes("uphold"));
  await Promise.all([
    BO.renderStills(PAGE, id, "gallery", items),
    BO.recording(PAGE, id, "recording", "recording-info", items),
  ]);
}

async function decide(event) {
  event.preventDefault();
  const outcome = document.querySelector('input[name="outcome"]:checked').value;
  await KC.api(PAGE, "POST", `/api/cases/${caseId}/review/decision`, {
    outcome, note: document.getElementById("note").value,
  });
  say(KC.t(outcome === "upheld" ? "Review.upheld" : "Review.revoked"));
  await list();
}

async function start() {
  await KC.useLocale(KC.DEFAULT_LOCALE); // staff pages read Chinese first
  document.getElementById("login-form").onsubmit = (event) => guarded(() => login(event));
  document.getElementById("decision-form").onsubmit = (event) => guarded(() => decide(event));
  document.getElementById("back").onclick = () => guarded(list);
  BO.wireSearch(PAGE, { form: "search-form", input: "search-q", rows: "search-rows", open: (id) => guarded(() => open(id)) });
  await KC.resume(PAGE, list, () => view("login-view"));
}

guarded(start);
