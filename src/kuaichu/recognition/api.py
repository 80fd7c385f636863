from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from starlette.concurrency import run_in_threadpool

from kuaichu.cases.schemas import RowId
from kuaichu.principal import Principal, Role
from kuaichu.recognition import service
from kuaichu.recognition.schemas import ReadingOut
from kuaichu.web.deps import Context, require

router = APIRouter(prefix="/api/cases/{case_id}/readings", tags=["recognition"])
Collector = Annotated[Principal, Depends(require(Role.OPERATOR, Role.SUPERVISOR))]
Staff = Annotated[Principal, Depends(require(Role.OPERATOR, Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR))]


@router.get("", response_model=list[ReadingOut])
async def list_readings(case_id: RowId, staff: Staff, context: Context) -> list[ReadingOut]:
    now = context.clock.now()
    return await context.database.write(lambda s: service.list_readings(s, staff, case_id, now))


@router.post("/{evidence_id}", status_code=status.HTTP_202_ACCEPTED, response_model=ReadingOut)
async def read_still(
    case_id: RowId, evidence_id: RowId, collector: Collector, context: Context
) -> ReadingOut:
    """Has a plate or driving-licence still read; answers at once (pending), the worker stores
    the result for GET."""
    now = context.clock.now()
    sha256, kind = await context.database.read(
        lambda s: service.check_may_read(s, collector, case_id, evidence_id)
    )
    data = await run_in_threadpool(lambda: b"".join(context.evidence_store.read_chunks(sha256)))
    await run_in_threadpool(service.check_picture, data)
    out = await context.database.write(
        lambda s: service.mark_pending(s, collector, case_id, evidence_id, now)
    )
    service.start_reading(
        context.database, data, evidence_id, kind, context.clock.now, context.settings.recognition_workers
    )
    return out


@router.get("/{evidence_id}", response_model=ReadingOut)
async def reading(
    case_id: RowId,
    evidence_id: RowId,
    staff: Staff,
    context: Context,
    wait: Annotated[float, Query(ge=0, le=30, description="seconds to wait for a pending reading")] = 0,
) -> ReadingOut:
    await service.finished(evidence_id, wait)
    now = context.clock.now()
    return await context.database.write(lambda s: service.get_reading(s, staff, case_id, evidence_id, now))
