from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class ReviewApplicationIn(BaseModel):
    reasons: str = Field(min_length=5, max_length=4000)


class ReviewOutcome(StrEnum):
    UPHELD = "upheld"
    REVOKED = "revoked"


class ReviewDecisionIn(BaseModel):
    outcome: ReviewOutcome
    note: str = Field(min_length=2, max_length=4000)


class ReviewOut(BaseModel):
    submitted_at: datetime
    applicant_party_id: int
    reasons: str
    outcome: str | None
    decision_note: str | None
    decided_at: datetime | None
