"""定损理赔: a party pushes the claim; it goes to the right compulsory insurer (交强险), whose
system is told by a signed webhook through the outbox and reports its progress back."""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.auth.models import Insurer
from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case, party_of
from kuaichu.cases.lifecycle import Action, CaseState, Edit, EventKind
from kuaichu.cases.models import Case, CaseParty
from kuaichu.claims.models import Claim, ClaimProgress
from kuaichu.claims.schemas import ClaimOut, ClaimStep
from kuaichu.documents.service import list_documents
from kuaichu.errors import Conflict, Forbidden, InvalidInput, NotFound
from kuaichu.evidence.service import evidence_of
from kuaichu.liability.grades import Responsibility
from kuaichu.liability.service import in_force_determination
from kuaichu.messages import DEFAULT_LOCALE, Text
from kuaichu.notify.outbox import Sms, enqueue_sms, enqueue_webhook
from kuaichu.principal import Principal
from kuaichu.privacy import mask_id_number, mask_name
from kuaichu.registries.models import RegistryCheck
from kuaichu.registries.schemas import RegistryKind
from kuaichu.registries.service import subject_of
from kuaichu.reviews.service import review_still_possible
from kuaichu.settlement.service import confirmed_shares

_AT_FAULT_ORDER = (Responsibility.FULL, Responsibility.MAIN, Responsibility.EQUAL, Responsibility.MINOR)


def route_claim(case: Case, claimant: CaseParty, shares: list[dict[str, Any]]) -> CaseParty:
    """Whose insurer pays: a party without responsibility claims on the at-fault party's
    compulsory insurance; a party with a share of the fault claims on its own."""
    grade_of = {share["party_id"]: Responsibility(share["responsibility"]) for share in shares}
    if grade_of.get(claimant.id) is not Responsibility.NONE:
        return claimant
    for grade in _AT_FAULT_ORDER:
        liable = [p for p in case.parties if grade_of.get(p.id) is grade]
        if liable:
            return liable[0]
    return claimant  # nobody at fault (an accident): each claims on its own insurance


def responsibility_shares(session: Session, case_id: int) -> list[dict[str, Any]] | None:
    """Who bears what: the officer's determination in force, or the parties' confirmed agreement."""
    determination = in_force_determination(session, case_id)
    return determination.shares if determination else confirmed_shares(session, case_id)


def compulsory_insurer(session: Session, case: Case, party: CaseParty) -> str | None:
    """The insurer the registry check found in force on the accident date; what the party
    said only where no check found one (the registry may be unreachable)."""
    found = session.scalars(
        select(RegistryCheck.found)
        .where(
            RegistryCheck.case_id == case.id,
            RegistryCheck.party_position == party.position,
            RegistryCheck.kind == RegistryKind.INSURANCE,
            RegistryCheck.subject == subject_of(party),
        )
        .order_by(RegistryCheck.checked_at.desc(), RegistryCheck.id.desc())
    ).first()
    return (found or {}).get("insurer_code") or party.insurer_code


def push_claim(session: Session, party: Principal, case_id: int, now: datetime) -> Claim:
    case = get_case(session, party, case_id, lock=True)
    ensure_may_write(case, party, WriteRule.PARTY_OF_CASE)
    claimant = party_of(case, party)
    if claimant is None:
        raise Forbidden(Text("Claims.only_parties"))
    shares = responsibility_shares(session, case.id)
    lifecycle.ensure_editable(case, Edit.CLAIM, party)
    if shares is None:
        raise lifecycle.not_editable(case, Edit.CLAIM)
    if session.scalars(
        select(Claim.id).where(Claim.case_id == case.id, Claim.party_id == claimant.id)
    ).first():
        raise Conflict(Text("Claims.already_pushed"))
    insured = route_claim(case, claimant, shares)
    insurer_code = compulsory_insurer(session, case, insured)
    if not insurer_code:
        raise InvalidInput(Text("Claims.no_insurer", plate=insured.plate_number))
    detail = {"insurer_code": insurer_code, "insured_plate": insured.plate_number}
    if case.state == CaseState.CLOSED or review_still_possible(session, case.id, now):
        # Already closed by another claim, or another party may still apply for review
        # (art. 71): the claim goes ahead, the case stays open until the determination is final.
        lifecycle.record_event(session, case, Action.PUSH_CLAIM, party, now, detail)
    else:
        lifecycle.apply(session, case, Action.PUSH_CLAIM, party, now, detail)
    claim = Claim(case_id=case.id, party_id=claimant.id, insurer_code=insurer_code, pushed_at=now)
    session.add(claim)
    session.flush()
    enqueue_webhook(
        session,
        insurer_code=insurer_code,
        body=_claim_notice(case, claim, claimant, insured, shares),
        key=f"claim:{claim.id}",
        now=now,
        case_id=case.id,
    )
    return claim


def _claim_notice(
    case: Case, claim: Claim, claimant: CaseParty, insured: CaseParty, shares: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the insurer is told: enough to start, the rest is in the package it fetches."""
    return {
        "event": "claim.pushed",
        "claim_id": claim.id,
        "case_number": case.number,
        "occurred_at": case.occurred_at,
        "address": case.address,
        "accident_type": case.accident_type,
        "insured": {"plate_number": insured.plate_number, "policy_number": insured.policy_number},
        "claimant": {"name": claimant.name, "phone": claimant.phone, "plate_number": claimant.plate_number},
        "responsibility": _shares_by_plate(case, shares),
        "package": f"/api/insurer/claims/{claim.id}/package",
    }


def _shares_by_plate(case: Case, shares: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Each party's responsibility as the insurer is told it: labelled in Chinese, whoever asks."""
    plates = {p.id: p.plate_number for p in case.parties}
    return [
        {
            "plate_number": plates[s["party_id"]],
            "responsibility": s["responsibility"],
            "label": Responsibility(s["responsibility"]).label(DEFAULT_LOCALE),
        }
        for s in shares
    ]


def claim_view(session: Session, claim: Claim) -> ClaimOut:
    """The claim as its parties and its insurer see it, with the insurer's name."""
    name = session.scalar(select(Insurer.name).where(Insurer.code == claim.insurer_code))
    return ClaimOut.model_validate(claim, from_attributes=True).model_copy(update={"insurer_name": name})


def claims_of_case(session: Session, viewer: Principal, case_id: int) -> list[ClaimOut]:
    """网办进度: where each party's claim went and how far its insurer has got."""
    case = get_case(session, viewer, case_id)
    claims = session.scalars(select(Claim).where(Claim.case_id == case.id).order_by(Claim.id))
    return [claim_view(session, claim) for claim in claims]


def read_claims(session: Session, viewer: Principal, case_id: int, now: datetime) -> list[ClaimOut]:
    """The claims as a person reads them: a read of personal data, so audited."""
    claims = claims_of_case(session, viewer, case_id)
    audit.record(session, viewer, AuditAction.READ_CLAIMS, now, case_id)
    return claims


def claims_of_insurer(session: Session, insurer: Principal, now: datetime) -> list[Claim]:
    audit.record(session, insurer, AuditAction.LIST_CLAIMS, now)
    return list(
        session.scalars(select(Claim).where(Claim.insurer_code == insurer.insurer_code).order_by(Claim.id))
    )


def insurers_claim(session: Session, insurer: Principal, claim_id: int) -> Claim:
    claim = session.get(Claim, claim_id)
    if claim is None or claim.insurer_code != insurer.insurer_code:
        raise NotFound(Text("Claims.not_found"))
    return claim


def claim_package(session: Session, insurer: Principal, claim_id: int, now: datetime) -> dict[str, Any]:
    """The case package the insurer is entitled to: the facts, the determination, the evidence,
    its own insured party in full and the others only as far as the claim needs."""
    claim = insurers_claim(session, insurer, claim_id)
    case = get_case(session, insurer, claim.case_id)
    audit.record(session, insurer, AuditAction.READ_CLAIM_PACKAGE, now, case.id, {"claim_id": claim.id})
    shares = responsibility_shares(session, case.id)
    claimant_id = claim.party_id
    return {
        "claim_id": claim.id,
        "status": claim.status,
        "case_number": case.number,
        "occurred_at": case.occurred_at,
        "address": case.address,
        "weather": case.weather,
        "accident_type": case.accident_type,
        "description": case.description,
        "parties": [_party_for_insurer(p, insurer, p.id == claimant_id) for p in case.parties],
        "responsibility": _shares_by_plate(case, shares) if shares else [],
        "documents": [
            d.model_dump(mode="json") for d in list_documents(session, insurer, case.id, DEFAULT_LOCALE)
        ],
        "evidence": [
            item.model_dump(mode="json") | {"content": f"/api/cases/{case.id}/evidence/{item.id}/content"}
            for item in evidence_of(session, case)
        ],
    }


def _party_for_insurer(party: CaseParty, insurer: Principal, is_claimant: bool) -> dict[str, Any]:
    common = {
        "plate_number": party.plate_number,
        "plate_type": party.plate_type,
        "vehicle_type": party.vehicle_type,
        "insurer_code": party.insurer_code,
    }
    if party.insurer_code == insurer.insurer_code:
        return common | {
            "insured": True,
            "name": party.name,
            "phone": party.phone,
            "id_number": party.id_number,
            "licence_number": party.licence_number,
            "policy_number": party.policy_number,
        }
    contact = {"phone": party.phone} if is_claimant else {}
    return (
        common
        | contact
        | {
            "insured": False,
            "name": party.name if is_claimant else mask_name(party.name),
            "id_number": mask_id_number(party.id_number),
        }
    )


def report_progress(
    session: Session, insurer: Principal, claim_id: int, step: ClaimStep, note: str, now: datetime
) -> Claim:
    claim = insurers_claim(session, insurer, claim_id)
    case = get_case(session, insurer, claim.case_id, lock=True)
    # Read again under the case's lock: a report sent twice at once waited here for the first,
    # whose step it must see (the claim was read before the lock).
    session.refresh(claim)
    ensure_may_write(case, insurer, WriteRule.INSURER_OF_CLAIM)
    done = ClaimStep(claim.status)
    if done.reached(step):
        raise Conflict(Text("Claims.step_backwards", done=done, step=step))
    claim.status = step.value
    session.add(ClaimProgress(claim_id=claim.id, at=now, status=step.value, note=note))
    lifecycle.record_event(
        session,
        case,
        EventKind.CLAIM_PROGRESS,
        insurer,
        now,
        {"status": step.value, "label": step.label(DEFAULT_LOCALE)},
    )
    claimant = session.get(CaseParty, claim.party_id)
    assert claimant is not None
    enqueue_sms(
        session,
        phone=claimant.phone,
        template=Sms.CLAIM_PROGRESS,
        parameters={"case_number": case.number},
        key=f"claim:{claim.id}:{step.value}",
        now=now,
        case_id=case.id,
    )
    return claim
