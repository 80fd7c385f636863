from fastapi import APIRouter, status

from kuaichu.cases.api import CollectionWriter
from kuaichu.cases.schemas import RowId
from kuaichu.eligibility import service
from kuaichu.eligibility.schemas import CircumstancesIn, EligibilityOut
from kuaichu.web.deps import Context, Operator

router = APIRouter(prefix="/api/cases", tags=["eligibility"])


@router.put("/{case_id}/circumstances", status_code=status.HTTP_204_NO_CONTENT)
async def record_circumstances(
    case_id: RowId, body: CircumstancesIn, operator: CollectionWriter, context: Context
) -> None:
    now = context.clock.now()
    await context.database.write(lambda s: service.record_circumstances(s, operator, case_id, body, now))


@router.get("/{case_id}/eligibility", response_model=EligibilityOut)
async def eligibility(case_id: RowId, operator: Operator, context: Context) -> EligibilityOut:
    limit = context.settings.quick_handling_max_vehicles
    now = context.clock.now()
    return await context.database.write(lambda s: service.read_eligibility(s, operator, case_id, limit, now))
