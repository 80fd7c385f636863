from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import Response
from sqlalchemy.orm import Session

from kuaichu.cases.schemas import RowId
from kuaichu.invitations import service
from kuaichu.invitations.schemas import (
    AdmitIn,
    AdmittedOut,
    CallerIn,
    InvitationOut,
    JoinIn,
    JoinLinkSmsIn,
    JoinOut,
    PhoneReportOut,
    RefuseIn,
    WaitingOut,
)
from kuaichu.progress import views as progress
from kuaichu.web.context import AppContext
from kuaichu.web.deps import Context, CurrentUser, Operator, Party

router = APIRouter(tags=["invitations"])
CASE = "/api/cases/{case_id}"
SVG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The case's join link as a QR code",
        "content": {"image/svg+xml": {"schema": {"type": "string"}}},
    }
}


def _rules(context: AppContext) -> service.InvitationRules:
    return service.InvitationRules.from_settings(context.settings)


async def _tell_console(context: AppContext, operator_id: int | None, case_id: int) -> None:
    """The operator's console rereads who waits (its own channel, like an offer)."""
    if operator_id is not None:
        await context.bus.publish(f"operator:{operator_id}", {"type": "joins", "case_id": case_id})


@router.get(f"{CASE}/join-link", response_model=InvitationOut)
async def join_link(case_id: RowId, viewer: CurrentUser, context: Context) -> InvitationOut:
    """The case's live join link (made when first asked): the reporting party or the operator on
    the call, while the case is in the call."""
    now, rules = context.clock.now(), _rules(context)
    return await context.database.write(lambda s: service.current_link(s, viewer, case_id, rules, now))


@router.get(f"{CASE}/join-code.svg", response_class=Response, responses=SVG_RESPONSE)
async def join_code(case_id: RowId, viewer: CurrentUser, context: Context) -> Response:
    now, rules = context.clock.now(), _rules(context)
    shown = await context.database.write(lambda s: service.current_link(s, viewer, case_id, rules, now))
    return Response(
        service.qr_svg(shown.link), media_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


@router.post(f"{CASE}/join-link/sms", status_code=status.HTTP_202_ACCEPTED, response_model=InvitationOut)
async def send_join_link(
    case_id: RowId, body: JoinLinkSmsIn, operator: Operator, request: Request, context: Context
) -> InvitationOut:
    now, rules = context.clock.now(), _rules(context)
    sent = await context.database.write(
        lambda s: service.send_link(s, operator, case_id, body.phone, rules, now)
    )
    request.app.state.wake_dispatcher()
    return sent


@router.post(f"{CASE}/join-link/revoke", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_join_link(case_id: RowId, operator: Operator, context: Context) -> None:
    now = context.clock.now()
    await context.database.write(lambda s: service.revoke(s, operator, case_id, now))


@router.post("/api/joins", response_model=JoinOut)
async def request_join(body: JoinIn, party: Party, context: Context) -> JoinOut:
    """The joining party, logged in, asks with the link's token; the operator on the call sees
    them waiting."""
    now = context.clock.now()

    def work(session: Session) -> tuple[JoinOut, int | None, int]:
        joined, case = service.request_join(session, party, body.token, now)
        return joined, case.operator_id, case.id

    joined, operator_id, case_id = await context.database.write(work)
    await _tell_console(context, operator_id, case_id)
    return joined


@router.get("/api/joins/{join_id}", response_model=JoinOut)
async def my_join(join_id: RowId, party: Party, context: Context) -> JoinOut:
    return await context.database.read(lambda s: service.my_request(s, party, join_id))


@router.get(f"{CASE}/joins", response_model=list[WaitingOut])
async def waiting(case_id: RowId, operator: Operator, context: Context) -> list[WaitingOut]:
    return await context.database.read(lambda s: service.waiting(s, operator, case_id))


@router.post(f"{CASE}/joins/admit", response_model=AdmittedOut)
async def admit(
    case_id: RowId, body: AdmitIn, operator: Operator, request: Request, context: Context
) -> AdmittedOut:
    now, limit = context.clock.now(), context.settings.quick_handling_max_vehicles

    def work(session: Session) -> AdmittedOut:
        party = service.admit(session, operator, case_id, body.join_id, body, limit, now)
        return AdmittedOut(position=party.position, case=progress.case_view(session, party.case, operator))

    admitted = await context.database.write(work)
    request.app.state.wake_dispatcher()
    await _tell_console(context, operator.id, case_id)
    return admitted


@router.post(f"{CASE}/joins/refuse", status_code=status.HTTP_204_NO_CONTENT)
async def refuse(case_id: RowId, body: RefuseIn, operator: Operator, context: Context) -> None:
    now = context.clock.now()
    await context.database.write(lambda s: service.refuse(s, operator, case_id, body.join_id, now))
    await _tell_console(context, operator.id, case_id)


@router.post(
    "/api/calls/phone-report",
    status_code=status.HTTP_201_CREATED,
    response_model=PhoneReportOut,
    responses={
        200: {
            "model": PhoneReportOut,
            "description": "The same caller entered again while their call is live: that case, unchanged",
        }
    },
)
async def phone_report(
    body: CallerIn, operator: Operator, request: Request, response: Response, context: Context
) -> PhoneReportOut:
    """A driver who called 122 without the app: the case opens as this operator's call, and the
    driver gets the join SMS (the party page, no app). The same entry again while that call is
    live gets the case back (200, as POST /api/calls does) instead of a second one (201)."""
    now, rules = context.clock.now(), _rules(context)

    def work(session: Session) -> tuple[PhoneReportOut, bool]:
        case, new = service.open_for_caller(session, operator, body, rules, now)
        return PhoneReportOut(case_id=case.id, number=case.number), new

    opened, new = await context.database.write(work)
    if not new:
        response.status_code = status.HTTP_200_OK
        return opened
    request.app.state.wake_dispatcher()
    return opened
