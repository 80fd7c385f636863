from fastapi import APIRouter

from kuaichu.auth.deps import Context, Party
from kuaichu.cases.schemas import RowId
from kuaichu.retention import service
from kuaichu.retention.schemas import MyDataOut

router = APIRouter(prefix="/api/cases", tags=["retention"])


@router.get("/{case_id}/my-data", response_model=MyDataOut)
async def my_data(case_id: RowId, party: Party, context: Context) -> MyDataOut:
    """个人信息保护法: the party's own data in this case, as JSON (audited)."""
    now = context.clock.now()
    return await context.database.write(lambda s: service.my_data(s, party, case_id, now))
