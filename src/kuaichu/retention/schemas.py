from datetime import datetime

from pydantic import BaseModel, computed_field

from kuaichu.cases.catalogue import AccidentType, Weather
from kuaichu.cases.schemas import PartyOut


class RetentionKindOut(BaseModel):
    """One kind of a case's data: how long it is kept after the case ended, and whether it is gone."""

    kind: str
    kind_label: str
    days: int
    # When the period runs out; None while the case is still being handled.
    due_at: datetime | None
    purged_at: datetime | None
    # 已按规定期限删除, or until when it is kept.
    status_label: str


class RetentionOut(BaseModel):
    """个人信息保护法 art. 17, 19: how long each kind of this case's data is kept."""

    # When the case reached its final state (办结, cancelled, transferred...); None before.
    ended_at: datetime | None
    kinds: list[RetentionKindOut]
    # What is kept for good: the legal record.
    kept_label: str


class MyCaseOut(BaseModel):
    number: str
    state: str
    state_label: str
    reported_at: datetime
    occurred_at: datetime | None
    address: str | None
    accident_type: AccidentType | None
    weather: Weather | None
    description: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accident_type_label(self) -> str | None:
        return self.accident_type.label() if self.accident_type else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def weather_label(self) -> str | None:
        return self.weather.label() if self.weather else None


class MyTimelineOut(BaseModel):
    at: datetime
    kind: str
    state_after: str


class MyDocumentOut(BaseModel):
    number: str
    issued_at: datetime
    sha256: str


class MyEvidenceOut(BaseModel):
    id: int
    kind: str
    sha256: str
    uploaded_at: datetime
    purged: bool
    status_label: str | None


class MyDataOut(BaseModel):
    """个人信息保护法 art. 45: what the system holds about this party in this case."""

    generated_at: datetime
    # The requesting party's own entry as the case holds it: in full, or masked once the
    # personal-data period ran out (then `retention` says 已按规定期限删除).
    party: PartyOut | None
    case: MyCaseOut
    timeline: list[MyTimelineOut]
    documents: list[MyDocumentOut]
    evidence: list[MyEvidenceOut]
    retention: RetentionOut
