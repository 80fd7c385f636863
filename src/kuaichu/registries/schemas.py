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
