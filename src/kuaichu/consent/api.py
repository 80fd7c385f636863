from fastapi import APIRouter, status

from kuaichu.consent import service
from kuaichu.consent.schemas import ConsentIn, ConsentOut, LocaleIn, LocaleOut, PrivacyNoticeOut
from kuaichu.notify.preferences import choose_locale
from kuaichu.web.deps import Context, Party

router = APIRouter(tags=["consent"])


@router.get("/api/privacy-notice", response_model=PrivacyNoticeOut)
async def privacy_notice() -> PrivacyNoticeOut:
    return service.notice()


@router.post("/api/consents", status_code=status.HTTP_201_CREATED, response_model=ConsentOut)
async def consent(body: ConsentIn, party: Party, context: Context) -> ConsentOut:
    now = context.clock.now()
    return await context.database.write_small(lambda s: service.record_consent(s, party, body.version, now))


@router.put("/api/me/locale", response_model=LocaleOut)
async def my_locale(body: LocaleIn, party: Party, context: Context) -> LocaleOut:
    """The party's language: their official SMS are written in it from now on."""
    assert party.phone is not None
    phone = party.phone
    now = context.clock.now()
    await context.database.write_small(lambda s: choose_locale(s, phone, body.locale, now))
    return LocaleOut(locale=body.locale)
