"""Calls through a real Janus (VideoRoom): Chromium with fake camera and microphone, the app
handing out one token per call and participant, the server recording every publisher.

Janus, the app and Chromium run in a network namespace of the module's own (tests/janus_stack.py).
"""

import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import XIHU
from janus_stack import ALL_FEEDS_DECODED, MediaStack, Person, media_stack, requires_janus
from live import (
    fill_party,
    operator_context_page,
    party_context_page,
    party_logs_in,
    staff_logs_in,
    until_true,
    wait_until,
)
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.audit.models import AuditEntry
from kuaichu.cases.models import Case
from kuaichu.media.models import MediaRoom

pytestmark = requires_janus

# How long the call goes on once everyone sees everyone: the recordings' length is measured.
CALL_SECONDS = 8
UNAUTHORIZED = 433  # VideoRoom: not on the room's allowed list


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaStack]:
    with media_stack(tmp_path_factory.mktemp("media")) as started:
        yield started


def report_and_take(stack: MediaStack, phone: str, operator_name: str) -> tuple[Person, Person, int]:
    """A party reports by video call and an operator takes it: their pages, and the case id."""
    party = stack.page().log_in_party(phone)
    case_id = party.ok("POST", "/api/calls", XIHU)["case_id"]
    operator = stack.page().log_in_staff(operator_name)
    assert operator.ok("POST", "/api/calls/take-next")["case_id"] == case_id
    return party, operator, case_id


def end_call(operator: Person, case_id: int) -> None:
    """转现场处置, then the operator hangs up: the call has ended."""
    operator.ok("POST", f"/api/cases/{case_id}/transfer", {"reason": "测试结束通话"})
    operator.ok("POST", f"/api/calls/{case_id}/hangup")


def media_pass(person: Person, case_id: int) -> dict[str, Any]:
    return person.ok("POST", f"/api/cases/{case_id}/media-pass")


def join(person: Person, granted: dict[str, Any]) -> float:
    """Join the room; returns when (monotonic) the page's own media started to flow."""
    person.page.evaluate("pass => kc.join(pass)", granted)
    return time.monotonic()


def sees(viewer: Person, publisher: dict[str, Any], who: str) -> None:
    until_true(viewer.page, f"kc.receiving({publisher['feed_id']})", what=f"{who}'s video")


def room_of(stack: MediaStack, case_id: int) -> MediaRoom | None:
    def read(session: Session) -> MediaRoom | None:
        return session.scalars(select(MediaRoom).where(MediaRoom.case_id == case_id)).first()

    return stack.database.write_sync(read)


def room_closed(stack: MediaStack, case_id: int) -> bool:
    room = room_of(stack, case_id)
    return room is not None and room.closed_at is not None


def ffprobe(path: Path) -> dict[str, Any]:
    command = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


@pytest.mark.slow
def test_two_parties_and_a_watcher_see_each_other_and_the_server_records_each_publisher(
    stack: MediaStack,
) -> None:
    party, operator, case_id = report_and_take(stack, "13800005001", "op-live")
    supervisor = stack.page().log_in_staff("supervisor-live")
    party_pass, operator_pass, watcher_pass = (media_pass(p, case_id) for p in (party, operator, supervisor))
    assert len({party_pass["token"], operator_pass["token"], watcher_pass["token"]}) == 3
    assert (party_pass["publish"], operator_pass["publish"], watcher_pass["publish"]) == (True, True, False)

    started = {"party": join(party, party_pass), "operator": join(operator, operator_pass)}
    join(supervisor, watcher_pass)
    sees(party, operator_pass, "the operator")
    sees(operator, party_pass, "the party")
    sees(supervisor, party_pass, "the party")
    sees(supervisor, operator_pass, "the operator")

    # The call goes on; its length is what the recordings are checked against.
    party.page.wait_for_timeout(CALL_SECONDS * 1000)
    ended = {}
    for role, person in (("party", party), ("operator", operator)):
        person.page.evaluate("kc.leave()")
        ended[role] = time.monotonic()
    supervisor.page.evaluate("kc.leave()")
    end_call(operator, case_id)

    def recordings() -> list[dict[str, Any]] | None:
        found = [e for e in operator.ok("GET", f"/api/cases/{case_id}/evidence") if e["kind"] == "recording"]
        return found if len(found) == 2 else None

    listed = wait_until(recordings, timeout=60, what="both publishers' recordings")
    timeline = operator.ok("GET", f"/api/cases/{case_id}/timeline")
    recorded = {
        event["detail"]["participant_role"]: event["detail"]
        for event in timeline
        if event["kind"] == "evidence_added" and event["detail"].get("kind") == "recording"
    }
    assert set(recorded) == {"party", "operator"}, timeline  # the watcher published nothing
    for role, detail in recorded.items():
        item = next(e for e in listed if e["id"] == detail["evidence_id"])
        assert item["media_type"] == "video/webm"
        assert item["uploaded_by"] == "system"
        stored = stack.evidence_file(item["sha256"])
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == item["sha256"]
        probe = ffprobe(stored)
        video = [s for s in probe["streams"] if s["codec_type"] == "video"]
        assert video and video[0]["codec_name"] == "vp8"
        assert any(s["codec_type"] == "audio" for s in probe["streams"])
        call_seconds = ended[role] - started[role]
        assert abs(float(probe["format"]["duration"]) - call_seconds) <= 0.2 * call_seconds, (role, probe)
    room = wait_until(lambda: room_of(stack, case_id), what="the room")
    assert not Path(room.rec_dir).exists()  # the .mjr files go once everything is stored
    for person in (party, operator, supervisor):
        person.close()


def try_join(page_of: Person, server: str, session_token: str, room: dict[str, Any], room_token: str) -> Any:
    return page_of.page.evaluate(
        "([s, t, room, pin, rt]) => kc.tryJoin(s, t, room, pin, rt)",
        [server, session_token, room["room"], room["pin"], room_token],
    )


def test_janus_admits_a_token_only_to_its_own_call_and_forgets_it_when_the_call_ends(
    stack: MediaStack,
) -> None:
    first_party, first_operator, first_case = report_and_take(stack, "13800005002", "op-live")
    second_party, second_operator, second_case = report_and_take(stack, "13800005003", "op-live-2")
    first, second = media_pass(first_party, first_case), media_pass(second_party, second_case)
    server = second["server"]

    # Without a token the app stored, Janus opens no session at all.
    refused = try_join(second_party, server, "a-token-nobody-was-given", second, "a-token-nobody-was-given")
    assert refused["stage"] == "session"
    # The first call's party holds a valid token, but the second call's room does not list it.
    refused = try_join(first_party, server, first["token"], second, first["token"])
    assert (refused["stage"], refused["code"]) == ("join", UNAUTHORIZED)
    # Its own party gets in.
    assert try_join(second_party, server, second["token"], second, second["token"]) is None

    end_call(first_operator, first_case)
    wait_until(lambda: room_closed(stack, first_case), what="the first call's room closed")
    # The ended call's token no longer opens anything.
    assert try_join(first_party, server, first["token"], first, first["token"])["stage"] == "session"
    end_call(second_operator, second_case)
    for person in (first_party, first_operator, second_party, second_operator):
        person.close()


def test_only_the_cases_parties_its_operator_and_supervisors_get_a_pass(stack: MediaStack) -> None:
    party, operator, case_id = report_and_take(stack, "13800005004", "op-live")
    stranger = stack.page().log_in_party("13800005099")
    other_operator = stack.page().log_in_staff("op-live-2")
    officer = stack.page().log_in_staff("officer-live")
    path = f"/api/cases/{case_id}/media-pass"
    assert stranger.api("POST", path)[0] == 404  # not even told the case exists
    assert other_operator.api("POST", path)[0] == 403
    assert officer.api("POST", path)[0] == 403
    # Asking again is the same seat: a reloaded page keeps its token and its feed.
    assert media_pass(party, case_id) == media_pass(party, case_id)
    end_call(operator, case_id)
    assert party.api("POST", path)[0] == 409  # no call in progress
    for person in (party, operator, stranger, other_operator, officer):
        person.close()


def test_a_feed_in_a_room_that_is_no_seats_is_put_out_and_the_kick_audited(stack: MediaStack) -> None:
    party, operator, case_id = report_and_take(stack, "13800005021", "op-live-2")
    granted = media_pass(party, case_id)
    # The party's own token, but another feed id than its seat's: Janus lets it in, the app not.
    join(party, {**granted, "feed_id": granted["feed_id"] + 1, "publish": False})

    def kicks(session: Session) -> list[dict[str, Any]]:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.case_id == case_id, AuditEntry.action == "kick_call_media")
        ).all()
        return [entry.detail for entry in entries]

    [kicked] = wait_until(lambda: stack.database.write_sync(kicks), what="the kick")
    assert kicked["feed_id"] == granted["feed_id"] + 1
    end_call(operator, case_id)
    for person in (party, operator):
        person.close()


# The product's pages in the call: the party page (two parties' phones) and the console, with
# the app's own CSP (no bypass): janus.js from /vendor, Janus's API at its public address.

PARTY_PHONE = "13800005011"
SECOND_PHONE = "13800005012"


# The page's own camera reaches Janus: its recording starts about now.
PUBLISHING = """() => {
  const room = window.kuaichuRoom;
  const pc = room && room.publisher && room.publisher.webrtcStuff && room.publisher.webrtcStuff.pc;
  return Boolean(pc) && pc.connectionState === "connected";
}"""


def publishing(page: Page) -> float:
    """Waits until the page publishes; returns when (monotonic)."""
    page.wait_for_function(PUBLISHING, polling=100, timeout=60_000)
    return time.monotonic()


def when_each_left(pages: dict[str, Page]) -> dict[str, float]:
    """When (monotonic) each page left the room (its recording ends), seen within a poll."""
    left: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while len(left) < len(pages) and time.monotonic() < deadline:
        for who, page in pages.items():
            if who not in left and page.evaluate("!window.kuaichuRoom"):
                left[who] = time.monotonic()
        time.sleep(0.05)
    assert len(left) == len(pages), f"still in the room: {set(pages) - set(left)}"
    return left


def own_feed(page: Page) -> int:
    return page.evaluate("window.kuaichuRoom.pass.feed_id")


# What a page's room holds, for a failure's report: each feed, whether it shows, frames decoded.
ROOM_REPORT = """async () => {
  const room = window.kuaichuRoom;
  if (!room) return "no room";
  const feeds = [];
  for (const [feed, entry] of room.feeds) {
    feeds.push([feed, entry.display, entry.video && entry.video.videoWidth, await room.framesDecoded(feed)]);
  }
  return JSON.stringify({ own: room.pass.feed_id, feeds });
}"""


def sees_everyone(page: Page, others: int, who: str) -> None:
    try:
        until_true(page, ALL_FEEDS_DECODED.format(count=others), timeout=60, what=f"{who} seeing all")
    except TimeoutError as error:
        error.add_note(f"{who}'s room: {page.evaluate(ROOM_REPORT)}")
        error.add_note(f"{who}'s page says: {page.locator('#message').text_content()!r}")
        raise


def api_call(page: Page, token: str, method: str, path: str, body: Any = None) -> Any:
    """The API as the page's user, from the page (the app listens inside the namespace)."""
    answer = page.evaluate(
        """async ([method, path, body, token]) => {
          const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
          const payload = body === null ? undefined : JSON.stringify(body);
          const response = await fetch(path, { method, headers, body: payload });
          return { status: response.status, body: await response.json() };
        }""",
        [method, path, body, token],
    )
    assert answer["status"] < 300, answer
    return answer["body"]


def call_through_the_pages(stack: MediaStack, console: Page, first: Page, second: Page) -> None:
    """The operator, the reporting party, then the second party in one room; the call ends; the
    server has recorded each of them."""
    token = staff_logs_in(console, "/console", "op-live")
    console.click("#go-available")
    expect(console.locator("#me-status")).to_have_text("空闲")

    # The first party reports by video call; the operator, available, gets it at once.
    party_logs_in(first, stack.database, PARTY_PHONE)
    first.click("#report")
    first.click("#consent-agree")
    expect(console.locator("#call-view")).to_be_visible()
    expect(first.locator("#call-view")).to_be_visible()
    expect(console.locator("#recording-status")).to_have_text("由服务器录制")
    started = {"party-1": publishing(first), "operator": publishing(console)}
    sees_everyone(first, 1, "the first party")
    sees_everyone(console, 1, "the operator")

    # The operator records both parties; the second logs in with its own phone and opens the case.
    fill_party(console, 1, PARTY_PHONE, "浙A12345", "张伟", "123")
    fill_party(console, 2, SECOND_PHONE, "浙A54321", "李娜", "456")
    console.click("#save-parties")
    expect(console.locator("#checks li").first).to_be_visible()
    party_logs_in(second, stack.database, SECOND_PHONE)
    second.click("#my-cases button")
    expect(second.locator("#call-view")).to_be_visible()
    started["party-2"] = publishing(second)
    for page, who in ((first, "the first party"), (second, "the second party"), (console, "the operator")):
        sees_everyone(page, 2, who)
    # Every participant's feed is labelled on the other pages, once.
    expect(console.locator("#remote-feeds figure")).to_have_count(2)
    expect(first.locator("#remote-feeds figure")).to_have_count(2)
    expect(second.locator("#remote-feeds figcaption")).to_have_count(2)
    feeds = {"party-1": own_feed(first), "party-2": own_feed(second), "operator": own_feed(console)}

    # The call goes on, then the operator sends it to police on site and hangs up.
    console.wait_for_timeout(CALL_SECONDS * 1000)
    case_id = wait_until(lambda: case_of_phone(stack, PARTY_PHONE), what="the case")
    api_call(console, token, "POST", f"/api/cases/{case_id}/transfer", {"reason": "测试结束通话"})
    api_call(console, token, "POST", f"/api/calls/{case_id}/hangup")
    # The parties' pages leave on the case's push; the operator's room is closed by the server.
    ended = when_each_left({"party-1": first, "party-2": second})
    closed = wait_until(lambda: room_closed(stack, case_id) and time.monotonic(), what="the room closed")
    ended["operator"] = closed
    expect(first.locator("#transfer-view")).to_be_visible()

    def recordings() -> list[dict[str, Any]] | None:
        listed = api_call(console, token, "GET", f"/api/cases/{case_id}/evidence")
        found = [item for item in listed if item["kind"] == "recording"]
        return found if len(found) == 3 else None

    listed = wait_until(recordings, timeout=60, what="each participant's recording")
    # The console recorded nothing itself: every recording is the server's.
    assert {item["uploaded_by"] for item in listed} == {"system"}
    timeline = api_call(console, token, "GET", f"/api/cases/{case_id}/timeline")
    by_feed = {
        event["detail"]["feed_id"]: event["detail"]["evidence_id"]
        for event in timeline
        if event["kind"] == "evidence_added" and event["detail"].get("kind") == "recording"
    }
    assert set(by_feed) == set(feeds.values())
    for who, feed in feeds.items():
        item = next(e for e in listed if e["id"] == by_feed[feed])
        stored = stack.evidence_file(item["sha256"])
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == item["sha256"]
        probe = ffprobe(stored)
        assert any(s["codec_type"] == "video" for s in probe["streams"]), (who, probe)
        call_seconds = ended[who] - started[who]
        assert abs(float(probe["format"]["duration"]) - call_seconds) <= 0.2 * call_seconds, (who, probe)


@pytest.mark.slow
def test_two_parties_and_the_operator_call_through_janus_from_their_pages_and_the_server_records_each(
    stack: MediaStack,
) -> None:
    base = stack.server.url
    pages = (
        operator_context_page(stack.browser, base),
        party_context_page(stack.browser, base),
        party_context_page(stack.browser, base),
    )
    try:
        call_through_the_pages(stack, *pages)
    finally:
        for page in pages:
            page.context.close()


def case_of_phone(stack: MediaStack, phone: str) -> int | None:
    def read(session: Session) -> int | None:
        return session.scalar(select(Case.id).where(Case.reporter_phone == phone))

    return stack.database.write_sync(read)
