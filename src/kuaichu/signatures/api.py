import hashlib
import io
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile, status
from starlette.concurrency import run_in_threadpool

from kuaichu.calls.signaling import call_channel
from kuaichu.cases.api import transition
from kuaichu.cases.schemas import RowId, TransitionOut
from kuaichu.principal import Role
from kuaichu.signatures import service
from kuaichu.signatures.schemas import ConfirmationOut, DisputeIn
from kuaichu.web.context import AppContext
from kuaichu.web.deps import Context, CurrentUser

router = APIRouter(prefix="/api/cases/{case_id}", tags=["signatures"])

SHA256_HEX = r"^[0-9a-f]{64}$"


def session_sha256(request: Request) -> str:
    """The SMS login's session a confirmation was made under: its token's hash, never the token."""
    return hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()


async def _tell_operator(context: AppContext, case_id: int) -> None:
    """The console shows each party's confirmation as it comes."""
    await context.bus.publish(
        call_channel(case_id, Role.OPERATOR), {"type": "confirmation", "case_id": case_id}
    )


@router.get("/confirmation", response_model=ConfirmationOut)
async def confirmation(case_id: RowId, viewer: CurrentUser, context: Context) -> ConfirmationOut:
    """What each party confirms before leaving the scene, and where each party stands."""
    now = context.clock.now()
    return await context.database.write(lambda s: service.read_confirmation(s, viewer, case_id, now))


@router.post("/signature", status_code=status.HTTP_201_CREATED, response_model=ConfirmationOut)
async def sign(
    case_id: RowId,
    signer: CurrentUser,
    context: Context,
    request: Request,
    file: Annotated[UploadFile, File()],
    content_sha256: Annotated[str, Form(pattern=SHA256_HEX)],
) -> ConfirmationOut:
    """The party's signature drawn on their phone (a PNG), of the facts and parties whose hash
    the confirmation showed them."""
    await context.database.read(lambda s: service.check_may_sign(s, signer, case_id, content_sha256))
    limit = context.settings.signature_max_bytes
    data = await file.read(limit + 1)
    await run_in_threadpool(service.check_image, data, limit)
    blob = await run_in_threadpool(context.evidence_store.put, io.BytesIO(data), limit)
    now = context.clock.now()
    session = session_sha256(request)
    signed = await context.database.write(
        lambda s: service.sign(s, signer, case_id, content_sha256, blob, session, now)
    )
    # An orphan sweep may have taken the blob between its put and the row (retention.orphans).
    await run_in_threadpool(context.evidence_store.keep, io.BytesIO(data), blob)
    await _tell_operator(context, case_id)
    return signed


@router.post("/dispute", response_model=TransitionOut)
async def dispute(case_id: RowId, body: DisputeIn, disputer: CurrentUser, request: Request) -> TransitionOut:
    """有异议: the party does not accept the recorded facts; the case goes to police on site."""
    session = session_sha256(request)
    result = await transition(
        request, disputer, lambda s, now: service.dispute(s, disputer, case_id, body.reason, session, now)
    )
    await _tell_operator(request.app.state.context, case_id)
    return result
