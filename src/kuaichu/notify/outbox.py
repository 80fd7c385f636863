"""Writing to the outbox, inside the caller's own transaction.

Domain services call these with the Session of the unit of work that changes the case, so a
message exists exactly when the change that caused it was committed. The dispatcher delivers
the rows later; `key` (the idempotency key) makes enqueuing the same message twice harmless.
"""

import json
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, select
from sqlalchemy.orm import Session

from kuaichu.db import dialect_insert
from kuaichu.notify.models import OutboxMessage
from kuaichu.notify.preferences import locale_of
from kuaichu.notify.templates import Sms, check_parameters
from kuaichu.privacy import mask_phone

__all__ = [
    "PUSH",
    "SMS",
    "WEBHOOK",
    "Sms",
    "enqueue_push",
    "enqueue_sms",
    "enqueue_webhook",
    "mask_phone",
    "sms_enqueued_since",
]

SMS = "sms"
PUSH = "push"
WEBHOOK = "webhook"


def enqueue_sms(
    session: Session,
    *,
    phone: str,
    template: Sms,
    parameters: dict[str, str],
    key: str,
    now: datetime,
    case_id: int | None = None,
) -> None:
    """An official SMS: a fixed template and its checked parameters, rendered when sent in the
    language the phone's owner chose by then (the choice is read now, with the change)."""
    check_parameters(template, parameters)
    payload = {
        "phone": phone,
        "template": template.value,
        "parameters": parameters,
        "locale": locale_of(session, phone).value,
    }
    _enqueue(session, channel=SMS, key=key, case_id=case_id, payload=payload, now=now)


def sms_enqueued_since(session: Session, *, case_id: int, phone: str, template: Sms, since: datetime) -> bool:
    """Whether the case's SMS of this template to this phone was written since `since`."""
    payloads = session.scalars(
        select(OutboxMessage.payload).where(
            OutboxMessage.case_id == case_id, OutboxMessage.channel == SMS, OutboxMessage.created_at > since
        )
    )
    return any(p.get("phone") == phone and p.get("template") == template.value for p in payloads)


def enqueue_push(session: Session, *, case_id: int, event: dict[str, Any], key: str, now: datetime) -> None:
    """A page push: the dispatcher publishes `event` on the bus channel `case:{case_id}`."""
    # Normalise through JSON the way the bus does, so datetimes etc. store and publish alike.
    event = json.loads(json.dumps(event, default=str))
    _enqueue(session, channel=PUSH, key=key, case_id=case_id, payload={"event": event}, now=now)


def enqueue_webhook(
    session: Session, *, insurer_code: str, body: dict[str, Any], key: str, now: datetime, case_id: int
) -> None:
    """A signed push to an insurer's system (claims)."""
    payload = {"insurer_code": insurer_code, "body": json.loads(json.dumps(body, default=str))}
    _enqueue(session, channel=WEBHOOK, key=key, case_id=case_id, payload=payload, now=now)


def _enqueue(
    session: Session, *, channel: str, key: str, case_id: int | None, payload: dict[str, Any], now: datetime
) -> None:
    row = {
        "channel": channel,
        "idempotency_key": key,
        "case_id": case_id,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    session.execute(_enqueue_statement(session.get_bind().dialect.name), row)


@cache
def _enqueue_statement(dialect: str) -> Insert:
    """Built once per dialect: most writes enqueue, and building the statement per call cost
    more than running it. ON CONFLICT DO NOTHING rather than catching IntegrityError: a failed
    statement would abort the caller's whole PostgreSQL transaction, and a duplicate key is
    not an error."""
    insert = dialect_insert(dialect)(OutboxMessage.__table__)
    return insert.on_conflict_do_nothing(index_elements=["idempotency_key"])
