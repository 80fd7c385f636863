from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from kuaichu.cases.schemas import ReportIn


class CallMode(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"  # poor network: voice only
    PHOTO = "photo"  # no call: guided upload of the shots, handled by an operator


class PresenceStatus(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    WRAP_UP = "wrap_up"  # after a call, before the next
    AWAY = "away"


PRESENCE_LABELS = {
    PresenceStatus.AVAILABLE: "空闲",
    PresenceStatus.BUSY: "通话中",
    PresenceStatus.WRAP_UP: "整理中",
    PresenceStatus.AWAY: "离开",
}


class CallReportIn(ReportIn):
    mode: CallMode = CallMode.VIDEO


class ModeIn(BaseModel):
    mode: CallMode


class PresenceIn(BaseModel):
    # Operators choose these two; busy and wrap-up follow from the calls themselves.
    status: PresenceStatus


class QueueStatusOut(BaseModel):
    case_id: int
    number: str
    state: str
    position: int | None
    estimated_wait_seconds: int | None
    version: int


class OfferOut(BaseModel):
    case_id: int
    number: str
    operator_id: int
    mode: str


class PresenceOut(BaseModel):
    operator_id: int
    name: str
    status: str
    status_label: str
    since: datetime


class WaitingCallOut(BaseModel):
    case_id: int
    number: str
    position: int
    mode: str
    reported_at: datetime
    waiting_seconds: int
    returned: bool  # back at the head after a dropped call


class QueueViewOut(BaseModel):
    version: int
    waiting: list[WaitingCallOut]
    operators: list[PresenceOut]
    me: PresenceOut
    estimated_handling_seconds: int


class CurrentCallOut(BaseModel):
    case_id: int | None
    number: str | None
    mode: str | None
    presence: PresenceOut


class CallConfigOut(BaseModel):
    ice_servers: list[dict[str, Any]]
    recording_chunk_seconds: int
    grace_seconds: float
    # What the console's forms pick from.
    catalogues: dict[str, Any]
