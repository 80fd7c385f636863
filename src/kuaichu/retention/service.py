"""Retention (个人信息保护法 art. 19, 47): each kind of a case's data is kept for its period
after the case ended (办结, or cancelled, transferred on site, moved to the ordinary procedure:
this system's handling is over), then a scheduled job deletes it.

Recordings and stills lose their files: the evidence rows stay, with their SHA-256, marked
purged, and a file is deleted only when no evidence that is kept still names the same
content (the store is content-addressed). Personal data is masked or deleted in every table
that holds it (retention.personal). The determination document (its PDF is kept in the
database) and every hash stay, and each purge is on the audit log. A party may download what
the case holds about them, before and after (art. 45).

Party logins' hashed traces (kuaichu.signals) belong to no case: the same job deletes those
older than Settings.signal_login_trace_days, whether or not anyone logged in since. It also
deletes the blobs no row names, once past their grace (retention.orphans).
"""

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_date
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases.access import get_case, is_reporter, party_of
from kuaichu.cases.lifecycle import CaseState
from kuaichu.cases.models import Case, TimelineEvent
from kuaichu.cases.schemas import PartyOut
from kuaichu.clock import local
from kuaichu.db import Database
from kuaichu.documents.models import DeterminationDocument
from kuaichu.errors import Forbidden, NotFound, Unavailable
from kuaichu.evidence.models import EvidenceItem
from kuaichu.evidence.schemas import EvidenceKind
from kuaichu.evidence.storage import EvidenceStore
from kuaichu.messages import Labelled, Locale, Text, reader_locale, text
from kuaichu.principal import SYSTEM, Principal
from kuaichu.retention.models import RetentionPurge
from kuaichu.retention.orphans import delete_orphan_blobs
from kuaichu.retention.personal import purge_personal_data
from kuaichu.retention.schemas import (
    MyCaseOut,
    MyDataOut,
    MyDocumentOut,
    MyEvidenceOut,
    MyTimelineOut,
    RetentionKindOut,
    RetentionOut,
)
from kuaichu.settings import Settings
from kuaichu.signals import service as signals

log = logging.getLogger(__name__)

# Files deleted per run: a store a network away answers each delete in its own round trip.
BLOB_BATCH = 500


class RetentionKind(Labelled):
    RECORDING = "recording"
    STILL = "still"
    PERSONAL_DATA = "personal_data"


# This system's handling of the case is over: nothing will need its data again but the record.
ENDED_STATES = (
    CaseState.CLOSED,
    CaseState.ABANDONED,
    CaseState.TRANSFERRED,
    CaseState.ORDINARY_PROCEDURE,
)


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each kind is kept after the case ended, the secret of the phones' keyed hash, days
    a login's traces are kept after the login, and how old a blob no row names must be to go."""

    recording_days: int
    still_days: int
    personal_data_days: int
    phone_key_secret: str
    login_trace_days: int
    orphan_grace: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetentionPolicy":
        return cls(
            settings.retention_recording_days,
            settings.retention_still_days,
            settings.retention_personal_data_days,
            settings.effective_phone_key_secret,
            settings.signal_login_trace_days,
            timedelta(hours=settings.evidence_orphan_grace_hours),
        )

    def days(self, kind: RetentionKind) -> int:
        return {
            RetentionKind.RECORDING: self.recording_days,
            RetentionKind.STILL: self.still_days,
            RetentionKind.PERSONAL_DATA: self.personal_data_days,
        }[kind]


def _ended_at() -> Select[tuple[int, Any]]:
    """(case id, when it ended) of ended cases; a claim's progress after closing counts too."""
    return (
        select(Case.id, func.max(TimelineEvent.at))
        .join(TimelineEvent, TimelineEvent.case_id == Case.id)
        .where(Case.state.in_(ENDED_STATES), TimelineEvent.state_after == Case.state)
        .group_by(Case.id)
    )


def _ended_cases(session: Session) -> list[tuple[int, datetime]]:
    """Ended cases with a kind still to purge."""
    purges = select(func.count(RetentionPurge.id)).where(RetentionPurge.case_id == Case.id)
    query = _ended_at().where(purges.scalar_subquery() < len(RetentionKind)).order_by(Case.id)
    return [(case_id, ended_at) for case_id, ended_at in session.execute(query)]


def _purge_evidence(session: Session, case_id: int, kind: RetentionKind, now: datetime) -> int:
    query = select(EvidenceItem).where(EvidenceItem.case_id == case_id, EvidenceItem.purged_at.is_(None))
    if kind is RetentionKind.RECORDING:
        query = query.where(EvidenceItem.kind == EvidenceKind.RECORDING)
    else:
        query = query.where(EvidenceItem.kind != EvidenceKind.RECORDING)
    items = list(session.scalars(query.with_for_update()))
    for item in items:
        item.purged_at = now
    return len(items)


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


def _purge_kind(
    session: Session, case_id: int, kind: RetentionKind, policy: RetentionPolicy, now: datetime
) -> tuple[int, dict[str, int]]:
    """Purge one kind of one case: (items, rows per table)."""
    if kind is RetentionKind.PERSONAL_DATA:
        tables = purge_personal_data(session, case_id, policy.phone_key_secret, now)
        return sum(tables.values()), tables
    purged = _purge_evidence(session, case_id, kind, now)
    return purged, {"evidence_items": purged} if purged else {}


def purge_expired(session: Session, policy: RetentionPolicy, now: datetime) -> list[RetentionPurge]:
    """The scheduled job's transaction: purge every kind whose period after the case ended has
    run out. Rows only: the files go once it has committed (`delete_purged_blobs`)."""
    done = {
        (case_id, kind)
        for case_id, kind in session.execute(select(RetentionPurge.case_id, RetentionPurge.kind))
    }
    purges: list[RetentionPurge] = []
    for case_id, ended_at in _ended_cases(session):
        for kind in RetentionKind:
            days = policy.days(kind)
            if (case_id, kind.value) in done or ended_at + timedelta(days=days) > now:
                continue
            items, tables = _purge_kind(session, case_id, kind, policy, now)
            purge = RetentionPurge(case_id=case_id, kind=kind.value, purged_at=now, items=items)
            session.add(purge)
            purges.append(purge)
            detail = {"kind": kind.value, "items": items, "tables": tables, "days": days}
            audit.record(
                session,
                SYSTEM,
                AuditAction.RETENTION_PURGE,
                now,
                case_id,
                detail | {"ended_at": ended_at.isoformat()},
            )
    session.flush()
    return purges


def blobs_to_delete(session: Session, limit: int = BLOB_BATCH) -> list[str]:
    """Files of purged evidence still in the store, that no evidence which is kept names."""
    pending = (
        select(EvidenceItem.sha256)
        .where(EvidenceItem.purged_at.is_not(None), EvidenceItem.blob_deleted_at.is_(None))
        .distinct()
        .order_by(EvidenceItem.sha256)
        .limit(limit)
    )
    return _unreferenced(session, session.scalars(pending))


def mark_blobs_deleted(session: Session, digests: list[str], now: datetime) -> None:
    if digests:
        session.execute(
            update(EvidenceItem)
            .where(EvidenceItem.sha256.in_(digests), EvidenceItem.purged_at.is_not(None))
            .values(blob_deleted_at=now)
        )


async def delete_purged_blobs(database: Database, store: EvidenceStore, now: datetime) -> int:
    """Delete the purged files, outside any transaction (an object store is a network away),
    then record it. The same bytes uploaded again for kept evidence meanwhile keep their file,
    as in the orphan sweep (retention.orphans). A store that fails leaves the rest for the next
    run; a crash between the delete and the record only deletes again (deleting a missing blob
    is harmless)."""
    deleted: list[str] = []
    for digest in await database.read(blobs_to_delete):
        try:
            if await _delete_unless_kept(database, store, digest):
                deleted.append(digest)
        except (Unavailable, NotFound, OSError):
            log.warning("retention: the evidence store refused a delete; the next run retries")
            break
    await database.write(lambda s: mark_blobs_deleted(s, deleted, now))
    return len(deleted)


async def _delete_unless_kept(database: Database, store: EvidenceStore, digest: str) -> bool:
    """Taken off its name, then deleted only if still no kept evidence names it: whether it is
    gone. A row that commits after that look finds it gone and stores it again (EvidenceStore.keep)."""
    aside = await asyncio.to_thread(store.set_aside, digest, None)
    if aside is None:
        return True  # gone already
    if not await database.read(lambda s: _unreferenced(s, [digest])):
        log.info("retention: purged blob %s is named again by kept evidence; put back", digest)
        await asyncio.to_thread(store.put_back, aside)
        return False
    await asyncio.to_thread(store.discard, aside)
    return True


async def run_retention(
    database: Database, store: EvidenceStore, policy: RetentionPolicy, now: datetime
) -> list[RetentionPurge]:
    """One run of the retention job: purge what is due and the old login traces, then delete
    the files that may go: those of purged evidence, and those no row names."""
    purges = await database.write(lambda s: purge_expired(s, policy, now))
    traces_before = now - timedelta(days=policy.login_trace_days)
    await database.write(lambda s: signals.delete_login_traces(s, traces_before))
    await delete_purged_blobs(database, store, now)
    await delete_orphan_blobs(database, store, policy.orphan_grace, now)
    return purges


# What the parties see.


def _day(moment: datetime, locale: Locale) -> str:
    """The Shanghai day of `moment` as the reader writes a date (2027年3月1日, March 1, 2027)."""
    return format_date(local(moment).date(), "long", locale=locale.po_name)


def retention_of(session: Session, case: Case, policy: RetentionPolicy) -> RetentionOut:
    """How long each kind of this case's data is kept, and what is already gone."""
    ended_at = session.execute(_ended_at().where(Case.id == case.id)).one_or_none()
    end = ended_at[1] if ended_at else None
    purged = {
        p.kind: p.purged_at
        for p in session.scalars(select(RetentionPurge).where(RetentionPurge.case_id == case.id))
    }
    locale = reader_locale()
    kinds = []
    for kind in RetentionKind:
        days = policy.days(kind)
        due = end + timedelta(days=days) if end else None
        purged_at = purged.get(kind.value)
        if purged_at is not None:
            status = text("Retention.purged", locale)
        elif due is not None:
            status = text("Retention.kept_until", locale, date=_day(due, locale))
        else:
            status = text("Retention.kept_days", locale, days=days)
        kinds.append(
            RetentionKindOut(
                kind=kind.value,
                kind_label=kind.label(),
                days=days,
                due_at=due,
                purged_at=purged_at,
                status_label=status,
            )
        )
    return RetentionOut(ended_at=end, kinds=kinds, kept_label=text("Retention.kept", locale))


def retention(session: Session, viewer: Principal, case_id: int, policy: RetentionPolicy) -> RetentionOut:
    """个人信息保护法 art. 17: the periods, for anyone who may see the case (no personal data)."""
    return retention_of(session, get_case(session, viewer, case_id), policy)


def my_data(
    session: Session, party: Principal, case_id: int, policy: RetentionPolicy, now: datetime
) -> MyDataOut:
    """个人信息保护法 art. 45 access right: a party's own entry, the case, its timeline, the
    document numbers, the evidence hashes and what retention deleted (other parties' personal
    data is not theirs). Matched by the keyed hash too, so it works after the purge."""
    case = get_case(session, party, case_id)
    entry = party_of(case, party)
    if entry is None and not is_reporter(case, party):
        raise Forbidden(Text("Retention.not_your_data"))
    audit.record(session, party, AuditAction.READ_MY_DATA, now, case.id)
    return MyDataOut(
        generated_at=now,
        party=None if entry is None else PartyOut.model_validate(entry, from_attributes=True),
        case=_case_out(case),
        timeline=_timeline(session, case.id),
        documents=_documents(session, case.id),
        evidence=_evidence(session, case.id),
        retention=retention_of(session, case, policy),
    )


def _case_out(case: Case) -> MyCaseOut:
    return MyCaseOut(
        number=case.number,
        state=case.state,
        state_label=CaseState(case.state).label(),
        reported_at=case.reported_at,
        occurred_at=case.occurred_at,
        address=case.address,
        accident_type=case.accident_type,
        weather=case.weather,
        description=case.description,
    )


def _timeline(session: Session, case_id: int) -> list[MyTimelineOut]:
    events = session.scalars(
        select(TimelineEvent).where(TimelineEvent.case_id == case_id).order_by(TimelineEvent.id)
    )
    return [MyTimelineOut(at=e.at, kind=e.kind, state_after=e.state_after) for e in events]


def _documents(session: Session, case_id: int) -> list[MyDocumentOut]:
    documents = session.scalars(
        select(DeterminationDocument)
        .where(DeterminationDocument.case_id == case_id)
        .order_by(DeterminationDocument.id)
    )
    return [MyDocumentOut(number=d.number, issued_at=d.issued_at, sha256=d.sha256) for d in documents]


def _evidence(session: Session, case_id: int) -> list[MyEvidenceOut]:
    purged = text("Retention.purged", reader_locale())
    items = session.scalars(
        select(EvidenceItem).where(EvidenceItem.case_id == case_id).order_by(EvidenceItem.id)
    )
    return [
        MyEvidenceOut(
            id=item.id,
            kind=item.kind,
            sha256=item.sha256,
            uploaded_at=item.uploaded_at,
            purged=item.purged_at is not None,
            status_label=purged if item.purged_at is not None else None,
        )
        for item in items
    ]
