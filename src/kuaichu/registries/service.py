"""自动核验: the registry checks of a case's parties, run when the operator has entered them.

Three units of work, so a slow registry never holds the database: read what to check,
ask the registries (no transaction open), store the results with their time on the case.
"""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.lifecycle import EventKind
from kuaichu.cases.models import CaseParty
from kuaichu.clock import local
from kuaichu.errors import InvalidInput, NotFound
from kuaichu.messages import Text
from kuaichu.principal import Principal
from kuaichu.registries import checks
from kuaichu.registries.adapters import Registries, RegistryUnavailable
from kuaichu.registries.models import RegistryCheck
from kuaichu.registries.schemas import CheckOut, CheckOutcome, FailureOut, LookupOut, RegistryKind


@dataclass(frozen=True)
class PartyToCheck:
    position: int
    name: str
    licence_number: str
    plate_number: str
    plate_type: str
    vehicle_type: str
    policy_number: str | None


@dataclass(frozen=True)
class CheckRequest:
    case_id: int
    on: date  # the accident's date (Shanghai): validity is judged on that day
    parties: list[PartyToCheck]


@dataclass(frozen=True)
class CheckResult:
    position: int
    kind: RegistryKind
    outcome: CheckOutcome
    failures: list[checks.Failure]
    found: dict[str, object]


def subject_of(party: PartyToCheck | CaseParty) -> str:
    entered = "|".join(
        str(getattr(party, name))
        for name in ("name", "licence_number", "plate_number", "plate_type", "vehicle_type", "policy_number")
    )
    return hashlib.sha256(entered.encode()).hexdigest()


def what_to_check(session: Session, viewer: Principal, case_id: int, now: datetime) -> CheckRequest:
    case = get_case(session, viewer, case_id)
    # Checked here too, so nobody else's request reaches the registries.
    ensure_may_write(case, viewer, WriteRule.COLLECTION)
    if not case.parties:
        raise InvalidInput(Text("Registry.enter_parties_first"))
    return CheckRequest(
        case_id=case.id,
        on=local(case.occurred_at or now).date(),
        parties=[
            PartyToCheck(
                p.position,
                p.name,
                p.licence_number,
                p.plate_number,
                p.plate_type,
                p.vehicle_type,
                p.policy_number,
            )
            for p in case.parties
        ],
    )


def look_up(registries: Registries, request: CheckRequest) -> list[CheckResult]:
    """Ask the registries about every party; a registry that can't answer is 'unavailable'."""
    results = []
    for party in request.parties:
        lookups = (
            (
                RegistryKind.LICENCE,
                lambda p=party: checks.check_licence(
                    registries.licence(p.licence_number), p.name, p.vehicle_type, request.on
                ),
            ),
            (
                RegistryKind.VEHICLE,
                lambda p=party: checks.check_vehicle(
                    registries.vehicle(p.plate_number, p.plate_type),
                    p.plate_number,
                    p.vehicle_type,
                    request.on,
                ),
            ),
            (
                RegistryKind.INSURANCE,
                lambda p=party: checks.check_insurance(
                    registries.policies(p.plate_number, p.plate_type), p.policy_number, request.on
                ),
            ),
        )
        for kind, lookup in lookups:
            try:
                finding = lookup()
            except RegistryUnavailable as error:
                results.append(
                    CheckResult(
                        party.position,
                        kind,
                        CheckOutcome.UNAVAILABLE,
                        [checks.Failure("registry_unavailable", {"cause": error.cause.value})],
                        {},
                    )
                )
                continue
            outcome = CheckOutcome.FAILED if finding.failures else CheckOutcome.PASSED
            results.append(CheckResult(party.position, kind, outcome, finding.failures, finding.found))
    return results


def store(
    session: Session, viewer: Principal, request: CheckRequest, results: list[CheckResult], now: datetime
) -> list[CheckOut]:
    case = get_case(session, viewer, request.case_id, lock=True)
    ensure_may_write(case, viewer, WriteRule.COLLECTION)
    for result in results:
        session.add(
            RegistryCheck(
                case_id=case.id,
                party_position=result.position,
                subject=subject_of(next(p for p in request.parties if p.position == result.position)),
                kind=result.kind,
                outcome=result.outcome,
                failures=[{"code": f.code, "reason": f.reason, "params": f.params} for f in result.failures],
                found=result.found,
                checked_at=now,
            )
        )
    failed = sum(r.outcome is CheckOutcome.FAILED for r in results)
    lifecycle.record_event(session, case, EventKind.REGISTRY_CHECKED, viewer, now, {"failed": failed})
    session.flush()
    return latest_checks(session, viewer, case.id)


def latest_checks(session: Session, viewer: Principal, case_id: int) -> list[CheckOut]:
    """The newest check of each kind for each party now on the case."""
    case = get_case(session, viewer, case_id)
    parties = {p.position: p for p in case.parties}
    rows = session.scalars(
        select(RegistryCheck)
        .where(RegistryCheck.case_id == case.id)
        .order_by(RegistryCheck.checked_at.desc(), RegistryCheck.id.desc())
    )
    latest: dict[tuple[int, str], RegistryCheck] = {}
    current = {position: subject_of(party) for position, party in parties.items()}
    for row in rows:
        # Checks of what the party entry said before it was changed concern someone else.
        if current.get(row.party_position) == row.subject:
            latest.setdefault((row.party_position, row.kind), row)
    kinds = list(RegistryKind)
    return [
        CheckOut(
            party_position=row.party_position,
            party_name=parties[row.party_position].name,
            plate_number=parties[row.party_position].plate_number,
            kind=row.kind,
            kind_label=RegistryKind(row.kind).label(),
            outcome=row.outcome,
            failures=[FailureOut(**f) for f in row.failures],
            found=row.found,
            checked_at=row.checked_at,
        )
        for (position, kind), row in sorted(
            latest.items(), key=lambda item: (item[0][0], kinds.index(item[0][1]))
        )
    ]


def checked_positions(session: Session, case_id: int) -> set[int]:
    """Party positions that have been checked at all, on any version of their data: a party
    among them without a current check was edited after its check (the check is stale)."""
    return set(
        session.scalars(
            select(RegistryCheck.party_position).where(RegistryCheck.case_id == case_id).distinct()
        )
    )


# 查询预填: the operator types a plate (and its type) or a licence number and the registries
# fill in the rest of the party's entry. Same three steps as the checks: may this operator look
# for this case (read), ask the registries (no transaction), audit the read of personal data.


@dataclass(frozen=True)
class LookupRequest:
    case_id: int
    on: date
    plate_number: str | None
    plate_type: str | None
    licence_number: str | None

    @property
    def by(self) -> list[str]:
        return [k for k in ("plate", "licence") if getattr(self, f"{k}_number")]


def what_to_look_up(
    session: Session,
    viewer: Principal,
    case_id: int,
    plate_number: str | None,
    plate_type: str | None,
    licence_number: str | None,
    now: datetime,
) -> LookupRequest:
    case = get_case(session, viewer, case_id)
    if not plate_number and not licence_number:
        raise InvalidInput(Text("Registry.lookup_needs_number"))
    if plate_number and not plate_type:
        raise InvalidInput(Text("Registry.lookup_needs_plate_type"))
    on = local(case.occurred_at or now).date()
    return LookupRequest(case.id, on, plate_number, plate_type, licence_number)


def look_up_person(registries: Registries, request: LookupRequest) -> LookupOut:
    """Ask the registries; raises RegistryUnavailable, NotFound when none of them knows it."""
    licence = registries.licence(request.licence_number) if request.licence_number else None
    vehicle = policy = None
    if request.plate_number and request.plate_type:
        vehicle = registries.vehicle(request.plate_number, request.plate_type)
        policies = registries.policies(request.plate_number, request.plate_type)
        in_force = [p for p in policies if p.starts_on <= request.on <= p.ends_on]
        policy = (in_force or sorted(policies, key=lambda p: p.ends_on, reverse=True) or [None])[0]
    if licence is None and vehicle is None and policy is None:
        raise NotFound(
            Text("Registry.plate_not_found" if request.plate_number else "Registry.licence_not_found")
        )
    return LookupOut(
        name=licence.name if licence else (vehicle.owner if vehicle else None),
        licence_number=licence.number if licence else None,
        licence_status=licence.status if licence else None,
        plate_number=vehicle.plate_number if vehicle else request.plate_number,
        plate_type=vehicle.plate_type if vehicle else request.plate_type,
        vehicle_type=vehicle.vehicle_type if vehicle else None,
        insurer_code=policy.insurer_code if policy else None,
        insurer_name=policy.insurer_name if policy else None,
        policy_number=policy.policy_number if policy else None,
    )


def record_lookup(
    session: Session, viewer: Principal, request: LookupRequest, outcome: str, now: datetime
) -> None:
    detail = {"by": request.by, "outcome": outcome}
    audit.record(session, viewer, AuditAction.REGISTRY_LOOKUP, now, request.case_id, detail)


def read_checks(session: Session, viewer: Principal, case_id: int, now: datetime) -> list[CheckOut]:
    """The checks as a person reads them: a read of personal data, so audited."""
    checks = latest_checks(session, viewer, case_id)
    audit.record(session, viewer, AuditAction.READ_CHECKS, now, case_id)
    return checks
