// The officer's workbench: cases awaiting determination, found by number, phone or plate;
// the case file (checks, eligibility, acts, collection overrides, stills, recording); the
// determination with its reasoning; or the case sent back for more evidence / to the ordinary procedure.
import { BO } from "./backoffice.js";
import { KC } from "./common.js";
import { SIG } from "./signals.js";

const PAGE = "workbench";
const VIEWS = ["login-view", "list-view", "case-view"];
const bench = { config: null, caseId: null, proposal: null, action: null };

const view = (id) => KC.view(VIEWS, id);
const say = KC.say;
const guarded = (action) => KC.guarded(action);

// The two ways out other than a determination: each needs the officer's reason. Their words
// are catalogue keys, said when shown.
const OTHER_ACTIONS = {
  "send-back": {
    path: "send-back", label: "Workbench.send_back_reason", confirm: "Workbench.send_back_confirm",
    done: "Workbench.sent_back",
  },
  ordinary: {
    path: "ordinary-procedure", label: "Workbench.ordinary_reason", confirm: "Workbench.ordinary_confirm",
    done: "Workbench.handed_over",
  },
};

async function login(event) {
  event.preventDefault();
  await KC.staffLogin(PAGE, "officer");
  await list();
}

async function list() {
  view("list-view");
  const me = await KC.api(PAGE, "GET", "/api/auth/me");
  KC.text("me-name", me.name);
  // Staff lists come oldest first: the longest-waiting case on top.
  const cases = await KC.api(PAGE, "GET", "/api/cases?state=evacuated");
  KC.caseRows(cases, KC.t("Workbench.handle"), (id) => guarded(() => open(id)), KC.t("Workbench.no_cases"));
  await SIG.wirePanel(PAGE, (id) => guarded(() => open(id)));
}

async function open(caseId) {
  bench.caseId = caseId;
  view("case-view");
  showReasonForm(null);
  showFieldError("reasoning-error", "");
  const [detail, file, collection, items] = await Promise.all([
    KC.api(PAGE, "GET", `/api/cases/${caseId}`),
    KC.api(PAGE, "GET", `/api/cases/${caseId}/case-file`),
    KC.api(PAGE, "GET", `/api/cases/${caseId}/collection`),
    KC.api(PAGE, "GET", `/api/cases/${caseId}/evidence`),
  ]);
  KC.text("case-number", detail.number);
  KC.text("case-state", detail.state_label);
  const facts = [
    [KC.t("Staff.jurisdiction"), detail.jurisdiction_name], [KC.t("Field.occurred_at"), detail.occurred_at ? KC.time(detail.occurred_at) : "—"],
    [KC.t("Field.address"), detail.address || "—"], [KC.t("Field.accident_type"), detail.accident_type_label || "—"],
    [KC.t("Field.weather"), detail.weather_label || "—"], [KC.t("Field.description"), detail.description || "—"],
    ...file.parties.map((p) => [KC.t("Staff.side", { designation: p.designation }), `${p.name} · ${p.plate_number} · ${p.vehicle_type_label}`]),
  ];
  document.getElementById("facts").replaceChildren(
    ...facts.flatMap(([k, v]) => [KC.el("dt", { textContent: k }), KC.el("dd", { textContent: v })]),
  );
  BO.renderOverrides("overrides", collection);
  BO.renderChecks("checks", file.parties);
  BO.renderEligibility("eligibility", file.eligibility);
  BO.renderActs("acts", file.parties);
  await SIG.renderCase(PAGE, caseId, "case-signals");
  await Promise.all([
    BO.renderStills(PAGE, caseId, "gallery", items),
    BO.recording(PAGE, caseId, "recording", "recording-info", items),
  ]);
  const deciding = detail.allowed_actions.includes("determine");
  KC.show("determination-form", deciding);
  KC.show("other-actions", detail.allowed_actions.includes("send_back") || detail.allowed_actions.includes("to_ordinary_procedure"));
  if (deciding) {
    renderShares(file.parties);
    await showProposal();
  }
}

// The rules engine's proposal (art. 60 and the quick-handling list): pre-filled, and any
// departure from it needs the officer's written reason.
async function showProposal() {
  const proposal = await KC.api(PAGE, "GET", `/api/cases/${bench.caseId}/liability-proposal`);
  bench.proposal = proposal.rule ? proposal : null;
  KC.text("proposal", proposal.rule ? KC.t("Workbench.proposal", { label: proposal.label, basis: proposal.basis }) : proposal.message);
  for (const share of proposal.shares) {
    const select = document.querySelector(`#shares select[data-party-id="${share.party_id}"]`);
    if (select) select.value = share.responsibility;
  }
  updateOverride();
}

function chosenShares() {
  return [...document.querySelectorAll("#shares select")].map((s) => ({
    party_id: Number(s.dataset.partyId), responsibility: s.value,
  }));
}

function departsFromProposal() {
  if (!bench.proposal) return false;
  const proposed = Object.fromEntries(bench.proposal.shares.map((s) => [s.party_id, s.responsibility]));
  return chosenShares().some((s) => proposed[s.party_id] !== s.responsibility);
}

function updateOverride() {
  KC.show("override-label", departsFromProposal());
}

function renderShares(parties) {
  const grades = bench.config.catalogues.responsibilities;
  document.getElementById("shares").replaceChildren(...parties.map((p) => {
    const select = KC.el("select", { name: `share-${p.id}` });
    select.replaceChildren(...Object.entries(grades).map(([value, label]) => KC.el("option", { value, textContent: label })));
    select.dataset.partyId = p.id;
    select.onchange = updateOverride;
    const who = KC.t("Staff.side_party", { designation: p.designation, name: p.name, plate: p.plate_number });
    return KC.el("label", { textContent: `${who} ` }, select);
  }));
}

function showFieldError(id, text) {
  KC.text(id, text);
  KC.show(id, Boolean(text));
}

// The server is the one judge of what a determination needs; its refusal is shown by the field.
async function determine(event) {
  event.preventDefault();
  showFieldError("reasoning-error", "");
  const override = document.getElementById("override-reason").value.trim();
  try {
    await KC.api(PAGE, "POST", `/api/cases/${bench.caseId}/determination`, {
      shares: chosenShares(),
      reasoning: document.getElementById("reasoning").value,
      override_reason: departsFromProposal() ? override : null,
    });
  } catch (error) {
    if (error.status === 422 && KC.says("Liability.reasoning_required", error.message)) {
      showFieldError("reasoning-error", error.message);
      document.getElementById("reasoning").focus();
      return;
    }
    throw error;
  }
  document.getElementById("reasoning").value = "";
  // The document is signed just after: the parties get it by SMS once it is stored.
  say(`${KC.t("Workbench.determined")} ${KC.t("Workbench.document_generating")}`);
  await list();
}

function showReasonForm(key) {
  bench.action = key;
  KC.show("reason-form", Boolean(key));
  showFieldError("action-reason-error", "");
  if (!key) return;
  KC.text("action-reason-label", KC.t(OTHER_ACTIONS[key].label));
  KC.text("reason-confirm", KC.t(OTHER_ACTIONS[key].confirm));
  document.getElementById("action-reason").value = "";
  document.getElementById("action-reason").focus();
}

async function otherAction(event) {
  event.preventDefault();
  const action = OTHER_ACTIONS[bench.action];
  const reason = document.getElementById("action-reason").value.trim();
  if (!reason) {
    showFieldError("action-reason-error", KC.t("Workbench.reason_needed"));
    return;
  }
  try {
    await KC.api(PAGE, "POST", `/api/cases/${bench.caseId}/${action.path}`, { reason });
  } catch (error) {
    if (error.status === 422) return showFieldError("action-reason-error", error.message);
    throw error;
  }
  showReasonForm(null);
  say(KC.t(action.done));
  await list();
}

async function start() {
  await KC.useLocale(KC.DEFAULT_LOCALE); // staff pages read Chinese first
  document.getElementById("login-form").onsubmit = (event) => guarded(() => login(event));
  document.getElementById("determination-form").onsubmit = (event) => guarded(() => determine(event));
  document.getElementById("reason-form").onsubmit = (event) => guarded(() => otherAction(event));
  document.getElementById("send-back").onclick = () => showReasonForm("send-back");
  document.getElementById("ordinary").onclick = () => showReasonForm("ordinary");
  document.getElementById("reason-cancel").onclick = () => showReasonForm(null);
  document.getElementById("back").onclick = () => guarded(list);
  BO.wireSearch(PAGE, { form: "search-form", input: "search-q", rows: "search-rows", open: (id) => guarded(() => open(id)) });
  bench.config = await KC.api(PAGE, "GET", "/api/calls/config");
  await KC.resume(PAGE, list, () => view("login-view"));
}

guarded(start);
