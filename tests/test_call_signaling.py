"""The page WebSocket on a real server: authentication, scope, relay, and dropped connections.

The app runs under uvicorn in a thread with the test's frozen clock, so the grace period is
crossed by moving the clock, not by waiting.
"""

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import XIHU
from live import free_port, wait_until
from sqlalchemy import select
from sqlalchemy.orm import Session
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from kuaichu.app import create_app
from kuaichu.auth import sessions
from kuaichu.auth.service import create_user, party_principal, staff_principal
from kuaichu.calls.api import sweep_once
from kuaichu.calls.models import OperatorPresence
from kuaichu.clock import FrozenClock
from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION
from kuaichu.consent.service import record_consent
from kuaichu.geo.models import Jurisdiction
from kuaichu.principal import SYSTEM, Role
from kuaichu.settings import Settings
from kuaichu.web.context import AppContext

PARTY = "13800003333"
LATER = "13800004444"
STRANGER = "13800005555"


@dataclass
class ThreadedServer:
    url: str
    app: Any
    loop: asyncio.AbstractEventLoop
    clock: FrozenClock

    @property
    def context(self) -> AppContext:
        return self.app.state.context

    def party(self, phone: str) -> str:
        """A party logged in who agreed to the recording notice."""
        principal = party_principal(phone)
        now = self.clock.now()
        self.context.database.write_sync(lambda s: record_consent(s, principal, PRIVACY_NOTICE_VERSION, now))
        return self.context.tokens.issue(principal, now)

    def operator(self, username: str) -> str:
        def create(session: Session) -> str:
            jurisdiction = session.scalars(select(Jurisdiction).where(Jurisdiction.code == "330106")).one()
            user = create_user(
                session,
                username=username,
                password="long-enough-password",
                role=Role.OPERATOR,
                display_name=username,
                jurisdiction_id=jurisdiction.id,
                now=self.clock.now(),
            )
            return self.context.tokens.issue(staff_principal(user), self.clock.now())

        return self.context.database.write_sync(create)

    async def sweep(self) -> None:
        """Run the sweeper once on the server's own loop (its bus lives there)."""
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(sweep_once(self.app), self.loop))


@pytest.fixture
def server(settings: Settings, clock: FrozenClock) -> Iterator[ThreadedServer]:
    settings = settings.model_copy(update={"run_dispatcher": True, "call_sweep_seconds": 3600.0})
    app = create_app(settings, clock)
    port = free_port()
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(uvicorn_server.serve(),), daemon=True)
    thread.start()
    wait_until(lambda: uvicorn_server.started, what="the server to start")
    yield ThreadedServer(f"http://127.0.0.1:{port}", app, loop, clock)
    uvicorn_server.should_exit = True
    thread.join(timeout=10)
    loop.close()


@pytest.fixture
async def http(server: ThreadedServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def socket_url(server: ThreadedServer, token: str) -> str:
    """Where a page opens its WebSocket: with a one-time ticket, never its token."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post("/api/auth/ws-ticket", headers=bearer(token))
    assert response.status_code == 200, response.text
    return f"ws{server.url.removeprefix('http')}/ws?ticket={response.json()['ticket']}"


async def page(server: ThreadedServer, token: str) -> ClientConnection:
    ws = await connect(await socket_url(server, token))
    assert (await receive(ws))["type"] == "hello"
    return ws


async def refused(url: str) -> int | None:
    """The close code a connection to this URL ends with."""
    with pytest.raises(ConnectionClosed) as closed:
        ws = await connect(url)
        while True:
            await ws.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def receive(ws: ClientConnection, *types: str) -> dict[str, Any]:
    """The next message of one of these types (others, e.g. queue updates, are passed over)."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if not types or message["type"] in types:
            return message


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def report(http: httpx.AsyncClient, token: str) -> int:
    response = await http.post("/api/calls", json=XIHU, headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()["case_id"]


async def test_page_socket_checks_token_role_and_ownership(
    server: ThreadedServer, http: httpx.AsyncClient
) -> None:
    assert await refused(f"ws{server.url.removeprefix('http')}/ws?ticket=forged") == 4401

    case_id = await report(http, server.party(PARTY))
    stranger = await page(server, server.party(STRANGER))
    await stranger.send(json.dumps({"type": "watch", "case_id": case_id}))
    assert (await receive(stranger))["detail"] == "案件不存在或无权查看"
    await stranger.send(json.dumps({"type": "signal", "case_id": case_id, "data": {}}))
    assert (await receive(stranger))["type"] == "error"
    await stranger.send("not json")
    assert (await receive(stranger))["detail"] == "消息不是有效的JSON"

    # An operator of the jurisdiction who did not take the call can't join it.
    taker, other = server.operator("op-taker"), server.operator("op-other")
    assert (await http.post("/api/calls/take-next", headers=bearer(taker))).status_code == 200
    bystander = await page(server, other)
    await bystander.send(json.dumps({"type": "join", "case_id": case_id}))
    assert (await receive(bystander, "error"))["detail"] == "只有接警的坐席和当事人可以加入通话"

    # The reporter may watch and join; a still waiting case can't be joined yet.
    waiting = await report(http, server.party(LATER))
    later = await page(server, server.party(LATER))
    await later.send(json.dumps({"type": "watch", "case_id": waiting}))
    position = await receive(later, "position")
    assert position["position"] == 1 and position["estimated_wait_seconds"] > 0
    await later.send(json.dumps({"type": "join", "case_id": waiting}))
    assert (await receive(later, "error"))["detail"] == "案件当前不在视频通话中"
    for ws in (stranger, bystander, later):
        await ws.close()


async def test_dropped_party_reconnects_to_the_same_operator_within_the_grace(
    server: ThreadedServer, http: httpx.AsyncClient
) -> None:
    party_token, operator_token = server.party(PARTY), server.operator("op-grace")
    case_id = await report(http, party_token)
    assert (await http.post("/api/calls/take-next", headers=bearer(operator_token))).json()[
        "case_id"
    ] == case_id
    later_case = await report(http, server.party(LATER))

    console = await page(server, operator_token)
    await console.send(json.dumps({"type": "join", "case_id": case_id}))
    await receive(console, "joined")

    async def party_joins() -> ClientConnection:
        phone = await page(server, party_token)
        await phone.send(json.dumps({"type": "watch", "case_id": case_id}))
        assert (await receive(phone, "watching"))["state"] == "in_call"
        await phone.send(json.dumps({"type": "join", "case_id": case_id}))
        await receive(phone, "joined")
        assert (await receive(console, "peer")) == {
            "type": "peer",
            "case_id": case_id,
            "event": "joined",
            "role": "party",
        }
        # Signaling relays through the server (and the bus) to the other side only.
        await phone.send(json.dumps({"type": "signal", "case_id": case_id, "data": {"kind": "here"}}))
        assert (await receive(console, "signal"))["data"] == {"kind": "here"}
        return phone

    phone = await party_joins()
    # The connection drops (no closing handshake); the operator hears about it.
    phone.transport.abort()
    assert (await receive(console, "peer"))["event"] == "left"

    # Within the grace period nothing moves; the party comes back to the same operator.
    server.clock.advance(timedelta(seconds=45))
    await server.sweep()
    case = (await http.get(f"/api/cases/{case_id}", headers=bearer(party_token))).json()
    assert case["state"] == "in_call"
    phone = await party_joins()

    # Gone for longer than the grace: back to the head of the queue, the operator wraps up.
    await phone.close()
    assert (await receive(console, "peer"))["event"] == "left"
    server.clock.advance(timedelta(seconds=server.context.settings.call_grace_seconds + 1))
    await server.sweep()
    case = (await http.get(f"/api/cases/{case_id}", headers=bearer(party_token))).json()
    assert case["state"] == "queued" and case["operator_id"] is None
    queue = (await http.get("/api/calls/queue", headers=bearer(operator_token))).json()
    assert [(w["case_id"], w["position"], w["returned"]) for w in queue["waiting"]] == [
        (case_id, 1, True),
        (later_case, 2, False),
    ]
    assert queue["me"]["status"] == "wrap_up"
    timeline = (await http.get(f"/api/cases/{case_id}/timeline", headers=bearer(party_token))).json()
    assert [e["kind"] for e in timeline][-1] == "requeue"

    await console.close()


async def test_an_operator_whose_console_closes_while_available_goes_away(
    server: ThreadedServer, http: httpx.AsyncClient
) -> None:
    """The console's connection is the heartbeat: the tab closes, the operator is away within
    the presence timeout, and the next caller is offered to someone who is really there."""
    gone_token, there_token = server.operator("op-gone"), server.operator("op-there")
    gone, there = await page(server, gone_token), await page(server, there_token)
    available = {"status": "available"}
    for token in (gone_token, there_token):  # op-gone first: the longer idle
        response = await http.put("/api/operators/me/presence", json=available, headers=bearer(token))
        assert response.status_code == 200
        server.clock.advance(timedelta(seconds=1))
    gone_id = (await http.get("/api/calls/current", headers=bearer(gone_token))).json()["presence"][
        "operator_id"
    ]

    def consoles_open() -> int:
        return server.context.database.write_sync(
            lambda s: s.get(OperatorPresence, gone_id).console_connections  # type: ignore[union-attr]
        )

    gone.transport.abort()  # the tab is closed: no closing handshake
    await gone.wait_closed()
    wait_until(lambda: consoles_open() == 0 or None, what="the closed console to be recorded")
    # Within the timeout a reload could still come back; past it, away.
    server.clock.advance(timedelta(seconds=server.context.settings.presence_timeout_seconds / 2 - 1))
    await server.sweep()
    status = (await http.get("/api/calls/current", headers=bearer(gone_token))).json()["presence"]["status"]
    assert status == "available"
    server.clock.advance(timedelta(seconds=1))
    await server.sweep()
    status = (await http.get("/api/calls/current", headers=bearer(gone_token))).json()["presence"]
    assert (status["status"], status["status_label"]) == ("away", "离开")

    case_id = await report(http, server.party(PARTY))
    offer = await receive(there, "offer")
    assert offer["case_id"] == case_id and offer["presence"]["status"] == "busy"
    assert (await http.get("/api/calls/current", headers=bearer(gone_token))).json()["case_id"] is None
    await there.close()


async def test_a_socket_opens_with_a_one_time_ticket_never_a_token(
    server: ThreadedServer, http: httpx.AsyncClient
) -> None:
    token = server.party(PARTY)
    # The login token itself is no way in, even a valid one.
    assert await refused(f"ws{server.url.removeprefix('http')}/ws?token={token}") == 4401

    url = await socket_url(server, token)
    assert token not in url
    first = await connect(url)
    hello = json.loads(await first.recv())
    assert hello["type"] == "hello" and hello["role"] == "party"
    # A ticket is spent by its first use.
    assert await refused(url) == 4401
    await first.close()


async def test_a_ticket_expires_in_seconds(server: ThreadedServer, http: httpx.AsyncClient) -> None:
    url = await socket_url(server, server.party(PARTY))
    server.clock.advance(timedelta(seconds=31))
    assert await refused(url) == 4401


async def test_a_binary_frame_gets_a_clear_close(server: ThreadedServer, http: httpx.AsyncClient) -> None:
    ws = await page(server, server.party(PARTY))
    await ws.send(b"\x00\x01binary")
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1003 and closed.value.rcvd.reason == "只接受文本（JSON）消息"


async def test_a_page_reading_english_is_told_in_english_and_given_the_key(
    server: ThreadedServer, http: httpx.AsyncClient
) -> None:
    """The page names its language in the socket's URL: refusals, the wait and why nobody
    answers yet are said in it; a Chinese page on the same queue still reads Chinese."""
    token = server.party(PARTY)
    case_id = await report(http, token)
    english = await connect(f"{await socket_url(server, token)}&locale=en")
    assert (await receive(english))["locale"] == "en"
    chinese = await page(server, token)

    for ws in (english, chinese):
        await ws.send("not json")
    refusal = await receive(english, "error")
    assert (refusal["title"], refusal["detail"]) == ("Invalid input", "The message is not valid JSON")
    assert refusal["key"] == (await receive(chinese, "error"))["key"] == "Signal.not_json"

    for ws in (english, chinese):
        await ws.send(json.dumps({"type": "watch", "case_id": case_id}))
    told, heard = await receive(english, "position"), await receive(chinese, "position")
    assert told["estimated_wait_text"] is None  # nobody on duty: no honest estimate
    assert told["service"]["reason"] == heard["service"]["reason"] == "nobody_on_duty"
    assert told["service"]["message"] == (
        "No operator is on duty now: you may keep waiting, or call 122 to report the accident"
    )
    assert heard["service"]["message"] == "当前没有接警员在岗，您可以继续等待，或请拨打122报警"

    await english.send(b"\x00")
    with pytest.raises(ConnectionClosed) as closed:
        while True:  # past the pushes still on their way
            await english.recv()
    assert (
        closed.value.rcvd is not None and closed.value.rcvd.reason == "Only text (JSON) messages are accepted"
    )
    await chinese.close()


async def test_deactivation_closes_an_open_console_at_its_next_message(
    server: ThreadedServer, http: httpx.AsyncClient
) -> None:
    console = await page(server, server.operator("op-leaving"))
    await console.send(json.dumps({"type": "ping", "t": 1}))
    assert (await receive(console, "pong"))["t"] == 1

    now = server.clock.now()
    server.context.database.write_sync(lambda s: sessions.deactivate_user(s, "op-leaving", SYSTEM, now))

    await console.send(json.dumps({"type": "ping", "t": 2}))
    with pytest.raises(ConnectionClosed) as closed:
        await receive(console, "pong")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_a_staff_ticket_of_a_revoked_session_opens_nothing(
    server: ThreadedServer, http: httpx.AsyncClient
) -> None:
    token = server.operator("op-moved")
    url = await socket_url(server, token)
    now = server.clock.now()
    server.context.database.write_sync(
        lambda s: sessions.change_role(s, "op-moved", Role.OFFICER, SYSTEM, now)
    )
    assert await refused(url) == 4401


async def test_a_page_that_switches_language_is_answered_in_it_on_the_same_socket(
    server: ThreadedServer, http: httpx.AsyncClient
) -> None:
    ws = await page(server, server.party(PARTY))
    await ws.send(json.dumps({"type": "locale", "locale": "en"}))
    assert (await receive(ws, "locale"))["locale"] == "en"
    await ws.send("not json")
    assert (await receive(ws, "error"))["detail"] == "The message is not valid JSON"
    await ws.send(json.dumps({"type": "locale", "locale": "klingon"}))
    assert (await receive(ws, "locale"))["locale"] == "zh-CN"  # what is not shipped reads Chinese
