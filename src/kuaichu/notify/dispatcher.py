"""The outbox dispatcher: delivers committed outbox rows, with leases, retries and backoff.

Delivery is at-least-once toward the gateways and exactly-once in effect, because each send
carries the row's idempotency key:
- a crash before a row is claimed loses nothing: the row stays pending for the next dispatcher;
- a crash after a send but before the row is marked sent leaves a lease that expires; the row
  is sent again with the same key and the gateway drops the duplicate.
Several dispatchers (one per server process) may run at once: claiming sets a lease inside one
write transaction (SQLite serialises those; PostgreSQL skips rows another claimer has locked).
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kuaichu.clock import Clock
from kuaichu.db import Database
from kuaichu.messages.catalogue import DEFAULT_LOCALE, Locale
from kuaichu.notify.gateways import PushGateway, SmsGateway, WebhookGateway
from kuaichu.notify.models import OutboxMessage
from kuaichu.notify.outbox import PUSH, SMS, WEBHOOK
from kuaichu.notify.templates import Sms, render
from kuaichu.privacy import mask_phone

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 3600.0
_MAX_ERROR_CHARS = 500
# A mainland mobile number anywhere in an error text (a gateway may echo what it was sent).
_PHONE_PATTERN = re.compile(r"(?<!\d)1\d{10}(?!\d)")


def retry_delay(failed_attempts: int) -> timedelta:
    """Exponential backoff: 5 s after the first failure, doubling, capped at an hour."""
    seconds = FIRST_RETRY_SECONDS * 2 ** max(failed_attempts - 1, 0)
    return timedelta(seconds=min(seconds, MAX_RETRY_SECONDS))


@dataclass(frozen=True)
class _Claimed:
    id: int
    channel: str
    key: str
    case_id: int | None
    payload: dict[str, Any]


class OutboxDispatcher:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        sms_gateway: SmsGateway,
        push_gateway: PushGateway,
        max_attempts: int,
        lease_seconds: float,
        public_base_url: str,
        webhook_gateway: WebhookGateway | None = None,
    ) -> None:
        self._database = database
        self._public_base_url = public_base_url
        self._webhooks = webhook_gateway
        self._clock = clock
        self._sms = sms_gateway
        self._push = push_gateway
        self._max_attempts = max_attempts
        self._lease = timedelta(seconds=lease_seconds)

    async def run_once(self) -> int:
        """Deliver every message due now; returns how many were delivered."""
        # Due-ness is judged against the start of the run, so a message that fails now and is
        # rescheduled is not retried again within this same run.
        started = self._clock.now()
        delivered = 0
        while batch := await self._database.write(lambda s: self._claim(s, started)):
            for message in batch:
                if await self._deliver(message):
                    delivered += 1
        return delivered

    def _claim(self, session: Session, due: datetime) -> list[_Claimed]:
        now = self._clock.now()
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= due,
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
            )
            .order_by(OutboxMessage.id)
            .limit(BATCH_SIZE)
        )
        if self._database.is_postgres:
            # Another process's claim in progress holds these rows: skip them, don't wait.
            query = query.with_for_update(skip_locked=True)
        rows = list(session.scalars(query))
        for row in rows:
            row.lease_until = now + self._lease
        return [_Claimed(r.id, r.channel, r.idempotency_key, r.case_id, dict(r.payload)) for r in rows]

    async def _deliver(self, message: _Claimed) -> bool:
        try:
            if message.channel == SMS:
                text = render(
                    Sms(message.payload["template"]),
                    message.payload["parameters"],
                    self._public_base_url,
                    # Messages queued before locales existed carry none: the default.
                    Locale(message.payload.get("locale", DEFAULT_LOCALE)),
                )
                await self._sms.send(phone=message.payload["phone"], text=text, idempotency_key=message.key)
            elif message.channel == PUSH:
                if message.case_id is None:
                    raise ValueError("push message without a case")
                await self._push.send(case_id=message.case_id, event=message.payload["event"])
            elif message.channel == WEBHOOK and self._webhooks is not None:
                await self._webhooks.send(
                    insurer_code=message.payload["insurer_code"],
                    body=message.payload["body"],
                    idempotency_key=message.key,
                )
            else:
                raise ValueError(f"no gateway for outbox channel {message.channel!r}")
        except Exception as error:
            # Only Exception: a crash (SystemExit, cancellation) leaves the lease to expire.
            description = _describe(error, message.payload.get("phone"))
            await self._database.write(lambda s: self._record_failure(s, message.id, description))
            return False
        await self._database.write(lambda s: self._mark_sent(s, message.id))
        return True

    def _mark_sent(self, session: Session, message_id: int) -> None:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
            .values(status="sent", sent_at=self._clock.now(), lease_until=None)
        )

    def _record_failure(self, session: Session, message_id: int, description: str) -> None:
        row = session.get(OutboxMessage, message_id, with_for_update=self._database.is_postgres)
        if row is None or row.status != "pending":
            return  # another dispatcher delivered it meanwhile
        now = self._clock.now()
        row.attempts += 1
        row.last_error = description
        row.lease_until = None
        if row.attempts >= self._max_attempts:
            row.status = "dead"
            logger.error(
                "outbox message %d (%s) is dead after %d attempts: %s",
                row.id,
                row.channel,
                row.attempts,
                row.last_error,
            )
        else:
            row.next_attempt_at = now + retry_delay(row.attempts)
            logger.warning(
                "outbox message %d (%s) failed, attempt %d, retry at %s: %s",
                row.id,
                row.channel,
                row.attempts,
                row.next_attempt_at.isoformat(),
                row.last_error,
            )


def _describe(error: Exception, phone: str | None) -> str:
    """An error text fit for the database and the logs: no phone number in it."""
    text = f"{type(error).__name__}: {error}"
    if phone:
        text = text.replace(phone, mask_phone(phone))
    text = _PHONE_PATTERN.sub(lambda m: mask_phone(m.group()), text)
    return text[:_MAX_ERROR_CHARS]
