from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from kuaichu.cases.api import transition
from kuaichu.cases.schemas import RowId, TransitionOut
from kuaichu.liability import service
from kuaichu.liability.grades import Responsibility
from kuaichu.liability.schemas import DeterminationIn, LiabilityFactsIn, OfficerReasonIn, ProposalOut
from kuaichu.principal import Principal, Role
from kuaichu.web.deps import Context, Officer, require

router = APIRouter(prefix="/api/cases", tags=["liability"])
# Each party's acts: the call's collection writers, or an officer after evacuation (WriteRule.ACTS).
ActsWriter = Annotated[Principal, Depends(require(Role.OPERATOR, Role.SUPERVISOR, Role.OFFICER))]


@router.put("/{case_id}/liability-facts", status_code=status.HTTP_204_NO_CONTENT)
async def record_facts(case_id: RowId, body: LiabilityFactsIn, staff: ActsWriter, context: Context) -> None:
    now = context.clock.now()
    await context.database.write(lambda s: service.record_facts(s, staff, case_id, body, now))


@router.get("/{case_id}/liability-proposal", response_model=ProposalOut)
async def proposal(case_id: RowId, officer: Officer, context: Context) -> ProposalOut:
    parking = Responsibility(context.settings.illegal_parking_responsibility)
    now = context.clock.now()
    return await context.database.write(lambda s: service.read_proposal(s, officer, case_id, parking, now))


@router.post("/{case_id}/determination", response_model=TransitionOut)
async def determine(
    case_id: RowId, body: DeterminationIn, officer: Officer, context: Context, request: Request
) -> TransitionOut:
    parking = Responsibility(context.settings.illegal_parking_responsibility)
    result = await transition(
        request, officer, lambda s, now: service.determine(s, officer, case_id, body, now, parking)
    )
    request.app.state.wake_documents()  # the document it ordered is made now
    return result


@router.post("/{case_id}/send-back", response_model=TransitionOut)
async def send_back(
    case_id: RowId, body: OfficerReasonIn, officer: Officer, request: Request
) -> TransitionOut:
    return await transition(
        request, officer, lambda s, now: service.send_back(s, officer, case_id, body.reason, now)
    )


@router.post("/{case_id}/ordinary-procedure", response_model=TransitionOut)
async def ordinary_procedure(
    case_id: RowId, body: OfficerReasonIn, officer: Officer, request: Request
) -> TransitionOut:
    return await transition(
        request, officer, lambda s, now: service.to_ordinary_procedure(s, officer, case_id, body.reason, now)
    )
