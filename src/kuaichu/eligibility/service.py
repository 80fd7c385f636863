"""The operator records the scene's circumstances; the rules say whether video handling may go on."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.lifecycle import Edit, EventKind
from kuaichu.cases.models import Case
from kuaichu.eligibility import rules
from kuaichu.eligibility.models import CaseCircumstances
from kuaichu.eligibility.schemas import CircumstancesIn, EligibilityOut, ReasonOut
from kuaichu.geo.models import Jurisdiction
from kuaichu.legal import cite
from kuaichu.messages import Locale, Text, reader_locale
from kuaichu.principal import Principal
from kuaichu.registries.checks import Failure
from kuaichu.registries.schemas import CheckOutcome, FailureOut, RegistryKind
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


@dataclass(frozen=True)
class Judgement:
    """What the rules conclude about a case, to be said in whichever language reads it."""

    # None while something the rules need is still missing; False is final even then.
    eligible: bool | None
    breaches: list[rules.Breach]
    missing: list[Text]
    notes: list[Text]

    def out(self, locale: Locale | None = None) -> EligibilityOut:
        locale = locale or reader_locale()
        return EligibilityOut(
            eligible=self.eligible,
            reasons=[
                ReasonOut(code=b.code, reason=b.say(locale), basis=cite(b.basis, locale))
                for b in self.breaches
            ],
            missing=[m.render(locale) for m in self.missing],
            notes=[n.render(locale) for n in self.notes],
            # Pre-fills the transfer, whose reason is stored on the case: Chinese, for the record.
            transfer_reason=rules.transfer_reason(self.breaches) if self.breaches else None,
        )


def judge(session: Session, viewer: Principal, case_id: int, max_vehicles: int) -> Judgement:
    case = get_case(session, viewer, case_id)
    circumstances = session.get(CaseCircumstances, case.id)
    checks = latest_checks(session, viewer, case.id)
    missing = []
    if circumstances is None:
        missing.append(Text("Eligibility.missing_circumstances"))
    if not case.parties:
        missing.append(Text("Eligibility.missing_parties"))
    elif not checks:
        missing.append(Text("Eligibility.missing_checks"))
    notes = [
        Text("Eligibility.check_unavailable", position=c.party_position, kind=RegistryKind(c.kind))
        for c in checks
        if c.outcome is CheckOutcome.UNAVAILABLE
    ]
    if circumstances is None:
        return Judgement(None, [], missing, notes)
    facts = rules.Facts(
        circumstances=circumstances,
        check_failures=[(c.party_position, f.code, _failure(f)) for c in checks for f in c.failures],
        vehicles=len(case.parties),
        max_vehicles=_jurisdiction(session, case).vehicle_limit(max_vehicles),
    )
    found = rules.breaches(facts)
    if found:
        return Judgement(False, found, missing, notes)
    return Judgement(None if missing else True, [], missing, notes)


def _jurisdiction(session: Session, case: Case) -> Jurisdiction:
    jurisdiction = session.get(Jurisdiction, case.jurisdiction_id)
    assert jurisdiction is not None
    return jurisdiction


def _failure(failure: FailureOut) -> Text | str:
    """A check failure from the catalogue by its code, so any locale can say it; one stored before
    its params were kept is said as it was stored."""
    said = Failure(failure.code, failure.params).said
    try:
        said.render()
    except KeyError:
        return failure.reason
    return said


def assess(session: Session, viewer: Principal, case_id: int, max_vehicles: int) -> EligibilityOut:
    """The judgement in the reader's language."""
    return judge(session, viewer, case_id, max_vehicles).out()


def read_eligibility(
    session: Session, viewer: Principal, case_id: int, max_vehicles: int, now: datetime
) -> EligibilityOut:
    """The judgement as the operator reads it: a read of personal data, so audited."""
    judged = assess(session, viewer, case_id, max_vehicles)
    audit.record(session, viewer, AuditAction.READ_ELIGIBILITY, now, case_id)
    return judged
