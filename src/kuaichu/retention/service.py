"""Retention (个人信息保护法 art. 19, 47): each kind of a case's data is kept for its period
after the case closes (办结), then a scheduled job deletes it.

Recordings and stills lose their files: the evidence rows stay, with their SHA-256, marked
purged, and a file is deleted only when no evidence that is kept still names the same
content (the store is content-addressed). Personal data of the parties is masked in place.
The determination document (its PDF is kept in the database) and every hash stay, and each
purge is on the audit log. A party may download what the case holds about them.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.auth.principal import SYSTEM, Principal
from kuaichu.cases.access import get_case, party_of
from kuaichu.cases.lifecycle import STATE_LABELS, CaseState
from kuaichu.cases.models import Case, TimelineEvent
from kuaichu.documents.models import DeterminationDocument
from kuaichu.errors import Forbidden
from kuaichu.evidence.models import EvidenceItem
from kuaichu.evidence.schemas import PURGED_LABEL, EvidenceKind
from kuaichu.evidence.storage import EvidenceStore
from kuaichu.privacy import mask_id_number, mask_name, mask_phone
from kuaichu.retention.models import RetentionPurge
from kuaichu.retention.schemas import (
    MyCaseOut,
    MyDataOut,
    MyDocumentOut,
    MyEvidenceOut,
    MyPartyOut,
    MyPurgeOut,
    MyTimelineOut,
)


class RetentionKind(StrEnum):
    RECORDING = "recording"
    STILL = "still"
    PERSONAL_DATA = "personal_data"


KIND_LABELS = {
    RetentionKind.RECORDING: "通话录像",
    RetentionKind.STILL: "现场照片",
    RetentionKind.PERSONAL_DATA: "当事人个人信息",
}


@dataclass(frozen=True)
class RetentionPeriods:
    """Days each kind is kept after the case closes."""

    recording_days: int
    still_days: int
    personal_data_days: int

    def days(self, kind: RetentionKind) -> int:
        return {
            RetentionKind.RECORDING: self.recording_days,
            RetentionKind.STILL: self.still_days,
            RetentionKind.PERSONAL_DATA: self.personal_data_days,
        }[kind]


def _closed_cases(session: Session) -> list[tuple[int, datetime]]:
    """(case id, when it closed) of every closed case."""
    query = (
        select(Case.id, func.max(TimelineEvent.at))
        .join(TimelineEvent, TimelineEvent.case_id == Case.id)
        .where(Case.state == CaseState.CLOSED, TimelineEvent.state_after == CaseState.CLOSED)
        .group_by(Case.id)
        .order_by(Case.id)
    )
    return [(case_id, closed_at) for case_id, closed_at in session.execute(query)]


def _purge_evidence(session: Session, case_id: int, kind: RetentionKind, now: datetime) -> list[str]:
    query = select(EvidenceItem).where(EvidenceItem.case_id == case_id, EvidenceItem.purged_at.is_(None))
    if kind is RetentionKind.RECORDING:
        query = query.where(EvidenceItem.kind == EvidenceKind.RECORDING)
    else:
        query = query.where(EvidenceItem.kind != EvidenceKind.RECORDING)
    items = list(session.scalars(query.with_for_update()))
    for item in items:
        item.purged_at = now
    return [item.sha256 for item in items]


def _purge_personal_data(session: Session, case_id: int) -> int:
    case = session.get(Case, case_id, with_for_update=True)
    assert case is not None
    case.reporter_phone = mask_phone(case.reporter_phone)
    for party in case.parties:
        party.name = mask_name(party.name)
        party.phone = mask_phone(party.phone)
        party.id_number = mask_id_number(party.id_number)
        party.licence_number = mask_id_number(party.licence_number)
    return len(case.parties)


def _unreferenced(session: Session, digests: Iterable[str]) -> list[str]:
    """Of these blobs, those no evidence that is kept still names (content addressing)."""
    wanted = set(digests)
    if not wanted:
        return []
    kept = set(
        session.scalars(
            select(EvidenceItem.sha256).where(
                EvidenceItem.sha256.in_(wanted), EvidenceItem.purged_at.is_(None)
            )
        )
    )
    return sorted(wanted - kept)


def purge_expired(
    session: Session, store: EvidenceStore, periods: RetentionPeriods, now: datetime
) -> list[RetentionPurge]:
    """The scheduled job: purge every kind whose period after closing has run out.

    Rows are marked in this transaction; the files go only once it has committed, so a
    failed run deletes nothing and the next run does the whole work again."""
    done = {
        (case_id, kind)
        for case_id, kind in session.execute(select(RetentionPurge.case_id, RetentionPurge.kind))
    }
    purges: list[RetentionPurge] = []
    digests: list[str] = []
    for case_id, closed_at in _closed_cases(session):
        for kind in RetentionKind:
            days = periods.days(kind)
            if (case_id, kind.value) in done or closed_at + timedelta(days=days) > now:
                continue
            if kind is RetentionKind.PERSONAL_DATA:
                items = _purge_personal_data(session, case_id)
            else:
                purged = _purge_evidence(session, case_id, kind, now)
                digests.extend(purged)
                items = len(purged)
            purge = RetentionPurge(case_id=case_id, kind=kind.value, purged_at=now, items=items)
            session.add(purge)
            purges.append(purge)
            audit.record(
                session,
                SYSTEM,
                "retention_purge",
                now,
                case_id,
                {"kind": kind.value, "items": items, "days": days, "closed_at": closed_at.isoformat()},
            )
    session.flush()
    doomed = _unreferenced(session, digests)
    if doomed:

        def delete_files(_: Session) -> None:
            for digest in doomed:
                store.delete(digest)

        event.listen(session, "after_commit", delete_files, once=True)
    return purges


def my_data(session: Session, party: Principal, case_id: int, now: datetime) -> MyDataOut:
    """个人信息保护法 art. 45 access right: a party's own entry, the case, its timeline, the
    document numbers and the evidence hashes (other parties' personal data is not theirs)."""
    case = get_case(session, party, case_id)
    entry = party_of(case, party)
    if entry is None and case.reporter_phone != party.phone:
        raise Forbidden("只能下载本人作为当事人的案件数据")
    audit.record(session, party, "read_my_data", now, case.id)
    timeline = session.scalars(
        select(TimelineEvent).where(TimelineEvent.case_id == case.id).order_by(TimelineEvent.id)
    )
    documents = session.scalars(
        select(DeterminationDocument)
        .where(DeterminationDocument.case_id == case.id)
        .order_by(DeterminationDocument.id)
    )
    evidence = session.scalars(
        select(EvidenceItem).where(EvidenceItem.case_id == case.id).order_by(EvidenceItem.id)
    )
    purges = session.scalars(
        select(RetentionPurge).where(RetentionPurge.case_id == case.id).order_by(RetentionPurge.id)
    )
    return MyDataOut(
        generated_at=now,
        party=None
        if entry is None
        else MyPartyOut(
            position=entry.position,
            name=entry.name,
            phone=entry.phone,
            id_number=entry.id_number,
            licence_number=entry.licence_number,
            plate_number=entry.plate_number,
            plate_type=entry.plate_type,
            vehicle_type=entry.vehicle_type,
            insurer_code=entry.insurer_code,
            policy_number=entry.policy_number,
        ),
        case=MyCaseOut(
            number=case.number,
            state=case.state,
            state_label=STATE_LABELS[CaseState(case.state)],
            reported_at=case.reported_at,
            occurred_at=case.occurred_at,
            address=case.address,
            accident_type=case.accident_type,
            weather=case.weather,
            description=case.description,
        ),
        timeline=[MyTimelineOut(at=e.at, kind=e.kind, state_after=e.state_after) for e in timeline],
        documents=[MyDocumentOut(number=d.number, issued_at=d.issued_at, sha256=d.sha256) for d in documents],
        evidence=[
            MyEvidenceOut(
                id=item.id,
                kind=item.kind,
                sha256=item.sha256,
                uploaded_at=item.uploaded_at,
                purged=item.purged_at is not None,
                status_label=PURGED_LABEL if item.purged_at is not None else None,
            )
            for item in evidence
        ],
        purged=[
            MyPurgeOut(kind=p.kind, kind_label=KIND_LABELS[RetentionKind(p.kind)], purged_at=p.purged_at)
            for p in purges
        ],
    )
