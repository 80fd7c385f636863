from fastapi import APIRouter, status

from kuaichu.auth.deps import Context, Party
from kuaichu.consent import service
from kuaichu.consent.schemas import ConsentIn, ConsentOut, PrivacyNoticeOut

router = APIRouter(tags=["consent"])


@router.get("/api/privacy-notice", response_model=PrivacyNoticeOut)
async def privacy_notice() -> PrivacyNoticeOut:
    return service.notice()


@router.post("/api/consents", status_code=status.HTTP_201_CREATED, response_model=ConsentOut)
async def consent(body: ConsentIn, party: Party, context: Context) -> ConsentOut:
    now = context.clock.now()
    return await context.database.write(lambda s: service.record_consent(s, party, body.version, now))
