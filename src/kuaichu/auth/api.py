from datetime import datetime

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.orm import Session

from kuaichu.auth import service, sessions
from kuaichu.auth.schemas import (
    IceServersOut,
    LogoutIn,
    PartyLogin,
    RefreshIn,
    SmsCodeRequest,
    SocketTicketOut,
    StaffLogin,
    TokenOut,
)
from kuaichu.auth.service import claims_of
from kuaichu.auth.turn import ice_servers_for
from kuaichu.consent.service import consented_at_of
from kuaichu.errors import DomainError
from kuaichu.messages import reader_locale, text
from kuaichu.principal import Role
from kuaichu.signals import service as signals
from kuaichu.signals.rules import SignalConfig
from kuaichu.web.context import AppContext
from kuaichu.web.deps import Context, CurrentUser

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
    return {"detail": text("Party.code_sent", reader_locale())}


@router.post("/party", response_model=TokenOut)
async def party_login(body: PartyLogin, request: Request, response: Response, context: Context) -> TokenOut:
    phone = body.phone
    now = context.clock.now()
    device = signals.device_id(request.cookies.get(signals.DEVICE_COOKIE))
    address = _client_address(request)
    settings = context.settings

    def check(s: Session) -> service.CodeCheck:
        result = service.check_sms_code(s, settings, phone, body.code, now)
        if result is service.CodeCheck.ACCEPTED:
            signals.record_login(s, SignalConfig.of(settings), phone, address, device, now)
        return result

    result = await context.database.write(check)
    service.raise_for_code_check(result)
    # The device's random id, so that two parties logging in on one phone show (kuaichu.signals).
    response.set_cookie(
        signals.DEVICE_COOKIE,
        device,
        max_age=signals.DEVICE_COOKIE_SECONDS,
        path="/api/auth",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    principal = service.party_principal(phone)
    return TokenOut(access_token=context.tokens.issue(principal, now), role="party", name=principal.label)


@router.post(
    "/staff",
    response_model=TokenOut,
    responses={429: {"description": "Too many failed logins: account or address locked for a while"}},
)
async def staff_login(body: StaffLogin, request: Request, context: Context) -> TokenOut:
    now = context.clock.now()
    address = _client_address(request)
    outcome = await context.database.write(
        lambda s: sessions.login_staff(s, context.settings, body.username, body.password, address, now)
    )
    return _staff_tokens(outcome, context, now)


def _staff_tokens(
    outcome: sessions.StaffSession | DomainError, context: AppContext, now: datetime
) -> TokenOut:
    if isinstance(outcome, DomainError):
        raise outcome
    principal = outcome.principal
    return TokenOut(
        access_token=context.tokens.issue(principal, now),
        role=principal.role.value,
        name=principal.label,
        expires_in=context.settings.staff_access_token_minutes * 60,
        refresh_token=outcome.refresh_token,
    )


@router.post("/refresh", response_model=TokenOut)
async def refresh(body: RefreshIn, request: Request, context: Context) -> TokenOut:
    """A staff page's next access token; the refresh token is spent and a new one returned."""
    now = context.clock.now()
    address = _client_address(request)
    outcome = await context.database.write(
        lambda s: sessions.refresh_session(s, context.settings, body.refresh_token, address, now)
    )
    return _staff_tokens(outcome, context, now)


@router.post("/ws-ticket", response_model=SocketTicketOut)
async def socket_ticket(principal: CurrentUser, context: Context) -> SocketTicketOut:
    """A one-time ticket for the page's WebSocket, so no token ever appears in a URL."""
    now = context.clock.now()
    ticket = await context.database.write(
        lambda s: sessions.issue_socket_ticket(s, context.settings, claims_of(principal), now)
    )
    return SocketTicketOut(ticket=ticket, expires_in=context.settings.socket_ticket_seconds)


@router.get("/ice-servers", response_model=IceServersOut)
async def ice_servers(principal: CurrentUser, context: Context) -> IceServersOut:
    """STUN and TURN servers for this page's calls; TURN credentials expire (coturn REST)."""
    return IceServersOut(ice_servers=ice_servers_for(context.settings, principal, context.clock.now()))


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
async def logout(_: CurrentUser, context: Context, body: LogoutIn | None = None) -> None:
    """Ends the session on this device: the page forgets its token and its refresh token is
    revoked (with every one rotated from the same login). The access token itself lapses
    within minutes."""
    if body and body.refresh_token:
        token = body.refresh_token
        now = context.clock.now()
        await context.database.write(lambda s: sessions.end_session(s, token, now))
