"""An insurer's seat in a live call (保险公司坐席).

The operator handling a call invites an insurer (one of the parties' insurers the registry
checks found, or any registered one); the insurer's agents see the invitation on their page and
join the call's room on the media server, where they see and speak (they publish, as the
operator does) but change nothing of the case. Joining and leaving are audited and each agent's
time in the call is kept for the case's replay.

A call with an insurer in it has more than two participants: it runs through Janus, so an
invitation needs a media server configured.
"""

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.auth.models import Insurer
from kuaichu.calls.models import CallSession
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.models import Case
from kuaichu.claims.models import insurer_scope
from kuaichu.claims.service import compulsory_insurer
from kuaichu.documents.service import designation
from kuaichu.errors import Conflict, Forbidden, InvalidInput
from kuaichu.messages import Text
from kuaichu.principal import Principal
from kuaichu.seats.models import InsurerInvitation, InsurerPresence
from kuaichu.seats.schemas import InsurerChoice, InvitationOut, PresenceOut, SeatChoicesOut
from kuaichu.settings import Settings


def agent_scope(agent: Principal) -> ColumnElement[bool]:
    """The cases an agent sees: those their insurer was invited into, or holds a claim on."""
    invited = exists().where(
        InsurerInvitation.case_id == Case.id, InsurerInvitation.insurer_code == agent.insurer_code
    )
    return or_(invited, insurer_scope(agent))


def _open_call(session: Session, case_id: int) -> CallSession:
    call = session.scalars(
        select(CallSession).where(CallSession.case_id == case_id, CallSession.ended_at.is_(None))
    ).first()
    if call is None:
        raise Conflict(Text("Seats.call_not_live"))
    return call


def _invitation_out(session: Session, invitation: InsurerInvitation, case: Case) -> InvitationOut:
    name = session.scalar(select(Insurer.name).where(Insurer.code == invitation.insurer_code))
    present = session.scalars(
        select(InsurerPresence.agent_label)
        .where(InsurerPresence.invitation_id == invitation.id, InsurerPresence.left_at.is_(None))
        .order_by(InsurerPresence.id)
    ).all()
    return InvitationOut(
        id=invitation.id,
        case_id=case.id,
        case_number=case.number,
        insurer_code=invitation.insurer_code,
        insurer_name=name or invitation.insurer_code,
        invited_at=invitation.invited_at,
        expires_at=invitation.expires_at,
        present=list(present),
    )


def invite(
    session: Session, operator: Principal, case_id: int, insurer_code: str, settings: Settings, now: datetime
) -> InvitationOut:
    """The operator handling the call invites an insurer into it, once while the invitation
    holds; an expired invitation may be renewed."""
    case = get_case(session, operator, case_id, lock=True)
    ensure_may_write(case, operator, WriteRule.HANDLING_OPERATOR)
    if not settings.janus_nodes:
        raise Conflict(Text("Seats.needs_media_server"))
    call = _open_call(session, case.id)
    name = session.scalar(select(Insurer.name).where(Insurer.code == insurer_code))
    if name is None:
        raise InvalidInput(Text("Seats.no_such_insurer", code=insurer_code))
    invitation = session.scalars(
        select(InsurerInvitation).where(
            InsurerInvitation.call_id == call.id, InsurerInvitation.insurer_code == insurer_code
        )
    ).first()
    if invitation is not None and invitation.expires_at > now:
        raise Conflict(Text("Seats.already_invited", insurer=name))
    if invitation is None:
        invitation = InsurerInvitation(case_id=case.id, call_id=call.id, insurer_code=insurer_code)
        session.add(invitation)
    assert operator.id is not None  # the handling operator
    invitation.invited_by = operator.id
    invitation.invited_at = now
    invitation.expires_at = now + timedelta(minutes=settings.insurer_invitation_minutes)
    session.flush()
    audit.record(
        session,
        operator,
        AuditAction.INVITE_INSURER,
        now,
        case.id,
        {"insurer_code": insurer_code, "call_id": call.id, "expires_at": invitation.expires_at.isoformat()},
    )
    return _invitation_out(session, invitation, case)


def choices(session: Session, operator: Principal, case_id: int) -> SeatChoicesOut:
    """Whom the console may invite: the insurers the registry checks found for the case's
    parties first, then every other registered insurer; and the call's invitations so far."""
    case = get_case(session, operator, case_id)
    ensure_may_write(case, operator, WriteRule.COLLECTION)
    parties_of: dict[str, list[str]] = {}
    for party in case.parties:
        code = compulsory_insurer(session, case, party)
        if code:
            parties_of.setdefault(code, []).append(designation(party.position))
    insurers = session.execute(select(Insurer.code, Insurer.name).order_by(Insurer.code)).all()
    offered = sorted(
        (InsurerChoice(code=code, name=name, parties=parties_of.get(code, [])) for code, name in insurers),
        key=lambda choice: not choice.parties,
    )
    call = session.scalars(
        select(CallSession.id).where(CallSession.case_id == case.id, CallSession.ended_at.is_(None))
    ).first()
    invitations = session.scalars(
        select(InsurerInvitation).where(InsurerInvitation.call_id == call).order_by(InsurerInvitation.id)
    ).all()
    return SeatChoicesOut(
        insurers=offered, invitations=[_invitation_out(session, i, case) for i in invitations]
    )


def live_invitations(session: Session, agent: Principal, now: datetime) -> list[InvitationOut]:
    """The agent's insurer's invitations into calls still going: those not expired, and those
    the agent already sits in."""
    sitting = exists().where(
        InsurerPresence.invitation_id == InsurerInvitation.id,
        InsurerPresence.agent_id == agent.id,
        InsurerPresence.left_at.is_(None),
    )
    rows = session.execute(
        select(InsurerInvitation, Case)
        .join(CallSession, CallSession.id == InsurerInvitation.call_id)
        .join(Case, Case.id == InsurerInvitation.case_id)
        .where(
            InsurerInvitation.insurer_code == agent.insurer_code,
            CallSession.ended_at.is_(None),
            or_(InsurerInvitation.expires_at > now, sitting),
        )
        .order_by(InsurerInvitation.invited_at.desc())
    ).all()
    return [_invitation_out(session, invitation, case) for invitation, case in rows]


def take_seat(session: Session, agent: Principal, case: Case, call: CallSession, now: datetime) -> None:
    """An agent joins the call their insurer was invited into (or asks for their seat again).
    The invitation's row lock makes a double tap's second request wait and find the first's
    presence, rather than open a second one."""
    invitation = session.scalars(
        select(InsurerInvitation)
        .where(InsurerInvitation.call_id == call.id, InsurerInvitation.insurer_code == agent.insurer_code)
        .with_for_update()
    ).first()
    if invitation is None:
        raise Forbidden(Text("Seats.not_invited"))
    assert agent.id is not None  # an agent's account
    sitting = session.scalars(
        select(InsurerPresence).where(
            InsurerPresence.invitation_id == invitation.id,
            InsurerPresence.agent_id == agent.id,
            InsurerPresence.left_at.is_(None),
        )
    ).first()
    if sitting is not None:
        return
    if invitation.expires_at <= now:
        raise Conflict(Text("Seats.invitation_expired"))
    session.add(
        InsurerPresence(
            case_id=case.id,
            invitation_id=invitation.id,
            agent_id=agent.id,
            agent_label=agent.label[:64],
            joined_at=now,
        )
    )
    audit.record(
        session,
        agent,
        AuditAction.INSURER_SEAT_JOINED,
        now,
        case.id,
        {"insurer_code": agent.insurer_code, "call_id": call.id},
    )


def leave(session: Session, agent: Principal, case_id: int, now: datetime) -> None:
    """The agent leaves the call: their time in it ends now."""
    case = get_case(session, agent, case_id, lock=True)
    ensure_may_write(case, agent, WriteRule.INSURER_SEAT)
    sitting = session.scalars(
        select(InsurerPresence).where(
            InsurerPresence.case_id == case.id,
            InsurerPresence.agent_id == agent.id,
            InsurerPresence.left_at.is_(None),
        )
    ).first()
    if sitting is None:
        raise Conflict(Text("Seats.not_in_call"))
    sitting.left_at = now
    audit.record(
        session,
        agent,
        AuditAction.INSURER_SEAT_LEFT,
        now,
        case.id,
        {"insurer_code": agent.insurer_code, "joined_at": sitting.joined_at.isoformat()},
    )


def presences(session: Session, case_id: int) -> list[PresenceOut]:
    """Each agent's time in the case's calls, for its replay."""
    rows = session.execute(
        select(InsurerPresence, InsurerInvitation.insurer_code, Insurer.name, CallSession.ended_at)
        .join(InsurerInvitation, InsurerInvitation.id == InsurerPresence.invitation_id)
        .join(Insurer, Insurer.code == InsurerInvitation.insurer_code)
        .join(CallSession, CallSession.id == InsurerInvitation.call_id)
        .where(InsurerPresence.case_id == case_id)
        .order_by(InsurerPresence.joined_at, InsurerPresence.id)
    ).all()
    return [
        PresenceOut(
            insurer_code=code,
            insurer_name=name,
            agent=presence.agent_label,
            joined_at=presence.joined_at,
            left_at=presence.left_at or ended_at,
        )
        for presence, code, name, ended_at in rows
    ]
