// The console's part in joining by link (kuaichu.invitations): who waits to join the call's
// case (live: the server tells this console on its own channel), admitted as the next party
// with the details typed in that party's form, or refused; the join SMS; revoking the link;
// and a case opened for a driver who called 122, sent the same link.
import { KC } from "./common.js";

const joins = { page: null, console: null, enterCall: null, seen: new Set() };

const caseId = () => joins.console.caseId;

export function initJoins(page, consoleState, enterCall) {
  joins.page = page;
  joins.console = consoleState;
  joins.enterCall = enterCall;
  KC.action("join-sms-send", sendLink);
  KC.action("join-link-revoke", revoke);
  KC.submit("phone-report-form", phoneReport);
  // Each call starts with its own list.
  const callView = document.getElementById("call-view");
  new MutationObserver(() => {
    if (!callView.hidden) KC.guarded(refreshJoins);
  }).observe(callView, { attributes: true, attributeFilter: ["hidden"] });
}

// The console's socket said someone asked to join (or a request was decided).
export async function joinsChanged(message) {
  if (message.case_id === caseId()) await refreshJoins();
}

async function refreshJoins() {
  const id = caseId();
  if (!id) return;
  const requests = await KC.api(joins.page, "GET", `/api/cases/${id}/joins`);
  if (id !== caseId()) return;
  const fresh = requests.filter((r) => r.state === "waiting" && !joins.seen.has(r.id));
  for (const r of fresh) joins.seen.add(r.id);
  if (fresh.length) KC.say(KC.t("Join.waiting_alert", { phone: fresh.map((r) => r.phone).join(KC.t("Common.separator")) }));
  const position = joins.console.detail ? joins.console.detail.parties.length + 1 : 1;
  document.getElementById("join-requests").replaceChildren(...requests.map((r) => requestLine(r, position)));
}

function requestLine(request, position) {
  const line = KC.el("li", { className: `join-request ${request.state}` },
    KC.el("span", { textContent: KC.t("Join.waiting_line", { phone: request.phone, state: KC.label("JoinState", request.state) }) }));
  line.dataset.join = String(request.id);
  if (request.state !== "waiting") return line;
  line.append(
    " ",
    KC.el("button", {
      type: "button", className: "primary", textContent: KC.t("Join.admit", { position }),
      onclick: () => KC.guarded(() => admit(request)),
    }),
    " ",
    KC.el("button", {
      type: "button", className: "danger", textContent: KC.t("Join.refuse"),
      onclick: () => KC.guarded(() => refuse(request)),
    }),
  );
  return line;
}

// The party form of the next position holds what the operator took down on the call.
function detailsOf(position) {
  const form = document.getElementById("parties-form");
  if (!form.elements[`name-${position}`]) throw new Error(KC.t("Join.no_free_form"));
  const value = (key) => form.elements[`${key}-${position}`].value.trim();
  // A form with a phone already is someone else's, typed but not saved yet.
  if (value("phone")) throw new Error(KC.t("Join.save_parties_first"));
  if (!value("name")) throw new Error(KC.t("Join.fill_party_first", { position }));
  return {
    name: value("name"), id_number: value("id_number"), licence_number: value("licence_number"),
    plate_number: value("plate_number"), plate_type: value("plate_type"), vehicle_type: value("vehicle_type"),
    insurer_code: value("insurer_code") || null, policy_number: value("policy_number") || null,
  };
}

async function admit(request) {
  const id = caseId();
  joins.console.detail = await KC.api(joins.page, "GET", `/api/cases/${id}`);
  const position = joins.console.detail.parties.length + 1;
  const details = detailsOf(position);
  const admitted = await KC.api(joins.page, "POST", `/api/cases/${id}/joins/admit`, { join_id: request.id, ...details });
  joins.console.detail = admitted.case;
  const party = admitted.case.parties.find((p) => p.position === admitted.position);
  document.getElementById("parties-form").elements[`phone-${admitted.position}`].value = party.phone;
  await refreshJoins();
  KC.say(KC.t("Join.admitted_line", { position: admitted.position }));
  // Then as for any party: the form saved, each party's registry checks run and shown.
  document.getElementById("save-parties").click();
}

async function refuse(request) {
  if (!(await KC.confirm(KC.t("Join.refuse_confirm")))) return;
  await KC.api(joins.page, "POST", `/api/cases/${caseId()}/joins/refuse`, { join_id: request.id });
  await refreshJoins();
}

async function sendLink() {
  const input = document.getElementById("join-sms-phone");
  const phone = input.value.trim();
  await KC.api(joins.page, "POST", `/api/cases/${caseId()}/join-link/sms`, { phone });
  input.value = "";
  KC.say(KC.t("Join.sms_sent", { phone }));
}

async function revoke() {
  await KC.api(joins.page, "POST", `/api/cases/${caseId()}/join-link/revoke`);
  KC.say(KC.t("Join.revoked"));
}

// A driver on the 122 line without the app: their case, as this operator's call, and the link.
async function phoneReport() {
  const phone = document.getElementById("caller-phone").value.trim();
  const address = document.getElementById("caller-place").value.trim();
  const opened = await KC.api(joins.page, "POST", "/api/calls/phone-report", { phone, address });
  document.getElementById("phone-report-form").reset();
  await joins.enterCall(opened.case_id, "video");
  KC.say(KC.t("Join.sms_sent", { phone }));
}
