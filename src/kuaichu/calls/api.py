from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request, Response, WebSocket, status

from kuaichu.auth.turn import public_ice_servers
from kuaichu.calls import connections, passes, presence, queue
from kuaichu.calls.queue import CallRules, QueueChange
from kuaichu.calls.schemas import (
    CallConfigOut,
    CallReportIn,
    CurrentCallOut,
    JurisdictionOut,
    ModeIn,
    OfferOut,
    PresenceIn,
    PresenceOut,
    QueueStatusOut,
    QueueViewOut,
    ServiceStatusOut,
)
from kuaichu.calls.signaling import serve_page
from kuaichu.cases.schemas import RowId
from kuaichu.eligibility.rules import questions
from kuaichu.geo.service import listed
from kuaichu.liability.grades import Responsibility
from kuaichu.liability.rules import Act
from kuaichu.messages import reader_locale
from kuaichu.web.context import AppContext
from kuaichu.web.deps import Context, Operator, Party

router = APIRouter(tags=["calls"])


async def publish(context: AppContext, changes: list[QueueChange]) -> None:
    """After the commit: queue snapshots to the waiting pages, offers to the operators."""
    await passes.publish(context.bus, changes)


def _passes(context: AppContext) -> passes.QueuePasses:
    return passes.passes_of(context.database, context.bus, context.clock, lambda: rules(context))


async def after_change(context: AppContext, jurisdiction_id: int) -> QueueChange:
    """The pass over the jurisdiction's queue that follows a committed change (published)."""
    return await _passes(context).after_change(jurisdiction_id)


def _changed(request: Request) -> None:
    request.app.state.wake_dispatcher()  # a take enqueued the party's "call taken" push


def rules(context: AppContext) -> CallRules:
    return CallRules.from_settings(context.settings)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/api/calls/config", response_model=CallConfigOut)
async def config(context: Context) -> CallConfigOut:
    settings = context.settings
    return CallConfigOut(
        # Anonymous: only servers without credentials; a logged-in page gets TURN (time-limited)
        # in its WebSocket's hello and from GET /api/auth/ice-servers.
        ice_servers=public_ice_servers(settings),
        ice_transport_policy=settings.ice_transport_policy,
        recording_chunk_seconds=settings.recording_chunk_seconds,
        grace_seconds=settings.call_grace_seconds,
        max_vehicles=settings.quick_handling_max_vehicles,
        # The lists the operator picks the facts from are GET /api/catalogue.
        catalogues={
            "responsibilities": {r.value: r.label() for r in Responsibility},
            "acts": {act.value: act.label() for act in Act},
            "circumstances": questions(reader_locale()),
            # Stills taken once per vehicle (its overview, its plate): the console asks whose.
            "per_vehicle_stills": [
                still.split(":")[0] for still in settings.required_stills if still.endswith(":each")
            ],
        },
        media_server=bool(settings.janus_nodes),
    )


@router.post(
    "/api/calls",
    status_code=status.HTTP_201_CREATED,
    response_model=QueueStatusOut,
    responses={
        200: {
            "model": QueueStatusOut,
            "description": "The phone already has an active case: that case, unchanged",
        }
    },
)
async def report_call(
    body: CallReportIn, party: Party, context: Context, request: Request, response: Response
) -> QueueStatusOut:
    """一键视频报警 with GPS, or with the district picked and the place typed (location denied).
    A phone with an active case gets that case back (200) instead of a second one (201)."""
    now = context.clock.now()
    call_rules = rules(context)
    address = _address(request)
    joined = await context.database.write_small(
        lambda s: queue.report_call(s, party, body, call_rules, now, address)
    )
    if not joined.new:
        response.status_code = status.HTTP_200_OK
        return await context.database.read(
            lambda s: queue.queue_status(s, party, joined.case.id, call_rules, now)
        )
    await passes.publish_offers(context.bus, joined.offers)  # an operator already waiting hears at once
    _changed(request)
    change = await after_change(context, joined.case.jurisdiction_id)
    return queue.status_after_pass(joined.case, change, joined.offers)


@router.get("/api/calls/active", response_model=QueueStatusOut)
async def active_call(party: Party, context: Context) -> QueueStatusOut:
    """The phone's active case (queued, in the call, collected, sent back): the page resumes it."""
    now = context.clock.now()
    call_rules = rules(context)
    return await context.database.read(lambda s: queue.active_call(s, party, call_rules, now))


@router.get("/api/calls/service-status", response_model=ServiceStatusOut)
async def service_status(
    _: Party,
    context: Context,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
    jurisdiction_code: Annotated[str | None, Query(max_length=12)] = None,
) -> ServiceStatusOut:
    """Before reporting: whether video quick handling takes calls here now, and if not, why."""
    now = context.clock.now()
    call_rules = rules(context)
    where = CallReportIn(lat=lat, lng=lng) if lat is not None and lng is not None else None
    return await context.database.read(
        lambda s: queue.availability(s, call_rules, now, where, jurisdiction_code)
    )


@router.get("/api/jurisdictions", response_model=list[JurisdictionOut])
async def jurisdictions(context: Context) -> list[JurisdictionOut]:
    """The districts a party picks from when location is denied (public: code and name only)."""
    rows = await context.database.read(listed)
    return [JurisdictionOut(code=j.code, name=j.name) for j in rows]


@router.get("/api/calls/{case_id}/queue", response_model=QueueStatusOut)
async def queue_status(case_id: RowId, party: Party, context: Context) -> QueueStatusOut:
    now = context.clock.now()
    call_rules = rules(context)
    return await context.database.read(lambda s: queue.queue_status(s, party, case_id, call_rules, now))


@router.post("/api/cases/{case_id}/call-back", response_model=QueueStatusOut)
async def call_back(case_id: RowId, party: Party, context: Context, request: Request) -> QueueStatusOut:
    now = context.clock.now()
    case = await context.database.write_small(lambda s: queue.call_back(s, party, case_id, now))
    change = await after_change(context, case.jurisdiction_id)
    _changed(request)
    return queue.status_after_pass(case, change)


@router.post("/api/calls/{case_id}/abandon", status_code=status.HTTP_204_NO_CONTENT)
async def abandon(case_id: RowId, party: Party, context: Context) -> None:
    now = context.clock.now()
    jurisdiction_id = await context.database.write_small(lambda s: queue.abandon(s, party, case_id, now))
    await after_change(context, jurisdiction_id)


@router.put("/api/calls/{case_id}/mode", status_code=status.HTTP_204_NO_CONTENT)
async def set_mode(case_id: RowId, body: ModeIn, party: Party, context: Context) -> None:
    now = context.clock.now()
    await context.database.write_small(lambda s: queue.set_mode(s, party, case_id, body.mode, now))
    await context.bus.publish(
        f"call:{case_id}:operator", {"type": "mode", "case_id": case_id, "mode": body.mode.value}
    )


@router.put("/api/operators/me/presence", response_model=PresenceOut)
async def set_presence(
    body: PresenceIn, operator: Operator, context: Context, request: Request
) -> PresenceOut:
    now = context.clock.now()
    updated, offers = await context.database.write_small(
        lambda s: presence.set_presence(s, operator, body.status, now), urgent=True
    )
    await passes.publish_offers(context.bus, offers)  # the console hears at once
    _changed(request)
    # The pages' new snapshot (and an offer this transaction could not see yet) follow.
    assert operator.jurisdiction_id is not None
    _passes(context).soon(operator.jurisdiction_id)
    return updated


@router.get("/api/calls/queue", response_model=QueueViewOut)
async def queue_view(operator: Operator, context: Context) -> QueueViewOut:
    now = context.clock.now()
    call_rules = rules(context)
    # A write: the operator's presence row is created on first sight.
    return await context.database.write(lambda s: presence.queue_view(s, operator, call_rules, now))


@router.get("/api/calls/current", response_model=CurrentCallOut)
async def current_call(operator: Operator, context: Context) -> CurrentCallOut:
    now = context.clock.now()
    return await context.database.write_small(lambda s: presence.current_call(s, operator, now))


@router.post("/api/calls/take-next", response_model=OfferOut)
async def take_next(operator: Operator, context: Context, request: Request) -> OfferOut:
    now = context.clock.now()
    call_rules = rules(context)
    offer, change = await context.database.write_small(
        lambda s: presence.take_next(s, operator, call_rules, now), urgent=True
    )
    await publish(context, [change])
    _changed(request)
    return offer


@router.post("/api/calls/{case_id}/hangup", response_model=PresenceOut)
async def hang_up(case_id: RowId, operator: Operator, context: Context) -> PresenceOut:
    now = context.clock.now()
    return await context.database.write_small(lambda s: presence.hang_up(s, operator, case_id, now))


@router.websocket("/ws")
async def page_socket(websocket: WebSocket) -> None:
    await serve_page(websocket, websocket.app.state.context)


async def sweep_once(app: FastAPI) -> list[QueueChange]:
    """The queue's timeouts (offers not joined, dropped calls, consoles gone); stray waiting
    calls offered. The app's scheduler runs it every call_sweep_seconds."""
    context: AppContext = app.state.context
    now = context.clock.now()
    call_rules = rules(context)
    jurisdictions = await context.database.write(lambda s: connections.sweep(s, now, call_rules))
    changes = [await after_change(context, jurisdiction_id) for jurisdiction_id in jurisdictions]
    if changes:
        app.state.wake_dispatcher()
    return changes
