from datetime import datetime

from pydantic import BaseModel, Field

from kuaichu.messages.catalogue import Locale


class PrivacyNoticeOut(BaseModel):
    version: str
    text: str


class ConsentIn(BaseModel):
    # The version the party read; agreeing to an older one doesn't count.
    version: str = Field(min_length=1, max_length=16)


class ConsentOut(BaseModel):
    version: str
    consented_at: datetime


class LocaleIn(BaseModel):
    """The language the party chose on the party page (中文 / English)."""

    locale: Locale


class LocaleOut(BaseModel):
    locale: Locale
