"""Operator presence: 空闲, 忙碌, 离开, 未应答, taking the next call, hanging up, the console's
heartbeat; the rules, no HTTP.

Presence tells the truth: the operator console's WebSocket is the heartbeat (the server pings
it); a console closed for half the presence timeout leaves its operator away (kuaichu.calls.
connections' sweep).
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.calls.models import (
    CallSession,
    OperatorPresence,
    QueueEntry,
)
from kuaichu.calls.queue import (
    CALL_STATES,
    HEAD,
    CallRules,
    QueueChange,
    assign,
    bump_version,
    changed,
    head_case,
    offer_waiting,
    presence_out,
    queued_cases,
    snapshot,
)
from kuaichu.calls.schemas import (
    CallMode,
    CurrentCallOut,
    OfferOut,
    PresenceOut,
    PresenceStatus,
    QueueViewOut,
    WaitingCallOut,
)
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.models import Case
from kuaichu.errors import Conflict, Forbidden, IllegalTransition, NotFound
from kuaichu.messages import Text
from kuaichu.principal import Principal, Role

# Operators.


def presence_of(session: Session, operator: Principal, now: datetime) -> OperatorPresence:
    ensure_may_write(None, operator, WriteRule.OPERATOR_SELF)
    if operator.role is not Role.OPERATOR or operator.id is None or operator.jurisdiction_id is None:
        raise Forbidden(Text("Calls.operator_only"))
    presence = session.get(OperatorPresence, operator.id, with_for_update=True)
    if presence is None:
        presence = OperatorPresence(
            operator_id=operator.id,
            jurisdiction_id=operator.jurisdiction_id,
            status=PresenceStatus.AWAY,
            idle_since=now,
            updated_at=now,
        )
        session.add(presence)
        session.flush()
    return presence


def _open_call(session: Session, operator_id: int) -> CallSession | None:
    return session.scalars(
        select(CallSession).where(CallSession.operator_id == operator_id, CallSession.ended_at.is_(None))
    ).first()


def set_presence(
    session: Session, operator: Principal, status: PresenceStatus, now: datetime
) -> tuple[PresenceOut, list[OfferOut]]:
    """空闲 or 离开. An operator going 空闲 while calls wait is offered one at once, under the
    queue's version row like a pass (the longest idle first, first come first served); the pass
    that follows takes the snapshot."""
    if status not in (PresenceStatus.AVAILABLE, PresenceStatus.AWAY):
        raise Conflict(Text("Calls.presence_choice"))
    assert operator.jurisdiction_id is not None
    if status is PresenceStatus.AVAILABLE:
        bump_version(session, operator.jurisdiction_id)
    presence = presence_of(session, operator, now)
    if _open_call(session, presence.operator_id) is not None:
        raise Conflict(Text("Calls.end_call_first"))
    if status is PresenceStatus.AVAILABLE and presence.status != PresenceStatus.AVAILABLE:
        presence.idle_since = now
    presence.status = status
    presence.updated_at = now
    session.flush()
    available = status is PresenceStatus.AVAILABLE
    offers = offer_waiting(session, operator.jurisdiction_id, now) if available else []
    return presence_out(session, presence), offers


def take_next(
    session: Session, operator: Principal, rules: CallRules, now: datetime
) -> tuple[OfferOut, QueueChange]:
    """The operator's own pick: the head of the queue, whatever the longest-idle order says."""
    assert operator.jurisdiction_id is not None
    version = bump_version(session, operator.jurisdiction_id)
    presence = presence_of(session, operator, now)
    if _open_call(session, presence.operator_id) is not None:
        raise Conflict(Text("Calls.end_call_first"))
    case = head_case(session, operator.jurisdiction_id)
    if case is None:
        raise NotFound(Text("Calls.queue_empty"))
    offer = assign(session, case, presence, now)
    change = changed(session, operator.jurisdiction_id, version, rules, now)
    change.offers = [offer]
    return offer, change


def hang_up(session: Session, operator: Principal, case_id: int, now: datetime) -> PresenceOut:
    """End the call once the case left the call (evacuated or transferred): wrap-up follows."""
    case = get_case(session, operator, case_id)
    ensure_may_write(case, operator, WriteRule.HANDLING_OPERATOR)
    presence = presence_of(session, operator, now)
    call = _open_call(session, presence.operator_id)
    if call is None or call.case_id != case.id:
        raise Conflict(Text("Calls.not_your_call"))
    if case.state in CALL_STATES:
        raise IllegalTransition(Text("Calls.hang_up_too_early"), state=case.state)
    call.ended_at = now
    call.outcome = case.state
    presence.status = PresenceStatus.WRAP_UP
    presence.updated_at = now
    return presence_out(session, presence)


def current_call(session: Session, operator: Principal, now: datetime) -> CurrentCallOut:
    """What the console shows after a reload: the open call, if any, and the presence."""
    presence = presence_of(session, operator, now)
    call = _open_call(session, presence.operator_id)
    case = session.get(Case, call.case_id) if call else None
    entry = session.get(QueueEntry, call.case_id) if call else None
    return CurrentCallOut(
        case_id=case.id if case else None,
        number=case.number if case else None,
        mode=(entry.mode if entry else CallMode.VIDEO) if case else None,
        presence=presence_out(session, presence),
    )


def queue_view(session: Session, operator: Principal, rules: CallRules, now: datetime) -> QueueViewOut:
    me = presence_of(session, operator, now)
    assert operator.jurisdiction_id is not None
    current = snapshot(session, operator.jurisdiction_id, rules, now)
    rows = session.execute(
        queued_cases(operator.jurisdiction_id).add_columns(QueueEntry.priority, QueueEntry.mode).limit(200)
    ).all()
    waiting = [
        WaitingCallOut(
            case_id=case.id,
            number=case.number,
            position=position,
            mode=mode or CallMode.VIDEO,
            reported_at=case.reported_at,
            waiting_seconds=max(int((now - case.reported_at).total_seconds()), 0),
            returned=priority == HEAD,
        )
        for position, (case, priority, mode) in enumerate(rows, start=1)
    ]
    everyone = session.scalars(
        select(OperatorPresence)
        .where(OperatorPresence.jurisdiction_id == operator.jurisdiction_id)
        .order_by(OperatorPresence.operator_id)
    )
    return QueueViewOut(
        version=current.version,
        waiting=waiting,
        operators=[presence_out(session, p) for p in everyone],
        me=presence_out(session, me),
        estimated_handling_seconds=current.handling_seconds,
    )


# The console's heartbeat.


def console_opened(session: Session, operator: Principal, now: datetime) -> None:
    presence = presence_of(session, operator, now)
    presence.console_connections += 1
    presence.console_left_at = None


def console_closed(session: Session, operator_id: int, now: datetime) -> None:
    """A console connection closed (or stopped answering the pings); the last one starts the
    presence timeout."""
    presence = session.get(OperatorPresence, operator_id, with_for_update=True)
    if presence is None:
        return
    presence.console_connections = max(presence.console_connections - 1, 0)
    if presence.console_connections == 0:
        presence.console_left_at = now
