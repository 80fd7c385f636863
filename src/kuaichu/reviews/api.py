from fastapi import APIRouter, Request

from kuaichu.auth.deps import Context, Party, Reviewer
from kuaichu.cases.schemas import RowId, TransitionOut
from kuaichu.cases.service import transition_view
from kuaichu.reviews import service
from kuaichu.reviews.schemas import ReviewApplicationIn, ReviewDecisionIn

router = APIRouter(prefix="/api/cases", tags=["reviews"])


@router.post("/{case_id}/review", response_model=TransitionOut)
async def apply_for_review(
    case_id: RowId, body: ReviewApplicationIn, party: Party, context: Context, request: Request
) -> TransitionOut:
    now = context.clock.now()

    result = await context.database.write(
        lambda s: transition_view(service.apply_for_review(s, party, case_id, body, now), party)
    )
    request.app.state.wake_dispatcher()
    return result


@router.post("/{case_id}/review/decision", response_model=TransitionOut)
async def decide_review(
    case_id: RowId, body: ReviewDecisionIn, reviewer: Reviewer, context: Context, request: Request
) -> TransitionOut:
    now = context.clock.now()

    result = await context.database.write(
        lambda s: transition_view(service.decide_review(s, reviewer, case_id, body, now), reviewer)
    )
    request.app.state.wake_dispatcher()
    return result
