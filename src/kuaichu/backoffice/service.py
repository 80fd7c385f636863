"""The back office's reads of a case (民警定责, 复核, 监管): finding a case by what a person
knows of it (事故编号, a phone, a plate, never an internal id), and the case file the officer
decides on and the reviewer checks."""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.auth.models import User
from kuaichu.backoffice.schemas import (
    ActOut,
    CaseFileOut,
    DeterminationFileOut,
    FoundCase,
    FoundParty,
    PartyFileOut,
    ShareFileOut,
)
from kuaichu.cases.access import get_case, visible_cases
from kuaichu.cases.identifiers import PHONE, PROVINCES
from kuaichu.cases.lifecycle import CaseState
from kuaichu.cases.models import Case, CaseParty
from kuaichu.documents.service import designation, document_in_making
from kuaichu.eligibility import service as eligibility
from kuaichu.errors import InvalidInput
from kuaichu.geo.models import Jurisdiction
from kuaichu.liability.grades import DeterminationStatus, Responsibility
from kuaichu.liability.models import LiabilityFacts
from kuaichu.liability.rules import Act
from kuaichu.liability.service import in_force_determination, said_rule
from kuaichu.messages import Labelled, Text, reader_locale, text
from kuaichu.principal import Principal, Role
from kuaichu.privacy import mask_phone
from kuaichu.registries.service import latest_checks
from kuaichu.reviews.deadline import last_day_to_apply

SEARCH_LIMIT = 50
MAX_QUERY_CHARS = 40
# Who needs a party's phone in full: those who call the parties back.
SEES_PHONES = frozenset({Role.OPERATOR, Role.OFFICER, Role.REVIEWER})

# 事故编号: jurisdiction code (6), Shanghai date (8), sequence (5); a document number adds "-n".
_CASE_NUMBER = re.compile(r"^(\d{19})(-\d{1,3})?$")
# A plate, whole or without its province character (people often leave it off).
_PLATE = re.compile(rf"^[{PROVINCES}]?[A-Z][A-Z0-9]{{4,6}}[挂学警]?$")
_SEPARATORS = re.compile(r"[\s·•\-.]")


class SearchBy(Labelled):
    NUMBER = "number"
    PHONE = "phone"
    PLATE = "plate"


@dataclass(frozen=True)
class CaseQuery:
    by: SearchBy
    value: str

    def masked(self) -> str:
        """The query as the audit log keeps it: a phone is personal data."""
        return mask_phone(self.value) if self.by is SearchBy.PHONE else self.value


def parse_query(text: str) -> CaseQuery:
    """What a person typed, read as a case number, a phone or a plate; anything else is refused
    with a message saying what to type (never reaching the database)."""
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(Text("Backoffice.query_too_long", how=Text("Backoffice.how_to_search")))
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidInput(Text("Backoffice.query_unreadable", how=Text("Backoffice.how_to_search")))
    compact = text.strip()
    if not compact:
        raise InvalidInput(Text("Backoffice.how_to_search"))
    if compact.isascii() and compact.replace("-", "").isdigit():
        if PHONE.match(compact):
            return CaseQuery(SearchBy.PHONE, compact)
        number = _CASE_NUMBER.match(compact)
        if number:
            return CaseQuery(SearchBy.NUMBER, number.group(1))
        raise InvalidInput(
            Text("Backoffice.not_number_nor_phone", query=compact, how=Text("Backoffice.how_to_search"))
        )
    plate = _SEPARATORS.sub("", compact).upper()
    if _PLATE.match(plate):
        return CaseQuery(SearchBy.PLATE, plate)
    raise InvalidInput(Text("Backoffice.how_to_search"))


def _matches(query: CaseQuery) -> ColumnElement[bool]:
    match query.by:
        case SearchBy.NUMBER:
            return Case.number == query.value
        case SearchBy.PHONE:
            named = exists().where(CaseParty.case_id == Case.id, CaseParty.phone == query.value)
            return or_(Case.reporter_phone == query.value, named)
        case SearchBy.PLATE:
            plate = (
                CaseParty.plate_number == query.value
                if query.value[0] in PROVINCES
                # Without the province: the plate's last characters (the query has no wildcards).
                else CaseParty.plate_number.endswith(query.value, autoescape=True)
            )
            return exists().where(CaseParty.case_id == Case.id, plate)


def search_cases(session: Session, viewer: Principal, text: str, now: datetime) -> list[FoundCase]:
    """Cases the viewer may see that match, newest first; the search is audited against every
    case it found (it reads the parties' names and phones)."""
    query = parse_query(text)
    cases = session.scalars(
        visible_cases(viewer)
        .where(_matches(query))
        .options(selectinload(Case.parties))
        .order_by(Case.reported_at.desc(), Case.id.desc())
        .limit(SEARCH_LIMIT)
    ).all()
    detail = {"by": query.by.value, "query": query.masked()}
    for case in cases:
        audit.record(session, viewer, AuditAction.SEARCH_CASES, now, case.id, detail)
    if not cases:
        audit.record(session, viewer, AuditAction.SEARCH_CASES, now, None, detail | {"found": 0})
    jurisdictions: dict[int, str] = {j.id: j.name for j in session.scalars(select(Jurisdiction))}
    full_phones = viewer.role in SEES_PHONES
    return [
        FoundCase(
            id=case.id,
            number=case.number,
            state=case.state,
            state_label=CaseState(case.state).label(),
            jurisdiction_name=jurisdictions.get(case.jurisdiction_id, ""),
            reported_at=case.reported_at,
            matched_by=query.by.value,
            matched_by_label=query.by.label(),
            parties=[
                FoundParty(
                    position=p.position,
                    designation=designation(p.position),
                    name=p.name,
                    phone=p.phone if full_phones else mask_phone(p.phone),
                    plate_number=p.plate_number,
                )
                for p in case.parties
            ],
        )
        for case in cases
    ]


# The case file.


def case_file(
    session: Session, viewer: Principal, case_id: int, max_vehicles: int, now: datetime
) -> CaseFileOut:
    case = get_case(session, viewer, case_id)
    audit.record(session, viewer, AuditAction.READ_CASE_FILE, now, case.id)
    checks = latest_checks(session, viewer, case.id)
    facts_row = session.get(LiabilityFacts, case.id)
    facts = facts_row.parties if facts_row else {}
    parties = []
    for p in case.parties:
        recorded = facts.get(str(p.position))
        parties.append(
            PartyFileOut(
                id=p.id,
                position=p.position,
                designation=designation(p.position),
                name=p.name,
                plate_number=p.plate_number,
                vehicle_type=p.vehicle_type,
                checks=[c for c in checks if c.party_position == p.position],
                acts_recorded=recorded is not None,
                acts=[ActOut(code=a, label=Act(a).label()) for a in (recorded or {}).get("acts", [])],
                impact_point=(recorded or {}).get("impact_point") or "",
            )
        )
    return CaseFileOut(
        id=case.id,
        number=case.number,
        parties=parties,
        eligibility=eligibility.assess(session, viewer, case.id, max_vehicles),
        determination=_determination_file(session, case),
    )


# Whether the officer took the rules' proposal (None: no rule applied).
PROPOSAL_TAKEN = {
    True: "Backoffice.proposal_accepted",
    False: "Backoffice.proposal_rejected",
    None: "Backoffice.no_proposal",
}


def _determination_file(session: Session, case: Case) -> DeterminationFileOut | None:
    determination = in_force_determination(session, case.id)
    if determination is None:
        return None
    officer = session.get(User, determination.officer_id)
    parties = {p.id: p for p in case.parties}
    locale = reader_locale()
    rule_label, rule_basis = said_rule(determination.proposal, locale)
    return DeterminationFileOut(
        decided_at=determination.decided_at,
        officer=officer.display_name if officer else "",
        status=determination.status,
        status_label=DeterminationStatus(determination.status).label(),
        shares=[
            ShareFileOut(
                party_id=int(str(s["party_id"])),
                designation=designation(parties[int(str(s["party_id"]))].position),
                name=parties[int(str(s["party_id"]))].name,
                responsibility=str(s["responsibility"]),
                responsibility_label=Responsibility(str(s["responsibility"])).label(),
            )
            for s in determination.shares
            if int(str(s["party_id"])) in parties
        ],
        reasoning=determination.reasoning,
        rule_label=rule_label,
        rule_basis=rule_basis,
        proposal_accepted=determination.proposal_accepted,
        proposal_accepted_label=text(PROPOSAL_TAKEN[determination.proposal_accepted], locale),
        override_reason=determination.override_reason,
        review_last_day=last_day_to_apply(determination.delivered_at),
        document_pending=document_in_making(session, determination.id) is not None,
    )
