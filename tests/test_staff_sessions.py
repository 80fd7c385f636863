"""Staff sessions end when they should, logins are throttled, credentials are checked at the
edge, pages carry security headers, and TURN credentials and metrics are not for anyone."""

import ast
import base64
import hashlib
import hmac
import inspect
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import STAFF_PASSWORD, XIHU, Api
from fastapi import routing
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session

from kuaichu.app import create_app
from kuaichu.audit.models import AuditEntry
from kuaichu.auth import sessions
from kuaichu.cases.lifecycle import CaseState
from kuaichu.cases.models import Case
from kuaichu.clock import FrozenClock
from kuaichu.principal import SYSTEM, Role
from kuaichu.settings import Settings

PARTY = "13800006666"
TURN_SECRET = "coturn-static-auth-secret"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "turn_urls": ["turn:turn.kuaichu.test:3478", "turns:turn.kuaichu.test:5349"],
            "turn_secret": TURN_SECRET,
            "turn_ttl_seconds": 600,
        }
    )


async def staff_login(api: Api, username: str, password: str = STAFF_PASSWORD) -> dict[str, str]:
    response = await api.client.post("/api/auth/staff", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def me(api: Api, tokens: dict[str, str]) -> int:
    return (await api.client.get("/api/auth/me", headers=bearer(tokens))).status_code


async def refresh(api: Api, refresh_token: str) -> tuple[int, dict[str, str]]:
    response = await api.client.post("/api/auth/refresh", json={"refresh_token": refresh_token})
    return response.status_code, response.json()


async def actions(api: Api, action: str) -> list[AuditEntry]:
    return await api.context.database.read(
        lambda s: list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))
    )


# Revocation.


def deactivate(session: Session, now: object) -> object:
    return sessions.deactivate_user(session, "op-xihu", SYSTEM, now)  # type: ignore[arg-type]


def make_officer(session: Session, now: object) -> object:
    return sessions.change_role(session, "op-xihu", Role.OFFICER, SYSTEM, now)  # type: ignore[arg-type]


def new_password(session: Session, now: object) -> object:
    return sessions.change_password(session, "op-xihu", "another-password-7", SYSTEM, now)  # type: ignore[arg-type]


@pytest.mark.parametrize("change", [deactivate, make_officer, new_password])
async def test_an_account_change_ends_its_sessions_on_the_next_request(api: Api, change: object) -> None:
    await api.staff("op-xihu", Role.OPERATOR, "330106")
    tokens = await staff_login(api, "op-xihu")
    assert await me(api, tokens) == 200

    now = api.context.clock.now()
    await api.context.database.write(lambda s: change(s, now))  # type: ignore[operator]

    assert await me(api, tokens) == 401
    status, _ = await refresh(api, tokens["refresh_token"])
    assert status == 401


async def test_a_deactivated_operator_cannot_go_available_nor_log_in(api: Api) -> None:
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    now = api.context.clock.now()
    await api.context.database.write(lambda s: deactivate(s, now))

    presence = await api.client.put(
        "/api/operators/me/presence", json={"status": "available"}, headers=operator
    )
    assert presence.status_code == 401
    login = await api.client.post("/api/auth/staff", json={"username": "op-xihu", "password": STAFF_PASSWORD})
    assert login.status_code == 401


async def test_a_deactivated_operator_who_was_available_is_offered_no_call(api: Api) -> None:
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    available = await api.client.put(
        "/api/operators/me/presence", json={"status": "available"}, headers=operator
    )
    assert available.status_code == 200, available.text
    now = api.context.clock.now()
    await api.context.database.write(lambda s: deactivate(s, now))

    reported = await api.client.post("/api/calls", json=XIHU, headers=await api.agreed_party(PARTY))
    assert reported.status_code == 201, reported.text
    case_id = reported.json()["case_id"]
    state = await api.context.database.read(lambda s: s.get(Case, case_id).state)  # type: ignore[union-attr]
    assert state == CaseState.QUEUED


# A read checks the session inside its own transaction (kuaichu.db.Precondition).


@contextmanager
def transactions(api: Api) -> Iterator[list[list[str]]]:
    """The statements of each transaction the app runs meanwhile, one list per transaction."""
    seen: list[list[str]] = []
    open_ones: dict[int, list[str]] = {}

    def began(connection: Connection) -> None:
        open_ones[id(connection)] = []
        seen.append(open_ones[id(connection)])

    def executed(connection: Connection, *args: object) -> None:
        open_ones.setdefault(id(connection), []).append(str(args[1]))

    engines = {api.context.database.writer, api.context.database.reader}
    for engine in engines:
        event.listen(engine, "begin", began)
        event.listen(engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "begin", began)
            event.remove(engine, "before_cursor_execute", executed)


async def queued_case(api: Api) -> int:
    reported = await api.client.post("/api/calls", json=XIHU, headers=await api.agreed_party(PARTY))
    assert reported.status_code == 201, reported.text
    return reported.json()["case_id"]


@pytest.mark.parametrize(
    ("method", "path", "own_statement"),
    [("GET", "/api/cases/{}", "FROM cases"), ("POST", "/api/cases/{}/take", "UPDATE cases")],
    ids=["case read", "take"],
)
async def test_a_request_without_a_body_checks_the_session_in_its_own_transaction(
    api: Api, method: str, path: str, own_statement: str
) -> None:
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    case_id = await queued_case(api)

    with transactions(api) as seen:
        answer = await api.client.request(method, path.format(case_id), headers=operator)

    assert answer.status_code == 200, answer.text
    (own,) = [t for t in seen if any(own_statement in sql for sql in t)]
    assert "FROM users" in own[0]  # the session's check, first
    assert not [t for t in seen if t is not own and any("FROM users" in sql for sql in t)]


async def deactivated_operator_and_a_queued_case(api: Api) -> tuple[dict[str, str], int]:
    """An operator's login, and a case in their queue, after the account was deactivated."""
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    case_id = await queued_case(api)
    now = api.context.clock.now()
    await api.context.database.write(lambda s: deactivate(s, now))
    return operator, case_id


async def test_a_deactivated_operators_case_read_is_refused_and_leaves_no_trace(api: Api) -> None:
    operator, case_id = await deactivated_operator_and_a_queued_case(api)

    read = await api.client.get(f"/api/cases/{case_id}", headers=operator)

    assert read.status_code == 401
    assert read.json()["detail"] == (await api.client.get("/api/auth/me", headers=operator)).json()["detail"]
    reads = await api.context.database.read(
        lambda s: s.scalars(select(AuditEntry).where(AuditEntry.action == "read_case")).all()
    )
    assert reads == []


async def test_a_read_that_touches_no_data_still_refuses_an_ended_session(api: Api) -> None:
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    assert (await api.client.get("/api/auth/ice-servers", headers=operator)).status_code == 200
    now = api.context.clock.now()
    await api.context.database.write(lambda s: deactivate(s, now))

    refused = await api.client.get("/api/auth/ice-servers", headers=operator)

    assert refused.status_code == 401
    assert "credential" not in refused.text
    assert refused.headers["content-security-policy"]  # the edge's headers, as on any answer


async def test_a_deactivated_operator_cannot_take_a_case_and_nothing_changes(api: Api) -> None:
    operator, case_id = await deactivated_operator_and_a_queued_case(api)

    taken = await api.client.post(f"/api/cases/{case_id}/take", headers=operator)

    assert taken.status_code == 401
    case = await api.context.database.read(lambda s: s.get(Case, case_id))
    assert case is not None and case.state == CaseState.QUEUED and case.operator_id is None
    assert await actions(api, "take_case") == []


UNITS_OF_WORK = frozenset({"read", "write", "read_small", "write_small"})


def begins_with_a_unit_of_work(function: Callable[..., object], depth: int = 0) -> bool:
    """Whether the first thing `function` awaits is a unit of work, directly or through the
    helper it awaits first (a route that awaits nothing touches no data)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    awaits = sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Await)), key=lambda n: (n.lineno, n.col_offset)
    )
    if not awaits:
        return True
    assert isinstance(awaits[0].value, ast.Call)
    called = ast.unparse(awaits[0].value.func)
    owner, _, name = called.rpartition(".")
    if name in UNITS_OF_WORK and owner.endswith("database"):
        return True
    helper: object = function.__globals__[called.split(".")[0]]
    for part in called.split(".")[1:]:
        helper = getattr(helper, part)
    return depth < 2 and callable(helper) and begins_with_a_unit_of_work(helper, depth + 1)


def test_every_write_route_without_a_body_begins_with_its_unit_of_work() -> None:
    """Such a route's session is checked inside its first unit of work (one transaction fewer):
    nothing it does before that unit may escape the check."""
    late = sorted(
        context.path
        for context in routing.iter_route_contexts(create_app().routes)
        if isinstance(route := context.original_route, routing.APIRoute)
        and route.methods & {"POST", "PUT", "PATCH", "DELETE"}
        and not route.dependant.body_params
        and not begins_with_a_unit_of_work(route.endpoint)
    )
    assert late == []


# Short access tokens, rotating refresh tokens.


async def test_the_access_token_lapses_in_minutes_and_the_refresh_token_rotates(
    api: Api, clock: FrozenClock
) -> None:
    await api.staff("op-xihu", Role.OPERATOR, "330106")
    first = await staff_login(api, "op-xihu")
    assert first["expires_in"] == 15 * 60

    clock.advance(timedelta(minutes=16))
    assert await me(api, first) == 401

    status, second = await refresh(api, first["refresh_token"])
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert await me(api, second) == 200


async def test_a_refresh_token_used_twice_ends_the_whole_session(api: Api) -> None:
    await api.staff("op-xihu", Role.OPERATOR, "330106")
    first = await staff_login(api, "op-xihu")
    status, second = await refresh(api, first["refresh_token"])
    assert status == 200

    replayed, _ = await refresh(api, first["refresh_token"])
    assert replayed == 401
    # The copy was used: the thread it belongs to is cut, the legitimate holder logs in again.
    after, _ = await refresh(api, second["refresh_token"])
    assert after == 401
    assert [e.detail["username"] for e in await actions(api, "refresh_reuse")] == ["op-xihu"]


async def test_logging_out_revokes_the_refresh_token(api: Api) -> None:
    await api.staff("op-xihu", Role.OPERATOR, "330106")
    tokens = await staff_login(api, "op-xihu")
    response = await api.client.post(
        "/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=bearer(tokens)
    )
    assert response.status_code == 204
    status, _ = await refresh(api, tokens["refresh_token"])
    assert status == 401


async def test_a_refresh_token_ends_with_the_shift(api: Api, clock: FrozenClock) -> None:
    await api.staff("op-xihu", Role.OPERATOR, "330106")
    tokens = await staff_login(api, "op-xihu")
    for _ in range(11):
        clock.advance(timedelta(hours=1))
        status, tokens = await refresh(api, tokens["refresh_token"])
        assert status == 200
    clock.advance(timedelta(hours=1))
    status, _ = await refresh(api, tokens["refresh_token"])
    assert status == 401


# Throttle and lockout.


async def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(
    api: Api, clock: FrozenClock
) -> None:
    await api.staff("op-xihu", Role.OPERATOR, "330106")
    for _ in range(5):
        wrong = await api.client.post(
            "/api/auth/staff", json={"username": "op-xihu", "password": "guess-1234"}
        )
        assert wrong.status_code == 401

    locked = await api.client.post(
        "/api/auth/staff", json={"username": "op-xihu", "password": STAFF_PASSWORD}
    )
    assert locked.status_code == 429
    assert "账号已临时锁定" in locked.json()["detail"]
    (entry,) = await actions(api, "staff_lockout")
    assert entry.detail["username"] == "op-xihu" and entry.detail["scope"] == "account"

    clock.advance(timedelta(minutes=15))
    await staff_login(api, "op-xihu")


async def test_an_address_gets_twenty_failures_an_hour(api: Api, clock: FrozenClock) -> None:
    await api.staff("op-xihu", Role.OPERATOR, "330106")
    for n in range(20):
        guess = await api.client.post(
            "/api/auth/staff", json={"username": f"user{n}", "password": "guess-1234"}
        )
        assert guess.status_code == 401

    throttled = await api.client.post(
        "/api/auth/staff", json={"username": "op-xihu", "password": STAFF_PASSWORD}
    )
    assert throttled.status_code == 429
    assert "一小时后再试" in throttled.json()["detail"]
    assert [e.detail["scope"] for e in await actions(api, "staff_lockout")] == ["address"]

    clock.advance(timedelta(hours=1))
    await staff_login(api, "op-xihu")


# Credentials before the body.


class CountingBody:
    """A 50 MB multipart body that records how much of it the server pulled."""

    def __init__(self, megabytes: int = 50) -> None:
        self.megabytes = megabytes
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        for _ in range(self.megabytes):
            self.sent += 1024 * 1024
            yield b"\xff" * (1024 * 1024)
        yield b"\r\n--b--\r\n"


@pytest.mark.parametrize("authorization", [None, "Bearer forged", "Bearer "])
async def test_an_upload_without_valid_credentials_is_refused_before_its_body_is_read(
    api: Api, authorization: str | None
) -> None:
    body = CountingBody()
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    if authorization:
        headers["Authorization"] = authorization
    response = await api.client.post("/api/cases/1/evidence", content=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert body.sent <= 1024 * 1024  # at most the first chunk, never the 50 MB


async def test_a_revoked_staff_token_uploads_nothing(api: Api) -> None:
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    now = api.context.clock.now()
    await api.context.database.write(lambda s: deactivate(s, now))
    body = CountingBody()
    headers = {"Content-Type": "multipart/form-data; boundary=b", **operator}
    response = await api.client.post("/api/cases/1/evidence", content=body, headers=headers)
    assert response.status_code == 401
    assert body.sent <= 1024 * 1024


# Headers.


@pytest.mark.parametrize("path", ["/party", "/console", "/api/calls/config", "/health", "/verify/X"])
async def test_pages_and_the_api_carry_security_headers(api: Api, path: str) -> None:
    response = await api.client.get(path)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers  # plain http: no HSTS


async def test_hsts_is_sent_over_tls(api: Api) -> None:
    response = await api.client.get("https://kuaichu.test/party")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_no_page_has_inline_script_style_or_handlers() -> None:
    import re

    templates = Path(__file__).parent.parent / "src" / "kuaichu" / "web" / "templates"
    for page in templates.glob("*.html"):
        html = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), page.name
        assert "<style" not in html and " style=" not in html, page.name
        assert not re.search(r"\son[a-z]+\s*=", html), page.name


# Metrics and TURN.


async def test_metrics_are_not_served_without_a_configured_token(api: Api) -> None:
    assert (await api.client.get("/metrics")).status_code == 404


async def test_ice_servers_with_turn_need_a_login(api: Api) -> None:
    assert (await api.client.get("/api/auth/ice-servers")).status_code == 401
    anonymous = (await api.client.get("/api/calls/config")).json()["ice_servers"]
    assert all("credential" not in server for server in anonymous)


async def test_turn_credentials_follow_coturns_rest_secret_and_expire(api: Api) -> None:
    party = await api.agreed_party(PARTY)
    response = await api.client.get("/api/auth/ice-servers", headers=party)
    assert response.status_code == 200
    (turn,) = [s for s in response.json()["ice_servers"] if "credential" in s]
    assert turn["urls"] == ["turn:turn.kuaichu.test:3478", "turns:turn.kuaichu.test:5349"]

    expiry, _, user = turn["username"].partition(":")
    assert int(expiry) == int((api.context.clock.now() + timedelta(seconds=600)).timestamp())
    assert user.startswith("party-") and PARTY not in user
    expected = hmac.new(TURN_SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(expected).decode()


async def test_a_websocket_ticket_needs_a_login(api: Api) -> None:
    assert (await api.client.post("/api/auth/ws-ticket")).status_code == 401
    ticket = await api.client.post("/api/auth/ws-ticket", headers=await api.agreed_party(PARTY))
    assert ticket.status_code == 200 and ticket.json()["expires_in"] == 30
