from typing import Any

from fastapi import APIRouter, Request, status

from kuaichu.cases.schemas import RowId
from kuaichu.claims import payout, service
from kuaichu.claims.schemas import ClaimOut, CompensationOut, ProgressIn
from kuaichu.messages import reader_locale
from kuaichu.web.deps import Context, CurrentUser, Insurer, Party

router = APIRouter(tags=["claims"])


@router.post("/api/cases/{case_id}/claim", status_code=status.HTTP_201_CREATED, response_model=ClaimOut)
async def push_claim(case_id: RowId, party: Party, context: Context, request: Request) -> ClaimOut:
    now = context.clock.now()
    claim = await context.database.write_small(
        lambda s: service.claim_view(s, service.push_claim(s, party, case_id, now))
    )
    request.app.state.wake_dispatcher()
    return claim


@router.get("/api/cases/{case_id}/claims", response_model=list[ClaimOut])
async def claims_of_case(case_id: RowId, viewer: CurrentUser, context: Context) -> list[ClaimOut]:
    now = context.clock.now()
    return await context.database.write_small(lambda s: service.read_claims(s, viewer, case_id, now))


@router.get("/api/cases/{case_id}/compensation", response_model=CompensationOut)
async def compensation(case_id: RowId, viewer: CurrentUser, context: Context) -> CompensationOut:
    """Who pays what (交强险) once the insurers' 定损 is in."""
    locale = reader_locale()
    return await context.database.read(lambda s: payout.case_compensation(s, viewer, case_id, locale))


@router.get("/api/insurer/claims", response_model=list[ClaimOut])
async def insurer_claims(insurer: Insurer, context: Context) -> list[ClaimOut]:
    now = context.clock.now()
    return await context.database.write(
        lambda s: [service.claim_view(s, c) for c in service.claims_of_insurer(s, insurer, now)]
    )


@router.get("/api/insurer/claims/{claim_id}/package")
async def claim_package(claim_id: RowId, insurer: Insurer, context: Context) -> dict[str, Any]:
    now = context.clock.now()
    return await context.database.write(lambda s: payout.package_with_split(s, insurer, claim_id, now))


@router.post("/api/insurer/claims/{claim_id}/progress", response_model=ClaimOut)
async def report_progress(
    claim_id: RowId, body: ProgressIn, insurer: Insurer, context: Context, request: Request
) -> ClaimOut:
    now = context.clock.now()
    claim = await context.database.write(
        lambda s: service.claim_view(
            s, payout.report_progress(s, insurer, claim_id, body.status, body.note, body.losses, now)
        )
    )
    request.app.state.wake_dispatcher()
    return claim
