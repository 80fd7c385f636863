"""Retention: recordings, stills and personal data are kept for a set period after a case
ends, then purged; the determination document and every hash stay."""

from fastapi import APIRouter

from kuaichu.cases.schemas import RowId
from kuaichu.retention import service
from kuaichu.retention.schemas import MyDataOut, RetentionOut
from kuaichu.web.deps import Context, CurrentUser, Party

router = APIRouter(prefix="/api/cases", tags=["retention"])


@router.get("/{case_id}/my-data", response_model=MyDataOut)
async def my_data(case_id: RowId, party: Party, context: Context) -> MyDataOut:
    """个人信息保护法 art. 45: the party's own data in this case, as JSON (audited)."""
    now = context.clock.now()
    policy = service.RetentionPolicy.from_settings(context.settings)
    return await context.database.write(lambda s: service.my_data(s, party, case_id, policy, now))


@router.get("/{case_id}/retention", response_model=RetentionOut)
async def retention(case_id: RowId, viewer: CurrentUser, context: Context) -> RetentionOut:
    """个人信息保护法 art. 17: how long each kind of the case's data is kept, and what is gone."""
    policy = service.RetentionPolicy.from_settings(context.settings)
    return await context.database.read(lambda s: service.retention(s, viewer, case_id, policy))
