"""Logins: parties by phone + SMS code, staff by password, insurers by API key; tokens."""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import lru_cache
from types import MappingProxyType

import jwt
from argon2 import PasswordHasher
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kuaichu.auth.models import ApiKey, Insurer, SmsCode, User
from kuaichu.errors import InvalidInput, NotAuthenticated, RateLimited
from kuaichu.messages import Text
from kuaichu.notify.outbox import enqueue_sms
from kuaichu.notify.templates import Sms
from kuaichu.principal import ACCOUNT_ROLES, STAFF_ROLES, Principal, Role
from kuaichu.settings import Settings

_hasher = PasswordHasher()
# A fixed hash to verify against when the username is unknown, so timing doesn't tell.
_DUMMY_HASH = _hasher.hash("kuaichu-no-such-user")

SESSION_ENDED = Text("Auth.session_ended")
SESSION_EXPIRED = Text("Auth.session_expired")


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise InvalidInput(Text("Auth.password_too_short"))
    return _hasher.hash(password)


def _code_hash(secret: str, phone: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def request_sms_code(session: Session, settings: Settings, phone: str, address: str, now: datetime) -> None:
    """Send a 6-digit login code, within the per-phone and per-address limits."""
    hour_ago = now - timedelta(hours=1)
    by_phone = session.scalars(
        select(SmsCode.created_at).where(SmsCode.phone == phone, SmsCode.created_at > hour_ago)
    ).all()
    if by_phone and max(by_phone) > now - timedelta(seconds=settings.sms_code_min_interval_seconds):
        raise RateLimited(Text("Auth.sms_code_just_sent"))
    if len(by_phone) >= settings.sms_codes_per_phone_per_hour:
        raise RateLimited(Text("Auth.sms_codes_per_phone"))
    by_address = session.scalar(
        select(func.count()).where(SmsCode.address == address, SmsCode.created_at > hour_ago)
    )
    if (by_address or 0) >= settings.sms_codes_per_address_per_hour:
        raise RateLimited(Text("Auth.sms_codes_per_address"))

    code = f"{secrets.randbelow(10**6):06d}"
    row = SmsCode(
        phone=phone,
        code_hash=_code_hash(settings.signing_secret, phone, code),
        address=address,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.sms_code_ttl_seconds),
    )
    session.add(row)
    session.flush()
    minutes = settings.sms_code_ttl_seconds // 60
    enqueue_sms(
        session,
        phone=phone,
        template=Sms.LOGIN_CODE,
        parameters={"code": code, "minutes": str(minutes)},
        key=f"login-code:{row.id}",
        now=now,
    )


class CodeCheck(Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"


_CODE_MESSAGES = {
    CodeCheck.WRONG: Text("Auth.code_wrong"),
    CodeCheck.EXPIRED: Text("Auth.code_expired"),
    CodeCheck.EXHAUSTED: Text("Auth.code_exhausted"),
}


def check_sms_code(session: Session, settings: Settings, phone: str, code: str, now: datetime) -> CodeCheck:
    """Returns rather than raises, so a wrong try is committed and counts against the limit."""
    latest = session.scalars(
        select(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.used_at.is_(None))
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc())
        .limit(1)
    ).first()
    if latest is None or latest.expires_at <= now:
        return CodeCheck.EXPIRED
    # One conditional UPDATE counts the try: concurrent guesses serialise on the row, so no
    # more than the limit are ever compared, on SQLite and on PostgreSQL alike.
    counted = session.execute(
        update(SmsCode)
        .where(SmsCode.id == latest.id, SmsCode.attempts < settings.sms_code_max_attempts)
        .values(attempts=SmsCode.attempts + 1)
        .returning(SmsCode.id)
    ).first()
    if counted is None:
        return CodeCheck.EXHAUSTED
    expected = _code_hash(settings.signing_secret, phone, code)
    if not hmac.compare_digest(latest.code_hash, expected):
        return CodeCheck.WRONG
    used = session.execute(
        update(SmsCode)
        .where(SmsCode.id == latest.id, SmsCode.used_at.is_(None))
        .values(used_at=now)
        .returning(SmsCode.id)
    ).first()
    return CodeCheck.ACCEPTED if used else CodeCheck.EXPIRED


def raise_for_code_check(result: CodeCheck) -> None:
    if result is not CodeCheck.ACCEPTED:
        raise NotAuthenticated(_CODE_MESSAGES[result])


def party_principal(phone: str) -> Principal:
    return Principal(role=Role.PARTY, phone=phone, label=f"当事人{phone[:3]}****{phone[-4:]}")


def staff_principal(user: User, insurer_code: str | None = None) -> Principal:
    """An account's principal; an insurer's agent carries their insurer's code."""
    return Principal(
        role=Role(user.role),
        id=user.id,
        jurisdiction_id=user.jurisdiction_id,
        insurer_code=insurer_code,
        label=user.display_name,
        session_version=user.session_version,
    )


def account_principal(session: Session, user: User) -> Principal:
    """The principal of a staff account or of an insurer's agent (with their insurer's code)."""
    if user.insurer_id is None:
        return staff_principal(user)
    return staff_principal(user, session.scalar(select(Insurer.code).where(Insurer.id == user.insurer_id)))


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    now: datetime,
    jurisdiction_id: int | None = None,
    badge_number: str | None = None,
) -> User:
    if role not in STAFF_ROLES:
        raise InvalidInput(Text("Auth.not_staff_role", role=str(role)))
    if role in (Role.OPERATOR, Role.OFFICER) and jurisdiction_id is None:
        raise InvalidInput(Text("Auth.jurisdiction_required"))
    if session.scalars(select(User.id).where(User.username == username)).first():
        raise InvalidInput(Text("Auth.username_taken", username=username))
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        display_name=display_name,
        jurisdiction_id=jurisdiction_id,
        badge_number=badge_number,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def create_insurer_agent(
    session: Session, *, username: str, password: str, display_name: str, insurer_code: str, now: datetime
) -> User:
    """An insurer's agent (保险公司坐席): a password login acting for that insurer alone."""
    insurer_id = session.scalar(select(Insurer.id).where(Insurer.code == insurer_code))
    if insurer_id is None:
        raise InvalidInput(Text("Auth.no_such_insurer", code=insurer_code))
    if session.scalars(select(User.id).where(User.username == username)).first():
        raise InvalidInput(Text("Auth.username_taken", username=username))
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=Role.INSURER_AGENT.value,
        display_name=display_name,
        insurer_id=insurer_id,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def create_insurer(
    session: Session, *, code: str, name: str, webhook_url: str | None, now: datetime
) -> tuple[Insurer, str]:
    """An insurer with a fresh webhook secret; returns it with its API key (shown once)."""
    if session.scalars(select(Insurer.id).where(Insurer.code == code)).first():
        raise InvalidInput(Text("Auth.insurer_code_taken", code=code))
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    insurer = Insurer(code=code, name=name, webhook_url=webhook_url, webhook_secret=secret)
    session.add(insurer)
    session.flush()
    return insurer, create_api_key(session, insurer, now)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, insurer: Insurer, now: datetime) -> str:
    """Returns the key once; only its hash is stored."""
    key = "kci_" + secrets.token_urlsafe(32)
    session.add(ApiKey(insurer_id=insurer.id, key_hash=_key_hash(key), prefix=key[:8], created_at=now))
    return key


def authenticate_api_key(session: Session, key: str) -> Principal:
    row = session.execute(
        select(Insurer)
        .join(ApiKey, ApiKey.insurer_id == Insurer.id)
        .where(ApiKey.key_hash == _key_hash(key), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()
    if row is None:
        raise NotAuthenticated(Text("Auth.api_key_invalid"))
    return Principal(role=Role.INSURER, id=row.id, insurer_code=row.code, label=row.name)


@lru_cache(maxsize=4096)  # a page sends its token with every request: check the signature once
def _signed_claims(secret: str, token: str) -> Mapping[str, object] | None:
    """The claims of a token signed with `secret` (expiry aside), or None."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
        )
    except jwt.PyJWTError:
        return None
    return MappingProxyType(claims)


@dataclass(frozen=True)
class TokenService:
    secret: str
    party_hours: int
    # Staff access tokens are short-lived; the session goes on through refresh tokens.
    staff_minutes: int

    def issue(self, principal: Principal, now: datetime) -> str:
        lifetime = (
            timedelta(hours=self.party_hours)
            if principal.role is Role.PARTY
            else timedelta(minutes=self.staff_minutes)
        )
        claims = {
            **claims_of(principal),
            "iat": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def claims(self, token: str, now: datetime) -> dict[str, object]:
        """The claims of a token we signed that has not expired by the injected clock."""
        signed = _signed_claims(self.secret, token)
        if signed is None:
            raise NotAuthenticated(SESSION_ENDED)
        claims = dict(signed)
        try:
            # Expiry is checked against the injected clock, not the wall clock.
            expired = float(claims.get("exp", 0)) <= now.timestamp()
        except (TypeError, ValueError):
            expired = True
        if expired:
            raise NotAuthenticated(SESSION_EXPIRED)
        return claims

    def principal(self, token: str, now: datetime) -> Principal:
        return principal_of_claims(self.claims(token, now))


def claims_of(principal: Principal) -> dict[str, object]:
    """Who a token (or a WebSocket ticket) stands for."""
    claims: dict[str, object] = {
        "sub": str(principal.id) if principal.id is not None else principal.phone,
        "role": principal.role.value,
        "jur": principal.jurisdiction_id,
        "phone": principal.phone,
        "label": principal.label,
    }
    if principal.session_version is not None:
        claims["sv"] = principal.session_version
    if principal.phone_key is not None:
        claims["pk"] = principal.phone_key
    if principal.role is Role.INSURER_AGENT:
        claims["ins"] = principal.insurer_code
    return claims


def principal_of_claims(claims: dict[str, object]) -> Principal:
    try:
        role = Role(claims["role"])
        version = claims.get("sv")
        if role in ACCOUNT_ROLES and not isinstance(version, int):
            raise ValueError("a staff token without its session version")
        insurer_code = claims.get("ins") if role is Role.INSURER_AGENT else None
        if role is Role.INSURER_AGENT and not isinstance(insurer_code, str):
            raise ValueError("an agent's token without their insurer")
        return Principal(
            role=role,
            id=None if role is Role.PARTY else int(claims["sub"]),  # type: ignore[call-overload]
            phone=claims.get("phone"),  # type: ignore[arg-type]
            jurisdiction_id=claims.get("jur"),  # type: ignore[arg-type]
            label=str(claims.get("label", "")),
            insurer_code=insurer_code,  # type: ignore[arg-type]
            session_version=version if isinstance(version, int) else None,
            phone_key=str(claims["pk"]) if role is Role.PARTY and claims.get("pk") else None,
        )
    except (KeyError, TypeError, ValueError):
        # Signed by us but not as we write them (an old or hand-made token): not a login.
        raise NotAuthenticated(SESSION_ENDED) from None
