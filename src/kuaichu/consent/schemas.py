from datetime import datetime

from pydantic import BaseModel, Field


class PrivacyNoticeOut(BaseModel):
    version: str
    text: str


class ConsentIn(BaseModel):
    # The version the party read; agreeing to an older one doesn't count.
    version: str = Field(min_length=1, max_length=16)


class ConsentOut(BaseModel):
    version: str
    consented_at: datetime
