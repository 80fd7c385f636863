"""The operator records the scene's circumstances; the rules say whether video handling may go on."""

from datetime import datetime

from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.lifecycle import Edit, EventKind
from kuaichu.eligibility import rules
from kuaichu.eligibility.models import CaseCircumstances
from kuaichu.eligibility.schemas import CircumstancesIn, EligibilityOut, ReasonOut
from kuaichu.legal import cite
from kuaichu.principal import Principal
from kuaichu.registries.schemas import CheckOutcome
from kuaichu.registries.service import latest_checks


def record_circumstances(
    session: Session, operator: Principal, case_id: int, answers: CircumstancesIn, now: datetime
) -> None:
    case = get_case(session, operator, case_id, lock=True)
    ensure_may_write(case, operator, WriteRule.COLLECTION)
    lifecycle.ensure_editable(case, Edit.CIRCUMSTANCES, operator)
    row = session.get(CaseCircumstances, case.id)
    if row is None:
        row = CaseCircumstances(case_id=case.id, **answers.model_dump(), recorded_at=now)
        session.add(row)
    else:
        for field, value in answers.model_dump().items():
            setattr(row, field, value)
        row.recorded_at = now
    lifecycle.record_event(
        session, case, EventKind.CIRCUMSTANCES_RECORDED, operator, now, answers.model_dump()
    )


def assess(session: Session, viewer: Principal, case_id: int, max_vehicles: int) -> EligibilityOut:
    case = get_case(session, viewer, case_id)
    circumstances = session.get(CaseCircumstances, case.id)
    checks = latest_checks(session, viewer, case.id)
    missing = []
    if circumstances is None:
        missing.append("尚未确认现场情况（伤亡、车辆能否移动、有无争议等）")
    if not case.parties:
        missing.append("尚未录入当事人信息")
    elif not checks:
        missing.append("尚未完成驾驶证、车辆、交强险自动核验")
    notes = [
        f"第{c.party_position}方{c.kind_label}核验暂不可用，请人工核对"
        for c in checks
        if c.outcome is CheckOutcome.UNAVAILABLE
    ]
    if circumstances is None:
        return EligibilityOut(eligible=None, reasons=[], missing=missing, notes=notes, transfer_reason=None)
    facts = rules.Facts(
        circumstances=circumstances,
        check_failures=[(c.party_position, f.code, f.reason) for c in checks for f in c.failures],
        vehicles=len(case.parties),
        max_vehicles=max_vehicles,
    )
    found = rules.breaches(facts)
    reasons = [ReasonOut(code=b.code, reason=b.reason, basis=cite(b.basis)) for b in found]
    if found:
        # Ineligible is final even while something else is still missing.
        return EligibilityOut(
            eligible=False,
            reasons=reasons,
            missing=missing,
            notes=notes,
            transfer_reason=rules.transfer_reason(found),
        )
    return EligibilityOut(
        eligible=None if missing else True, reasons=[], missing=missing, notes=notes, transfer_reason=None
    )


def read_eligibility(
    session: Session, viewer: Principal, case_id: int, max_vehicles: int, now: datetime
) -> EligibilityOut:
    """The judgement as the operator reads it: a read of personal data, so audited."""
    judged = assess(session, viewer, case_id, max_vehicles)
    audit.record(session, viewer, AuditAction.READ_ELIGIBILITY, now, case_id)
    return judged
