from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from kuaichu.auth.deps import Context, Party, Reviewer
from kuaichu.cases.schemas import CaseOut, RowId
from kuaichu.cases.service import read_case
from kuaichu.reviews import service
from kuaichu.reviews.schemas import ReviewApplicationIn, ReviewDecisionIn

router = APIRouter(prefix="/api/cases", tags=["reviews"])


@router.post("/{case_id}/review", response_model=CaseOut)
async def apply_for_review(
    case_id: RowId, body: ReviewApplicationIn, party: Party, context: Context, request: Request
) -> CaseOut:
    now = context.clock.now()

    def work(session: Session) -> CaseOut:
        service.apply_for_review(session, party, case_id, body, now)
        return read_case(session, party, case_id)

    result = await context.database.write(work)
    request.app.state.wake_dispatcher()
    return result


@router.post("/{case_id}/review/decision", response_model=CaseOut)
async def decide_review(
    case_id: RowId, body: ReviewDecisionIn, reviewer: Reviewer, context: Context, request: Request
) -> CaseOut:
    now = context.clock.now()

    def work(session: Session) -> CaseOut:
        service.decide_review(session, reviewer, case_id, body, now)
        return read_case(session, reviewer, case_id)

    result = await context.database.write(work)
    request.app.state.wake_dispatcher()
    return result
