from datetime import datetime

from pydantic import BaseModel, Field

from kuaichu.messages import Labelled


class ClaimStep(Labelled):
    """The insurer's steps, in the order they happen."""

    SURVEYOR_ASSIGNED = "surveyor_assigned"
    CONTACTED = "contacted"
    ASSESSED = "assessed"
    PAID = "paid"


class ClaimOut(BaseModel):
    id: int
    case_id: int
    party_id: int
    insurer_code: str
    insurer_name: str | None = None
    pushed_at: datetime
    status: str


class ProgressIn(BaseModel):
    status: ClaimStep
    note: str = Field(default="", max_length=500)
