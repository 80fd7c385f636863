from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, computed_field, model_validator

from kuaichu.cases.schemas import ReportIn, WrittenReason
from kuaichu.messages import Labelled, Text, reader_locale
from kuaichu.settings import SERVICE_TIME


class CallMode(Labelled):
    VIDEO = "video"
    AUDIO = "audio"  # poor network: voice only
    PHOTO = "photo"  # no call: guided upload of the shots, handled by an operator


class PresenceStatus(Labelled):
    AVAILABLE = "available"
    BUSY = "busy"
    WRAP_UP = "wrap_up"  # after a call, before the next
    AWAY = "away"
    # An offer went unjoined: offered nothing until the operator sets 空闲 again.
    NO_ANSWER = "no_answer"


# Taking calls: what staffing and "nobody on duty" count.
ON_DUTY = (PresenceStatus.AVAILABLE, PresenceStatus.BUSY, PresenceStatus.WRAP_UP)


class CallReportIn(BaseModel):
    """一键视频报警: the GPS point, or when location is denied, the district picked and the
    place typed by hand."""

    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, max_length=200)
    jurisdiction_code: str | None = Field(default=None, max_length=12)
    mode: CallMode = CallMode.VIDEO

    @model_validator(mode="after")
    def _located(self) -> "CallReportIn":
        if self.lat is not None and self.lng is not None:
            return self
        if self.lat is not None or self.lng is not None:
            raise ValueError(Text("Calls.location_incomplete"))
        if not self.jurisdiction_code:
            raise ValueError(Text("Calls.district_and_place_needed"))
        self.address = (self.address or "").strip()
        if len(self.address) < 2:
            raise ValueError(Text("Calls.place_too_short"))
        return self

    @property
    def gps(self) -> ReportIn | None:
        if self.lat is None or self.lng is None:
            return None
        return ReportIn(lat=self.lat, lng=self.lng, address=self.address)


class ServiceReason(StrEnum):
    OUTSIDE_HOURS = "outside_hours"
    PAUSED = "paused"
    NOBODY_ON_DUTY = "nobody_on_duty"


class ServiceStatusOut(BaseModel):
    """Whether video quick handling takes calls here now; when not, why, plainly, with 122."""

    open: bool
    reason: ServiceReason | None
    # The supervisor's words when they paused the service, as typed.
    pause_reason: str | None = None
    hours: str
    jurisdiction_code: str
    jurisdiction_name: str

    @property
    def why(self) -> Text | None:
        """Why the service takes no calls now, with 122; None while it is open."""
        if self.reason is None:
            return None
        if self.reason is ServiceReason.PAUSED and self.pause_reason:
            return Text("CallService.paused_because", reason=self.pause_reason)
        if self.reason is ServiceReason.OUTSIDE_HOURS:
            return Text("CallService.outside_hours", hours=self.hours)
        return Text(f"CallService.{self.reason.value}")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def message(self) -> str | None:
        """`why`, said when the status is written out: in the language of whoever reads it (the
        request's, or the page socket's), so a status shared by many pages is said to each."""
        return self.why.render(reader_locale()) if self.why else None


class ServiceIn(BaseModel):
    """The supervisor's switch for one jurisdiction (bad weather, an incident), and its hours."""

    paused: bool
    reason: WrittenReason | None = None
    hours_start: str | None = Field(default=None, pattern=SERVICE_TIME)
    hours_end: str | None = Field(default=None, pattern=SERVICE_TIME)
    # 互碰自赔 adopted here (kuaichu.compensation); None leaves it as it is.
    mutual_self_claim: bool | None = None

    @model_validator(mode="after")
    def _reason_when_paused(self) -> "ServiceIn":
        if self.paused and not self.reason:
            raise ValueError(Text("Calls.pause_reason_needed"))
        if (self.hours_start is None) != (self.hours_end is None):
            raise ValueError(Text("Calls.hours_both_ends"))
        if self.hours_start is not None and self.hours_start == self.hours_end:
            raise ValueError(Text("Calls.hours_same"))
        return self


class JurisdictionOut(BaseModel):
    code: str
    name: str


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
    # None when nobody is on duty: no honest estimate exists.
    estimated_wait_seconds: int | None
    estimated_wait_text: str | None  # "about N min", in the reader's language
    version: int
    service: ServiceStatusOut


class PresenceOut(BaseModel):
    operator_id: int
    name: str
    status: str
    status_label: str
    since: datetime


class OfferOut(BaseModel):
    case_id: int
    number: str
    operator_id: int
    mode: str
    # The operator's presence once offered: 通话中 (busy) for the console's badge.
    presence: PresenceOut | None = None


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
    ice_transport_policy: str = "all"  # RTCPeerConnection's iceTransportPolicy
    recording_chunk_seconds: int
    grace_seconds: float
    # The most vehicles (parties) quick handling takes: the console offers as many party forms.
    # A jurisdiction may set its own; recording parties enforces the case's (a 422 naming it).
    max_vehicles: int
    # What the console's forms pick from.
    catalogues: dict[str, Any]
    # Calls go through the media server (Janus), which records them: the pages join its room
    # with a media pass instead of calling browser to browser, and the console records nothing.
    media_server: bool = False


class JurisdictionServiceOut(BaseModel):
    """A jurisdiction's service as the supervisor sees and switches it."""

    code: str
    name: str
    paused: bool
    pause_reason: str | None
    paused_at: datetime | None
    hours_start: str
    hours_end: str
    mutual_self_claim: bool = False
    status: ServiceStatusOut
