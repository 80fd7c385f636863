"""Where outbox messages go: an SMS gateway (database or HTTP) and the page-push gateway.

Every gateway raises on failure; the dispatcher then retries. SMS gateways take the outbox
row's idempotency key so a message re-sent after a crash is not delivered twice.
"""

import logging
from typing import Any, Protocol

import httpx
from sqlalchemy.orm import Session

from kuaichu.bus import EventBus
from kuaichu.clock import Clock
from kuaichu.db import Database, upsert_insert
from kuaichu.notify.models import SmsMessage
from kuaichu.privacy import mask_phone
from kuaichu.settings import Settings

logger = logging.getLogger(__name__)


class SmsGatewayError(Exception):
    """The gateway refused or failed a message. Its text never carries personal data."""


class SmsGateway(Protocol):
    async def send(self, *, phone: str, text: str, idempotency_key: str) -> None: ...


class WebhookGateway(Protocol):
    async def send(self, *, insurer_code: str, body: dict[str, Any], idempotency_key: str) -> None: ...


class DatabaseSmsGateway:
    """The demo's and the tests' phone: every 'sent' SMS becomes an `sms_messages` row."""

    def __init__(self, database: Database, clock: Clock, log_text: bool = False) -> None:
        self._database = database
        self._clock = clock
        # Texts carry names and plates: logged only where the log is the demo's phone screen.
        self._log_text = log_text

    async def send(self, *, phone: str, text: str, idempotency_key: str) -> None:
        now = self._clock.now()

        def store(session: Session) -> None:
            insert = upsert_insert(session)
            # Insert-if-absent: a re-send after a crash finds the row and adds nothing.
            session.execute(
                insert(SmsMessage)
                .values(idempotency_key=idempotency_key, phone=phone, text=text, sent_at=now)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
            )

        await self._database.write(store)
        shown = text if self._log_text else f"({len(text)} characters)"
        logger.info("SMS to %s [%s]: %s", mask_phone(phone), idempotency_key, shown)


class HttpSmsGateway:
    """A real SMS provider behind an HTTP endpoint that honours the Idempotency-Key header."""

    def __init__(self, url: str, token: str, timeout_seconds: float = 10.0) -> None:
        self._url = url
        self._token = token
        self._timeout = timeout_seconds

    async def send(self, *, phone: str, text: str, idempotency_key: str) -> None:
        headers = {"Idempotency-Key": idempotency_key, "Authorization": f"Bearer {self._token}"}
        # A client per message: SMS volume is low and it leaves no connection pool to close.
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            try:
                response = await client.post(self._url, json={"phone": phone, "text": text}, headers=headers)
            except httpx.HTTPError as error:
                raise SmsGatewayError(f"SMS gateway unreachable: {type(error).__name__}") from error
        if not response.is_success:
            # The status only: a provider's error body may echo the phone number.
            raise SmsGatewayError(f"SMS gateway answered HTTP {response.status_code}")


class PushGateway:
    """Page pushes: live, best-effort bus messages on the case's channel."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def send(self, *, case_id: int, event: dict[str, Any]) -> None:
        await self._bus.publish(f"case:{case_id}", event)


def sms_gateway_from_settings(settings: Settings, database: Database, clock: Clock) -> SmsGateway:
    if settings.sms_gateway == "http":
        if not settings.sms_http_url:
            raise ValueError("KUAICHU_SMS_HTTP_URL is required when KUAICHU_SMS_GATEWAY=http")
        return HttpSmsGateway(settings.sms_http_url, settings.sms_http_token)
    return DatabaseSmsGateway(database, clock, log_text=settings.sms_log_text)
