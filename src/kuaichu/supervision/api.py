from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from kuaichu.audit import service as audit
from kuaichu.calls import queue as calls
from kuaichu.calls.api import publish, rules
from kuaichu.calls.schemas import JurisdictionServiceOut, ServiceIn
from kuaichu.cases.schemas import RowId
from kuaichu.documents.schemas import StalledDocumentOut
from kuaichu.documents.service import stalled_orders
from kuaichu.messages import reader_locale, text
from kuaichu.notify import dead_letters as letters
from kuaichu.notify.schemas import DeadLetter
from kuaichu.principal import Principal, Role
from kuaichu.signals.schemas import StuckSignalsOut
from kuaichu.signals.service import stuck_orders
from kuaichu.supervision import service
from kuaichu.supervision.schemas import CaseReplay, QueueHealth, StaffingOut, Timings
from kuaichu.web.deps import Context, require

router = APIRouter(prefix="/api/supervision", tags=["supervision"])
Supervisor = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.ADMIN))]


@router.get("/cases/{case_id}/replay", response_model=CaseReplay)
async def replay(case_id: RowId, supervisor: Supervisor, context: Context) -> CaseReplay:
    now = context.clock.now()
    return await context.database.write(lambda s: service.replay(s, supervisor, case_id, now))


@router.get("/timings", response_model=Timings)
async def timings(_: Supervisor, context: Context, days: Annotated[int, Query(ge=1, le=366)] = 7) -> Timings:
    since = context.clock.now() - timedelta(days=days)
    return await context.database.read(lambda s: service.timings(s, since))


@router.get("/queues", response_model=list[QueueHealth])
async def queues(_: Supervisor, context: Context) -> list[QueueHealth]:
    now = context.clock.now()
    return await context.database.read(lambda s: service.queue_health(s, now))


@router.get("/staffing/{jurisdiction_code}", response_model=StaffingOut)
async def staffing(
    jurisdiction_code: Annotated[str, Path(max_length=12)],
    _: Supervisor,
    context: Context,
    target_seconds: Annotated[float, Query(gt=0, le=3600)] = 30,
    target_service_level: Annotated[float, Query(gt=0, lt=1)] = 0.9,
) -> StaffingOut:
    now = context.clock.now()
    return await context.database.read(
        lambda s: service.staffing_for(
            s,
            jurisdiction_code,
            now,
            target_seconds=target_seconds,
            target_service_level=target_service_level,
        )
    )


@router.get("/documents", response_model=list[StalledDocumentOut])
async def stalled_documents(_: Supervisor, context: Context) -> list[StalledDocumentOut]:
    """Determination documents whose making failed and is being retried: nothing stalls unseen."""
    return await context.database.read(stalled_orders)


@router.get("/signals", response_model=StuckSignalsOut)
async def stuck_signals(_: Supervisor, context: Context) -> StuckSignalsOut:
    """Signal orders (other cases computed again) that failed or are overdue: none stalls unseen."""
    now, sweep = context.clock.now(), context.settings.signal_order_sweep_seconds
    return await context.database.read(lambda s: stuck_orders(s, now, sweep))


@router.get("/dead-letters", response_model=list[DeadLetter])
async def dead_letters(_: Supervisor, context: Context) -> list[DeadLetter]:
    return await context.database.read(letters.dead_letters)


@router.post("/dead-letters/{message_id}/resend", status_code=status.HTTP_202_ACCEPTED)
async def resend(
    message_id: RowId, supervisor: Supervisor, context: Context, request: Request
) -> dict[str, str]:
    now = context.clock.now()
    await context.database.write(lambda s: service.resend_dead_letter(s, supervisor, message_id, now))
    request.app.state.wake_dispatcher()
    return {"detail": text("Supervision.resent", reader_locale())}


@router.get("/audit")
async def verify_audit(_: Supervisor, context: Context) -> dict[str, object]:
    """The same check as `kuaichu audit verify`, for the supervisor's page."""
    result = await context.database.read(lambda s: audit.verify(s, context.audit_signer))
    return {
        "ok": result.ok,
        "entries": result.entries,
        "checkpoints": result.checkpoints,
        "first_broken_id": result.first_broken_id,
        "reason": result.reason,
    }


@router.get("/jurisdictions/service", response_model=list[JurisdictionServiceOut])
async def services(_: Supervisor, context: Context) -> list[JurisdictionServiceOut]:
    """Each jurisdiction's video service: hours, pause switch, and what a party is told now."""
    now = context.clock.now()
    call_rules = rules(context)
    return await context.database.read(lambda s: calls.services(s, call_rules, now))


@router.put("/jurisdictions/{jurisdiction_code}/service", response_model=JurisdictionServiceOut)
async def set_service(
    jurisdiction_code: Annotated[str, Path(max_length=12)],
    body: ServiceIn,
    supervisor: Supervisor,
    context: Context,
) -> JurisdictionServiceOut:
    """Pause (with a reason) or resume a jurisdiction's video calls, or set its hours (audited)."""
    now = context.clock.now()
    call_rules = rules(context)
    out, change = await context.database.write(
        lambda s: calls.set_service(s, supervisor, jurisdiction_code, body, call_rules, now)
    )
    await publish(context, [change])
    return out
