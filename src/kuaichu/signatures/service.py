"""当事人签名确认: before leaving the scene, every party reads what the operator recorded (the
facts, the parties, the stills) on their own phone and signs it with a drawn signature, under
their SMS login; or disputes it, and a disputed accident is handled by police on site (art. 13).

A signature binds what was signed: the SHA-256 of the facts and parties as recorded. Once the
operator changes them, the signature no longer counts and the party signs again. The
evacuation gate (kuaichu.collection) asks `unsigned`; the document lists `signed`.
"""

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case, party_of
from kuaichu.cases.lifecycle import Action, Edit, EventKind
from kuaichu.cases.models import Case, CaseParty
from kuaichu.errors import Conflict, Forbidden, InvalidInput, TooLarge, UnsupportedMedia
from kuaichu.evidence.models import EvidenceItem
from kuaichu.evidence.schemas import EvidenceKind, kind_label
from kuaichu.evidence.service import store_item
from kuaichu.evidence.storage import StoredBlob
from kuaichu.messages import DEFAULT_LOCALE, Text, text
from kuaichu.notify.parties import notify_parties
from kuaichu.notify.templates import Sms
from kuaichu.principal import Principal, Role
from kuaichu.privacy import mask_id_number, mask_phone
from kuaichu.signatures.models import PartyConfirmation
from kuaichu.signatures.schemas import (
    ConfirmationOut,
    ConfirmationOutcome,
    ConfirmationStatus,
    FactsSeenOut,
    PartyConfirmationOut,
    PartySeenOut,
    StillSeenOut,
)

# A drawn signature is a few strokes: far larger than this, or of more pixels, is no drawing.
MAX_SIDE = 4096
# What a party confirms of the evidence: the stills (not recordings, not signatures).
_NOT_STILLS = frozenset({EvidenceKind.RECORDING.value, EvidenceKind.SIGNATURE.value})


def content_sha256(case: Case) -> str:
    """The SHA-256 of the facts and parties as recorded now: what a signature binds."""
    occurred = case.occurred_at.astimezone(UTC).isoformat() if case.occurred_at else None
    facts = [occurred, case.address, case.accident_type, case.weather, case.description]
    parties = [
        [
            p.position,
            p.name,
            p.phone,
            p.id_number,
            p.licence_number,
            p.plate_number,
            p.plate_type,
            p.vehicle_type,
            p.insurer_code,
            p.policy_number,
        ]
        for p in case.parties
    ]
    canonical = json.dumps({"facts": facts, "parties": parties}, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Standing:
    """One party's confirmation as it stands against the facts recorded now."""

    party: CaseParty
    status: ConfirmationStatus
    row: PartyConfirmation | None


def standings(session: Session, case: Case) -> list[Standing]:
    """Each party's latest confirmation; a signature of other facts or parties is stale."""
    current = content_sha256(case)
    rows = session.scalars(
        select(PartyConfirmation).where(PartyConfirmation.case_id == case.id).order_by(PartyConfirmation.id)
    )
    latest = {row.party_position: row for row in rows}
    found = []
    for party in case.parties:
        row = latest.get(party.position)
        if row is None:
            status = ConfirmationStatus.UNSIGNED
        elif row.outcome == ConfirmationOutcome.DISPUTED:
            status = ConfirmationStatus.DISPUTED
        elif row.content_sha256 == current:
            status = ConfirmationStatus.SIGNED
        else:
            status = ConfirmationStatus.STALE
        found.append(Standing(party, status, row))
    return found


def unsigned(session: Session, case: Case) -> list[Standing]:
    """The parties whose valid signature the evacuation still lacks."""
    return [s for s in standings(session, case) if s.status is not ConfirmationStatus.SIGNED]


def signed(session: Session, case: Case) -> list[Standing]:
    """The parties whose signature of the facts as recorded stands (the document lists them)."""
    return [s for s in standings(session, case) if s.status is ConfirmationStatus.SIGNED]


def read_confirmation(session: Session, viewer: Principal, case_id: int, now: datetime) -> ConfirmationOut:
    case = get_case(session, viewer, case_id)
    audit.record(session, viewer, AuditAction.READ_CONFIRMATIONS, now, case.id)
    return _view(session, case, viewer)


def _view(session: Session, case: Case, viewer: Principal) -> ConfirmationOut:
    own = party_of(case, viewer) if viewer.role is Role.PARTY else None
    items = session.scalars(
        select(EvidenceItem)
        .where(EvidenceItem.case_id == case.id, EvidenceItem.kind.not_in(_NOT_STILLS))
        .order_by(EvidenceItem.id)
    )
    standing = standings(session, case)
    return ConfirmationOut(
        case_id=case.id,
        state=case.state,
        content_sha256=content_sha256(case),
        facts=FactsSeenOut(
            occurred_at=case.occurred_at,
            address=case.address,
            accident_type=case.accident_type,
            weather=case.weather,
            description=case.description,
        ),
        parties=[_seen(p, p is own) for p in case.parties],
        stills=[
            StillSeenOut(
                id=item.id,
                kind=item.kind,
                kind_label=kind_label(item.kind, item.party_position),
                party_position=item.party_position,
            )
            for item in items
            if item.purged_at is None
        ],
        confirmations=[
            PartyConfirmationOut(
                position=s.party.position,
                name=s.party.name,
                status=s.status,
                status_label=s.status.label(),
                at=s.row.at if s.row else None,
                reason=s.row.reason if s.row else None,
            )
            for s in standing
        ],
        my_position=own.position if own else None,
        may_sign=own is not None
        and case.state in lifecycle.EDITABLE[Edit.SIGNATURE][Role.PARTY]
        and next(s.status for s in standing if s.party is own) is not ConfirmationStatus.SIGNED,
    )


def _seen(party: CaseParty, own: bool) -> PartySeenOut:
    return PartySeenOut(
        position=party.position,
        name=party.name,
        phone=party.phone if own else mask_phone(party.phone),
        licence_number=party.licence_number if own else mask_id_number(party.licence_number),
        plate_number=party.plate_number,
        vehicle_type=party.vehicle_type,
        insurer_code=party.insurer_code,
    )


def check_image(data: bytes, max_bytes: int) -> None:
    """A drawn signature: a PNG by its content, within the size limit, with something drawn."""
    if len(data) > max_bytes:
        raise TooLarge(Text("Signature.too_large", kb=max_bytes // 1024))
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if max(image.size) > MAX_SIDE:
                raise TooLarge(Text("Signature.too_many_pixels", side=MAX_SIDE))
            image.load()
            drawn = _ink(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnsupportedMedia(Text("Signature.not_png")) from None
    if not drawn:
        raise InvalidInput(Text("Signature.empty"))


def _ink(image: Image.Image) -> bool:
    """Whether anything is drawn: a visible pixel on a transparent canvas, or a dark one on a
    light opaque canvas."""
    rgba = image.convert("RGBA")
    alpha = rgba.getchannel("A")
    if alpha.getextrema()[0] < 255:  # a transparent background: the strokes are what shows
        return alpha.getbbox() is not None
    return ImageOps.invert(rgba.convert("L")).point(lambda v: 255 if v > 64 else 0).getbbox() is not None


def check_may_sign(session: Session, signer: Principal, case_id: int, seen: str) -> None:
    """Refuse before the drawing is stored (see `sign`)."""
    _signable(session, signer, get_case(session, signer, case_id), seen)


def sign(
    session: Session,
    signer: Principal,
    case_id: int,
    seen: str,
    blob: StoredBlob,
    session_sha256: str,
    now: datetime,
) -> ConfirmationOut:
    """The party's drawn signature of the facts and parties they saw (their hash, `seen`)."""
    case = get_case(session, signer, case_id, lock=True)
    party = _signable(session, signer, case, seen)
    item = store_item(session, case, blob, EvidenceKind.SIGNATURE, signer, now, party.position)
    session.add(
        PartyConfirmation(
            case_id=case.id,
            party_position=party.position,
            outcome=ConfirmationOutcome.SIGNED.value,
            at=now,
            phone_key=_phone_key(signer),
            session_sha256=session_sha256,
            content_sha256=seen,
            evidence_id=item.id,
            signature_sha256=blob.sha256,
            reason=None,
        )
    )
    detail = {
        "party_position": party.position,
        "evidence_id": item.id,
        "sha256": blob.sha256,
        "content_sha256": seen,
    }
    lifecycle.record_event(session, case, EventKind.PARTY_SIGNED, signer, now, detail)
    session.flush()
    return _view(session, case, signer)


def dispute(
    session: Session, disputer: Principal, case_id: int, reason: str, session_sha256: str, now: datetime
) -> Case:
    """有异议: the case goes to police on site in this transaction, with the party's reason."""
    if len(reason) < 2:
        raise InvalidInput(Text("Signature.reason_needed"))
    case = get_case(session, disputer, case_id, lock=True)
    party = _party_of_case(case, disputer)
    lifecycle.ensure_editable(case, Edit.SIGNATURE, disputer)
    detail = {"party_position": party.position, "reason": reason}
    lifecycle.apply(session, case, Action.DISPUTE, disputer, now, detail)
    # Stored for the record, as every transfer reason: in Chinese.
    case.transfer_reason = text("Signature.disputed", DEFAULT_LOCALE, position=party.position, reason=reason)
    session.add(
        PartyConfirmation(
            case_id=case.id,
            party_position=party.position,
            outcome=ConfirmationOutcome.DISPUTED.value,
            at=now,
            phone_key=_phone_key(disputer),
            session_sha256=session_sha256,
            content_sha256=content_sha256(case),
            evidence_id=None,
            signature_sha256=None,
            reason=reason,
        )
    )
    # Only the fixed template: the party's own words never reach an official SMS.
    notify_parties(session, case, Sms.TRANSFERRED, now)
    return case


def _party_of_case(case: Case, principal: Principal) -> CaseParty:
    if principal.role is not Role.PARTY:
        raise Forbidden(Text("Signature.party_only"))
    ensure_may_write(case, principal, WriteRule.PARTY_OF_CASE)
    party = party_of(case, principal)
    if party is None:
        raise Forbidden(Text("Signature.not_recorded_party"))
    return party


def _signable(session: Session, signer: Principal, case: Case, seen: str) -> CaseParty:
    party = _party_of_case(case, signer)
    lifecycle.ensure_editable(case, Edit.SIGNATURE, signer)
    if seen != content_sha256(case):
        raise Conflict(Text("Signature.content_changed"))
    own = next(s for s in standings(session, case) if s.party is party)
    if own.status is ConfirmationStatus.SIGNED:
        raise Conflict(Text("Signature.already_signed"))
    return party


def _phone_key(principal: Principal) -> str:
    assert principal.phone_key is not None  # every authenticated party has one
    return principal.phone_key
