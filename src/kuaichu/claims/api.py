from fastapi import APIRouter, status

from kuaichu.auth.deps import Context, Insurer, Party
from kuaichu.cases.schemas import RowId
from kuaichu.claims import service
from kuaichu.claims.schemas import ClaimOut

router = APIRouter(tags=["claims"])


@router.post("/api/cases/{case_id}/claim", status_code=status.HTTP_201_CREATED, response_model=ClaimOut)
async def push_claim(case_id: RowId, party: Party, context: Context) -> ClaimOut:
    now = context.clock.now()
    return await context.database.write(
        lambda s: ClaimOut.model_validate(service.push_claim(s, party, case_id, now), from_attributes=True)
    )


@router.get("/api/insurer/claims", response_model=list[ClaimOut])
async def insurer_claims(insurer: Insurer, context: Context) -> list[ClaimOut]:
    now = context.clock.now()
    return await context.database.write(
        lambda s: [
            ClaimOut.model_validate(c, from_attributes=True)
            for c in service.claims_of_insurer(s, insurer, now)
        ]
    )
