from typing import Annotated

from fastapi import APIRouter, Depends, Query

from kuaichu.backoffice import service
from kuaichu.backoffice.schemas import CaseFileOut, FoundCase
from kuaichu.cases.schemas import RowId
from kuaichu.principal import Principal, Role
from kuaichu.web.deps import Context, require

# Declared before the cases router: "/api/cases/search" is not a case id.
router = APIRouter(prefix="/api/cases", tags=["back office"])
Staff = Annotated[
    Principal,
    Depends(require(Role.OPERATOR, Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR, Role.ADMIN)),
]
BackOffice = Annotated[
    Principal, Depends(require(Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR, Role.OPERATOR))
]


@router.get("/search", response_model=list[FoundCase])
async def search(
    viewer: Staff,
    context: Context,
    q: Annotated[str, Query(description="An accident number, a party's phone number or a plate number")] = "",
) -> list[FoundCase]:
    now = context.clock.now()
    return await context.database.write(lambda s: service.search_cases(s, viewer, q, now))


@router.get("/{case_id}/case-file", response_model=CaseFileOut)
async def case_file(case_id: RowId, viewer: BackOffice, context: Context) -> CaseFileOut:
    now = context.clock.now()
    limit = context.settings.quick_handling_max_vehicles
    return await context.database.write(lambda s: service.case_file(s, viewer, case_id, limit, now))
