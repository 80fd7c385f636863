from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from kuaichu.auth.deps import Context, Officer
from kuaichu.cases.schemas import CaseOut, RowId
from kuaichu.cases.service import read_case
from kuaichu.liability import service
from kuaichu.liability.schemas import DeterminationIn

router = APIRouter(prefix="/api/cases", tags=["liability"])


@router.post("/{case_id}/determination", response_model=CaseOut)
async def determine(
    case_id: RowId, body: DeterminationIn, officer: Officer, context: Context, request: Request
) -> CaseOut:
    now = context.clock.now()

    def work(session: Session) -> CaseOut:
        service.determine(session, officer, case_id, body, now)
        return read_case(session, officer, case_id)

    result = await context.database.write(work)
    request.app.state.wake_dispatcher()
    return result
