"""Evidence items on a case: who may add them when, and the timeline line each makes."""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.lifecycle import Edit, EventKind
from kuaichu.cases.models import Case
from kuaichu.errors import InvalidInput, NotFound
from kuaichu.evidence.models import EvidenceItem
from kuaichu.evidence.schemas import EvidenceKind, EvidenceOut, kind_label
from kuaichu.evidence.storage import StoredBlob
from kuaichu.messages import Text, reader_locale, text
from kuaichu.principal import Principal


def check_may_upload(session: Session, uploader: Principal, case_id: int) -> Case:
    case = get_case(session, uploader, case_id)
    ensure_may_write(case, uploader, WriteRule.EVIDENCE)
    lifecycle.ensure_editable(case, Edit.EVIDENCE, uploader)
    return case


def check_kind(kind: EvidenceKind) -> None:
    """A signature is drawn by the party on their own page (kuaichu.signatures), never uploaded."""
    if kind is EvidenceKind.SIGNATURE:
        raise InvalidInput(Text("Evidence.signature_not_uploaded"))


def add_evidence(
    session: Session,
    uploader: Principal,
    case_id: int,
    blob: StoredBlob,
    kind: EvidenceKind,
    lat: float | None,
    lng: float | None,
    now: datetime,
    party_position: int | None = None,
) -> EvidenceOut:
    check_kind(kind)
    case = check_may_upload(session, uploader, case_id)
    if party_position is not None and party_position not in {p.position for p in case.parties}:
        raise InvalidInput(f"没有当事人{party_position}，请先录入当事人信息")
    item = store_item(session, case, blob, kind, uploader, now, party_position, lat, lng)
    lifecycle.record_event(
        session,
        case,
        EventKind.EVIDENCE_ADDED,
        uploader,
        now,
        {
            "evidence_id": item.id,
            "kind": kind.value,
            "party_position": party_position,
            "sha256": blob.sha256,
        },
    )
    return _out(item)


def add_recording(
    session: Session,
    case_id: int,
    blob: StoredBlob,
    recorder: Principal,
    now: datetime,
    party_position: int | None,
    detail: dict[str, Any],
) -> EvidenceOut:
    """A call's recording made by the media server, stored after the call whatever the case's
    state by then. Its chain of custody: who recorded (`recorder`, the node), when, its hash,
    and in `detail` what it was made from (the raw tracks' hashes)."""
    case = session.get_one(Case, case_id)  # the room's case: it exists
    item = store_item(session, case, blob, EvidenceKind.RECORDING, recorder, now, party_position)
    lifecycle.record_event(
        session,
        case,
        EventKind.EVIDENCE_ADDED,
        recorder,
        now,
        {
            "evidence_id": item.id,
            "kind": EvidenceKind.RECORDING.value,
            "party_position": party_position,
            "sha256": blob.sha256,
            **detail,
        },
    )
    return _out(item)


def store_item(
    session: Session,
    case: Case,
    blob: StoredBlob,
    kind: EvidenceKind,
    by: Principal,
    now: datetime,
    party_position: int | None,
    lat: float | None = None,
    lng: float | None = None,
) -> EvidenceItem:
    """The evidence item of a stored blob, whatever its kind: its hash, who stored it and when.
    The caller has checked that it may, and records the case's event."""
    item = EvidenceItem(
        case_id=case.id,
        sha256=blob.sha256,
        size=blob.size,
        media_type=blob.media_type,
        kind=kind.value,
        uploaded_at=now,
        uploaded_by_role=by.role.value,
        uploaded_by_id=by.id,
        uploaded_by_label=by.label,
        lat=lat,
        lng=lng,
        party_position=party_position,
    )
    session.add(item)
    session.flush()
    return item


def list_evidence(session: Session, viewer: Principal, case_id: int, now: datetime) -> list[EvidenceOut]:
    case = get_case(session, viewer, case_id)
    audit.record(session, viewer, AuditAction.LIST_EVIDENCE, now, case.id)
    return evidence_of(session, case)


def evidence_of(session: Session, case: Case) -> list[EvidenceOut]:
    """The case's evidence items; the caller has checked access and audited the read."""
    items = session.scalars(
        select(EvidenceItem).where(EvidenceItem.case_id == case.id).order_by(EvidenceItem.id)
    )
    return [_out(item) for item in items]


def get_evidence(
    session: Session, viewer: Principal, case_id: int, item_id: int, now: datetime
) -> EvidenceOut:
    case = get_case(session, viewer, case_id)
    item = session.get(EvidenceItem, item_id)
    if item is None or item.case_id != case.id:
        raise NotFound("证据不存在")
    audit.record(session, viewer, AuditAction.READ_EVIDENCE, now, case.id, {"evidence_id": item.id})
    return _out(item)


def _out(item: EvidenceItem) -> EvidenceOut:
    return EvidenceOut(
        id=item.id,
        kind=item.kind,
        kind_label=kind_label(item.kind, item.party_position),
        party_position=item.party_position,
        sha256=item.sha256,
        size=item.size,
        media_type=item.media_type,
        uploaded_at=item.uploaded_at,
        uploaded_by=item.uploaded_by_role,
        lat=item.lat,
        lng=item.lng,
        purged=item.purged_at is not None,
        status_label=text("Retention.purged", reader_locale()) if item.purged_at is not None else None,
    )


def record_custody_failure(
    session: Session, viewer: Principal, case_id: int, item: EvidenceOut, now: datetime
) -> None:
    """A stored file no longer matches its upload hash: the audit log keeps the finding."""
    audit.record(
        session,
        viewer,
        AuditAction.EVIDENCE_HASH_MISMATCH,
        now,
        case_id,
        {"evidence_id": item.id, "sha256": item.sha256},
    )
