from datetime import datetime

from pydantic import BaseModel, Field

from kuaichu.claims.service import ClaimStep


class ClaimOut(BaseModel):
    id: int
    case_id: int
    party_id: int
    insurer_code: str
    pushed_at: datetime
    status: str


class ProgressIn(BaseModel):
    status: ClaimStep
    note: str = Field(default="", max_length=500)
