from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class ClaimStep(StrEnum):
    """The insurer's steps, in the order they happen."""

    SURVEYOR_ASSIGNED = "surveyor_assigned"
    CONTACTED = "contacted"
    ASSESSED = "assessed"
    PAID = "paid"


STEP_LABELS = {
    ClaimStep.SURVEYOR_ASSIGNED: "已指派查勘员",
    ClaimStep.CONTACTED: "查勘员已联系您",
    ClaimStep.ASSESSED: "定损完成",
    ClaimStep.PAID: "赔款已支付",
}


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
