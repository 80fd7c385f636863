from fastapi import APIRouter, Request, status

from kuaichu.cases.api import transition
from kuaichu.cases.schemas import CaseOut, RowId, TransitionOut
from kuaichu.progress.views import case_view
from kuaichu.settlement import service
from kuaichu.settlement.schemas import SettlementIn
from kuaichu.web.deps import Context, Party

router = APIRouter(tags=["settlement"])


@router.post("/api/settlements", status_code=status.HTTP_201_CREATED, response_model=CaseOut)
async def propose(body: SettlementIn, party: Party, context: Context, request: Request) -> CaseOut:
    now = context.clock.now()
    settings = context.settings
    limits = service.ProposalLimits(
        settings.settlements_per_proposer_per_day,
        settings.settlements_per_recipient_per_day,
        settings.settlements_per_address_per_day,
    )
    case = await context.database.write(
        lambda s: case_view(s, service.propose(s, party, body, limits, now), party)
    )
    request.app.state.wake_dispatcher()
    return case


@router.post("/api/cases/{case_id}/settlement/confirm", response_model=TransitionOut)
async def confirm(case_id: RowId, party: Party, request: Request) -> TransitionOut:
    return await transition(request, party, lambda s, now: service.answer(s, party, case_id, True, now))


@router.post("/api/cases/{case_id}/settlement/reject", response_model=TransitionOut)
async def reject(case_id: RowId, party: Party, request: Request) -> TransitionOut:
    return await transition(request, party, lambda s, now: service.answer(s, party, case_id, False, now))
