"""Who may see which case: the one place role AND ownership scope a case query.

Anything outside a principal's scope is reported as not found, so its existence doesn't leak.
"""

from sqlalchemy import ColumnElement, Select, exists, false, or_, select, true
from sqlalchemy.orm import Session

from kuaichu.auth.principal import Principal, Role
from kuaichu.cases.models import Case, CaseParty
from kuaichu.claims.models import Claim
from kuaichu.errors import NotFound


def visible_to(principal: Principal) -> ColumnElement[bool]:
    match principal.role:
        case Role.PARTY:
            named = exists().where(CaseParty.case_id == Case.id, CaseParty.phone == principal.phone)
            return or_(Case.reporter_phone == principal.phone, named)
        case Role.OPERATOR | Role.OFFICER:
            return Case.jurisdiction_id == principal.jurisdiction_id
        case Role.REVIEWER | Role.SUPERVISOR | Role.ADMIN | Role.SYSTEM:
            return true()
        case Role.INSURER:
            return exists().where(Claim.case_id == Case.id, Claim.insurer_code == principal.insurer_code)
    return false()


def visible_cases(principal: Principal) -> Select[tuple[Case]]:
    # Parties load lazily, only where a rule or a view needs them: most transitions don't.
    return select(Case).where(visible_to(principal))


def get_case(session: Session, principal: Principal, case_id: int, *, lock: bool = False) -> Case:
    """Load a case the principal may see; `lock` takes the row lock a transition needs."""
    query = visible_cases(principal).where(Case.id == case_id)
    if lock:
        query = query.with_for_update(of=Case)
    case = session.scalars(query).first()
    if case is None:
        raise NotFound("案件不存在或无权查看")
    return case


def party_of(case: Case, principal: Principal) -> CaseParty | None:
    return next((p for p in case.parties if p.phone == principal.phone), None)
