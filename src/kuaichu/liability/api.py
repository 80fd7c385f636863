from fastapi import APIRouter, Request

from kuaichu.auth.deps import Context, Officer
from kuaichu.cases.schemas import RowId, TransitionOut
from kuaichu.cases.service import transition_view
from kuaichu.liability import service
from kuaichu.liability.schemas import DeterminationIn

router = APIRouter(prefix="/api/cases", tags=["liability"])


@router.post("/{case_id}/determination", response_model=TransitionOut)
async def determine(
    case_id: RowId, body: DeterminationIn, officer: Officer, context: Context, request: Request
) -> TransitionOut:
    now = context.clock.now()

    result = await context.database.write(
        lambda s: transition_view(service.determine(s, officer, case_id, body, now), officer)
    )
    request.app.state.wake_dispatcher()
    return result
