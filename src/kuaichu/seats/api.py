from fastapi import APIRouter, status

from kuaichu.calls.signaling import insurer_channel
from kuaichu.cases.schemas import RowId
from kuaichu.seats import service
from kuaichu.seats.schemas import InvitationOut, InviteIn, SeatChoicesOut
from kuaichu.web.deps import Context, CurrentUser, InsurerAgent, Operator

router = APIRouter(tags=["insurer seat"])


@router.get("/api/cases/{case_id}/insurer-invitations", response_model=SeatChoicesOut)
async def seat_choices(case_id: RowId, viewer: CurrentUser, context: Context) -> SeatChoicesOut:
    """The insurers the operator may invite into the call (the parties' first) and the
    invitations so far."""
    return await context.database.read(lambda s: service.choices(s, viewer, case_id))


@router.post(
    "/api/cases/{case_id}/insurer-invitations",
    response_model=InvitationOut,
    status_code=status.HTTP_201_CREATED,
)
async def invite(case_id: RowId, body: InviteIn, operator: Operator, context: Context) -> InvitationOut:
    """Invite an insurer into the live call: its agents' pages are told at once. 409 when no
    media server is configured (a call of more than two runs through Janus), when the call
    is not live, or when the insurer's invitation still holds."""
    now = context.clock.now()
    invitation = await context.database.write(
        lambda s: service.invite(s, operator, case_id, body.insurer_code, context.settings, now)
    )
    await context.bus.publish(
        insurer_channel(invitation.insurer_code),
        {"type": "insurer_invitation", "invitation": invitation.model_dump(mode="json")},
    )
    return invitation


@router.get("/api/insurer-seat/invitations", response_model=list[InvitationOut])
async def live_invitations(agent: InsurerAgent, context: Context) -> list[InvitationOut]:
    """The calls this agent's insurer is invited into now."""
    now = context.clock.now()
    return await context.database.read(lambda s: service.live_invitations(s, agent, now))


@router.post("/api/cases/{case_id}/insurer-seat/leave", status_code=status.HTTP_204_NO_CONTENT)
async def leave(case_id: RowId, agent: CurrentUser, context: Context) -> None:
    """The agent leaves the call (their seat itself is POST /api/cases/{id}/media-pass)."""
    now = context.clock.now()
    await context.database.write(lambda s: service.leave(s, agent, case_id, now))
