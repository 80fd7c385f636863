"""The outbox: messages written with a state change are delivered once, whatever crashes."""

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.bus import EventBus, InProcessBus
from kuaichu.cases.models import Case
from kuaichu.clock import FrozenClock
from kuaichu.db import Database
from kuaichu.geo.models import Jurisdiction
from kuaichu.messages.catalogue import Locale, messages
from kuaichu.notify.dispatcher import OutboxDispatcher, retry_delay
from kuaichu.notify.gateways import (
    DatabaseSmsGateway,
    HttpSmsGateway,
    PushGateway,
    SmsGateway,
    sms_gateway_from_settings,
)
from kuaichu.notify.models import OutboxMessage, SmsMessage
from kuaichu.notify.outbox import enqueue_push, enqueue_sms, mask_phone
from kuaichu.notify.templates import Sms, render
from kuaichu.scheduler import Scheduler
from kuaichu.settings import Settings

PHONE = "13812345678"
LEASE_SECONDS = 60


def dispatcher(
    database: Database,
    clock: FrozenClock,
    sms_gateway: SmsGateway | None = None,
    bus: EventBus | None = None,
    max_attempts: int = 5,
) -> OutboxDispatcher:
    return OutboxDispatcher(
        database=database,
        clock=clock,
        sms_gateway=sms_gateway or DatabaseSmsGateway(database, clock),
        push_gateway=PushGateway(bus or InProcessBus()),
        max_attempts=max_attempts,
        lease_seconds=LEASE_SECONDS,
        public_base_url="https://kuaichu.example",
    )


LOGIN_TEXT = "【快处】您的登录验证码为123456，5分钟内有效。如非本人操作请忽略。"


def login_code(code: str = "123456") -> dict[str, object]:
    """The login-code template's arguments to enqueue_sms."""
    return {"template": Sms.LOGIN_CODE, "parameters": {"code": code, "minutes": "5"}}


async def enqueue_login_code(database: Database, clock: FrozenClock, key: str = "login-code:1") -> None:
    await database.write(lambda s: enqueue_sms(s, phone=PHONE, **login_code(), key=key, now=clock.now()))


async def sms_rows(database: Database) -> list[SmsMessage]:
    return await database.read(lambda s: list(s.scalars(select(SmsMessage).order_by(SmsMessage.id))))


async def outbox_row(database: Database, key: str) -> OutboxMessage:
    return await database.read(
        lambda s: s.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).one()
    )


class RecordingSms:
    """A gateway that remembers what it sent and lets a test await the next send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.sent_event = asyncio.Event()

    async def send(self, *, phone: str, text: str, idempotency_key: str) -> None:
        self.sent.append((phone, text, idempotency_key))
        self.sent_event.set()


class BrokenSms:
    def __init__(self) -> None:
        self.calls = 0

    async def send(self, *, phone: str, text: str, idempotency_key: str) -> None:
        self.calls += 1
        raise ConnectionError(f"provider rejected {phone}")


class SimulatedCrash(BaseException):
    """The process dying: not an Exception, so nothing in the dispatcher handles it."""


class CrashAfterSending:
    """Really sends, then 'dies' before the dispatcher can mark the message sent."""

    def __init__(self, inner: SmsGateway) -> None:
        self.inner = inner

    async def send(self, *, phone: str, text: str, idempotency_key: str) -> None:
        await self.inner.send(phone=phone, text=text, idempotency_key=idempotency_key)
        raise SimulatedCrash


# Enqueuing.


def test_phones_are_masked_for_logs_and_pages() -> None:
    assert mask_phone("13812345678") == "138****5678"


def test_an_sms_carrying_anything_but_its_fixed_parameters_is_refused() -> None:
    render(Sms.EVACUATE, {"case_number": "3301062026112500001"}, "https://kuaichu.example")
    for parameters in (
        {"case_number": "3301062026112500001 请速登录 kc-pay.cn 退保证金"},
        {"case_number": "3301062026112500001", "name": "张伟"},
        {},
    ):
        with pytest.raises(ValueError):
            render(Sms.EVACUATE, parameters, "https://kuaichu.example")


def test_every_official_sms_links_only_to_the_products_own_party_page() -> None:
    text = render(Sms.SEND_BACK, {"case_number": "3301062026112500001"}, "https://kuaichu.example/")
    assert "https://kuaichu.example/party" in text
    # The registered SMS signature, in every locale.
    assert all(messages(locale)[sms.key].startswith("【快处】") for sms in Sms for locale in Locale)


async def test_the_same_key_enqueued_twice_is_one_message_and_the_transaction_still_commits(
    database: Database, clock: FrozenClock
) -> None:
    def enqueue_twice_and_more(session: Session) -> None:
        enqueue_sms(session, phone=PHONE, **login_code("111111"), key="k:1", now=clock.now())
        enqueue_sms(session, phone=PHONE, **login_code("111111"), key="k:1", now=clock.now())
        enqueue_sms(session, phone=PHONE, **login_code("222222"), key="k:2", now=clock.now())

    await database.write(enqueue_twice_and_more)
    await database.write(
        lambda s: enqueue_sms(s, phone=PHONE, **login_code("111111"), key="k:1", now=clock.now())
    )

    keys = await database.read(
        lambda s: list(s.scalars(select(OutboxMessage.idempotency_key).order_by(OutboxMessage.id)))
    )
    assert keys == ["k:1", "k:2"]


# Delivery.


async def test_an_enqueued_sms_is_delivered_once(database: Database, clock: FrozenClock) -> None:
    await enqueue_login_code(database, clock)
    outbox = dispatcher(database, clock)

    assert await outbox.run_once() == 1
    assert await outbox.run_once() == 0

    [sms] = await sms_rows(database)
    assert (sms.phone, sms.text, sms.idempotency_key) == (
        PHONE,
        LOGIN_TEXT,
        "login-code:1",
    )
    row = await outbox_row(database, "login-code:1")
    assert (row.status, row.sent_at, row.attempts) == ("sent", clock.now(), 0)


async def test_delivery_survives_a_restart(database: Database, clock: FrozenClock) -> None:
    before = Database(database.url)
    await enqueue_login_code(before, clock)
    # The process dies after the caller's commit, before any dispatcher ran.
    before.dispose()

    after = Database(database.url)
    try:
        assert await dispatcher(after, clock).run_once() == 1
    finally:
        after.dispose()

    assert [sms.idempotency_key for sms in await sms_rows(database)] == ["login-code:1"]


async def test_a_crash_between_sending_and_marking_sent_does_not_send_twice(
    database: Database, clock: FrozenClock
) -> None:
    await enqueue_login_code(database, clock)
    before = Database(database.url)
    with pytest.raises(SimulatedCrash):
        await dispatcher(before, clock, CrashAfterSending(DatabaseSmsGateway(before, clock))).run_once()
    before.dispose()
    assert len(await sms_rows(database)) == 1
    assert (await outbox_row(database, "login-code:1")).status == "pending"

    after = Database(database.url)
    try:
        restarted = dispatcher(after, clock)
        # The dead process's lease still holds the message...
        assert await restarted.run_once() == 0
        # ...until it expires; then it is sent again, with the same idempotency key.
        clock.advance(timedelta(seconds=LEASE_SECONDS + 1))
        assert await restarted.run_once() == 1
    finally:
        after.dispose()

    assert [sms.idempotency_key for sms in await sms_rows(database)] == ["login-code:1"]
    assert (await outbox_row(database, "login-code:1")).status == "sent"


async def test_a_failing_gateway_is_retried_with_backoff_and_given_up_after_max_attempts(
    database: Database, clock: FrozenClock
) -> None:
    await enqueue_login_code(database, clock)
    gateway = BrokenSms()
    outbox = dispatcher(database, clock, gateway, max_attempts=3)

    assert await outbox.run_once() == 0
    row = await outbox_row(database, "login-code:1")
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == clock.now() + retry_delay(1)
    # Personal data stays out of the recorded error.
    assert row.last_error == "ConnectionError: provider rejected 138****5678"

    # Not due yet: nothing is tried.
    assert await outbox.run_once() == 0
    assert gateway.calls == 1

    clock.advance(retry_delay(1))
    assert await outbox.run_once() == 0
    row = await outbox_row(database, "login-code:1")
    assert (row.status, row.attempts, gateway.calls) == ("pending", 2, 2)
    assert row.next_attempt_at == clock.now() + retry_delay(2)
    assert retry_delay(2) == 2 * retry_delay(1)

    clock.advance(retry_delay(2))
    assert await outbox.run_once() == 0
    row = await outbox_row(database, "login-code:1")
    assert (row.status, row.attempts, gateway.calls) == ("dead", 3, 3)
    assert row.last_error is not None and PHONE not in row.last_error

    clock.advance(timedelta(days=1))
    assert await outbox.run_once() == 0
    assert gateway.calls == 3


async def test_two_dispatchers_running_at_once_deliver_each_message_once(
    database: Database, clock: FrozenClock
) -> None:
    keys = [f"login-code:{n}" for n in range(120)]

    def enqueue_all(session: Session) -> None:
        for key in keys:
            enqueue_sms(session, phone=PHONE, **login_code(f"{len(key):06d}"), key=key, now=clock.now())

    await database.write(enqueue_all)
    first, second = RecordingSms(), RecordingSms()
    other_process = Database(database.url)
    try:
        delivered = await asyncio.gather(
            dispatcher(database, clock, first).run_once(),
            dispatcher(other_process, clock, second).run_once(),
        )
    finally:
        other_process.dispose()

    assert sum(delivered) == len(keys)
    assert sorted(key for _, _, key in first.sent + second.sent) == sorted(keys)


async def test_the_scheduled_dispatcher_delivers_at_once_when_woken(
    database: Database, clock: FrozenClock
) -> None:
    gateway = RecordingSms()
    scheduler = Scheduler()
    scheduler.add("outbox", 3600, dispatcher(database, clock, gateway).run_once, at_start=True)
    scheduler.start()
    try:
        await enqueue_login_code(database, clock)
        scheduler.wake("outbox")
        # The poll interval is an hour: only the wake-up can deliver within the timeout.
        await asyncio.wait_for(gateway.sent_event.wait(), timeout=10)
    finally:
        await scheduler.stop()

    assert [key for _, _, key in gateway.sent] == ["login-code:1"]


# Page pushes.


async def test_a_push_reaches_the_pages_subscribed_to_the_case(
    database: Database, clock: FrozenClock, bus: EventBus
) -> None:
    def create_case(session: Session) -> int:
        jurisdiction = Jurisdiction(code="330106", name="西湖区", authority_name="西湖大队", boundary={})
        session.add(jurisdiction)
        session.flush()
        case = Case(
            number="20261125330106001",
            jurisdiction_id=jurisdiction.id,
            state="collected",
            reporter_phone=PHONE,
            reported_at=clock.now(),
            report_lat=30.26,
            report_lng=120.10,
            updated_at=clock.now(),
        )
        session.add(case)
        session.flush()
        enqueue_push(
            session,
            case_id=case.id,
            event={"event": "evacuate", "case_id": case.id, "at": clock.now()},
            key=f"push:case:{case.id}:evacuate",
            now=clock.now(),
        )
        return case.id

    async with bus.subscribe("case:999999") as elsewhere:
        case_id = await database.write(create_case)
        async with bus.subscribe(f"case:{case_id}") as page:
            assert await dispatcher(database, clock, bus=bus).run_once() == 1
            assert await page.get(timeout=5) == {
                "event": "evacuate",
                "case_id": case_id,
                "at": str(clock.now()),
            }
        assert await elsewhere.get(timeout=0.1) is None


# The HTTP SMS gateway, against a real HTTP receiver.


class SmsReceiver:
    """A provider's endpoint on a free local port: records requests, answers planned statuses."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep phone numbers out of the test output too

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def sms_receiver() -> Iterator[SmsReceiver]:
    receiver = SmsReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


async def test_the_http_gateway_posts_with_idempotency_key_and_retries_a_server_error(
    database: Database, clock: FrozenClock, sms_receiver: SmsReceiver
) -> None:
    settings = Settings(sms_gateway="http", sms_http_url=sms_receiver.url, sms_http_token="provider-token")
    gateway = sms_gateway_from_settings(settings, database, clock)
    assert isinstance(gateway, HttpSmsGateway)
    await enqueue_login_code(database, clock)
    outbox = dispatcher(database, clock, gateway)

    sms_receiver.statuses = [500]
    assert await outbox.run_once() == 0
    row = await outbox_row(database, "login-code:1")
    assert (row.status, row.attempts, row.last_error) == (
        "pending",
        1,
        "SmsGatewayError: SMS gateway answered HTTP 500",
    )

    clock.advance(retry_delay(1))
    assert await outbox.run_once() == 1
    assert (await outbox_row(database, "login-code:1")).status == "sent"

    assert len(sms_receiver.requests) == 2
    for request in sms_receiver.requests:
        assert request["path"] == "/sms"
        assert request["json"] == {"phone": PHONE, "text": LOGIN_TEXT}
        assert request["headers"]["Idempotency-Key"] == "login-code:1"
        assert request["headers"]["Authorization"] == "Bearer provider-token"


async def test_an_unreachable_http_gateway_leaves_the_message_for_a_retry(
    database: Database, clock: FrozenClock, sms_receiver: SmsReceiver
) -> None:
    url = sms_receiver.url
    sms_receiver.server.shutdown()
    sms_receiver.server.server_close()
    await enqueue_login_code(database, clock)

    assert await dispatcher(database, clock, HttpSmsGateway(url, "t", timeout_seconds=2)).run_once() == 0

    row = await outbox_row(database, "login-code:1")
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "SmsGatewayError: SMS gateway unreachable: ConnectError"


async def test_the_database_gateway_keeps_names_and_numbers_out_of_the_log(
    database: Database, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    quiet = DatabaseSmsGateway(database, clock)
    with caplog.at_level("INFO", logger="kuaichu.notify.gateways"):
        await quiet.send(phone="13812345678", text="张伟您好，浙A12345已认定", idempotency_key="k1")
    assert "138****5678" in caplog.text
    assert "13812345678" not in caplog.text
    assert "张伟" not in caplog.text and "浙A12345" not in caplog.text
    assert [sms.text for sms in await sms_rows(database)] == ["张伟您好，浙A12345已认定"]
