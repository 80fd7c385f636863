"""Reading a case: its view for each viewer, the lists, the timeline (网办进度) and the labels.

What only the domains built on cases know (the determination, the review period) reaches the
case's view as an Outcome: kuaichu.progress composes them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, inspect, select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases import lifecycle
from kuaichu.cases.access import get_case, visible_cases
from kuaichu.cases.lifecycle import CaseState
from kuaichu.cases.models import Case, CaseParty, TimelineEvent
from kuaichu.cases.schemas import CaseOut, CaseSummary, PartyOut, TimelineEventOut, TransitionOut
from kuaichu.geo.models import Jurisdiction
from kuaichu.principal import Principal, Role
from kuaichu.privacy import mask_id_number, mask_phone

# A party as the view reads it: the entity a write just recorded, or its row.
PartyRecord = CaseParty | Row[Any]


def _party_out(party: PartyRecord, viewer: Principal) -> PartyOut:
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


@dataclass(frozen=True)
class Outcome:
    """What the domains built on cases add to its view: the determination in force, the end of
    the review period, when the reporter consented (kuaichu.progress reads them)."""

    determination: dict[str, object] | None = None
    review_deadline: datetime | None = None
    consented_at: datetime | None = None


# The view names the case's district; a statement built once, as a case is read often. On the
# table's columns: a select of the model's attributes goes through the ORM's compile step,
# which costs as much again as running it.
_DISTRICTS = Jurisdiction.__table__.c
_DISTRICT = select(_DISTRICTS.code, _DISTRICTS.name).where(_DISTRICTS.id == bindparam("id"))
# The case's parties, built once and on the table's columns: the relationship's lazy load
# builds its query at every call, and loading entities costs twice as much as reading rows.
_PARTY_COLUMNS = CaseParty.__table__.c
_PARTIES = (
    select(CaseParty.__table__)
    .where(_PARTY_COLUMNS.case_id == bindparam("case_id"))
    .order_by(_PARTY_COLUMNS.position)
)


def _parties(session: Session, case: Case) -> Sequence[PartyRecord]:
    """The case's parties, by position: as loaded (a write that just recorded them), else
    their rows."""
    if "parties" not in inspect(case).unloaded:
        return case.parties
    return session.execute(_PARTIES, {"case_id": case.id}).all()


def case_view(session: Session, case: Case, viewer: Principal, outcome: Outcome) -> CaseOut:
    jurisdiction = session.execute(_DISTRICT, {"id": case.jurisdiction_id}).one()
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
        parties=[_party_out(p, viewer) for p in _parties(session, case)],
        allowed_actions=[a.value for a in lifecycle.allowed_actions(case.state, viewer.role)],
        determination=outcome.determination,
        review_deadline=outcome.review_deadline,
        consented_at=outcome.consented_at,
    )


def transition_view(case: Case, viewer: Principal) -> TransitionOut:
    return TransitionOut(
        id=case.id,
        number=case.number,
        state=case.state,
        state_label=CaseState(case.state).label(),
        allowed_actions=[a.value for a in lifecycle.allowed_actions(case.state, viewer.role)],
        updated_at=case.updated_at,
    )


def list_cases(
    session: Session,
    viewer: Principal,
    now: datetime,
    state: CaseState | None = None,
    only: ColumnElement[bool] | None = None,
) -> list[CaseSummary]:
    """A party's own cases (newest first); staff see their scope, oldest first (the queue).
    `only`: a further condition from a domain built on cases (a signal, kuaichu.signals)."""
    query = visible_cases(viewer)
    if state is not None:
        query = query.where(Case.state == state)
    if only is not None:
        query = query.where(only)
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
    audit.record(session, viewer, AuditAction.READ_TIMELINE, now, case.id)
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
            actor_role=Role(event.actor_role),
            actor=_actor_label(event, staff_names_hidden),
            detail=event.detail,
        )
        for event in events
    ]


def _actor_label(event: TimelineEvent, hide_names: bool) -> str:
    if hide_names or event.actor_role == "party":
        return Role(event.actor_role).label()
    return f"{Role(event.actor_role).label()} {event.actor_label}"
