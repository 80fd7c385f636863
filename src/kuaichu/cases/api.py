from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from kuaichu.audit.reads import audited_read
from kuaichu.calls import queue as calls
from kuaichu.cases import service, views
from kuaichu.cases.lifecycle import CaseState
from kuaichu.cases.models import Case
from kuaichu.cases.schemas import (
    CaseOut,
    CaseSummary,
    CatalogueOut,
    FactsIn,
    PartiesIn,
    RowId,
    TimelineEventOut,
    TransferIn,
    TransitionOut,
)
from kuaichu.collection import service as collection
from kuaichu.principal import Principal, Role
from kuaichu.progress import views as progress
from kuaichu.signals import service as signals
from kuaichu.signals.rules import SignalName
from kuaichu.web.context import AppContext
from kuaichu.web.deps import Context, CurrentUser, Operator, Party, require

router = APIRouter(prefix="/api/cases", tags=["cases"])
# The lists the operator picks from, beside the cases (no case id in their path).
catalogue_router = APIRouter(tags=["catalogue"])
# A live call's collection data: the operator handling it or a supervisor (WriteRule.COLLECTION).
CollectionWriter = Annotated[Principal, Depends(require(Role.OPERATOR, Role.SUPERVISOR))]


async def transition(
    request: Request, actor: Principal, change: Callable[[Session, datetime], Case]
) -> TransitionOut:
    """A state change in one unit of work, answered with the new state; the messages it wrote
    to the outbox are delivered now rather than at the dispatcher's next poll."""
    context: AppContext = request.app.state.context
    now = context.clock.now()
    result = await context.database.write_small(lambda s: views.transition_view(change(s, now), actor))
    request.app.state.wake_dispatcher()
    return result


@catalogue_router.get(
    "/api/catalogue",
    response_model=CatalogueOut,
    summary="The code lists an operator picks from (code and label)",
)
async def catalogue() -> CatalogueOut:
    """Accident types, weather, plate and vehicle types: each code (what the API takes and
    answers) with its label in the reader's language. Anonymous: it holds no personal data."""
    return CatalogueOut.read()


@router.get(
    "",
    response_model=list[CaseSummary],
    responses={403: {"description": "Filtering by signal is for officers, reviewers and supervisors"}},
)
async def list_cases(
    viewer: CurrentUser,
    context: Context,
    state: CaseState | None = None,
    signal: Annotated[SignalName | None, Query(description="Only cases with this signal (staff)")] = None,
) -> list[CaseSummary]:
    now = context.clock.now()
    flagged = signals.having(viewer, signal) if signal else None
    return await context.database.read(lambda s: views.list_cases(s, viewer, now, state, flagged))


@router.get("/{case_id}", response_model=CaseOut)
async def read_case(case_id: RowId, viewer: CurrentUser, context: Context) -> CaseOut:
    now = context.clock.now()
    return await audited_read(context.database, lambda s: progress.read_case(s, viewer, case_id, now))


@router.get("/{case_id}/timeline", response_model=list[TimelineEventOut])
async def timeline(case_id: RowId, viewer: CurrentUser, context: Context) -> list[TimelineEventOut]:
    now = context.clock.now()
    return await audited_read(context.database, lambda s: views.timeline(s, viewer, case_id, now))


@router.post("/{case_id}/abandon", response_model=TransitionOut)
async def abandon(case_id: RowId, party: Party, request: Request) -> TransitionOut:
    return await transition(request, party, lambda s, now: service.abandon(s, party, case_id, now))


@router.post("/{case_id}/take", response_model=TransitionOut)
async def take(case_id: RowId, operator: Operator, request: Request) -> TransitionOut:
    return await transition(request, operator, lambda s, now: calls.take_case(s, operator, case_id, now))


@router.put("/{case_id}/facts", response_model=CaseOut)
async def record_facts(
    case_id: RowId, body: FactsIn, operator: CollectionWriter, context: Context
) -> CaseOut:
    now = context.clock.now()

    def record(s: Session) -> CaseOut:
        signals.keep_reported_point(s, case_id)
        return progress.case_view(s, service.record_facts(s, operator, case_id, body, now), operator)

    return await context.database.write_small(record)


@router.put("/{case_id}/parties", response_model=CaseOut)
async def record_parties(
    case_id: RowId, body: PartiesIn, operator: CollectionWriter, context: Context
) -> CaseOut:
    now = context.clock.now()
    limit = context.settings.quick_handling_max_vehicles
    return await context.database.write_small(
        lambda s: progress.case_view(
            s, service.record_parties(s, operator, case_id, body, now, limit), operator
        )
    )


@router.post("/{case_id}/transfer", response_model=TransitionOut)
async def transfer(case_id: RowId, body: TransferIn, operator: Operator, request: Request) -> TransitionOut:
    return await transition(
        request, operator, lambda s, now: collection.transfer(s, operator, case_id, body.reason, now)
    )
