"""The language a party's official SMS are written in: the one they chose on the party page."""

from datetime import datetime

from sqlalchemy.orm import Session

from kuaichu.db import upsert_insert
from kuaichu.messages.catalogue import DEFAULT_LOCALE, Locale
from kuaichu.notify.models import PartyLocale


def choose_locale(session: Session, phone: str, locale: Locale, now: datetime) -> None:
    insert = upsert_insert(session)(PartyLocale).values(phone=phone, locale=locale.value, chosen_at=now)
    # One row per phone: the latest choice stands (an upsert, so two tabs never conflict).
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["phone"], set_={"locale": locale.value, "chosen_at": now}
        )
    )


def locale_of(session: Session, phone: str) -> Locale:
    """The phone's chosen locale; zh-CN when it never chose."""
    chosen = session.get(PartyLocale, phone)
    return Locale(chosen.locale) if chosen else DEFAULT_LOCALE
