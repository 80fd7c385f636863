// Joining a case by its link, on the party page (kuaichu.invitations): the reporting party's
// screen shows the join QR code in the call; another party opens the link (/party#join=…),
// logs in with an SMS code like any party and waits for the operator to admit them. The token
// travels in the URL's fragment, which no server log sees, and is kept in this tab only.
import { KC } from "./common.js";

const TOKEN_KEY = "kuaichu.party.joinToken";
const REQUEST_KEY = "kuaichu.party.joinRequest";
// While waiting, the page asks every few seconds whether the operator decided (the joining
// party follows no case yet, so no push reaches them).
const POLL_MS = 3000;
const LIVE_STATES = ["queued", "in_call", "collected"];
// The code on screen is read again now and then: the operator may have revoked the link, or
// it expired and the server made a new one.
const CODE_REFRESH_MS = 30000;

// The link's token, taken out of the address bar at once (a screenshot or a shared address
// must not carry it on).
function takeToken() {
  const found = /(?:^#|&)join=([A-Za-z0-9_-]{1,64})/.exec(window.location.hash);
  if (!found) return;
  sessionStorage.setItem(TOKEN_KEY, found[1]);
  sessionStorage.removeItem(REQUEST_KEY);
  history.replaceState(null, "", window.location.pathname + window.location.search);
}

function forget() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(REQUEST_KEY);
  KC.show("join-invite", false);
}

// Once logged in: ask to join with the token (or follow the request already made), and wait.
// False when there is nothing to join (or the join was refused): the page goes on as usual,
// so the reporting party who opened their own case's link lands on that case.
export async function joinByLink(page, { view, resume }) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const pending = sessionStorage.getItem(REQUEST_KEY);
  if (!token && !pending) return false;
  let request;
  try {
    request = pending
      ? await KC.api(page, "GET", `/api/joins/${pending}`)
      : await KC.api(page, "POST", "/api/joins", { token });
  } catch (error) {
    forget();
    if (error.status === 401) throw error;
    KC.say(KC.readable(error));
    return false;
  }
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.setItem(REQUEST_KEY, String(request.id));
  if (request.state !== "waiting") return decided(request, resume);
  view("join-view");
  const poll = async () => {
    if (!KC.token(page) || sessionStorage.getItem(REQUEST_KEY) !== String(request.id)) return;
    try {
      const now = await KC.api(page, "GET", `/api/joins/${request.id}`);
      if (now.state !== "waiting") {
        await decided(now, resume);
        return;
      }
    } catch (error) {
      if (error.status === 401 || error.status === 404) return;
      console.warn("join request", error);
    }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
  return true;
}

async function decided(request, resume) {
  forget();
  if (request.state === "admitted") {
    await resume(request.case_id);
    KC.say(KC.t("Join.admitted"));
    return true;
  }
  KC.say(KC.t("Join.refused"));
  return false;
}

// The reporting party's phone number is theirs in full; any other party reads it masked.
function joinedParty(detail) {
  return detail.reporter_phone.includes("*");
}

// A party who joined by the link, with no media server: the call stays one to one with the
// reporting party, so this page follows the case instead of joining the call.
export function joinedWithoutMedia(detail, config) {
  return !config.media_server && LIVE_STATES.includes(detail.state) && joinedParty(detail);
}

export function showJoinedNote(detail, config) {
  KC.show("joined-note", joinedWithoutMedia(detail, config));
}

// The reporting party's call screen: the join QR code (an SVG made by the server) and the link.
async function showJoinCode(page, party) {
  const card = document.getElementById("join-code");
  if (!party.caseId || party.state !== "in_call") {
    card.hidden = true;
    return;
  }
  const caseId = party.caseId;
  try {
    const shown = await KC.api(page, "GET", `/api/cases/${caseId}/join-link`);
    const svg = await KC.api(page, "GET", `/api/cases/${caseId}/join-code.svg`);
    if (party.caseId !== caseId) return;
    const image = document.getElementById("join-qr");
    if (image.src.startsWith("blob:")) URL.revokeObjectURL(image.src);
    image.src = URL.createObjectURL(svg);
    image.alt = KC.t("Join.qr_alt");
    const link = document.getElementById("join-link");
    link.href = shown.link;
    link.textContent = shown.link;
    card.hidden = false;
  } catch (error) {
    // Not the reporting party, or the case left the call: no code to show.
    card.hidden = true;
    if (error.status === 401) throw error;
  }
}

// Shown whenever the call screen is: the code follows the call view, not each way to it.
export function watchJoinCode(page, party) {
  takeToken();
  KC.show("join-invite", Boolean(sessionStorage.getItem(TOKEN_KEY)));
  const callView = document.getElementById("call-view");
  const update = () => {
    if (!callView.hidden) showJoinCode(page, party).catch((error) => console.warn("join code", error));
  };
  new MutationObserver(update).observe(callView, { attributes: true, attributeFilter: ["hidden"] });
  setInterval(update, CODE_REFRESH_MS);
}
