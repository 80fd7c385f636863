"""The call's connections: who may join or watch a call, who is connected, and the sweep where
the timeouts fire: an offer nobody joins within the offer timeout goes back to the head of the
queue while its operator becomes 未应答 until they set 空闲 again; a call dropped beyond its
grace period is requeued; a console gone leaves its operator away.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
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
    own_case,
)
from kuaichu.calls.schemas import (
    CallMode,
    PresenceStatus,
)
from kuaichu.cases import lifecycle
from kuaichu.cases.access import get_case, is_reporter
from kuaichu.cases.lifecycle import Action, CaseState
from kuaichu.cases.models import Case
from kuaichu.db import upsert_insert
from kuaichu.errors import Forbidden, IllegalTransition
from kuaichu.messages import Text
from kuaichu.notify.outbox import enqueue_push
from kuaichu.principal import SYSTEM, Principal, Role

# The call's connections.


def check_may_join(session: Session, principal: Principal, case_id: int, one_to_one: bool = False) -> Case:
    """A call's two ends: the case's own party and the operator who took it, during the call.
    `one_to_one` (no media server): the party's end is the reporting party's alone; another
    party who joined by the case's link speaks with the operator through their call."""
    case = get_case(session, principal, case_id)
    if principal.role is Role.PARTY:
        own_case(session, principal, case_id)
        if one_to_one and not is_reporter(case, principal):
            raise Forbidden(Text("Calls.join_reporter_only"))
    elif principal.role is not Role.OPERATOR or case.operator_id != principal.id:
        raise Forbidden(Text("Calls.join_not_allowed"))
    if case.state not in CALL_STATES:
        raise IllegalTransition(Text("Calls.not_in_call"), state=case.state)
    return case


def check_may_watch(session: Session, principal: Principal, case_id: int) -> Case:
    case = get_case(session, principal, case_id)
    if principal.role is Role.PARTY:
        own_case(session, principal, case_id)
    return case


def mark_connection(session: Session, role: Role, case_id: int, present: bool, now: datetime) -> None:
    """A side's page joined the call (clears a drop) or lost its connection (starts the grace).
    The operator's first join answers the offer."""
    column = CallSession.party_left_at if role is Role.PARTY else CallSession.operator_left_at
    values: dict[Any, Any] = {column: None if present else now}
    if role is Role.OPERATOR and present:
        values[CallSession.joined_at] = func.coalesce(CallSession.joined_at, now)
    session.execute(
        update(CallSession)
        .where(CallSession.case_id == case_id, CallSession.ended_at.is_(None))
        .values(values)
    )


# The timeouts.


def sweep(session: Session, now: datetime, rules: CallRules) -> list[int]:
    """The timeouts, in one go; the jurisdictions whose queue needs a pass after it:
    - offers nobody joined within the offer timeout go back to the head of the queue, and their
      operator becomes 未应答 (offered nothing until they set 空闲 again);
    - calls dropped longer than the grace go back to the head of the queue;
    - operators whose console is gone go away;
    - waiting calls meet available operators in the pass (catches cases reported outside the
      one-tap call, and a pass a crash left undone)."""
    grace_cutoff = now - timedelta(seconds=rules.grace_seconds)
    offer_cutoff = now - timedelta(seconds=rules.offer_timeout_seconds)
    console_cutoff = now - timedelta(seconds=rules.console_gone_seconds)
    open_calls = (
        select(CallSession, Case.jurisdiction_id)
        .join(Case, Case.id == CallSession.case_id)
        .where(CallSession.ended_at.is_(None), Case.state == CaseState.IN_CALL)
        .order_by(CallSession.id)
        .limit(50)
    )
    unanswered = session.execute(
        open_calls.where(CallSession.joined_at.is_(None), CallSession.started_at <= offer_cutoff)
    ).all()
    dropped = session.execute(
        open_calls.where(
            CallSession.joined_at.is_not(None),
            (CallSession.party_left_at <= grace_cutoff) | (CallSession.operator_left_at <= grace_cutoff),
        )
    ).all()
    gone = session.execute(
        select(OperatorPresence.operator_id, OperatorPresence.jurisdiction_id).where(
            OperatorPresence.status.in_(
                (PresenceStatus.AVAILABLE, PresenceStatus.WRAP_UP, PresenceStatus.NO_ANSWER)
            ),
            OperatorPresence.console_connections == 0,
            OperatorPresence.console_left_at <= console_cutoff,
        )
    ).all()
    waiting = session.execute(
        select(Case.jurisdiction_id)
        .join(OperatorPresence, OperatorPresence.jurisdiction_id == Case.jurisdiction_id)
        .where(Case.state == CaseState.QUEUED, OperatorPresence.status == PresenceStatus.AVAILABLE)
        .distinct()
    ).scalars()
    jurisdictions = sorted(
        {j for _, j in unanswered} | {j for _, j in dropped} | {j for _, j in gone} | set(waiting)
    )
    for operator_id, _ in gone:
        _console_gone(session, operator_id, console_cutoff, now)
    for call, _ in unanswered:
        _requeue(session, call, now, unanswered=True)
    for call, _ in dropped:
        _requeue(session, call, now)
    return jurisdictions


def _console_gone(session: Session, operator_id: int, cutoff: datetime, now: datetime) -> None:
    presence = session.get(OperatorPresence, operator_id, with_for_update=True, populate_existing=True)
    if (
        presence is None
        or presence.console_connections
        or presence.console_left_at is None
        or presence.console_left_at > cutoff
        or presence.status not in (PresenceStatus.AVAILABLE, PresenceStatus.WRAP_UP, PresenceStatus.NO_ANSWER)
    ):
        return  # the console came back, or a call started, meanwhile
    presence.status = PresenceStatus.AWAY
    presence.updated_at = now


def _requeue(session: Session, call: CallSession, now: datetime, unanswered: bool = False) -> None:
    case = session.scalars(select(Case).where(Case.id == call.case_id).with_for_update()).one()
    session.refresh(call, with_for_update=True)
    if call.ended_at is not None or case.state != CaseState.IN_CALL:
        return  # the call ended or moved on meanwhile
    if unanswered and call.joined_at is not None:
        return  # the console joined meanwhile
    lifecycle.apply(session, case, Action.REQUEUE, SYSTEM, now, {"operator_id": call.operator_id})
    case.operator_id = None
    session.execute(
        upsert_insert(session)(QueueEntry)
        .values(case_id=case.id, priority=HEAD, mode=CallMode.VIDEO)
        .on_conflict_do_update(index_elements=["case_id"], set_={"priority": HEAD})
    )
    call.ended_at = now
    call.outcome = "no_answer" if unanswered else "dropped"
    presence = session.get(OperatorPresence, call.operator_id, with_for_update=True)
    if presence is not None:
        # An offer never joined: 未应答 until the operator sets 空闲 again. An operator whose own
        # page is gone is away; one left waiting for the party wraps up first (else the same
        # call would come straight back to them).
        if unanswered:
            presence.status = PresenceStatus.NO_ANSWER
        else:
            presence.status = PresenceStatus.AWAY if call.operator_left_at else PresenceStatus.WRAP_UP
        presence.updated_at = now
    enqueue_push(
        session,
        case_id=case.id,
        event={"event": "call_requeued", "case_id": case.id, "state": case.state},
        key=f"push:case:{case.id}:call_requeued:{now.timestamp()}",
        now=now,
    )
