from datetime import datetime

from pydantic import BaseModel


class MyPartyOut(BaseModel):
    """The requesting party's own entry, in full (unless already purged)."""

    position: int
    name: str
    phone: str
    id_number: str
    licence_number: str
    plate_number: str
    plate_type: str
    vehicle_type: str
    insurer_code: str | None
    policy_number: str | None


class MyCaseOut(BaseModel):
    number: str
    state: str
    state_label: str
    reported_at: datetime
    occurred_at: datetime | None
    address: str | None
    accident_type: str | None
    weather: str | None
    description: str | None


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


class MyPurgeOut(BaseModel):
    kind: str
    kind_label: str
    purged_at: datetime


class MyDataOut(BaseModel):
    """个人信息保护法 art. 45: what the system holds about this party in this case."""

    generated_at: datetime
    party: MyPartyOut | None
    case: MyCaseOut
    timeline: list[MyTimelineOut]
    documents: list[MyDocumentOut]
    evidence: list[MyEvidenceOut]
    purged: list[MyPurgeOut]
