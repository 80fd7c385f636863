from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends

from kuaichu.auth.deps import Context, Operator, require
from kuaichu.auth.principal import Principal, Role
from kuaichu.cases.schemas import RowId
from kuaichu.registries import service
from kuaichu.registries.schemas import CheckOut

router = APIRouter(prefix="/api/cases", tags=["registries"])
# Registry answers about every party: for the staff handling the case, not for the parties.
Staff = Annotated[Principal, Depends(require(Role.OPERATOR, Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR))]


@router.post("/{case_id}/checks", response_model=list[CheckOut])
async def run_checks(case_id: RowId, operator: Operator, context: Context) -> list[CheckOut]:
    """The console calls this as soon as the parties are entered (自动核验)."""
    now = context.clock.now()
    request = await context.database.read(lambda s: service.what_to_check(s, operator, case_id, now))
    # No transaction is open while the registries answer.
    results = await anyio.to_thread.run_sync(service.look_up, context.registries, request)
    return await context.database.write(
        lambda s: service.store(s, operator, request, results, context.clock.now())
    )


@router.get("/{case_id}/checks", response_model=list[CheckOut])
async def read_checks(case_id: RowId, viewer: Staff, context: Context) -> list[CheckOut]:
    return await context.database.read(lambda s: service.latest_checks(s, viewer, case_id))
