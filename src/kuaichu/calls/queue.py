"""The jurisdiction's call queue: reporting into it, its order, offers, the party's view of it
and the supervisor's service switch; the rules, no HTTP.

The queue is durable because it is the database: a jurisdiction's cases in state queued,
ordered by place class (a dropped call goes back to the head) and reporting time. A change to
a queue (a report, a call-back, a caller leaving, an operator going 空闲, a timeout) commits on
its own, side by side with the others; then a pass over the jurisdiction's queue
(`queue_pass`) gives waiting calls to available operators and takes the new snapshot. The
passes of one jurisdiction run one at a time, each bumping its version row (a row lock on
PostgreSQL, the single writer on SQLite), and each starts after the change that asked for it
committed: of a call reported and an operator going available at the same moment, the later
pass sees both, so they can't miss each other; and a snapshot with a higher version saw
everything a lower one did. kuaichu.calls.passes runs them, one pass for all the changes that
asked while the previous one ran. The head case and the longest-idle operator are picked
with SKIP LOCKED, so a case locked by a direct take elsewhere is passed over rather than
waited for, and never assigned twice. A report and an operator going 空闲 also offer within
their own transaction (`offer_waiting`, the same SKIP LOCKED picks): an operator already
waiting hears of a new call when its report commits, not after the pass that follows it, which
in a burst of reports waits behind many others.

One active case per phone: every one-tap report first takes the limit locks of its phone and
its address (kuaichu.limit_locks), so a double tap or a second tab finds the case the first one
opened, and simultaneous reports from one address are counted against its limit one after the
other, on SQLite and PostgreSQL alike. This is the only way a party reports an accident.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import BindParameter, Select, bindparam, func, insert, select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.auth.models import User
from kuaichu.auth.service import staff_principal
from kuaichu.calls.availability import ServiceHours, hours_of, on_duty, service_status, wait_text
from kuaichu.calls.models import (
    CallReport,
    CallSession,
    OperatorPresence,
    QueueEntry,
    QueueVersion,
)
from kuaichu.calls.schemas import (
    CallMode,
    CallReportIn,
    JurisdictionServiceOut,
    OfferOut,
    PresenceOut,
    PresenceStatus,
    QueueStatusOut,
    ServiceIn,
    ServiceReason,
    ServiceStatusOut,
)
from kuaichu.cases import lifecycle
from kuaichu.cases import service as cases
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case, party_of
from kuaichu.cases.lifecycle import Action, CaseState
from kuaichu.cases.models import Case
from kuaichu.cases.schemas import ReportIn
from kuaichu.consent.service import require_consent
from kuaichu.db import PreparedUpsert, upsert_insert
from kuaichu.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound, RateLimited
from kuaichu.geo.models import Jurisdiction
from kuaichu.geo.service import by_code, inside_point, listed, locate
from kuaichu.limit_locks import VALUE_LENGTH, limit_key, lock_limits
from kuaichu.messages import Text
from kuaichu.notify.parties import push_case_event
from kuaichu.principal import Principal
from kuaichu.settings import Settings

HEAD, IN_ORDER = 0, 1
_RECENT_CALLS = 20  # handling times the estimated wait is averaged over
CALL_STATES = (CaseState.IN_CALL, CaseState.COLLECTED)
# A phone with a case in one of these reports into that case instead of opening another.
ACTIVE_STATES = (CaseState.QUEUED, CaseState.IN_CALL, CaseState.COLLECTED, CaseState.MORE_EVIDENCE)


@dataclass(frozen=True)
class CallRules:
    """The queue's knobs, from the one Settings object (or a test's or benchmark's own)."""

    default_handling_seconds: int = 300
    grace_seconds: float = 60.0
    offer_timeout_seconds: float = 15.0
    presence_timeout_seconds: float = 10.0
    hours: ServiceHours = field(default_factory=lambda: ServiceHours("07:00", "19:00"))
    reports_per_phone_per_hour: int = 6
    reports_per_address_per_hour: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> "CallRules":
        return cls(
            default_handling_seconds=settings.call_default_handling_seconds,
            grace_seconds=settings.call_grace_seconds,
            offer_timeout_seconds=settings.offer_timeout_seconds,
            presence_timeout_seconds=settings.presence_timeout_seconds,
            hours=ServiceHours(settings.service_hours_start, settings.service_hours_end),
            reports_per_phone_per_hour=settings.reports_per_phone_per_hour,
            reports_per_address_per_hour=settings.reports_per_address_per_hour,
        )

    @property
    def console_gone_seconds(self) -> float:
        # Half the timeout after the close; the WebSocket pings (every quarter, answered within
        # a quarter) find a console that stopped answering in the other half.
        return self.presence_timeout_seconds / 2


class QueueSnapshot(BaseModel):
    """A jurisdiction's queue at one version: what pages turn into positions and waits."""

    model_config = ConfigDict(frozen=True)

    jurisdiction_id: int
    version: int
    order: list[int]
    handling_seconds: int
    staffed: int  # operators on duty; 0: nobody, and no honest estimate
    # What the party is told while waiting (ServiceStatusOut as JSON, without its message: each
    # page that shows it says it in its own language).
    service: dict[str, Any] | None = None

    def position_of(self, case_id: int) -> int | None:
        try:
            return self.order.index(case_id) + 1
        except ValueError:
            return None

    def estimated_wait(self, position: int) -> int | None:
        # Each round of staffed operators clears that many callers ahead.
        if self.staffed == 0:
            return None
        return math.ceil(position / self.staffed) * self.handling_seconds

    def message(self) -> dict[str, object]:
        return {"type": "queue", **self.model_dump(mode="json")}

    @classmethod
    def from_message(cls, message: dict[str, object]) -> "QueueSnapshot":
        return cls.model_validate(message)  # the bus message's "type" is ignored


@dataclass
class QueueChange:
    """What a committed queue change must tell the pages: the new snapshot and any offers."""

    snapshot: QueueSnapshot
    offers: list[OfferOut] = field(default_factory=list)


@dataclass
class Joined:
    """A report's result: its case, whether the report opened it, and the offers its own
    transaction made to operators already waiting (published at once, before the pass)."""

    case: Case
    new: bool
    offers: list[OfferOut] = field(default_factory=list)


# The queue.


_VERSIONS = QueueVersion.__table__
_NEXT_VERSION = PreparedUpsert(
    lambda insert: (
        insert(_VERSIONS)
        .values(jurisdiction_id=bindparam("jurisdiction_id"), version=1)
        .on_conflict_do_update(index_elements=["jurisdiction_id"], set_={"version": _VERSIONS.c.version + 1})
        .returning(_VERSIONS.c.version)
    )
)


def bump_version(session: Session, jurisdiction_id: int) -> int:
    return session.execute(_NEXT_VERSION.of(session), {"jurisdiction_id": jurisdiction_id}).scalar_one()


def queued_cases(jurisdiction_id: int | BindParameter[int]) -> Select[tuple[Case]]:
    return (
        select(Case)
        .outerjoin(QueueEntry, QueueEntry.case_id == Case.id)
        .where(Case.jurisdiction_id == jurisdiction_id, Case.state == CaseState.QUEUED)
        .order_by(func.coalesce(QueueEntry.priority, IN_ORDER), Case.reported_at, Case.id)
    )


# The statements of every pass, report and 空闲 (offer_waiting), built once: in a burst, building
# them cost more than running them.
_QUEUE_ORDER = queued_cases(bindparam("jurisdiction_id")).with_only_columns(Case.id)
_HEAD_CASE = queued_cases(bindparam("jurisdiction_id")).limit(1).with_for_update(skip_locked=True, of=Case)
_VERSION = select(_VERSIONS.c.version).where(_VERSIONS.c.jurisdiction_id == bindparam("jurisdiction_id"))
# The table's columns, not the model's attributes: no ORM compile step on every pass.
_SESSIONS, _CASES = CallSession.__table__, Case.__table__
_RECENT_CALL_TIMES = (
    select(_SESSIONS.c.started_at, _SESSIONS.c.ended_at)
    .join(_CASES, _CASES.c.id == _SESSIONS.c.case_id)
    .where(
        _CASES.c.jurisdiction_id == bindparam("jurisdiction_id"),
        _SESSIONS.c.ended_at.is_not(None),
        _SESSIONS.c.outcome.not_in(("dropped", "no_answer")),
    )
    .order_by(_SESSIONS.c.ended_at.desc())
    .limit(_RECENT_CALLS)
)
_LONGEST_IDLE = (
    select(OperatorPresence)
    .join(User, User.id == OperatorPresence.operator_id)
    .where(
        OperatorPresence.jurisdiction_id == bindparam("jurisdiction_id"),
        OperatorPresence.status == PresenceStatus.AVAILABLE,
        User.active.is_(True),  # a deactivated operator is offered nothing
    )
    .order_by(OperatorPresence.idle_since, OperatorPresence.operator_id)
    .limit(1)
    .with_for_update(skip_locked=True, of=OperatorPresence)
)


def queue_pass(session: Session, jurisdiction_id: int, rules: CallRules, now: datetime) -> QueueChange:
    """After changes to the jurisdiction's queue committed: waiting calls meet available
    operators, and the queue's new snapshot, at the next version."""
    version = bump_version(session, jurisdiction_id)
    offers = offer_waiting(session, jurisdiction_id, now)
    return QueueChange(snapshot(session, jurisdiction_id, rules, now, version), offers)


def snapshot(
    session: Session, jurisdiction_id: int, rules: CallRules, now: datetime, version: int | None = None
) -> QueueSnapshot:
    if version is None:
        version = session.scalar(_VERSION, {"jurisdiction_id": jurisdiction_id}) or 0
    order = list(session.scalars(_QUEUE_ORDER, {"jurisdiction_id": jurisdiction_id}))
    recent = session.execute(_RECENT_CALL_TIMES, {"jurisdiction_id": jurisdiction_id}).all()
    handling = (
        round(sum((end - start).total_seconds() for start, end in recent) / len(recent))
        if recent
        else rules.default_handling_seconds
    )
    jurisdiction = session.get(Jurisdiction, jurisdiction_id)
    assert jurisdiction is not None
    staffed = on_duty(session, jurisdiction_id)
    return QueueSnapshot(
        jurisdiction_id=jurisdiction_id,
        version=version,
        order=order,
        handling_seconds=max(handling, 1),
        staffed=staffed,
        service=service_status(session, jurisdiction, rules.hours, now, staffed).model_dump(
            mode="json", exclude={"message"}
        ),
    )


def changed(
    session: Session, jurisdiction_id: int, version: int, rules: CallRules, now: datetime
) -> QueueChange:
    return QueueChange(snapshot(session, jurisdiction_id, rules, now, version))


def offer_waiting(session: Session, jurisdiction_id: int, now: datetime) -> list[OfferOut]:
    """Give waiting calls to available operators, longest idle first, until one side runs out."""
    offers = []
    while True:
        presence = session.scalars(_LONGEST_IDLE, {"jurisdiction_id": jurisdiction_id}).first()
        if presence is None:
            return offers
        case = head_case(session, jurisdiction_id)
        if case is None:
            return offers
        offers.append(assign(session, case, presence, now))


def head_case(session: Session, jurisdiction_id: int) -> Case | None:
    return session.scalars(_HEAD_CASE, {"jurisdiction_id": jurisdiction_id}).first()


def take_case(session: Session, operator: Principal, case_id: int, now: datetime) -> Case:
    """The operator takes the case; its pages hear of it."""
    case = cases.take_case(session, operator, case_id, now)
    push_case_event(session, case, "call_taken", now)
    return case


def assign(session: Session, case: Case, presence: OperatorPresence, now: datetime) -> OfferOut:
    user = session.get(User, presence.operator_id)
    assert user is not None
    take_case(session, staff_principal(user), case.id, now)
    presence.status = PresenceStatus.BUSY
    presence.updated_at = now
    # Counted as absent until the console joins: an operator who closed the console while
    # available never joins, and the offer goes back to the queue after the offer timeout.
    session.add(CallSession(case_id=case.id, operator_id=user.id, started_at=now, operator_left_at=now))
    session.flush()
    entry = session.get(QueueEntry, case.id)
    return OfferOut(
        case_id=case.id,
        number=case.number,
        operator_id=user.id,
        mode=entry.mode if entry else CallMode.VIDEO,
        presence=presence_out(session, presence),
    )


# The statements of every report, built once: in a burst of reports, building them cost more
# than running them.
_ACTIVE_CASE = (
    select(Case)
    .where(Case.reporter_phone == bindparam("phone"), Case.state.in_(ACTIVE_STATES))
    .order_by(Case.id.desc())
    .limit(1)
)
_REPORTED = CallReport.__table__  # its columns: no ORM compile step for a count
# Rows nothing reads back in the report's transaction: inserted, not flushed as new objects.
_JOIN_QUEUE = insert(QueueEntry.__table__)
_COUNT_REPORT = insert(_REPORTED)
# Both limits' counts in one statement: one round trip.
_RECENT_REPORTS = select(
    select(func.count())
    .where(_REPORTED.c.phone == bindparam("phone"), _REPORTED.c.reported_at > bindparam("since"))
    .scalar_subquery(),
    select(func.count())
    .where(_REPORTED.c.address == bindparam("address"), _REPORTED.c.reported_at > bindparam("since"))
    .scalar_subquery(),
)


def active_case(session: Session, phone: str) -> Case | None:
    return session.scalars(_ACTIVE_CASE, {"phone": phone}).first()


def _lock_report_limits(session: Session, phone: str, address: str, now: datetime) -> None:
    """Serialize the reports of one phone and of one address: a double tap or a second tab finds
    the case the first one opened, and simultaneous reports are counted one after the other."""
    keys = (limit_key("report-phone", phone), limit_key("report-address", address))
    lock_limits(session, keys, now)


def _check_report_limits(session: Session, phone: str, address: str, rules: CallRules, now: datetime) -> None:
    """Reports per phone and per address in the last hour (429, nothing stored); the caller holds
    both keys' locks, so the counts are exact under concurrency too."""
    since = now - timedelta(hours=1)
    counts = {"phone": phone, "address": address, "since": since}
    by_phone, by_address = session.execute(_RECENT_REPORTS, counts).one()
    if by_phone >= rules.reports_per_phone_per_hour:
        raise RateLimited(Text("Calls.too_many_reports_phone"))
    if by_address >= rules.reports_per_address_per_hour:
        raise RateLimited(Text("Calls.too_many_reports_address"))


def _where(session: Session, report: CallReportIn) -> tuple[Jurisdiction, ReportIn, bool]:
    """The jurisdiction and the point of a report: its GPS fix, or the district picked by hand."""
    gps = report.gps
    if gps is not None:
        return locate(session, gps.lat, gps.lng), gps, False
    assert report.jurisdiction_code is not None
    jurisdiction = by_code(session, report.jurisdiction_code)
    lat, lng = inside_point(jurisdiction)
    return jurisdiction, ReportIn(lat=lat, lng=lng, address=report.address), True


def report_call(
    session: Session,
    party: Principal,
    report: CallReportIn,
    rules: CallRules,
    now: datetime,
    address: str = "unknown",
) -> Joined:
    """一键视频报警: the case joins its jurisdiction's queue, and an operator already waiting
    is offered the head of the queue (the report's own call, unless others wait before it).

    A phone that already has an active case gets that case back (no change to any queue);
    else the notice must have been agreed to, the service must be open (in its hours, not
    paused; nobody on duty is told, not refused), and the phone and the address within limits.
    """
    ensure_may_write(None, party, WriteRule.PARTY_SELF)
    if party.phone is None:
        raise Forbidden(Text("Cases.only_party_reports"))
    require_consent(session, party)
    address = address[:VALUE_LENGTH]
    _lock_report_limits(session, party.phone, address, now)
    existing = active_case(session, party.phone)
    if existing is not None:
        return Joined(existing, new=False)
    jurisdiction, point, picked = _where(session, report)
    status = service_status(session, jurisdiction, rules.hours, now)
    if status.why is not None and status.reason is not ServiceReason.NOBODY_ON_DUTY:
        raise Conflict(status.why, code="service_closed", service=status.model_dump(mode="json"))
    _check_report_limits(session, party.phone, address, rules, now)
    case = cases.report_case(session, party, point, jurisdiction, now, picked)
    session.execute(_JOIN_QUEUE, {"case_id": case.id, "priority": IN_ORDER, "mode": report.mode})
    counted = {"case_id": case.id, "phone": party.phone, "address": address, "reported_at": now}
    session.execute(_COUNT_REPORT, counted)
    return Joined(case, new=True, offers=offer_waiting(session, jurisdiction.id, now))


def call_back(session: Session, party: Principal, case_id: int, now: datetime) -> Case:
    """补充视频取证: a case the officer sent back for more evidence rejoins its queue, at the
    head, as the same case; the pass that follows offers it if someone is free."""
    case = own_case(session, party, case_id, lock=True)
    ensure_may_write(case, party, WriteRule.PARTY_OF_CASE)
    lifecycle.apply(session, case, Action.CALL_BACK, party, now)
    case.operator_id = None
    session.execute(
        upsert_insert(session)(QueueEntry)
        .values(case_id=case.id, priority=HEAD, mode=CallMode.VIDEO)
        .on_conflict_do_update(index_elements=["case_id"], set_={"priority": HEAD, "mode": CallMode.VIDEO})
    )
    return case


def own_case(session: Session, party: Principal, case_id: int, lock: bool = False) -> Case:
    case = get_case(session, party, case_id, lock=lock)
    if case.reporter_phone != party.phone and party_of(case, party) is None:
        raise Forbidden(Text("Calls.not_a_party_of_case"))
    return case


def abandon(session: Session, party: Principal, case_id: int, now: datetime) -> int:
    """The caller leaves the queue; the jurisdiction whose queue changed."""
    case = own_case(session, party, case_id)
    ensure_may_write(case, party, WriteRule.PARTY_OF_CASE)
    cases.abandon(session, party, case_id, now)
    return case.jurisdiction_id


def set_mode(session: Session, party: Principal, case_id: int, mode: CallMode, now: datetime) -> None:
    """Poor network: audio only, or photo mode (the shots uploaded instead of filmed)."""
    case = own_case(session, party, case_id, lock=True)
    ensure_may_write(case, party, WriteRule.PARTY_OF_CASE)
    if case.state not in (CaseState.QUEUED, *CALL_STATES):
        raise IllegalTransition(Text("Calls.mode_after_report"), state=case.state)
    statement = (
        upsert_insert(session)(QueueEntry)
        .values(case_id=case.id, priority=IN_ORDER, mode=mode)
        .on_conflict_do_update(index_elements=["case_id"], set_={"mode": mode})
    )
    session.execute(statement)
    lifecycle.record_event(session, case, "call_mode", party, now, {"mode": mode.value})


def queue_status(
    session: Session, party: Principal, case_id: int, rules: CallRules, now: datetime
) -> QueueStatusOut:
    case = own_case(session, party, case_id)
    return _status_of(session, case, rules, now)


def status_after_pass(
    case: Case, change: QueueChange, offered_before: Sequence[OfferOut] = ()
) -> QueueStatusOut:
    """The reporter's answer, from the pass that followed the report: offered in it or in the
    report's own transaction, the case is in the call."""
    offered = any(offer.case_id == case.id for offer in [*offered_before, *change.offers])
    return _status(case, change.snapshot, CaseState.IN_CALL if offered else case.state)


def _status_of(session: Session, case: Case, rules: CallRules, now: datetime) -> QueueStatusOut:
    return _status(case, snapshot(session, case.jurisdiction_id, rules, now), case.state)


def _status(case: Case, current: QueueSnapshot, state: str) -> QueueStatusOut:
    position = current.position_of(case.id)
    wait = current.estimated_wait(position) if position else None
    assert current.service is not None
    return QueueStatusOut(
        case_id=case.id,
        number=case.number,
        state=state,
        position=position,
        estimated_wait_seconds=wait,
        estimated_wait_text=wait_text(wait),
        version=current.version,
        service=ServiceStatusOut.model_validate(current.service),
    )


def active_call(session: Session, party: Principal, rules: CallRules, now: datetime) -> QueueStatusOut:
    """What the party page resumes on load: the phone's active case, wherever it stands."""
    case = active_case(session, party.phone) if party.phone else None
    if case is None:
        raise NotFound(Text("Calls.no_active_report"))
    return _status_of(session, case, rules, now)


def availability(
    session: Session,
    rules: CallRules,
    now: datetime,
    report: CallReportIn | None = None,
    code: str | None = None,
) -> ServiceStatusOut:
    """Before reporting: does the jurisdiction of this point (or this district) take calls now?"""
    if code:
        jurisdiction = by_code(session, code)
    elif report is not None:
        jurisdiction = _where(session, report)[0]
    else:
        raise InvalidInput(Text("Calls.location_or_district"))
    return service_status(session, jurisdiction, rules.hours, now)


def presence_out(session: Session, presence: OperatorPresence) -> PresenceOut:
    user = session.get(User, presence.operator_id)
    assert user is not None
    since = presence.idle_since if presence.status == PresenceStatus.AVAILABLE else presence.updated_at
    return PresenceOut(
        operator_id=presence.operator_id,
        name=user.display_name,
        status=presence.status,
        status_label=PresenceStatus(presence.status).label(),
        since=since,
    )


# The supervisor's switch.


def _service_out(
    session: Session, jurisdiction: Jurisdiction, rules: CallRules, now: datetime
) -> JurisdictionServiceOut:
    hours = hours_of(jurisdiction, rules.hours)
    return JurisdictionServiceOut(
        code=jurisdiction.code,
        name=jurisdiction.name,
        paused=jurisdiction.paused,
        pause_reason=jurisdiction.pause_reason,
        paused_at=jurisdiction.paused_at,
        hours_start=hours.start,
        hours_end=hours.end,
        mutual_self_claim=jurisdiction.mutual_self_claim,
        status=service_status(session, jurisdiction, rules.hours, now),
    )


def services(session: Session, rules: CallRules, now: datetime) -> list[JurisdictionServiceOut]:
    return [_service_out(session, j, rules, now) for j in listed(session)]


def set_service(
    session: Session, supervisor: Principal, code: str, change: ServiceIn, rules: CallRules, now: datetime
) -> tuple[JurisdictionServiceOut, QueueChange]:
    """Pause or resume a jurisdiction's video calls (bad weather, an incident), or set its hours.
    Audited; the waiting parties are told at once (a new queue snapshot carries the status)."""
    ensure_may_write(None, supervisor, WriteRule.SUPERVISION)
    jurisdiction = session.scalars(
        select(Jurisdiction).where(Jurisdiction.code == code).with_for_update()
    ).first()
    if jurisdiction is None:
        raise NotFound(Text("Calls.no_such_jurisdiction"))
    version = bump_version(session, jurisdiction.id)
    if change.paused and not jurisdiction.paused:
        jurisdiction.paused_at = now
    jurisdiction.paused = change.paused
    jurisdiction.pause_reason = change.reason if change.paused else None
    if not change.paused:
        jurisdiction.paused_at = None
    if change.hours_start is not None and change.hours_end is not None:
        jurisdiction.service_hours_start = change.hours_start
        jurisdiction.service_hours_end = change.hours_end
    if change.mutual_self_claim is not None:
        jurisdiction.mutual_self_claim = change.mutual_self_claim
    session.flush()
    audit.record(
        session,
        supervisor,
        AuditAction.SET_JURISDICTION_SERVICE,
        now,
        detail={
            "jurisdiction": code,
            "paused": change.paused,
            "reason": change.reason,
            "hours": [change.hours_start, change.hours_end] if change.hours_start else None,
            "mutual_self_claim": change.mutual_self_claim,
        },
    )
    return _service_out(session, jurisdiction, rules, now), changed(
        session, jurisdiction.id, version, rules, now
    )
