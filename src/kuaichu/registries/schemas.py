from datetime import datetime
from typing import Any

from pydantic import BaseModel


class FailureOut(BaseModel):
    code: str
    reason: str


class CheckOut(BaseModel):
    party_position: int
    party_name: str
    plate_number: str
    kind: str
    kind_label: str
    outcome: str
    failures: list[FailureOut]
    found: dict[str, Any]
    checked_at: datetime


class LookupOut(BaseModel):
    """What the registries know of a driver or vehicle, to fill the party's form (查询预填)."""

    name: str | None
    licence_number: str | None
    licence_status: str | None
    plate_number: str | None
    plate_type: str | None
    vehicle_type: str | None
    insurer_code: str | None
    insurer_name: str | None
    policy_number: str | None
