import asyncio
import logging

from fastapi import APIRouter, FastAPI, Request, WebSocket, status
from sqlalchemy.orm import Session

from kuaichu.auth.deps import Context, Operator, Party
from kuaichu.calls import service
from kuaichu.calls.schemas import (
    CallConfigOut,
    CallReportIn,
    CurrentCallOut,
    ModeIn,
    OfferOut,
    PresenceIn,
    PresenceOut,
    QueueStatusOut,
    QueueViewOut,
)
from kuaichu.calls.service import QueueChange
from kuaichu.calls.signaling import serve_page
from kuaichu.cases.catalogue import ACCIDENT_TYPES, PLATE_TYPES, VEHICLE_TYPES, WEATHER
from kuaichu.cases.schemas import RowId
from kuaichu.context import AppContext
from kuaichu.eligibility.rules import QUESTIONS
from kuaichu.liability.grades import LABELS as RESPONSIBILITY_LABELS
from kuaichu.liability.rules import ACT_LABELS

log = logging.getLogger(__name__)

router = APIRouter(tags=["calls"])


async def publish(context: AppContext, changes: list[QueueChange]) -> None:
    """After the commit: queue snapshots to the waiting pages, offers to the operators."""
    for change in changes:
        await context.bus.publish(f"queue:{change.snapshot.jurisdiction_id}", change.snapshot.message())
        for offer in change.offers:
            await context.bus.publish(
                f"operator:{offer.operator_id}", {"type": "offer", **offer.model_dump()}
            )


def _changed(request: Request) -> None:
    request.app.state.wake_dispatcher()  # a take enqueued the party's "call taken" push


@router.get("/api/calls/config", response_model=CallConfigOut)
async def config(context: Context) -> CallConfigOut:
    settings = context.settings
    return CallConfigOut(
        ice_servers=settings.ice_servers,
        recording_chunk_seconds=settings.recording_chunk_seconds,
        grace_seconds=settings.call_grace_seconds,
        catalogues={
            "accident_types": ACCIDENT_TYPES,
            "weather": WEATHER,
            "vehicle_types": VEHICLE_TYPES,
            "plate_types": PLATE_TYPES,
            "responsibilities": {r.value: label for r, label in RESPONSIBILITY_LABELS.items()},
            "acts": {act.value: label for act, label in ACT_LABELS.items()},
            "circumstances": QUESTIONS,
            # Stills taken once per vehicle (its overview, its plate): the console asks whose.
            "per_vehicle_stills": [
                still.split(":")[0] for still in settings.required_stills if still.endswith(":each")
            ],
        },
    )


@router.post("/api/calls", status_code=status.HTTP_201_CREATED, response_model=QueueStatusOut)
async def report_call(body: CallReportIn, party: Party, context: Context, request: Request) -> QueueStatusOut:
    now = context.clock.now()
    default = context.settings.call_default_handling_seconds

    def work(session: Session) -> tuple[QueueStatusOut, QueueChange]:
        case, change = service.report_call(session, party, body, body.mode, default, now)
        return service.queue_status(session, party, case.id, default), change

    status_out, change = await context.database.write(work)
    await publish(context, [change])
    _changed(request)
    return status_out


@router.get("/api/calls/{case_id}/queue", response_model=QueueStatusOut)
async def queue_status(case_id: RowId, party: Party, context: Context) -> QueueStatusOut:
    default = context.settings.call_default_handling_seconds
    return await context.database.read(lambda s: service.queue_status(s, party, case_id, default))


@router.post("/api/cases/{case_id}/call-back", response_model=QueueStatusOut)
async def call_back(case_id: RowId, party: Party, context: Context, request: Request) -> QueueStatusOut:
    now = context.clock.now()
    default = context.settings.call_default_handling_seconds

    def work(session: Session) -> tuple[QueueStatusOut, QueueChange]:
        case, change = service.call_back(session, party, case_id, default, now)
        return service.queue_status(session, party, case.id, default), change

    status_out, change = await context.database.write(work)
    await publish(context, [change])
    _changed(request)
    return status_out


@router.post("/api/calls/{case_id}/abandon", status_code=status.HTTP_204_NO_CONTENT)
async def abandon(case_id: RowId, party: Party, context: Context) -> None:
    now = context.clock.now()
    default = context.settings.call_default_handling_seconds
    change = await context.database.write(lambda s: service.abandon(s, party, case_id, default, now))
    await publish(context, [change])


@router.put("/api/calls/{case_id}/mode", status_code=status.HTTP_204_NO_CONTENT)
async def set_mode(case_id: RowId, body: ModeIn, party: Party, context: Context) -> None:
    now = context.clock.now()
    await context.database.write(lambda s: service.set_mode(s, party, case_id, body.mode, now))
    await context.bus.publish(
        f"call:{case_id}:operator", {"type": "mode", "case_id": case_id, "mode": body.mode.value}
    )


@router.put("/api/operators/me/presence", response_model=PresenceOut)
async def set_presence(
    body: PresenceIn, operator: Operator, context: Context, request: Request
) -> PresenceOut:
    now = context.clock.now()
    default = context.settings.call_default_handling_seconds
    presence, change = await context.database.write(
        lambda s: service.set_presence(s, operator, body.status, default, now)
    )
    await publish(context, [change])
    _changed(request)
    return presence


@router.get("/api/calls/queue", response_model=QueueViewOut)
async def queue_view(operator: Operator, context: Context) -> QueueViewOut:
    now = context.clock.now()
    default = context.settings.call_default_handling_seconds
    # A write: the operator's presence row is created on first sight.
    return await context.database.write(lambda s: service.queue_view(s, operator, default, now))


@router.get("/api/calls/current", response_model=CurrentCallOut)
async def current_call(operator: Operator, context: Context) -> CurrentCallOut:
    now = context.clock.now()
    return await context.database.write(lambda s: service.current_call(s, operator, now))


@router.post("/api/calls/take-next", response_model=OfferOut)
async def take_next(operator: Operator, context: Context, request: Request) -> OfferOut:
    now = context.clock.now()
    default = context.settings.call_default_handling_seconds
    offer, change = await context.database.write(lambda s: service.take_next(s, operator, default, now))
    await publish(context, [change])
    _changed(request)
    return offer


@router.post("/api/calls/{case_id}/hangup", response_model=PresenceOut)
async def hang_up(case_id: RowId, operator: Operator, context: Context) -> PresenceOut:
    now = context.clock.now()
    return await context.database.write(lambda s: service.hang_up(s, operator, case_id, now))


@router.websocket("/ws")
async def page_socket(websocket: WebSocket) -> None:
    await serve_page(websocket, websocket.app.state.context)


async def sweep_once(app: FastAPI) -> list[QueueChange]:
    context: AppContext = app.state.context
    settings = context.settings
    now = context.clock.now()
    changes = await context.database.write(
        lambda s: service.sweep(s, now, settings.call_grace_seconds, settings.call_default_handling_seconds)
    )
    await publish(context, changes)
    if changes:
        app.state.wake_dispatcher()
    return changes


async def run_call_sweeper(app: FastAPI) -> None:
    """Dropped calls past their grace back to the queue; stray waiting calls offered."""
    while True:
        await asyncio.sleep(app.state.context.settings.call_sweep_seconds)
        try:
            await sweep_once(app)
        except Exception:
            log.exception("call sweep failed; retrying at the next period")
