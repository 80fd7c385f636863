"""The jurisdiction's call queue, operator presence and call sessions: the rules, no HTTP.

The queue is durable because it is the database: a jurisdiction's cases in state queued,
ordered by place class (a dropped call goes back to the head) and reporting time. Every
change to a queue starts by bumping the jurisdiction's version row, which serializes the
changes of one jurisdiction (a row lock on PostgreSQL, the single writer on SQLite): an
operator becoming available and a case being reported can't both miss each other. The head
case and the longest-idle operator are picked with SKIP LOCKED, so a case locked by a direct
take elsewhere is passed over rather than waited for, and never assigned twice.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from kuaichu.auth.models import User
from kuaichu.auth.principal import SYSTEM, Principal, Role
from kuaichu.auth.service import staff_principal
from kuaichu.calls.models import CallSession, OperatorPresence, QueueEntry, QueueVersion
from kuaichu.calls.schemas import (
    PRESENCE_LABELS,
    CallMode,
    CurrentCallOut,
    OfferOut,
    PresenceOut,
    PresenceStatus,
    QueueStatusOut,
    QueueViewOut,
    WaitingCallOut,
)
from kuaichu.cases import lifecycle
from kuaichu.cases import service as cases
from kuaichu.cases.access import get_case, party_of
from kuaichu.cases.lifecycle import Action, CaseState
from kuaichu.cases.models import Case
from kuaichu.cases.schemas import ReportIn
from kuaichu.db import upsert_insert
from kuaichu.errors import Conflict, Forbidden, IllegalTransition, NotFound
from kuaichu.geo.service import locate
from kuaichu.notify.outbox import enqueue_push

HEAD, IN_ORDER = 0, 1
_RECENT_CALLS = 20  # handling times the estimated wait is averaged over
_CALL_STATES = (CaseState.IN_CALL, CaseState.COLLECTED)


class QueueSnapshot(BaseModel):
    """A jurisdiction's queue at one version: what pages turn into positions and waits."""

    model_config = ConfigDict(frozen=True)

    jurisdiction_id: int
    version: int
    order: list[int]
    handling_seconds: int
    staffed: int

    def position_of(self, case_id: int) -> int | None:
        try:
            return self.order.index(case_id) + 1
        except ValueError:
            return None

    def estimated_wait(self, position: int) -> int:
        # Each round of staffed operators clears that many callers ahead.
        return math.ceil(position / self.staffed) * self.handling_seconds

    def message(self) -> dict[str, object]:
        return {"type": "queue", **self.model_dump()}

    @classmethod
    def from_message(cls, message: dict[str, object]) -> "QueueSnapshot":
        return cls.model_validate(message)  # the bus message's "type" is ignored


@dataclass
class QueueChange:
    """What a committed queue change must tell the pages: the new snapshot and any offers."""

    snapshot: QueueSnapshot
    offers: list[OfferOut] = field(default_factory=list)


# The queue.


def _bump_version(session: Session, jurisdiction_id: int) -> int:
    statement = (
        upsert_insert(session)(QueueVersion)
        .values(jurisdiction_id=jurisdiction_id, version=1)
        .on_conflict_do_update(index_elements=["jurisdiction_id"], set_={"version": QueueVersion.version + 1})
        .returning(QueueVersion.version)
    )
    return session.execute(statement).scalar_one()


def _queued(jurisdiction_id: int) -> Select[tuple[Case]]:
    return (
        select(Case)
        .outerjoin(QueueEntry, QueueEntry.case_id == Case.id)
        .where(Case.jurisdiction_id == jurisdiction_id, Case.state == CaseState.QUEUED)
        .order_by(func.coalesce(QueueEntry.priority, IN_ORDER), Case.reported_at, Case.id)
    )


def snapshot(
    session: Session, jurisdiction_id: int, default_handling: int, version: int | None = None
) -> QueueSnapshot:
    if version is None:
        version = (
            session.scalar(
                select(QueueVersion.version).where(QueueVersion.jurisdiction_id == jurisdiction_id)
            )
            or 0
        )
    order = list(session.scalars(_queued(jurisdiction_id).with_only_columns(Case.id)))
    recent = session.execute(
        select(CallSession.started_at, CallSession.ended_at)
        .join(Case, Case.id == CallSession.case_id)
        .where(
            Case.jurisdiction_id == jurisdiction_id,
            CallSession.ended_at.is_not(None),
            CallSession.outcome != "dropped",
        )
        .order_by(CallSession.ended_at.desc())
        .limit(_RECENT_CALLS)
    ).all()
    handling = (
        round(sum((end - start).total_seconds() for start, end in recent) / len(recent))
        if recent
        else default_handling
    )
    staffed = session.scalar(
        select(func.count()).where(
            OperatorPresence.jurisdiction_id == jurisdiction_id,
            OperatorPresence.status != PresenceStatus.AWAY,
        )
    )
    return QueueSnapshot(
        jurisdiction_id=jurisdiction_id,
        version=version,
        order=order,
        handling_seconds=max(handling, 1),
        staffed=max(staffed or 0, 1),
    )


def _changed(session: Session, jurisdiction_id: int, version: int, default_handling: int) -> QueueChange:
    return QueueChange(snapshot(session, jurisdiction_id, default_handling, version))


def _offer_waiting(session: Session, jurisdiction_id: int, now: datetime) -> list[OfferOut]:
    """Give waiting calls to available operators, longest idle first, until one side runs out."""
    offers = []
    while True:
        presence = session.scalars(
            select(OperatorPresence)
            .where(
                OperatorPresence.jurisdiction_id == jurisdiction_id,
                OperatorPresence.status == PresenceStatus.AVAILABLE,
            )
            .order_by(OperatorPresence.idle_since, OperatorPresence.operator_id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if presence is None:
            return offers
        case = _head_case(session, jurisdiction_id)
        if case is None:
            return offers
        offers.append(_assign(session, case, presence, now))


def _head_case(session: Session, jurisdiction_id: int) -> Case | None:
    return session.scalars(
        _queued(jurisdiction_id).limit(1).with_for_update(skip_locked=True, of=Case)
    ).first()


def _assign(session: Session, case: Case, presence: OperatorPresence, now: datetime) -> OfferOut:
    user = session.get(User, presence.operator_id)
    assert user is not None
    cases.take_case(session, staff_principal(user), case.id, now)
    presence.status = PresenceStatus.BUSY
    presence.updated_at = now
    # Counted as absent until the console joins: an operator who closed the console while
    # available gets the call back to the queue after the grace, instead of keeping it.
    session.add(CallSession(case_id=case.id, operator_id=user.id, started_at=now, operator_left_at=now))
    entry = session.get(QueueEntry, case.id)
    return OfferOut(
        case_id=case.id, number=case.number, operator_id=user.id, mode=entry.mode if entry else CallMode.VIDEO
    )


def report_call(
    session: Session, party: Principal, report: ReportIn, mode: CallMode, default_handling: int, now: datetime
) -> tuple[Case, QueueChange]:
    """一键视频报警: the case joins its jurisdiction's queue and is offered if someone is free."""
    jurisdiction = locate(session, report.lat, report.lng)
    version = _bump_version(session, jurisdiction.id)
    case = cases.report_case(session, party, report, now)
    session.add(QueueEntry(case_id=case.id, priority=IN_ORDER, mode=mode))
    session.flush()
    offers = _offer_waiting(session, jurisdiction.id, now)
    change = _changed(session, jurisdiction.id, version, default_handling)
    change.offers = offers
    return case, change


def call_back(
    session: Session, party: Principal, case_id: int, default_handling: int, now: datetime
) -> tuple[Case, QueueChange]:
    """补充视频取证: a case the officer sent back for more evidence rejoins its queue, at the
    head, as the same case; it is offered at once if someone is free."""
    case = _own_case(session, party, case_id, lock=True)
    version = _bump_version(session, case.jurisdiction_id)
    lifecycle.apply(session, case, Action.CALL_BACK, party, now)
    case.operator_id = None
    session.execute(
        upsert_insert(session)(QueueEntry)
        .values(case_id=case.id, priority=HEAD, mode=CallMode.VIDEO)
        .on_conflict_do_update(index_elements=["case_id"], set_={"priority": HEAD, "mode": CallMode.VIDEO})
    )
    offers = _offer_waiting(session, case.jurisdiction_id, now)
    change = _changed(session, case.jurisdiction_id, version, default_handling)
    change.offers = offers
    return case, change


def _own_case(session: Session, party: Principal, case_id: int, lock: bool = False) -> Case:
    case = get_case(session, party, case_id, lock=lock)
    if case.reporter_phone != party.phone and party_of(case, party) is None:
        raise Forbidden("只有事故当事人可以操作")
    return case


def abandon(
    session: Session, party: Principal, case_id: int, default_handling: int, now: datetime
) -> QueueChange:
    case = _own_case(session, party, case_id)
    version = _bump_version(session, case.jurisdiction_id)
    cases.abandon(session, party, case_id, now)
    return _changed(session, case.jurisdiction_id, version, default_handling)


def set_mode(session: Session, party: Principal, case_id: int, mode: CallMode, now: datetime) -> None:
    """Poor network: audio only, or photo mode (the shots uploaded instead of filmed)."""
    case = _own_case(session, party, case_id, lock=True)
    if case.state not in (CaseState.QUEUED, *_CALL_STATES):
        raise IllegalTransition("报警已结束，不能切换方式", state=case.state)
    statement = (
        upsert_insert(session)(QueueEntry)
        .values(case_id=case.id, priority=IN_ORDER, mode=mode)
        .on_conflict_do_update(index_elements=["case_id"], set_={"mode": mode})
    )
    session.execute(statement)
    lifecycle.record_event(session, case, "call_mode", party, now, {"mode": mode.value})


def queue_status(session: Session, party: Principal, case_id: int, default_handling: int) -> QueueStatusOut:
    case = _own_case(session, party, case_id)
    current = snapshot(session, case.jurisdiction_id, default_handling)
    position = current.position_of(case.id)
    return QueueStatusOut(
        case_id=case.id,
        number=case.number,
        state=case.state,
        position=position,
        estimated_wait_seconds=current.estimated_wait(position) if position else None,
        version=current.version,
    )


# Operators.


def _presence(session: Session, operator: Principal, now: datetime) -> OperatorPresence:
    if operator.role is not Role.OPERATOR or operator.id is None or operator.jurisdiction_id is None:
        raise Forbidden("只有接警坐席可以接警")
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
    session: Session, operator: Principal, status: PresenceStatus, default_handling: int, now: datetime
) -> tuple[PresenceOut, QueueChange]:
    if status not in (PresenceStatus.AVAILABLE, PresenceStatus.AWAY):
        raise Conflict("只能设置为空闲或离开")
    assert operator.jurisdiction_id is not None
    version = _bump_version(session, operator.jurisdiction_id)
    presence = _presence(session, operator, now)
    if _open_call(session, presence.operator_id) is not None:
        raise Conflict("请先结束当前通话")
    if status is PresenceStatus.AVAILABLE and presence.status != PresenceStatus.AVAILABLE:
        presence.idle_since = now
    presence.status = status
    presence.updated_at = now
    session.flush()
    offers = _offer_waiting(session, operator.jurisdiction_id, now)
    change = _changed(session, operator.jurisdiction_id, version, default_handling)
    change.offers = offers
    return _presence_out(session, presence), change


def take_next(
    session: Session, operator: Principal, default_handling: int, now: datetime
) -> tuple[OfferOut, QueueChange]:
    """The operator's own pick: the head of the queue, whatever the longest-idle order says."""
    assert operator.jurisdiction_id is not None
    version = _bump_version(session, operator.jurisdiction_id)
    presence = _presence(session, operator, now)
    if _open_call(session, presence.operator_id) is not None:
        raise Conflict("请先结束当前通话")
    case = _head_case(session, operator.jurisdiction_id)
    if case is None:
        raise NotFound("当前没有排队等待的报警")
    offer = _assign(session, case, presence, now)
    change = _changed(session, operator.jurisdiction_id, version, default_handling)
    change.offers = [offer]
    return offer, change


def hang_up(session: Session, operator: Principal, case_id: int, now: datetime) -> PresenceOut:
    """End the call once the case left the call (evacuated or transferred): wrap-up follows."""
    case = get_case(session, operator, case_id)
    presence = _presence(session, operator, now)
    call = _open_call(session, presence.operator_id)
    if call is None or call.case_id != case.id:
        raise Conflict("该案件不是您当前的通话")
    if case.state in _CALL_STATES:
        raise IllegalTransition("请先完成采集并通知撤离，或转现场处置", state=case.state)
    call.ended_at = now
    call.outcome = case.state
    presence.status = PresenceStatus.WRAP_UP
    presence.updated_at = now
    return _presence_out(session, presence)


def current_call(session: Session, operator: Principal, now: datetime) -> CurrentCallOut:
    """What the console shows after a reload: the open call, if any, and the presence."""
    presence = _presence(session, operator, now)
    call = _open_call(session, presence.operator_id)
    case = session.get(Case, call.case_id) if call else None
    entry = session.get(QueueEntry, call.case_id) if call else None
    return CurrentCallOut(
        case_id=case.id if case else None,
        number=case.number if case else None,
        mode=(entry.mode if entry else CallMode.VIDEO) if case else None,
        presence=_presence_out(session, presence),
    )


def queue_view(session: Session, operator: Principal, default_handling: int, now: datetime) -> QueueViewOut:
    me = _presence(session, operator, now)
    assert operator.jurisdiction_id is not None
    current = snapshot(session, operator.jurisdiction_id, default_handling)
    rows = session.execute(
        _queued(operator.jurisdiction_id).add_columns(QueueEntry.priority, QueueEntry.mode).limit(200)
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
        operators=[_presence_out(session, p) for p in everyone],
        me=_presence_out(session, me),
        estimated_handling_seconds=current.handling_seconds,
    )


def _presence_out(session: Session, presence: OperatorPresence) -> PresenceOut:
    user = session.get(User, presence.operator_id)
    assert user is not None
    since = presence.idle_since if presence.status == PresenceStatus.AVAILABLE else presence.updated_at
    return PresenceOut(
        operator_id=presence.operator_id,
        name=user.display_name,
        status=presence.status,
        status_label=PRESENCE_LABELS[PresenceStatus(presence.status)],
        since=since,
    )


# The call's connections.


def check_may_join(session: Session, principal: Principal, case_id: int) -> Case:
    """A call's two ends: the case's own party and the operator who took it, during the call."""
    case = get_case(session, principal, case_id)
    if principal.role is Role.PARTY:
        _own_case(session, principal, case_id)
    elif principal.role is not Role.OPERATOR or case.operator_id != principal.id:
        raise Forbidden("只有接警的坐席和当事人可以加入通话")
    if case.state not in _CALL_STATES:
        raise IllegalTransition("案件当前不在视频通话中", state=case.state)
    return case


def check_may_watch(session: Session, principal: Principal, case_id: int) -> Case:
    case = get_case(session, principal, case_id)
    if principal.role is Role.PARTY:
        _own_case(session, principal, case_id)
    return case


def mark_connection(session: Session, role: Role, case_id: int, present: bool, now: datetime) -> None:
    """A side's page joined the call (clears a drop) or lost its connection (starts the grace)."""
    column = CallSession.party_left_at if role is Role.PARTY else CallSession.operator_left_at
    session.execute(
        update(CallSession)
        .where(CallSession.case_id == case_id, CallSession.ended_at.is_(None))
        .values({column: None if present else now})
    )


def sweep(session: Session, now: datetime, grace_seconds: float, default_handling: int) -> list[QueueChange]:
    """Calls dropped longer than the grace go back to the head of the queue; waiting calls
    meet available operators (catches cases reported outside the one-tap call, e.g. the API)."""
    cutoff = now - timedelta(seconds=grace_seconds)
    dropped = session.execute(
        select(CallSession, Case.jurisdiction_id)
        .join(Case, Case.id == CallSession.case_id)
        .where(
            CallSession.ended_at.is_(None),
            Case.state == CaseState.IN_CALL,
            (CallSession.party_left_at <= cutoff) | (CallSession.operator_left_at <= cutoff),
        )
        .order_by(CallSession.id)
        .limit(50)
    ).all()
    waiting = session.execute(
        select(Case.jurisdiction_id)
        .join(OperatorPresence, OperatorPresence.jurisdiction_id == Case.jurisdiction_id)
        .where(Case.state == CaseState.QUEUED, OperatorPresence.status == PresenceStatus.AVAILABLE)
        .distinct()
    ).scalars()
    jurisdictions = sorted({j for _, j in dropped} | set(waiting))
    changes = []
    for jurisdiction_id in jurisdictions:
        version = _bump_version(session, jurisdiction_id)
        for call, _ in (row for row in dropped if row[1] == jurisdiction_id):
            _requeue(session, call, now)
        offers = _offer_waiting(session, jurisdiction_id, now)
        change = _changed(session, jurisdiction_id, version, default_handling)
        change.offers = offers
        changes.append(change)
    return changes


def _requeue(session: Session, call: CallSession, now: datetime) -> None:
    case = session.scalars(select(Case).where(Case.id == call.case_id).with_for_update()).one()
    session.refresh(call, with_for_update=True)
    if call.ended_at is not None or case.state != CaseState.IN_CALL:
        return  # the call ended or moved on meanwhile
    lifecycle.apply(session, case, Action.REQUEUE, SYSTEM, now, {"operator_id": call.operator_id})
    case.operator_id = None
    session.execute(
        upsert_insert(session)(QueueEntry)
        .values(case_id=case.id, priority=HEAD, mode=CallMode.VIDEO)
        .on_conflict_do_update(index_elements=["case_id"], set_={"priority": HEAD})
    )
    call.ended_at = now
    call.outcome = "dropped"
    presence = session.get(OperatorPresence, call.operator_id, with_for_update=True)
    if presence is not None:
        # An operator whose own page is gone is away; one left waiting for the party wraps up
        # first (else the same call would come straight back to them).
        presence.status = PresenceStatus.AWAY if call.operator_left_at else PresenceStatus.WRAP_UP
        presence.updated_at = now
    enqueue_push(
        session,
        case_id=case.id,
        event={"event": "call_requeued", "case_id": case.id, "state": case.state},
        key=f"push:case:{case.id}:call_requeued:{now.timestamp()}",
        now=now,
    )
