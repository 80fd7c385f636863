"""Notice and consent before a party is recorded (个人信息保护法 art. 14, 29): the rules, no HTTP.

This package sits beside the shared base: cases and calls read a consent, nothing here reads them.
"""

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from kuaichu.consent.models import PrivacyConsent
from kuaichu.consent.notice import PRIVACY_NOTICE_TEXT, PRIVACY_NOTICE_VERSION
from kuaichu.consent.schemas import ConsentOut, PrivacyNoticeOut
from kuaichu.db import upsert_insert
from kuaichu.errors import Conflict, Forbidden
from kuaichu.messages import Text
from kuaichu.principal import Principal, Role


def notice() -> PrivacyNoticeOut:
    return PrivacyNoticeOut(version=PRIVACY_NOTICE_VERSION, text=PRIVACY_NOTICE_TEXT)


def record_consent(session: Session, party: Principal, version: str, now: datetime) -> ConsentOut:
    """The party agreed to the notice they were shown; agreeing again changes nothing."""
    if party.role is not Role.PARTY or party.phone is None:
        raise Forbidden(Text("Consent.party_only"))
    if version != PRIVACY_NOTICE_VERSION:
        raise Conflict(Text("Consent.notice_changed"), code="notice_changed", version=PRIVACY_NOTICE_VERSION)
    session.execute(
        upsert_insert(session)(PrivacyConsent)
        .values(phone=party.phone, version=version, consented_at=now, address=party.address)
        .on_conflict_do_nothing(index_elements=["phone", "version"])
    )
    consented_at = consented_at_of(session, party.phone)
    assert consented_at is not None
    return ConsentOut(version=version, consented_at=consented_at)


# Built once: every view of a case and every report reads it. On the table's columns: the
# model's attributes would add the ORM's compile step to every run.
_CONSENTS = PrivacyConsent.__table__.c
_CONSENTED_AT = select(_CONSENTS.consented_at).where(
    _CONSENTS.phone == bindparam("phone"), _CONSENTS.version == PRIVACY_NOTICE_VERSION
)


def consented_at_of(session: Session, phone: str) -> datetime | None:
    """When this phone agreed to the current notice, or None."""
    return session.scalar(_CONSENTED_AT, {"phone": phone})


def require_consent(session: Session, party: Principal) -> None:
    """Nothing is recorded before the party agreed: 409 consent_required, and the notice's version."""
    if party.phone is None or consented_at_of(session, party.phone) is None:
        raise Conflict(Text("Consent.required"), code="consent_required", version=PRIVACY_NOTICE_VERSION)
