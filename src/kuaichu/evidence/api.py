from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kuaichu.cases.schemas import RowId
from kuaichu.errors import Conflict, Gone
from kuaichu.evidence import service
from kuaichu.evidence.schemas import PURGED_LABEL, EvidenceKind, EvidenceOut
from kuaichu.evidence.storage import ACCEPTED_MEDIA, CorruptedBlob, file_chunks
from kuaichu.messages import Text
from kuaichu.signals import service as signals
from kuaichu.signals.stills import perceptual_hash
from kuaichu.web.deps import Context, CurrentUser

router = APIRouter(prefix="/api/cases/{case_id}/evidence", tags=["evidence"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EvidenceOut)
async def upload(
    case_id: RowId,
    uploader: CurrentUser,
    context: Context,
    file: Annotated[UploadFile, File()],
    kind: Annotated[EvidenceKind, Form()],
    lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Form(ge=-180, le=180)] = None,
    party_position: Annotated[int | None, Form(ge=1, le=10)] = None,
) -> EvidenceOut:
    # Refuse before storing anything when the uploader may not add evidence here.
    service.check_kind(kind)
    await context.database.read(lambda s: service.check_may_upload(s, uploader, case_id))
    blob = await run_in_threadpool(context.evidence_store.put, file.file, context.settings.evidence_max_bytes)
    # A still's perceptual hash, in a worker thread (about a millisecond for a camera's JPEG).
    is_still = blob.media_type.startswith("image/")
    phash = await run_in_threadpool(perceptual_hash, file.file) if is_still else None
    now = context.clock.now()

    def add(s: Session) -> EvidenceOut:
        item = service.add_evidence(s, uploader, case_id, blob, kind, lat, lng, now, party_position)
        signals.record_still_hash(s, item.id, case_id, phash)
        return item

    added = await context.database.write(add)
    # An orphan sweep may have taken the blob between its put and the row (retention.orphans).
    file.file.seek(0)
    await run_in_threadpool(context.evidence_store.keep, file.file, blob)
    return added


@router.get("", response_model=list[EvidenceOut])
async def list_evidence(case_id: RowId, viewer: CurrentUser, context: Context) -> list[EvidenceOut]:
    now = context.clock.now()
    return await context.database.write(lambda s: service.list_evidence(s, viewer, case_id, now))


# Stills and recordings as stored: the media type was sniffed from the content on upload.
MEDIA_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The evidence file as uploaded",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}} for media in sorted(ACCEPTED_MEDIA)
        },
    }
}


@router.get("/{item_id}/content", response_class=StreamingResponse, responses=MEDIA_RESPONSE)
async def content(case_id: RowId, item_id: RowId, viewer: CurrentUser, context: Context) -> StreamingResponse:
    now = context.clock.now()
    item = await context.database.write(lambda s: service.get_evidence(s, viewer, case_id, item_id, now))
    if item.purged:
        raise Gone(PURGED_LABEL)
    try:
        # Read from the store once, checked before the first byte goes out.
        verified = await run_in_threadpool(context.evidence_store.open_verified, item.sha256)
    except CorruptedBlob:
        await context.database.write(lambda s: service.record_custody_failure(s, viewer, case_id, item, now))
        raise Conflict(Text("Evidence.custody_failed")) from None
    return StreamingResponse(file_chunks(verified), media_type=item.media_type)
