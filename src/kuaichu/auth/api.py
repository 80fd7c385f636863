from fastapi import APIRouter, Request, status

from kuaichu.auth import service
from kuaichu.auth.deps import Context, CurrentUser
from kuaichu.auth.principal import Role
from kuaichu.auth.schemas import PartyLogin, SmsCodeRequest, StaffLogin, TokenOut
from kuaichu.consent.service import consented_at_of
from kuaichu.errors import NotAuthenticated

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/sms-code", status_code=status.HTTP_202_ACCEPTED)
async def send_sms_code(body: SmsCodeRequest, request: Request, context: Context) -> dict[str, str]:
    address = _client_address(request)
    now = context.clock.now()
    await context.database.write(
        lambda s: service.request_sms_code(s, context.settings, body.phone, address, now)
    )
    request.app.state.wake_dispatcher()
    return {"detail": "验证码已发送"}


@router.post("/party", response_model=TokenOut)
async def party_login(body: PartyLogin, context: Context) -> TokenOut:
    phone = body.phone
    now = context.clock.now()
    result = await context.database.write(
        lambda s: service.check_sms_code(s, context.settings, phone, body.code, now)
    )
    service.raise_for_code_check(result)
    principal = service.party_principal(phone)
    return TokenOut(access_token=context.tokens.issue(principal, now), role="party", name=principal.label)


@router.post("/staff", response_model=TokenOut)
async def staff_login(body: StaffLogin, request: Request, context: Context) -> TokenOut:
    now = context.clock.now()
    address = _client_address(request)
    try:
        principal = await context.database.read(
            lambda s: service.authenticate_staff(s, body.username, body.password)
        )
    except NotAuthenticated:
        await context.database.write(lambda s: service.record_login(s, body.username, None, address, now))
        raise
    await context.database.write(lambda s: service.record_login(s, body.username, principal, address, now))
    token = context.tokens.issue(principal, now)
    return TokenOut(access_token=token, role=principal.role.value, name=principal.label)


@router.get("/me")
async def me(principal: CurrentUser, context: Context) -> dict[str, object]:
    answer: dict[str, object] = {
        "role": principal.role.value,
        "name": principal.label,
        "jurisdiction_id": principal.jurisdiction_id,
    }
    if principal.role is Role.PARTY and principal.phone:
        # Whether the party agreed to the current privacy notice (asked before the first call).
        phone = principal.phone
        answer["consented"] = await context.database.read(lambda s: consented_at_of(s, phone)) is not None
    return answer


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(_: CurrentUser) -> None:
    """Ends the session on this device: the page forgets its token. Tokens are signed, not
    stored, so one already copied elsewhere lasts until it expires."""
