// The insurer's agent's page: the calls the operator invited the agent's insurer
// into, live on the page's socket; joining one seats the agent in the call's room on the media
// server (sfu.js), where they see every participant and speak. The case is shown as an agent
// may see it (personal data masked) and the page has nothing to edit: the server refuses an
// agent's writes in any case.
import { KC } from "./common.js";
import { joinRoom, mediaPass } from "./sfu.js";

const PAGE = "insurer";
const VIEWS = ["login-view", "list-view", "call-view"];
const view = (id) => KC.view(VIEWS, id);
const guarded = (action) => KC.guarded(action);
const seat = { socket: null, caseId: null, room: null, camera: null, shown: null };

async function login(event) {
  event.preventDefault();
  await KC.staffLogin(PAGE, "insurer_agent");
  await enter();
}

async function enter() {
  const me = await KC.api(PAGE, "GET", "/api/auth/me");
  KC.text("me-name", me.name);
  view("list-view");
  await listInvitations();
  // An invitation made while the page is open arrives on the socket (and one made while it was
  // reconnecting is in the list read again on every open).
  seat.socket ||= KC.socket(PAGE, {
    onOpen: () => guarded(listInvitations),
    onMessage: (message) => message.type === "insurer_invitation" && guarded(listInvitations),
  });
}

async function listInvitations() {
  const invitations = await KC.api(PAGE, "GET", "/api/insurer-seat/invitations");
  // The same list again (the socket's open and an invitation often come together) keeps its
  // rows: a button being pressed is never replaced under the pointer.
  const shown = JSON.stringify(invitations);
  if (shown === seat.shown) return;
  seat.shown = shown;
  const rows = invitations.map((invitation) => {
    const item = KC.el("li", { className: "row" },
      KC.el("span", {
        className: "grow",
        textContent: KC.t("Insurer.invitation", {
          number: invitation.case_number, at: KC.time(invitation.invited_at), until: KC.time(invitation.expires_at),
        }),
      }),
      KC.el("button", {
        type: "button", className: "primary", textContent: KC.t("Insurer.join"),
        onclick: () => guarded(() => join(invitation.case_id)),
      }));
    item.dataset.caseId = String(invitation.case_id);
    return item;
  });
  if (!rows.length) rows.push(KC.el("li", { className: "hint", textContent: KC.t("Insurer.no_invitations") }));
  document.getElementById("invitations").replaceChildren(...rows);
}

async function join(caseId) {
  view("call-view");
  try {
    const pass = await mediaPass(PAGE, caseId);
    if (!pass) throw new Error(KC.t("Seats.needs_media_server"));
    seat.caseId = caseId;
    await showCase(caseId);
    seat.camera = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    document.getElementById("local-video").srcObject = seat.camera;
    const container = document.getElementById("remote-feeds");
    seat.room = await joinRoom(pass, { localStream: seat.camera, container });
  } catch (error) {
    endSeat();
    view("list-view");
    throw error;
  }
}

async function showCase(caseId) {
  const detail = await KC.api(PAGE, "GET", `/api/cases/${caseId}`);
  KC.text("case-number", detail.number);
  KC.text("case-state", detail.state_label);
  const facts = [
    [KC.t("Staff.jurisdiction"), detail.jurisdiction_name],
    [KC.t("Field.occurred_at"), detail.occurred_at ? KC.time(detail.occurred_at) : "—"],
    [KC.t("Field.address"), detail.address || "—"],
    [KC.t("Field.accident_type"), detail.accident_type_label || "—"],
  ];
  document.getElementById("facts").replaceChildren(
    ...facts.flatMap(([term, value]) => [KC.el("dt", { textContent: term }), KC.el("dd", { textContent: value })]));
  document.getElementById("parties").replaceChildren(...detail.parties.map((party) => KC.el("li", {
    textContent: KC.t("Insurer.party", {
      position: party.position, plate: party.plate_number, vehicle: party.vehicle_type_label,
      insurer: party.insurer_code || "—", id_number: party.id_number,
    }),
  })));
}

async function leave() {
  const caseId = seat.caseId;
  endSeat();
  view("list-view");
  if (caseId) await KC.api(PAGE, "POST", `/api/cases/${caseId}/insurer-seat/leave`);
  await listInvitations();
}

function endSeat() {
  if (seat.room) seat.room.leave();
  if (seat.camera) seat.camera.getTracks().forEach((track) => track.stop());
  Object.assign(seat, { caseId: null, room: null, camera: null });
}

// Closing the page leaves the call too: the request outlives the page (keepalive).
function leaveOnClose() {
  if (!seat.caseId) return;
  fetch(`/api/cases/${seat.caseId}/insurer-seat/leave`, {
    method: "POST", keepalive: true, headers: { Authorization: `Bearer ${KC.token(PAGE)}` },
  });
}

async function start() {
  await KC.useLocale(KC.DEFAULT_LOCALE); // staff pages read Chinese first
  document.getElementById("login-form").onsubmit = (event) => guarded(() => login(event));
  KC.action("leave", leave);
  window.addEventListener("pagehide", leaveOnClose);
  await KC.resume(PAGE, enter, () => view("login-view"));
}

guarded(start);
