"""Staff sessions: login with throttle and lockout, rotating refresh tokens, revocation,
and the one-time tickets that open a page's WebSocket (no token ever travels in a URL).

A staff access token lives minutes and names the user's session version; deactivation, a
role change and a password change raise the version, so every request (and every message
on an open WebSocket) made with an older token is refused at once."""

import hashlib
import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.auth.models import RefreshToken, SocketTicket, StaffLoginFailure, User
from kuaichu.auth.service import (
    _DUMMY_HASH,
    SESSION_ENDED,
    SESSION_EXPIRED,
    _hasher,
    account_principal,
    hash_password,
    principal_of_claims,
    staff_principal,
)
from kuaichu.errors import DomainError, InvalidInput, NotAuthenticated, NotFound, RateLimited
from kuaichu.messages import Text
from kuaichu.principal import ACCOUNT_ROLES, STAFF_ROLES, Principal, Role
from kuaichu.settings import Settings

WRONG_PASSWORD = Text("Auth.wrong_password")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _anonymous(address: str | None) -> Principal:
    return Principal(role=Role.SYSTEM, label="未认证", address=address)


# Login.


@dataclass(frozen=True)
class StaffSession:
    principal: Principal
    refresh_token: str


def login_staff(
    session: Session, settings: Settings, username: str, password: str, address: str, now: datetime
) -> StaffSession | DomainError:
    """Returns the refused login's error rather than raising it, so the failure it counts is
    committed. An address over its hourly failures, or a locked account, is refused before
    the password is even compared."""
    hour_ago = now - timedelta(hours=1)
    failures_here = session.scalar(
        select(func.count()).where(
            StaffLoginFailure.address == address, StaffLoginFailure.failed_at > hour_ago
        )
    )
    if (failures_here or 0) >= settings.staff_login_failures_per_address_per_hour:
        return RateLimited(Text("Auth.address_locked"))
    # Locked for update: concurrent guesses at one account count one after another.
    user = session.scalars(select(User).where(User.username == username).with_for_update()).first()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() + 59) // 60)
        return RateLimited(Text("Auth.account_locked", minutes=minutes))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        matched = user is not None
    except (VerifyMismatchError, InvalidHashError):
        matched = False
    if matched and user is not None and user.active:
        user.failed_logins = 0
        user.locked_until = None
        principal = replace(account_principal(session, user), address=address)
        audit.record(session, principal, AuditAction.LOGIN, now, detail={"username": username})
        return StaffSession(principal, _new_refresh_token(session, settings, user, None, None, now))
    if matched:
        # The right password of a deactivated account: refused, but no guess to count.
        audit.record(
            session, _anonymous(address), AuditAction.LOGIN_FAILED, now, detail={"username": username}
        )
        return NotAuthenticated(WRONG_PASSWORD)
    session.add(StaffLoginFailure(address=address, username=username, failed_at=now))
    audit.record(session, _anonymous(address), AuditAction.LOGIN_FAILED, now, detail={"username": username})
    if user is not None:
        user.failed_logins += 1
        if user.failed_logins >= settings.staff_lockout_failures:
            user.failed_logins = 0
            user.locked_until = now + timedelta(minutes=settings.staff_lockout_minutes)
            audit.record(
                session,
                _anonymous(address),
                AuditAction.STAFF_LOCKOUT,
                now,
                detail={"username": username, "scope": "account", "until": user.locked_until.isoformat()},
            )
    if (failures_here or 0) + 1 == settings.staff_login_failures_per_address_per_hour:
        audit.record(
            session,
            _anonymous(address),
            AuditAction.STAFF_LOCKOUT,
            now,
            detail={"username": username, "scope": "address"},
        )
    return NotAuthenticated(WRONG_PASSWORD)


# Refresh tokens.


def _new_refresh_token(
    session: Session,
    settings: Settings,
    user: User,
    family: str | None,
    expires_at: datetime | None,
    now: datetime,
) -> str:
    token = "kcr_" + secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=_digest(token),
            family=family or secrets.token_hex(16),
            session_version=user.session_version,
            created_at=now,
            # Rotation keeps the login's end: a shift's session is not stretched by use.
            expires_at=expires_at or now + timedelta(hours=settings.staff_token_hours),
        )
    )
    session.flush()
    return token


def refresh_session(
    session: Session, settings: Settings, token: str, address: str, now: datetime
) -> StaffSession | DomainError:
    """Trade a refresh token for a new one and a fresh principal. A token presented twice
    (a stolen copy, or the original after the thief used it) ends its whole family."""
    row = session.scalars(
        select(RefreshToken).where(RefreshToken.token_hash == _digest(token)).with_for_update()
    ).first()
    if row is None:
        return NotAuthenticated(SESSION_ENDED)
    user = session.get(User, row.user_id)
    if row.used_at is not None:
        _revoke_family(session, row.family, now)
        if user is not None:
            actor = replace(staff_principal(user), address=address)
            audit.record(session, actor, AuditAction.REFRESH_REUSE, now, detail={"username": user.username})
        return NotAuthenticated(SESSION_ENDED)
    if row.revoked_at is not None:
        return NotAuthenticated(SESSION_ENDED)
    if row.expires_at <= now:
        return NotAuthenticated(SESSION_EXPIRED)
    if user is None or not user.active or user.session_version != row.session_version:
        row.revoked_at = now
        return NotAuthenticated(SESSION_ENDED)
    row.used_at = now
    fresh = _new_refresh_token(session, settings, user, row.family, row.expires_at, now)
    return StaffSession(replace(account_principal(session, user), address=address), fresh)


def _revoke_family(session: Session, family: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def end_session(session: Session, token: str, now: datetime) -> None:
    """Log out: the refresh token and every token rotated from the same login stop working."""
    row = session.scalars(select(RefreshToken).where(RefreshToken.token_hash == _digest(token))).first()
    if row is not None:
        _revoke_family(session, row.family, now)


# Revocation.


# Built once: every staff request runs it, and building it per request cost more than running it.
# On the table's columns: the model's attributes would add the ORM's compile step to every run.
_USERS = User.__table__.c
_SESSION_OF = select(_USERS.active, _USERS.session_version).where(_USERS.id == bindparam("user_id"))


def check_staff_session(session: Session, principal: Principal) -> None:
    """A staff (or agent's) token holds only while its account is active at the same session
    version."""
    if principal.role not in ACCOUNT_ROLES:
        return
    row = session.execute(_SESSION_OF, {"user_id": principal.id}).first()
    if row is None or not row.active or row.session_version != principal.session_version:
        raise NotAuthenticated(SESSION_ENDED)


def _end_all_sessions(session: Session, user: User, now: datetime) -> None:
    user.session_version += 1
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def _user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username).with_for_update()).first()
    if user is None:
        raise NotFound(Text("Auth.no_such_user", username=username))
    return user


def deactivate_user(session: Session, username: str, actor: Principal, now: datetime) -> User:
    user = _user(session, username)
    user.active = False
    _end_all_sessions(session, user, now)
    audit.record(session, actor, AuditAction.USER_DEACTIVATED, now, detail={"username": username})
    return user


def activate_user(session: Session, username: str, actor: Principal, now: datetime) -> User:
    user = _user(session, username)
    user.active = True
    user.failed_logins = 0
    user.locked_until = None
    audit.record(session, actor, AuditAction.USER_ACTIVATED, now, detail={"username": username})
    return user


def change_role(
    session: Session,
    username: str,
    role: Role,
    actor: Principal,
    now: datetime,
    jurisdiction_id: int | None = None,
) -> User:
    if role not in STAFF_ROLES:
        raise InvalidInput(Text("Auth.not_staff_role", role=str(role)))
    user = _user(session, username)
    if user.insurer_id is not None:
        # An insurer's agent acts for their insurer: never a police role.
        raise InvalidInput(Text("Auth.agent_role_fixed"))
    if jurisdiction_id is not None:
        user.jurisdiction_id = jurisdiction_id
    if role in (Role.OPERATOR, Role.OFFICER) and user.jurisdiction_id is None:
        raise InvalidInput(Text("Auth.jurisdiction_required"))
    before = user.role
    user.role = role.value
    _end_all_sessions(session, user, now)
    audit.record(
        session,
        actor,
        AuditAction.USER_ROLE_CHANGED,
        now,
        detail={"username": username, "from": before, "to": role.value},
    )
    return user


def change_password(session: Session, username: str, password: str, actor: Principal, now: datetime) -> User:
    user = _user(session, username)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    _end_all_sessions(session, user, now)
    audit.record(session, actor, AuditAction.USER_PASSWORD_CHANGED, now, detail={"username": username})
    return user


# WebSocket tickets.


def issue_socket_ticket(
    session: Session, settings: Settings, claims: dict[str, object], now: datetime
) -> str:
    """A single-use ticket for `/ws?ticket=`, valid for seconds; it holds the access token's
    claims, never the token."""
    ticket = "kct_" + secrets.token_urlsafe(32)
    session.add(
        SocketTicket(
            ticket_hash=_digest(ticket),
            claims=json.dumps(claims),
            expires_at=now + timedelta(seconds=settings.socket_ticket_seconds),
        )
    )
    # Spent and expired tickets are of no further use to anyone.
    session.execute(
        SocketTicket.__table__.delete().where(SocketTicket.expires_at < now - timedelta(minutes=5))
    )
    return ticket


def redeem_socket_ticket(session: Session, ticket: str, now: datetime) -> Principal:
    """The principal a ticket was issued to, once; a second use or a late one is refused."""
    row = session.execute(
        update(SocketTicket)
        .where(
            SocketTicket.ticket_hash == _digest(ticket),
            SocketTicket.used_at.is_(None),
            SocketTicket.expires_at > now,
        )
        .values(used_at=now)
        .returning(SocketTicket.claims)
    ).first()
    if row is None:
        raise NotAuthenticated(Text("Auth.ticket_invalid"))
    principal = principal_of_claims(json.loads(row.claims))
    check_staff_session(session, principal)
    return principal
