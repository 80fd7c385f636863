from fastapi import APIRouter, Request

from kuaichu.cases.api import transition
from kuaichu.cases.schemas import RowId, TransitionOut
from kuaichu.reviews import service
from kuaichu.reviews.schemas import ReviewApplicationIn, ReviewDecisionIn, ReviewOut
from kuaichu.web.deps import Context, CurrentUser, Party, Reviewer

router = APIRouter(prefix="/api/cases", tags=["reviews"])


@router.get("/{case_id}/review", response_model=ReviewOut)
async def read_review(case_id: RowId, viewer: CurrentUser, context: Context) -> ReviewOut:
    now = context.clock.now()
    return await context.database.write(lambda s: service.read_review(s, viewer, case_id, now))


@router.post("/{case_id}/review", response_model=TransitionOut)
async def apply_for_review(
    case_id: RowId, body: ReviewApplicationIn, party: Party, request: Request
) -> TransitionOut:
    return await transition(
        request, party, lambda s, now: service.apply_for_review(s, party, case_id, body, now)
    )


@router.post("/{case_id}/review/decision", response_model=TransitionOut)
async def decide_review(
    case_id: RowId, body: ReviewDecisionIn, reviewer: Reviewer, request: Request
) -> TransitionOut:
    return await transition(
        request, reviewer, lambda s, now: service.decide_review(s, reviewer, case_id, body, now)
    )
