"""The case from report to evacuation: the operator's and the party's actions."""

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.lifecycle import Action, CaseState, Edit, EventKind
from kuaichu.cases.models import Case, CaseNumberSequence, CaseParty, TimelineEvent
from kuaichu.cases.schemas import FactsIn, PartiesIn, ReportIn
from kuaichu.clock import local
from kuaichu.db import PreparedUpsert
from kuaichu.errors import Forbidden, InvalidInput
from kuaichu.geo.models import Jurisdiction
from kuaichu.messages import Text
from kuaichu.principal import Principal

_SEQUENCES = CaseNumberSequence.__table__
_NEXT_SEQUENCE = PreparedUpsert(
    lambda insert: (
        insert(_SEQUENCES)
        .values(jurisdiction_code=bindparam("code"), day=bindparam("day"), last=1)
        .on_conflict_do_update(
            index_elements=["jurisdiction_code", "day"], set_={"last": _SEQUENCES.c.last + 1}
        )
        .returning(_SEQUENCES.c.last)
    )
)


def next_case_number(session: Session, jurisdiction_code: str, now: datetime) -> str:
    """Jurisdiction code + Shanghai date + daily sequence; one atomic upsert, so concurrent
    reports can never share a number."""
    day = local(now).strftime("%Y%m%d")
    sequence = session.execute(
        _NEXT_SEQUENCE.of(session), {"code": jurisdiction_code, "day": day}
    ).scalar_one()
    return f"{jurisdiction_code}{day}{sequence:05d}"


def open_case(
    session: Session,
    reporter_phone: str,
    jurisdiction: Jurisdiction,
    point: tuple[float, float],
    state: CaseState,
    now: datetime,
    **facts: Any,
) -> Case:
    """The one place a case is made, numbered in its jurisdiction: a reported call (queued) or a
    self-settlement (agreement pending); `facts` are what the reporter already said."""
    lat, lng = point
    case = Case(
        number=next_case_number(session, jurisdiction.code, now),
        jurisdiction_id=jurisdiction.id,
        state=state,
        reporter_phone=reporter_phone,
        reported_at=now,
        report_lat=lat,
        report_lng=lng,
        updated_at=now,
        **facts,
    )
    session.add(case)
    return case


def report_case(
    session: Session,
    party: Principal,
    report: ReportIn,
    jurisdiction: Jurisdiction,
    now: datetime,
    picked: bool = False,
) -> Case:
    """一键视频报警: the case joins the queue of the jurisdiction the GPS point lies in (or that the
    party picked by hand, location denied: then the point is inside it and the address is what
    they typed).

    Only kuaichu.calls.queue.report_call calls this, the one way a party reports: it checks the
    consent, the one active case per phone, the service hours and the report limits first, and
    locates the point."""
    ensure_may_write(None, party, WriteRule.PARTY_SELF)
    if party.phone is None:
        raise Forbidden(Text("Cases.only_party_reports"))
    point = (report.lat, report.lng)
    case = open_case(session, party.phone, jurisdiction, point, CaseState.QUEUED, now, address=report.address)
    session.flush()
    detail = {"jurisdiction": jurisdiction.name} | ({"location": "manual"} if picked else {})
    lifecycle.record_event(session, case, EventKind.REPORT, party, now, detail)
    return case


def abandon(session: Session, party: Principal, case_id: int, now: datetime) -> Case:
    case = get_case(session, party, case_id, lock=True)
    ensure_may_write(case, party, WriteRule.PARTY_OF_CASE)
    if case.reporter_phone != party.phone:
        raise Forbidden(Text("Cases.only_reporter_leaves_queue"))
    # A case sent back for more evidence was reported long ago: leaving the queue must not
    # throw it away with its evidence.
    called_back = session.scalar(
        select(exists().where(TimelineEvent.case_id == case.id, TimelineEvent.kind == Action.CALL_BACK.value))
    )
    lifecycle.apply(session, case, Action.CANCEL_CALL_BACK if called_back else Action.ABANDON, party, now)
    return case


def take_case(session: Session, operator: Principal, case_id: int, now: datetime) -> Case:
    case = get_case(session, operator, case_id, lock=True)
    ensure_may_write(case, operator, WriteRule.OPERATOR_OF_JURISDICTION)
    case.operator_id = operator.id  # before the transition: its timeline line flushes the case once
    lifecycle.apply(session, case, Action.TAKE, operator, now)
    return case


def _writable_case(session: Session, writer: Principal, case_id: int, rule: WriteRule) -> Case:
    case = get_case(session, writer, case_id, lock=True)
    ensure_may_write(case, writer, rule)
    return case


def record_facts(session: Session, operator: Principal, case_id: int, facts: FactsIn, now: datetime) -> Case:
    case = _writable_case(session, operator, case_id, WriteRule.COLLECTION)
    lifecycle.ensure_editable(case, Edit.FACTS, operator)
    if facts.occurred_at > now:
        raise InvalidInput(Text("Cases.occurred_in_future"))
    case.occurred_at = facts.occurred_at
    case.address = facts.address
    case.accident_type = facts.accident_type
    case.weather = facts.weather
    case.description = facts.description
    if facts.lat is not None and facts.lng is not None:
        case.report_lat, case.report_lng = facts.lat, facts.lng
    lifecycle.record_event(session, case, EventKind.FACTS_RECORDED, operator, now)
    return case


def record_parties(
    session: Session,
    operator: Principal,
    case_id: int,
    parties: PartiesIn,
    now: datetime,
    max_vehicles: int,
) -> Case:
    """The parties in order (甲, 乙, 丙...), as many as the case's jurisdiction allows;
    `max_vehicles` is the setting, for jurisdictions without a limit of their own."""
    case = _writable_case(session, operator, case_id, WriteRule.COLLECTION)
    lifecycle.ensure_editable(case, Edit.FACTS, operator)
    jurisdiction = session.get(Jurisdiction, case.jurisdiction_id)
    assert jurisdiction is not None
    limit = jurisdiction.vehicle_limit(max_vehicles)
    if len(parties.parties) > limit:
        said = Text("Cases.too_many_vehicles", limit=limit, vehicles=len(parties.parties))
        raise InvalidInput(said, field="parties", limit=limit)
    case.parties.clear()
    session.flush()
    for position, party in enumerate(parties.parties, start=1):
        case.parties.append(CaseParty(position=position, **party.model_dump()))
    session.flush()
    lifecycle.record_event(
        session, case, EventKind.PARTIES_RECORDED, operator, now, {"count": len(parties.parties)}
    )
    return case
