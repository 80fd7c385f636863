"""Reading plates and driving licences off the operator's stills, as suggestions for the party
form, and flagging a recorded value the still contradicts.

The OCR is CPU work of a second or more per still: it runs in this process's worker pool
(onnxruntime releases the GIL while it computes), never on the request; its result is stored
per evidence item, so a reopened console or the officer reads it back. A suggestion fills
nothing: the operator confirms it in the form, and the party data is saved as ever.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.catalogue import PlateType
from kuaichu.cases.models import Case
from kuaichu.db import Database, upsert_insert
from kuaichu.errors import DomainError, Forbidden, Gone, InvalidInput, NotFound
from kuaichu.evidence.models import EvidenceItem
from kuaichu.evidence.schemas import EvidenceKind
from kuaichu.messages import Text, reader_locale, text
from kuaichu.principal import STAFF_ROLES, Principal
from kuaichu.recognition import engine
from kuaichu.recognition.models import StillReading
from kuaichu.recognition.plates import read_licence_number, read_plate
from kuaichu.recognition.schemas import ReadingOut, ReadingStatus

# The stills OCR reads, and the party field each one suggests.
READABLE_KINDS = {EvidenceKind.PLATE: "plate_number", EvidenceKind.DRIVING_LICENCE: "licence_number"}


@dataclass(frozen=True)
class StillText:
    plate_number: str | None = None
    plate_type: PlateType | None = None
    licence_number: str | None = None
    score: float | None = None
    # Everything the OCR read, for the benchmark's misses; never stored.
    raw_text: str = ""


def check_picture(data: bytes) -> None:
    """Refuses at once what the worker could not read: no picture, or too large a one."""
    engine.decode(data)


def read_still(data: bytes, kind: str) -> StillText:
    """What a plate or licence still shows (blocking: call it through `reading_pool`)."""
    pixels = engine.decode(data)
    result = engine.read(pixels)
    texts = [line.text for line in result.lines]
    raw = " | ".join(texts)
    if kind == EvidenceKind.DRIVING_LICENCE:
        number = read_licence_number(texts)
        scores = [line.score for line in result.lines if number and number[:6] in line.text]
        return StillText(licence_number=number, score=max(scores, default=None), raw_text=raw)
    plate = read_plate(texts, result.colours)
    if plate is None:
        return StillText(raw_text=raw)
    score = min((line.score for line in result.lines), default=None)
    return StillText(plate.number, plate.plate_type, score=score, raw_text=raw)


_pool: ThreadPoolExecutor | None = None
_jobs: dict[int, asyncio.Task[None]] = {}


def reading_pool(workers: int) -> ThreadPoolExecutor:
    """The process's OCR workers, made on first use (the model loads in the first job)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr")
    return _pool


def check_may_read(session: Session, viewer: Principal, case_id: int, evidence_id: int) -> tuple[str, str]:
    """Refuses what may not be read; returns the still's hash and kind."""
    case = get_case(session, viewer, case_id)
    ensure_may_write(case, viewer, WriteRule.COLLECTION)
    item = _item(session, case, evidence_id)
    if item.kind not in READABLE_KINDS:
        raise InvalidInput(Text("Recognition.not_readable"))
    if item.purged_at is not None:
        raise Gone(Text("Retention.purged"))
    return item.sha256, item.kind


def mark_pending(
    session: Session, viewer: Principal, case_id: int, evidence_id: int, now: datetime
) -> ReadingOut:
    """The still is being read (again): its reading is pending until the worker stores it."""
    check_may_read(session, viewer, case_id, evidence_id)
    case = session.get_one(Case, case_id)
    item = session.get_one(EvidenceItem, evidence_id)
    # One statement, insert or update: a double tap's two requests at once meet in the unique
    # index and the second updates the row the first inserted (no duplicate key error).
    pending = {"status": ReadingStatus.PENDING.value, "requested_at": now, "read_at": None}
    session.execute(
        upsert_insert(session)(StillReading)
        .values(evidence_id=item.id, case_id=case.id, **pending)
        .on_conflict_do_update(index_elements=["evidence_id"], set_=pending)
    )
    reading = session.scalars(select(StillReading).where(StillReading.evidence_id == item.id)).one()
    audit.record(session, viewer, AuditAction.READ_STILL, now, case.id, {"evidence_id": item.id})
    return _out(reading, item, case)


def store_reading(session: Session, evidence_id: int, found: StillText | None, now: datetime) -> None:
    """The worker's result; None when the picture could not be read."""
    reading = session.scalars(select(StillReading).where(StillReading.evidence_id == evidence_id)).one()
    reading.status = (ReadingStatus.READ if found else ReadingStatus.FAILED).value
    reading.plate_number = found.plate_number if found else None
    reading.plate_type = found.plate_type.value if found and found.plate_type else None
    reading.licence_number = found.licence_number if found else None
    reading.score = found.score if found else None
    reading.read_at = now


def start_reading(
    database: Database, data: bytes, evidence_id: int, kind: str, now: Callable[[], datetime], workers: int
) -> None:
    """Reads the still in the worker pool and stores the result; the caller does not wait."""

    async def job() -> None:
        try:
            found = await asyncio.get_running_loop().run_in_executor(
                reading_pool(workers), read_still, data, kind
            )
        except DomainError:
            found = None
        await database.write(lambda s: store_reading(s, evidence_id, found, now()))

    task = asyncio.get_running_loop().create_task(job())
    _jobs[evidence_id] = task
    task.add_done_callback(
        lambda done: _jobs.pop(evidence_id, None) if _jobs.get(evidence_id) is done else None
    )


async def finished(evidence_id: int, seconds: float) -> None:
    """Waits up to `seconds` for this process's job on the still, if it has one."""
    task = _jobs.get(evidence_id)
    if task is not None and seconds > 0 and task.get_loop() is asyncio.get_running_loop():
        await asyncio.wait([task], timeout=seconds)


def list_readings(session: Session, viewer: Principal, case_id: int, now: datetime) -> list[ReadingOut]:
    case = _staff_case(session, viewer, case_id, now)
    rows = session.execute(
        select(StillReading, EvidenceItem)
        .join(EvidenceItem, EvidenceItem.id == StillReading.evidence_id)
        .where(StillReading.case_id == case.id)
        .order_by(StillReading.evidence_id)
    )
    return [_out(reading, item, case) for reading, item in rows]


def get_reading(
    session: Session, viewer: Principal, case_id: int, evidence_id: int, now: datetime
) -> ReadingOut:
    case = _staff_case(session, viewer, case_id, now)
    item = _item(session, case, evidence_id)
    reading = session.scalars(select(StillReading).where(StillReading.evidence_id == item.id)).first()
    if reading is None:
        raise NotFound(Text("Recognition.not_requested"))
    return _out(reading, item, case)


def _staff_case(session: Session, viewer: Principal, case_id: int, now: datetime) -> Case:
    """The case, for staff: the readings hold licence numbers a party's page has no use for."""
    case = get_case(session, viewer, case_id)
    if viewer.role not in STAFF_ROLES:
        raise Forbidden(Text("Recognition.staff_only"))
    audit.record(session, viewer, AuditAction.LIST_READINGS, now, case.id)
    return case


def _item(session: Session, case: Case, evidence_id: int) -> EvidenceItem:
    item = session.get(EvidenceItem, evidence_id)
    if item is None or item.case_id != case.id:
        raise NotFound(Text("Recognition.no_such_still"))
    return item


def mismatches(reading: StillReading, item: EvidenceItem, case: Case) -> list[tuple[str, str, str]]:
    """Each (field, recorded, read) where the party the still shows was recorded with another
    value than the still reads; a still of no one party is checked against every party."""
    field = READABLE_KINDS.get(EvidenceKind(item.kind))
    read = getattr(reading, field) if field else None
    if not read:
        return []
    parties = [p for p in case.parties if item.party_position in (None, p.position)]
    recorded = [getattr(p, field) for p in parties if getattr(p, field)]
    if not recorded or read in recorded:
        return []
    return [(field, text("Common.list_separator", reader_locale()).join(recorded), read)]


def _out(reading: StillReading, item: EvidenceItem, case: Case) -> ReadingOut:
    locale = reader_locale()
    status = ReadingStatus(reading.status)
    plate_type = PlateType(reading.plate_type) if reading.plate_type else None
    found = mismatches(reading, item, case)
    return ReadingOut(
        evidence_id=item.id,
        kind=item.kind,
        party_position=item.party_position,
        status=status,
        status_label=status.label(),
        plate_number=reading.plate_number,
        plate_type=plate_type.value if plate_type else None,
        plate_type_label=plate_type.label() if plate_type else None,
        licence_number=reading.licence_number,
        score=reading.score,
        mismatch=[field for field, _, _ in found],
        mismatch_text=text("Recognition.mismatch", locale, recorded=found[0][1], read=found[0][2])
        if found
        else None,
        read_at=reading.read_at,
    )
