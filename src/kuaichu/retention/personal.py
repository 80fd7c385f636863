"""Purging one case's personal data once its period ran out (个人信息保护法 art. 19, 47).

Every table that holds something about a person is either masked in place or loses the row:

- kept as the legal record: the determination document (its PDF), the determinations with
  their reasoning, the review's outcome and decision note (复核结论, 道路交通事故处理程序规定
  art. 75), the case number, the accident's time, place, weather and facts (all printed on the
  document), the states and their times, every hash, the registry checks' outcomes and codes;
- masked in place: the parties (name, phone, ID and licence numbers, plate, policy number), the
  reporter's phone, the registry checks (what was checked, what the registry said), timeline
  details, official SMS and insurer pushes (outbox, the SMS gateway's log), settlement
  agreements (the phones, the address they came from), collection overrides, the plate and
  licence numbers OCR read on the stills (kuaichu.recognition);
- free text someone typed (a reason, a note: it may name anyone) becomes 已按规定期限删除: the
  transfer reason, the review application's reasons, claim progress notes, override reasons;
- deleted: the one-tap report counters (call_reports), and, once no case holds a phone in full
  any more, that person's privacy consents, chosen SMS language, old login codes with their
  SMS, and the limit locks named after the phone.

A masked phone keeps its keyed hash (privacy.phone_key) beside it, so the party's own login
still opens the case, its document and their data (art. 45). The audit log is not touched: it
never received any of this (audit.service masks at write time).
"""

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from kuaichu.auth.models import SmsCode
from kuaichu.calls.models import CallReport
from kuaichu.cases.models import Case, CaseParty, TimelineEvent
from kuaichu.claims.models import Claim, ClaimProgress
from kuaichu.collection.models import CollectionOverride
from kuaichu.consent.models import PrivacyConsent
from kuaichu.evidence.schemas import PURGED_LABEL
from kuaichu.invitations.models import JoinRequest
from kuaichu.limit_locks import LimitLock
from kuaichu.notify.models import OutboxMessage, PartyLocale, SmsMessage
from kuaichu.privacy import (
    mask_id_number,
    mask_name,
    mask_number,
    mask_personal,
    mask_phone,
    mask_plate,
    phone_key,
)
from kuaichu.recognition.models import StillReading
from kuaichu.registries.models import RegistryCheck
from kuaichu.registries.service import subject_of
from kuaichu.reviews.models import ReviewRequest
from kuaichu.settlement.models import Agreement
from kuaichu.signatures.models import PartyConfirmation

# Login codes live an hour at most; the per-phone limits look back a day.
LOGIN_CODE_KEPT = timedelta(days=1)


def _purged(_: str) -> str:
    return PURGED_LABEL


def _masked(value: Any) -> Any:
    return mask_personal(value, _purged)


def _is_full(phone: str) -> bool:
    return "*" not in phone


def purge_personal_data(session: Session, case_id: int, secret: str, now: datetime) -> dict[str, int]:
    """Mask or delete this case's personal data in every table; how many rows each lost."""
    case = session.get(Case, case_id, with_for_update=True)
    assert case is not None
    phones = {case.reporter_phone, *(party.phone for party in case.parties)}
    keys = {phone: phone_key(phone, secret) for phone in phones if _is_full(phone)}
    subjects = {party.position: subject_of(party) for party in case.parties}
    touched: Counter[str] = Counter()
    touched["cases"] = _mask_case(case, keys)
    touched["case_parties"] = sum(_mask_party(party, keys) for party in case.parties)
    touched["registry_checks"] = _mask_checks(session, case, subjects)
    touched["timeline_events"] = _mask_timeline(session, case.id)
    touched["outbox"], touched["sms_messages"] = _mask_messages(session, case.id, keys)
    touched["claim_progress"] = _purge_claim_notes(session, case.id)
    touched["review_requests"] = _purge_review_reasons(session, case.id)
    touched["party_confirmations"] = _purge_dispute_reasons(session, case.id)
    touched["agreements"] = _mask_agreements(session, case.id)
    touched["collection_overrides"] = _mask_overrides(session, case.id)
    touched["still_readings"] = _mask_readings(session, case.id)
    reports = session.execute(delete(CallReport).where(CallReport.case_id == case.id))
    touched["call_reports"] = _rowcount(reports)
    # Who asked to join by the link (the admitted are parties by now, masked above).
    joins = session.execute(delete(JoinRequest).where(JoinRequest.case_id == case.id))
    touched["join_requests"] = _rowcount(joins)
    session.flush()
    touched.update(_forget_people(session, _no_longer_held(session, set(keys)), now))
    return {table: count for table, count in sorted(touched.items()) if count}


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)


def _mask_case(case: Case, keys: dict[str, str]) -> int:
    changed = 0
    if case.reporter_phone in keys:
        case.reporter_phone_key = keys[case.reporter_phone]
        case.reporter_phone = mask_phone(case.reporter_phone)
        changed = 1
    if case.transfer_reason:
        case.transfer_reason = PURGED_LABEL
        changed = 1
    return changed


def _mask_party(party: CaseParty, keys: dict[str, str]) -> int:
    if party.phone not in keys:
        return 0
    party.phone_key = keys[party.phone]
    party.phone = mask_phone(party.phone)
    party.name = mask_name(party.name)
    party.id_number = mask_id_number(party.id_number)
    party.licence_number = mask_id_number(party.licence_number)
    party.plate_number = mask_plate(party.plate_number)
    party.policy_number = mask_number(party.policy_number) if party.policy_number else None
    return 1


def _mask_readings(session: Session, case_id: int) -> int:
    """What OCR read on the stills, masked as the party's own numbers are (so a masked reading
    still agrees with the masked party it was checked against)."""
    changed = 0
    for row in session.scalars(select(StillReading).where(StillReading.case_id == case_id)):
        plate, licence = row.plate_number, row.licence_number
        if plate and "*" not in plate:
            plate = mask_plate(plate)
        if licence and "*" not in licence:
            licence = mask_id_number(licence)
        if (plate, licence) != (row.plate_number, row.licence_number):
            row.plate_number, row.licence_number = plate, licence
            changed += 1
    return changed


def _mask_checks(session: Session, case: Case, subjects: dict[int, str]) -> int:
    """A check's subject is a digest of the party's entered data: the current checks take the
    digest of the masked entry (they stay current), stale ones a digest that matches nothing."""
    masked_subjects = {party.position: subject_of(party) for party in case.parties}
    rows = session.scalars(select(RegistryCheck).where(RegistryCheck.case_id == case.id))
    changed = 0
    for row in rows:
        current = subjects.get(row.party_position) == row.subject
        subject = masked_subjects.get(row.party_position, "") if current else ""
        failures, found = _masked(row.failures), _masked(row.found)
        if (subject, failures, found) != (row.subject, row.failures, row.found):
            row.subject, row.failures, row.found = subject, failures, found
            changed += 1
    return changed


def _mask_timeline(session: Session, case_id: int) -> int:
    changed = 0
    for event in session.scalars(select(TimelineEvent).where(TimelineEvent.case_id == case_id)):
        detail = _masked(event.detail)
        if detail != event.detail:
            event.detail = detail
            changed += 1
    return changed


def _mask_messages(session: Session, case_id: int, keys: dict[str, str]) -> tuple[int, int]:
    """Official SMS and insurer pushes keep their template, case number, status and times;
    the phone goes, also out of the idempotency key (case:…:<phone>), here and in the SMS
    gateway's own log, which knows the message by that key."""
    outbox = list(session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)))
    renamed: dict[str, str] = {}
    changed = 0
    for row in outbox:
        payload, key = _masked(row.payload), row.idempotency_key
        for phone, hashed in keys.items():
            key = key.replace(phone, hashed[:16])
        if (payload, key) != (row.payload, row.idempotency_key):
            renamed[row.idempotency_key] = key
            row.payload, row.idempotency_key = payload, key
            changed += 1
    logged = session.scalars(select(SmsMessage).where(SmsMessage.idempotency_key.in_(renamed)))
    sms = 0
    for message in logged:
        message.idempotency_key = renamed[message.idempotency_key]
        message.phone = mask_phone(message.phone)
        sms += 1
    return changed, sms


def _purge_claim_notes(session: Session, case_id: int) -> int:
    query = (
        select(ClaimProgress)
        .join(Claim, Claim.id == ClaimProgress.claim_id)
        .where(Claim.case_id == case_id, ClaimProgress.note != "", ClaimProgress.note != PURGED_LABEL)
    )
    notes = list(session.scalars(query))
    for progress in notes:
        progress.note = PURGED_LABEL
    return len(notes)


def _purge_review_reasons(session: Session, case_id: int) -> int:
    review = session.scalars(select(ReviewRequest).where(ReviewRequest.case_id == case_id)).first()
    if review is None or review.reasons == PURGED_LABEL:
        return 0
    review.reasons = PURGED_LABEL
    return 1


def _purge_dispute_reasons(session: Session, case_id: int) -> int:
    """A party's own words disputing the record (their signatures stay, as evidence)."""
    disputes = list(
        session.scalars(
            select(PartyConfirmation).where(
                PartyConfirmation.case_id == case_id,
                PartyConfirmation.reason.is_not(None),
                PartyConfirmation.reason != PURGED_LABEL,
            )
        )
    )
    for dispute in disputes:
        dispute.reason = PURGED_LABEL
    return len(disputes)


def _mask_agreements(session: Session, case_id: int) -> int:
    agreement = session.scalars(select(Agreement).where(Agreement.case_id == case_id)).first()
    if agreement is None:
        return 0
    agreement.proposed_by_phone = mask_phone(agreement.proposed_by_phone)
    if agreement.recipient_phone:
        agreement.recipient_phone = mask_phone(agreement.recipient_phone)
    agreement.proposed_from = None
    return 1


def _mask_overrides(session: Session, case_id: int) -> int:
    overrides = list(session.scalars(select(CollectionOverride).where(CollectionOverride.case_id == case_id)))
    for override in overrides:
        override.items = _masked(override.items)
        override.reason = PURGED_LABEL
    return len(overrides)


def _no_longer_held(session: Session, phones: set[str]) -> set[str]:
    """Of these phones, those no case keeps in full any more (all their cases were purged)."""
    if not phones:
        return set()
    reporters = session.scalars(select(Case.reporter_phone).where(Case.reporter_phone.in_(phones)))
    parties = session.scalars(select(CaseParty.phone).where(CaseParty.phone.in_(phones)))
    return phones - set(reporters) - set(parties)


def _forget_people(session: Session, phones: set[str], now: datetime) -> dict[str, int]:
    """What was kept about a person rather than a case: their consent to the privacy notice
    (asked again at their next report), the language they chose for their SMS, their old
    login codes with the SMS that carried them, and the locks of the limits counted per phone."""
    if not phones:
        return {}
    consents = session.execute(delete(PrivacyConsent).where(PrivacyConsent.phone.in_(phones)))
    locales = session.execute(delete(PartyLocale).where(PartyLocale.phone.in_(phones)))
    codes = list(
        session.scalars(
            select(SmsCode.id).where(SmsCode.phone.in_(phones), SmsCode.created_at < now - LOGIN_CODE_KEPT)
        )
    )
    keys = [f"login-code:{code}" for code in codes]
    outbox = session.execute(delete(OutboxMessage).where(OutboxMessage.idempotency_key.in_(keys)))
    sms = session.execute(delete(SmsMessage).where(SmsMessage.idempotency_key.in_(keys)))
    session.execute(delete(SmsCode).where(SmsCode.id.in_(codes)))
    # A limit lock is only a lock ("report-phone:<phone>", ...): nothing in it is needed later.
    named = or_(*(LimitLock.key.like(f"%:{phone}") for phone in sorted(phones)))
    locks = session.execute(delete(LimitLock).where(named, LimitLock.taken_at < now - LOGIN_CODE_KEPT))
    return {
        "privacy_consents": _rowcount(consents),
        "party_locales": _rowcount(locales),
        "sms_codes": len(codes),
        "outbox": _rowcount(outbox),
        "sms_messages": _rowcount(sms),
        "limit_locks": _rowcount(locks),
    }
