"""The case from report to evacuation: the operator's and the party's actions."""

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case, visible_cases
from kuaichu.cases.lifecycle import Action, CaseState, EventKind
from kuaichu.cases.models import Case, CaseNumberSequence, CaseParty, TimelineEvent
from kuaichu.cases.schemas import (
    CaseOut,
    CaseSummary,
    FactsIn,
    PartiesIn,
    PartyOut,
    ReportIn,
    TimelineEventOut,
    TransitionOut,
)
from kuaichu.clock import local
from kuaichu.consent.service import consented_at_of
from kuaichu.db import upsert_insert
from kuaichu.errors import Forbidden, IllegalTransition, InvalidInput
from kuaichu.geo.models import Jurisdiction
from kuaichu.geo.service import locate
from kuaichu.liability.models import Determination
from kuaichu.notify.outbox import Sms, enqueue_push, enqueue_sms
from kuaichu.principal import Principal, Role
from kuaichu.privacy import mask_id_number, mask_phone
from kuaichu.reviews.deadline import review_deadline


def next_case_number(session: Session, jurisdiction_code: str, now: datetime) -> str:
    """Jurisdiction code + Shanghai date + daily sequence; one atomic upsert, so concurrent
    reports can never share a number."""
    day = local(now).strftime("%Y%m%d")
    statement = (
        upsert_insert(session)(CaseNumberSequence)
        .values(jurisdiction_code=jurisdiction_code, day=day, last=1)
        .on_conflict_do_update(
            index_elements=["jurisdiction_code", "day"],
            set_={"last": CaseNumberSequence.last + 1},
        )
        .returning(CaseNumberSequence.last)
    )
    sequence = session.execute(statement).scalar_one()
    return f"{jurisdiction_code}{day}{sequence:05d}"


def report_case(
    session: Session, party: Principal, report: ReportIn, now: datetime, picked: Jurisdiction | None = None
) -> Case:
    """一键视频报警: the GPS point picks the jurisdiction (or the party picked it by hand, location
    denied: then the point is inside it and the address is what they typed); the case joins its queue."""
    ensure_may_write(session, None, party, WriteRule.PARTY_SELF)
    if party.phone is None:
        raise Forbidden("只有当事人可以报警")
    jurisdiction = picked or locate(session, report.lat, report.lng)
    case = Case(
        number=next_case_number(session, jurisdiction.code, now),
        jurisdiction_id=jurisdiction.id,
        state=CaseState.QUEUED,
        reporter_phone=party.phone,
        reported_at=now,
        report_lat=report.lat,
        report_lng=report.lng,
        address=report.address,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    detail = {"jurisdiction": jurisdiction.name} | ({"location": "manual"} if picked else {})
    lifecycle.record_event(session, case, EventKind.REPORT, party, now, detail)
    return case


def abandon(session: Session, party: Principal, case_id: int, now: datetime) -> Case:
    case = get_case(session, party, case_id, lock=True)
    ensure_may_write(session, case, party, WriteRule.PARTY_OF_CASE)
    if case.reporter_phone != party.phone:
        raise Forbidden("只有报警人可以取消排队")
    # A case sent back for more evidence was reported long ago: leaving the queue must not
    # throw it away with its evidence.
    called_back = session.scalar(
        select(exists().where(TimelineEvent.case_id == case.id, TimelineEvent.kind == Action.CALL_BACK.value))
    )
    lifecycle.apply(session, case, Action.CANCEL_CALL_BACK if called_back else Action.ABANDON, party, now)
    return case


def take_case(session: Session, operator: Principal, case_id: int, now: datetime) -> Case:
    case = get_case(session, operator, case_id, lock=True)
    ensure_may_write(session, case, operator, WriteRule.OPERATOR_OF_JURISDICTION)
    lifecycle.apply(session, case, Action.TAKE, operator, now)
    case.operator_id = operator.id
    _push(session, case, "call_taken", now)
    return case


def _writable_case(session: Session, writer: Principal, case_id: int, rule: WriteRule) -> Case:
    case = get_case(session, writer, case_id, lock=True)
    ensure_may_write(session, case, writer, rule)
    return case


def _require_state(case: Case, *states: CaseState) -> None:
    if case.state not in states:
        raise IllegalTransition(
            f"案件当前状态为“{CaseState(case.state).label()}”，不能修改采集信息",
            state=case.state,
        )


def record_facts(session: Session, operator: Principal, case_id: int, facts: FactsIn, now: datetime) -> Case:
    case = _writable_case(session, operator, case_id, WriteRule.COLLECTION)
    _require_state(case, CaseState.IN_CALL)
    if facts.occurred_at > now:
        raise InvalidInput("事故时间不能晚于当前时间")
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
    session: Session, operator: Principal, case_id: int, parties: PartiesIn, now: datetime
) -> Case:
    case = _writable_case(session, operator, case_id, WriteRule.COLLECTION)
    _require_state(case, CaseState.IN_CALL)
    case.parties.clear()
    session.flush()
    for position, party in enumerate(parties.parties, start=1):
        case.parties.append(CaseParty(position=position, **party.model_dump()))
    session.flush()
    lifecycle.record_event(
        session, case, EventKind.PARTIES_RECORDED, operator, now, {"count": len(parties.parties)}
    )
    return case


def transfer(session: Session, operator: Principal, case_id: int, reason: str, now: datetime) -> Case:
    """转现场处置 (art. 13): the case cannot be handled remotely."""
    case = _writable_case(session, operator, case_id, WriteRule.HANDLING_OPERATOR)
    lifecycle.apply(session, case, Action.TRANSFER, operator, now, {"reason": reason})
    case.transfer_reason = reason
    notify_parties(session, case, Sms.TRANSFERRED, now)
    return case


def notify_parties(session: Session, case: Case, template: Sms, now: datetime, **parameters: str) -> None:
    """An official SMS (a fixed template about this case) to everyone concerned and a push to
    the case's pages, in the caller's transaction."""
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
    _push(session, case, event, now)


def _push(session: Session, case: Case, event: str, now: datetime) -> None:
    enqueue_push(
        session,
        case_id=case.id,
        event={"event": event, "case_id": case.id, "state": case.state},
        key=f"push:case:{case.id}:{event}:{now.timestamp()}",
        now=now,
    )


# Reading.


def in_force_determination(session: Session, case_id: int) -> Determination | None:
    return session.scalars(
        select(Determination)
        .where(Determination.case_id == case_id, Determination.status == "in_force")
        .order_by(Determination.id.desc())
    ).first()


def _party_out(party: CaseParty, viewer: Principal) -> PartyOut:
    out = PartyOut.model_validate(party, from_attributes=True)
    sees_in_full = viewer.role in (Role.OPERATOR, Role.OFFICER, Role.REVIEWER) or (
        viewer.role is Role.PARTY and viewer.phone == party.phone
    )
    if sees_in_full:
        return out
    return out.model_copy(
        update={
            "phone": mask_phone(party.phone),
            "id_number": mask_id_number(party.id_number),
            "licence_number": mask_id_number(party.licence_number),
        }
    )


def _reporter_phone(case: Case, viewer: Principal) -> str:
    handles_case = viewer.role in (Role.OPERATOR, Role.OFFICER, Role.REVIEWER)
    if handles_case or (viewer.role is Role.PARTY and viewer.phone == case.reporter_phone):
        return case.reporter_phone
    return mask_phone(case.reporter_phone)


def case_view(session: Session, case: Case, viewer: Principal) -> CaseOut:
    jurisdiction = session.get(Jurisdiction, case.jurisdiction_id)
    assert jurisdiction is not None
    determination = in_force_determination(session, case.id)
    return CaseOut(
        id=case.id,
        number=case.number,
        state=case.state,
        state_label=CaseState(case.state).label(),
        jurisdiction_code=jurisdiction.code,
        jurisdiction_name=jurisdiction.name,
        reported_at=case.reported_at,
        reporter_phone=_reporter_phone(case, viewer),
        report_lat=case.report_lat,
        report_lng=case.report_lng,
        occurred_at=case.occurred_at,
        address=case.address,
        accident_type=case.accident_type,
        weather=case.weather,
        description=case.description,
        transfer_reason=case.transfer_reason,
        operator_id=case.operator_id,
        parties=[_party_out(p, viewer) for p in case.parties],
        allowed_actions=[a.value for a in lifecycle.allowed_actions(case.state, viewer.role)],
        determination=_determination_out(determination),
        review_deadline=review_deadline(determination.delivered_at) if determination else None,
        consented_at=consented_at_of(session, case.reporter_phone),
    )


def _determination_out(determination: Determination | None) -> dict[str, object] | None:
    if determination is None:
        return None
    return {
        "id": determination.id,
        "decided_at": determination.decided_at.isoformat(),
        "delivered_at": determination.delivered_at.isoformat(),
        "shares": determination.shares,
        "replaces_id": determination.replaces_id,
    }


def transition_view(case: Case, viewer: Principal) -> TransitionOut:
    return TransitionOut(
        id=case.id,
        number=case.number,
        state=case.state,
        state_label=CaseState(case.state).label(),
        allowed_actions=[a.value for a in lifecycle.allowed_actions(case.state, viewer.role)],
        updated_at=case.updated_at,
    )


def read_case(session: Session, viewer: Principal, case_id: int, now: datetime) -> CaseOut:
    case = get_case(session, viewer, case_id)
    audit.record(session, viewer, "read_case", now, case.id)
    return case_view(session, case, viewer)


def list_cases(
    session: Session, viewer: Principal, now: datetime, state: CaseState | None = None
) -> list[CaseSummary]:
    """A party's own cases (newest first); staff see their scope, oldest first (the queue)."""
    query = visible_cases(viewer)
    if state is not None:
        query = query.where(Case.state == state)
    newest_first = viewer.role is Role.PARTY
    query = query.order_by(Case.reported_at.desc() if newest_first else Case.reported_at, Case.id)
    return [
        CaseSummary(
            id=case.id,
            number=case.number,
            state=case.state,
            state_label=CaseState(case.state).label(),
            reported_at=case.reported_at,
            waiting_seconds=int((now - case.reported_at).total_seconds()),
        )
        for case in session.scalars(query.limit(200))
    ]


def timeline(session: Session, viewer: Principal, case_id: int, now: datetime) -> list[TimelineEventOut]:
    """网办进度: the case's history, oldest first."""
    case = get_case(session, viewer, case_id)
    audit.record(session, viewer, "read_timeline", now, case.id)
    return timeline_of(session, case, viewer)


def timeline_of(session: Session, case: Case, viewer: Principal) -> list[TimelineEventOut]:
    """The timeline as `viewer` may see it; the caller has checked access and audited the read."""
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.case_id == case.id)
        .order_by(TimelineEvent.at, TimelineEvent.id)
    )
    staff_names_hidden = viewer.role is Role.PARTY
    return [
        TimelineEventOut(
            at=event.at,
            kind=event.kind,
            label=lifecycle.event_label(event.kind),
            state=event.state_after,
            state_label=CaseState(event.state_after).label(),
            actor=_actor_label(event, staff_names_hidden),
            detail=event.detail,
        )
        for event in events
    ]


def _actor_label(event: TimelineEvent, hide_names: bool) -> str:
    if hide_names or event.actor_role == "party":
        return Role(event.actor_role).label()
    return f"{Role(event.actor_role).label()} {event.actor_label}"
