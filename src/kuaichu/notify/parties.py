"""Telling a case's people that it changed: an official SMS to each phone it concerns and a push
to the case's pages, written to the outbox in the caller's transaction."""

from datetime import datetime

from sqlalchemy.orm import Session

from kuaichu.cases.models import Case
from kuaichu.notify.outbox import enqueue_push, enqueue_sms
from kuaichu.notify.templates import Sms


def notify_parties(session: Session, case: Case, template: Sms, now: datetime, **parameters: str) -> None:
    """An official SMS (a fixed template about this case) to everyone concerned and a push to
    the case's pages."""
    event = template.value
    phones = {p.phone for p in case.parties} | {case.reporter_phone}
    for phone in sorted(phones):
        enqueue_sms(
            session,
            phone=phone,
            template=template,
            parameters={"case_number": case.number, **parameters},
            key=f"case:{case.id}:{event}:{case.updated_at.timestamp()}:{phone}",
            now=now,
            case_id=case.id,
        )
    push_case_event(session, case, event, now)


def push_case_event(session: Session, case: Case, event: str, now: datetime) -> None:
    """A push to the case's pages: they reread the case."""
    enqueue_push(
        session,
        case_id=case.id,
        event={"event": event, "case_id": case.id, "state": case.state},
        key=f"push:case:{case.id}:{event}:{now.timestamp()}",
        now=now,
    )
