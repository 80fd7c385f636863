from typing import Annotated

from fastapi import APIRouter, Depends, Request

from kuaichu.cases.api import transition
from kuaichu.cases.schemas import RowId, TransitionOut
from kuaichu.collection import service
from kuaichu.collection.schemas import CollectionCompleteIn, CollectionOut
from kuaichu.principal import Principal, Role
from kuaichu.settings import Settings
from kuaichu.signals import service as signals
from kuaichu.signals.rules import SignalConfig
from kuaichu.web.context import AppContext
from kuaichu.web.deps import Context, Operator, require

router = APIRouter(prefix="/api/cases", tags=["collection"])
Staff = Annotated[Principal, Depends(require(Role.OPERATOR, Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR))]


def gate_config(settings: Settings) -> service.GateConfig:
    return service.GateConfig(settings.required_stills, settings.quick_handling_max_vehicles)


@router.get("/{case_id}/collection", response_model=CollectionOut)
async def collection(case_id: RowId, staff: Staff, context: Context) -> CollectionOut:
    config = gate_config(context.settings)
    now = context.clock.now()
    return await context.database.write(lambda s: service.read_gate(s, staff, case_id, config, now))


@router.post("/{case_id}/collection-complete", response_model=TransitionOut)
async def complete_collection(
    case_id: RowId, operator: Operator, request: Request, body: CollectionCompleteIn | None = None
) -> TransitionOut:
    context: AppContext = request.app.state.context
    config = gate_config(context.settings)
    body = body or CollectionCompleteIn()
    signal_config = SignalConfig.of(context.settings)
    result = await transition(
        request,
        operator,
        lambda s, now: signals.refresh(
            s, service.complete(s, operator, case_id, body, config, now), signal_config, now
        ),
    )
    request.app.state.wake_signals()  # the other cases its findings named are computed again now
    return result


@router.post("/{case_id}/evacuate", response_model=TransitionOut)
async def evacuate(case_id: RowId, operator: Operator, request: Request) -> TransitionOut:
    context: AppContext = request.app.state.context
    config = gate_config(context.settings)
    signal_config = SignalConfig.of(context.settings)
    result = await transition(
        request,
        operator,
        lambda s, now: signals.refresh(
            s, service.evacuate(s, operator, case_id, config, now), signal_config, now
        ),
    )
    request.app.state.wake_signals()  # the other cases its findings named are computed again now
    return result
