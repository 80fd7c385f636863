"""The rules of joining a case by its link: who may show or send it, who may use it, and the
operator's admission of the next party."""

import base64
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import qrcode
import qrcode.constants
from qrcode.image.svg import SvgPathFillImage
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.calls import queue as calls
from kuaichu.calls.models import CallSession
from kuaichu.calls.presence import presence_of
from kuaichu.cases import lifecycle
from kuaichu.cases import service as cases
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case, is_reporter
from kuaichu.cases.lifecycle import CaseState, Edit, EventKind
from kuaichu.cases.models import Case, CaseParty, TimelineEvent
from kuaichu.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound, RateLimited
from kuaichu.geo.models import Jurisdiction
from kuaichu.geo.service import inside_point
from kuaichu.invitations.models import JoinInvitation, JoinRequest, JoinSms
from kuaichu.invitations.schemas import (
    AdmitIn,
    CallerIn,
    InvitationOut,
    JoinOut,
    JoinState,
    WaitingOut,
)
from kuaichu.limit_locks import limit_key, lock_limits
from kuaichu.messages import Text
from kuaichu.notify.outbox import enqueue_sms, sms_enqueued_since
from kuaichu.notify.parties import push_case_event
from kuaichu.notify.templates import Sms, party_link
from kuaichu.principal import Principal
from kuaichu.privacy import mask_phone
from kuaichu.settings import Settings

TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
SMS_WINDOW = timedelta(hours=1)
# The same phone's join SMS again within this time is a double tap: the phone has the link.
SMS_AGAIN_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class InvitationRules:
    secret: str
    lifetime: timedelta
    sms_per_hour: int
    max_vehicles: int
    public_base_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "InvitationRules":
        return cls(
            secret=settings.signing_secret,
            lifetime=timedelta(minutes=settings.join_link_minutes),
            sms_per_hour=settings.join_sms_per_case_per_hour,
            max_vehicles=settings.quick_handling_max_vehicles,
            public_base_url=settings.effective_public_base_url,
        )


# The token: unguessable (256 bits), never stored; the row keeps its seed and its hash.


def token_of(invitation: JoinInvitation, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"join-invitation:{invitation.seed}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def hash_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def qr_svg(link: str) -> bytes:
    """The link as a QR code, an SVG the page shows as an image (no script of its own)."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, image_factory=SvgPathFillImage
    )
    code.add_data(link)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()


# The link: the reporting party shows it, the operator on the call sends or revokes it.


def _live_invitation(session: Session, case: Case, now: datetime) -> JoinInvitation | None:
    return session.scalars(
        select(JoinInvitation)
        .where(
            JoinInvitation.case_id == case.id,
            JoinInvitation.revoked_at.is_(None),
            JoinInvitation.expires_at > now,
        )
        .order_by(JoinInvitation.id.desc())
        .limit(1)
    ).first()


def _invitation(session: Session, case: Case, rules: InvitationRules, now: datetime) -> JoinInvitation:
    """The case's live link, or a new one when it has none (first shown, expired, revoked)."""
    invitation = _live_invitation(session, case, now)
    if invitation is None:
        invitation = JoinInvitation(case_id=case.id, seed=secrets.token_hex(16), created_at=now)
        invitation.token_hash = hash_of(token_of(invitation, rules.secret))
        invitation.expires_at = now + rules.lifetime
        session.add(invitation)
        session.flush()
    return invitation


def _shown(invitation: JoinInvitation, rules: InvitationRules) -> InvitationOut:
    link = party_link(rules.public_base_url, token_of(invitation, rules.secret))
    return InvitationOut(link=link, expires_at=invitation.expires_at)


def _case_on_call(session: Session, viewer: Principal, case_id: int) -> Case:
    """The case for the reporting party or the operator handling its call, while in the call."""
    case = get_case(session, viewer, case_id, lock=True)
    if viewer.phone is not None:
        ensure_may_write(case, viewer, WriteRule.PARTY_OF_CASE)
        if not is_reporter(case, viewer):
            raise Forbidden(Text("Invitations.reporter_only"))
    else:
        ensure_may_write(case, viewer, WriteRule.HANDLING_OPERATOR)
    lifecycle.ensure_editable(case, Edit.JOIN, viewer)
    return case


def current_link(
    session: Session, viewer: Principal, case_id: int, rules: InvitationRules, now: datetime
) -> InvitationOut:
    case = _case_on_call(session, viewer, case_id)
    return _shown(_invitation(session, case, rules, now), rules)


def revoke(session: Session, operator: Principal, case_id: int, now: datetime) -> None:
    """The link (and its QR code) stops working at once; the next one shown is new."""
    case = get_case(session, operator, case_id, lock=True)
    ensure_may_write(case, operator, WriteRule.HANDLING_OPERATOR)
    live = session.scalars(
        select(JoinInvitation).where(JoinInvitation.case_id == case.id, JoinInvitation.revoked_at.is_(None))
    )
    for invitation in live:
        invitation.revoked_at = now
    audit.record(session, operator, AuditAction.REVOKE_JOIN_LINK, now, case.id)


def send_link(
    session: Session, operator: Principal, case_id: int, phone: str, rules: InvitationRules, now: datetime
) -> InvitationOut:
    """The official join SMS (a fixed template: the case's number and the link) to a phone the
    operator typed, within the case's hourly limit."""
    case = _case_on_call(session, operator, case_id)
    _send(session, operator, case, phone, rules, now)
    return _shown(_invitation(session, case, rules, now), rules)


def _send(
    session: Session, operator: Principal, case: Case, phone: str, rules: InvitationRules, now: datetime
) -> None:
    """The join SMS to `phone`; the same again a moment later (a double tap) sends nothing."""
    if any(p.phone == phone for p in case.parties) and phone != case.reporter_phone:
        raise Conflict(Text("Invitations.already_party"))
    if sms_enqueued_since(
        session, case_id=case.id, phone=phone, template=Sms.JOIN_INVITATION, since=now - SMS_AGAIN_AFTER
    ):
        return
    sent = session.scalar(
        select(func.count()).where(JoinSms.case_id == case.id, JoinSms.sent_at > now - SMS_WINDOW)
    )
    if sent is not None and sent >= rules.sms_per_hour:
        raise RateLimited(Text("Invitations.sms_limit", count=sent))
    invitation = _invitation(session, case, rules, now)
    record = JoinSms(case_id=case.id, masked_phone=mask_phone(phone), sent_at=now)
    session.add(record)
    session.flush()
    enqueue_sms(
        session,
        phone=phone,
        template=Sms.JOIN_INVITATION,
        parameters={"case_number": case.number, "join_token": token_of(invitation, rules.secret)},
        key=f"join-sms:{case.id}:{record.id}",
        now=now,
        case_id=case.id,
    )
    audit.record(session, operator, AuditAction.SEND_JOIN_LINK, now, case.id, {"phone": phone})


# The joining party: logged in by SMS code, asks with the link's token, waits.


def _by_token(session: Session, token: str, now: datetime) -> JoinInvitation:
    invitation = (
        session.scalars(select(JoinInvitation).where(JoinInvitation.token_hash == hash_of(token))).first()
        if TOKEN_SHAPE.fullmatch(token)
        else None
    )
    if invitation is None:
        raise NotFound(Text("Invitations.unknown_link"))
    if invitation.revoked_at is not None:
        raise Gone(Text("Invitations.link_revoked"))
    if invitation.expires_at <= now:
        raise Gone(Text("Invitations.link_expired"))
    return invitation


def request_join(session: Session, party: Principal, token: str, now: datetime) -> tuple[JoinOut, Case]:
    """The phone asks to join the link's case; the answer, and the case (its operator is told,
    the party is not). Asking again while waiting is the same request (a reload, a second tap)."""
    ensure_may_write(None, party, WriteRule.PARTY_SELF)
    invitation = _by_token(session, token, now)
    # The token stands for the case: it is read without the party's own scope, and nothing of
    # it goes back to the party until the operator admits them.
    case = session.scalars(select(Case).where(Case.id == invitation.case_id).with_for_update()).one()
    if case.state not in lifecycle.EDITABLE[Edit.JOIN][party.role]:
        raise Conflict(Text("Invitations.not_joinable"))
    if is_reporter(case, party):
        raise Conflict(Text("Invitations.reporter_own_case"))
    if any(p.phone == party.phone for p in case.parties):
        raise Conflict(Text("Invitations.already_party"))
    request = session.scalars(
        select(JoinRequest).where(JoinRequest.case_id == case.id, JoinRequest.phone == party.phone)
    ).first()
    if request is not None and request.state == JoinState.REFUSED:
        raise Conflict(Text("Invitations.refused_before"))
    if request is None:
        assert party.phone is not None
        request = JoinRequest(
            case_id=case.id,
            invitation_id=invitation.id,
            phone=party.phone,
            state=JoinState.WAITING,
            requested_at=now,
        )
        session.add(request)
        session.flush()
        audit.record(session, party, AuditAction.REQUEST_JOIN, now, case.id)
    return _own(request), case


def _own(request: JoinRequest) -> JoinOut:
    admitted = request.state == JoinState.ADMITTED
    return JoinOut(
        id=request.id, state=JoinState(request.state), case_id=request.case_id if admitted else None
    )


def my_request(session: Session, party: Principal, request_id: int) -> JoinOut:
    request = session.get(JoinRequest, request_id)
    if request is None or party.phone is None or request.phone != party.phone:
        raise NotFound(Text("Invitations.not_yours"))
    return _own(request)


# The operator on the call: who waits, admit or refuse.


def _handled_case(session: Session, operator: Principal, case_id: int, lock: bool = False) -> Case:
    case = get_case(session, operator, case_id, lock=lock)
    ensure_may_write(case, operator, WriteRule.HANDLING_OPERATOR)
    return case


def waiting(session: Session, operator: Principal, case_id: int) -> list[WaitingOut]:
    case = _handled_case(session, operator, case_id)
    requests = session.scalars(
        select(JoinRequest).where(JoinRequest.case_id == case.id).order_by(JoinRequest.id)
    )
    return [
        WaitingOut(
            id=r.id,
            phone=mask_phone(r.phone),
            state=JoinState(r.state),
            requested_at=r.requested_at,
            position=r.position,
        )
        for r in requests
    ]


def _undecided(session: Session, case: Case, request_id: int) -> JoinRequest:
    request = session.get(JoinRequest, request_id)
    if request is None or request.case_id != case.id:
        raise InvalidInput(Text("Invitations.not_yours"), field="join_id")
    if request.state != JoinState.WAITING:
        raise Conflict(Text("Invitations.decided", state=JoinState(request.state)))
    return request


def admit(
    session: Session,
    operator: Principal,
    case_id: int,
    request_id: int,
    details: AdmitIn,
    max_vehicles: int,
    now: datetime,
) -> CaseParty:
    """The waiting phone becomes the case's next party, with the details the operator took on
    the call (checked as the party form checks them); within the jurisdiction's number of
    vehicles (quick handling's limit, art. 19)."""
    case = _handled_case(session, operator, case_id, lock=True)
    lifecycle.ensure_editable(case, Edit.JOIN, operator)
    lifecycle.ensure_editable(case, Edit.FACTS, operator)
    request = _undecided(session, case, request_id)
    if any(p.phone == request.phone for p in case.parties):
        raise Conflict(Text("Invitations.already_party"))
    jurisdiction = session.get(Jurisdiction, case.jurisdiction_id)
    assert jurisdiction is not None
    limit = jurisdiction.vehicle_limit(max_vehicles)
    if len(case.parties) >= limit:
        raise Conflict(Text("Invitations.max_reached", parties=len(case.parties), limit=limit), limit=limit)
    if any(p.plate_number == details.plate_number for p in case.parties):
        raise InvalidInput(Text("Cases.plate_twice"), field="plate_number")
    position = len(case.parties) + 1
    party = CaseParty(
        position=position, phone=request.phone, **details.model_dump(exclude={"phone", "join_id"})
    )
    case.parties.append(party)
    request.state = JoinState.ADMITTED
    request.position = position
    request.decided_at = now
    request.decided_by = operator.id
    session.flush()
    lifecycle.record_event(session, case, EventKind.PARTY_JOINED, operator, now, {"position": position})
    push_case_event(session, case, EventKind.PARTY_JOINED.value, now)
    return party


def refuse(session: Session, operator: Principal, case_id: int, request_id: int, now: datetime) -> None:
    case = _handled_case(session, operator, case_id, lock=True)
    request = _undecided(session, case, request_id)
    request.state = JoinState.REFUSED
    request.decided_at = now
    request.decided_by = operator.id
    audit.record(session, operator, AuditAction.REFUSE_JOIN, now, case.id, {"phone": request.phone})


# The no-app entry: a driver who called 122.


def _entered_as(session: Session, operator: Principal, call: CallSession, caller: CallerIn) -> Case | None:
    """The case of the operator's live call if this operator opened it for this very caller
    (same phone, same address): the same entry sent again, not a second call."""
    case = session.get(Case, call.case_id)
    if case is None or (case.reporter_phone, case.address) != (caller.phone, caller.address):
        return None
    opened_here = session.scalar(
        select(
            exists().where(
                TimelineEvent.case_id == case.id,
                TimelineEvent.kind == EventKind.PHONE_REPORT.value,
                TimelineEvent.actor_id == operator.id,
            )
        )
    )
    return case if opened_here else None


def open_for_caller(
    session: Session, operator: Principal, caller: CallerIn, rules: InvitationRules, now: datetime
) -> tuple[Case, bool]:
    """The operator opens a case for a driver on the 122 line, as if they had reported it from
    the party page, and takes its call at once; the driver gets the link by the join SMS.
    Whether the case is new: the same entry again while its call is live gets that case back
    (a hurried operator's double tap), any other while a call is live is refused."""
    ensure_may_write(None, operator, WriteRule.OPERATOR_SELF)
    assert operator.jurisdiction_id is not None and operator.id is not None
    # A double tap's two requests at once: the second waits for the first, then finds the call
    # it opened (as a one-tap report finds its phone's case, kuaichu.calls.queue).
    keys = (limit_key("report-phone", caller.phone), limit_key("phone-report-operator", str(operator.id)))
    lock_limits(session, keys, now)
    open_call = session.scalars(
        select(CallSession).where(CallSession.operator_id == operator.id, CallSession.ended_at.is_(None))
    ).first()
    if open_call is not None:
        repeated = _entered_as(session, operator, open_call, caller)
        if repeated is None:
            raise Conflict(Text("Calls.end_call_first"))
        return repeated, False
    existing = calls.active_case(session, caller.phone)
    if existing is not None:
        raise Conflict(Text("Invitations.caller_has_case", number=existing.number))
    jurisdiction = session.get(Jurisdiction, operator.jurisdiction_id)
    assert jurisdiction is not None
    point = inside_point(jurisdiction)
    case = cases.open_case(
        session, caller.phone, jurisdiction, point, CaseState.QUEUED, now, address=caller.address
    )
    session.flush()
    detail = {"jurisdiction": jurisdiction.name}
    lifecycle.record_event(session, case, EventKind.PHONE_REPORT, operator, now, detail)
    calls.assign(session, case, presence_of(session, operator, now), now)
    _send(session, operator, case, caller.phone, rules, now)
    return case, True
