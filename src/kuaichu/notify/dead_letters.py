"""Dead letters: messages the dispatcher gave up on, shown to the supervisor to resend."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.errors import Conflict, NotFound
from kuaichu.messages import Text
from kuaichu.notify.models import OutboxMessage
from kuaichu.notify.schemas import DeadLetter
from kuaichu.principal import Principal


def dead_letters(session: Session) -> list[DeadLetter]:
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == "dead").order_by(OutboxMessage.id)
    )
    return [
        DeadLetter(
            id=row.id,
            channel=row.channel,
            case_id=row.case_id,
            attempts=row.attempts,
            last_error=row.last_error or "",
            created_at=row.created_at,
            target=row.payload.get("insurer_code") or row.channel,
        )
        for row in rows
    ]


def resend(session: Session, supervisor: Principal, message_id: int, now: datetime) -> None:
    """Back to pending with a fresh count; the same idempotency key keeps it from doubling."""
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise NotFound(Text("Notify.no_such_message"))
    if row.status != "dead":
        raise Conflict(Text("Notify.only_dead_resent"))
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = now
    row.lease_until = None
    audit.record(session, supervisor, AuditAction.RESEND_MESSAGE, now, row.case_id, {"message_id": row.id})
