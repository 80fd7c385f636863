"""定损 amounts and who pays what: the insurer reports each vehicle's assessed loss with its
定损 step; once every vehicle's is in, the split (kuaichu.compensation.rules) is shown to the
parties and sent to every insurer holding a claim on the case."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.auth.models import Insurer
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.models import Case, CaseParty
from kuaichu.claims import service
from kuaichu.claims.models import AssessedLoss, Claim
from kuaichu.claims.schemas import (
    ClaimStep,
    CompensationOut,
    PaymentOut,
    VehicleLoss,
    VehicleSplitOut,
)
from kuaichu.compensation.rules import (
    EXCESS_BASIS,
    LIMITS_BASIS,
    NotCovered,
    Payment,
    PaymentRule,
    Split,
    Vehicle,
    split,
)
from kuaichu.errors import Conflict, InvalidInput
from kuaichu.geo.models import Jurisdiction
from kuaichu.liability.grades import Responsibility
from kuaichu.messages import DEFAULT_LOCALE, Locale, Text, text
from kuaichu.notify.outbox import enqueue_webhook
from kuaichu.principal import Principal

FEN_PER_YUAN = 100


def report_progress(
    session: Session,
    insurer: Principal,
    claim_id: int,
    step: ClaimStep,
    note: str,
    losses: list[VehicleLoss],
    now: datetime,
) -> Claim:
    """The insurer's step, with 定损 the assessed losses: every amount is checked before
    anything is written, so a refused report changes nothing."""
    case = get_case(session, insurer, service.insurers_claim(session, insurer, claim_id).case_id, lock=True)
    ensure_may_write(case, insurer, WriteRule.INSURER_OF_CLAIM)
    assessed = _checked(session, case, losses)
    claim = service.report_progress(session, insurer, claim_id, step, note, now)
    for party, amount in assessed:
        fen = int(amount * FEN_PER_YUAN)
        session.add(
            AssessedLoss(
                case_id=case.id, party_id=party.id, claim_id=claim.id, amount_fen=fen, assessed_at=now
            )
        )
    session.flush()
    if assessed:
        _send_when_complete(session, case, now)
    return claim


def _checked(session: Session, case: Case, losses: list[VehicleLoss]) -> list[tuple[CaseParty, Decimal]]:
    """Each plate one of the case's vehicles (422), none assessed before (409)."""
    by_plate = {_plate(p.plate_number): p for p in case.parties}
    done = set(session.scalars(select(AssessedLoss.party_id).where(AssessedLoss.case_id == case.id)))
    checked = []
    for loss in losses:
        party = by_plate.get(_plate(loss.plate_number))
        if party is None:
            raise InvalidInput(Text("Claims.loss_not_a_party", plate=loss.plate_number), field="losses")
        if party.id in done:
            raise Conflict(Text("Claims.loss_already_assessed", plate=party.plate_number))
        checked.append((party, loss.amount))
    return checked


def _plate(plate: str) -> str:
    return plate.strip().upper()


def compensation(session: Session, case: Case, locale: Locale) -> CompensationOut:
    """The split in `locale`, or which vehicles still wait for 定损, or why there is none."""
    shares = service.responsibility_shares(session, case.id)
    rows = session.execute(
        select(AssessedLoss.party_id, AssessedLoss.amount_fen).where(AssessedLoss.case_id == case.id)
    )
    amounts = {row.party_id: row.amount_fen for row in rows}
    parties = sorted(case.parties, key=lambda p: p.position)
    pending = [p.plate_number for p in parties if p.id not in amounts]
    if shares is None or pending:
        return CompensationOut(complete=False, pending=pending)
    grade_of = {share["party_id"]: Responsibility(share["responsibility"]) for share in shares}
    vehicles = [
        Vehicle(
            p.position,
            p.plate_number,
            grade_of[p.id],
            service.compulsory_insurer(session, case, p),
            Decimal(amounts[p.id]) / FEN_PER_YUAN,
        )
        for p in parties
    ]
    jurisdiction = session.get(Jurisdiction, case.jurisdiction_id)
    try:
        result = split(vehicles, bool(jurisdiction and jurisdiction.mutual_self_claim))
    except NotCovered as refusal:
        return CompensationOut(complete=False, pending=[], refused=refusal.message.render(locale))
    return _out(session, result, locale)


def _out(session: Session, result: Split, locale: Locale) -> CompensationOut:
    codes = {v.insurer_code for v in result.vehicles if v.insurer_code}
    rows = session.execute(select(Insurer.code, Insurer.name).where(Insurer.code.in_(codes)))
    names = {row.code: row.name for row in rows}
    plate = {v.position: v.plate_number for v in result.vehicles}
    excess_note = text("Compensation.excess_note", locale, law=EXCESS_BASIS)
    return CompensationOut(
        complete=True,
        pending=[],
        mutual_self_claim=result.mutual_self_claim,
        mutual_self_claim_label=PaymentRule.MUTUAL_SELF_CLAIM.label(locale)
        if result.mutual_self_claim
        else None,
        vehicles=[
            VehicleSplitOut(
                plate_number=v.plate_number,
                responsibility=v.responsibility.value,
                responsibility_label=v.responsibility.label(locale),
                insurer_code=v.insurer_code or "",
                property_limit=result.limit(v.position).quantize(Decimal("0.01")),
                limit_basis=LIMITS_BASIS.render(locale),
                loss=v.loss.quantize(Decimal("0.01")),
                paid=result.paid_to(v.position),
                excess=result.excess(v.position),
                excess_note=excess_note,
            )
            for v in result.vehicles
        ],
        payments=[_payment_out(p, plate, names, locale) for p in result.payments],
    )


def _payment_out(
    payment: Payment, plate: dict[int, str], names: dict[str, str], locale: Locale
) -> PaymentOut:
    return PaymentOut(
        payer_insurer_code=payment.payer,
        payer_insurer_name=names.get(payment.payer),
        liable_plate=plate[payment.liable],
        beneficiary_plate=plate[payment.beneficiary],
        amount=payment.amount,
        rule=payment.rule.value,
        rule_label=payment.rule.label(locale),
        on_behalf_of_insurer_code=payment.on_behalf_of,
        on_behalf_of_insurer_name=names.get(payment.on_behalf_of) if payment.on_behalf_of else None,
        basis=payment.basis.render(locale),
    )


def case_compensation(session: Session, viewer: Principal, case_id: int, locale: Locale) -> CompensationOut:
    """The split as a party (or anyone who may see the case) reads it, in the reader's language."""
    return compensation(session, get_case(session, viewer, case_id), locale)


def package_with_split(session: Session, insurer: Principal, claim_id: int, now: datetime) -> dict[str, Any]:
    """The claim package with the split, labelled in Chinese whoever asks."""
    package = service.claim_package(session, insurer, claim_id, now)
    case = get_case(session, insurer, service.insurers_claim(session, insurer, claim_id).case_id)
    return package | {"compensation": compensation(session, case, DEFAULT_LOCALE).model_dump(mode="json")}


def _send_when_complete(session: Session, case: Case, now: datetime) -> None:
    """The last vehicle assessed: every insurer with a claim on the case is told the split."""
    split_out = compensation(session, case, DEFAULT_LOCALE)
    if not split_out.complete:
        return
    insurers = session.scalars(select(Claim.insurer_code).where(Claim.case_id == case.id).distinct())
    body = {
        "event": "claim.compensation",
        "case_number": case.number,
        "compensation": split_out.model_dump(mode="json"),
    }
    for code in sorted(insurers):
        enqueue_webhook(
            session,
            insurer_code=code,
            body=body,
            key=f"compensation:{case.id}:{code}",
            now=now,
            case_id=case.id,
        )
