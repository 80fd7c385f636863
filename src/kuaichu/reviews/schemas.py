from datetime import date, datetime

from pydantic import BaseModel, Field

from kuaichu.messages import Labelled


class ReviewApplicationIn(BaseModel):
    reasons: str = Field(min_length=5, max_length=4000)


class ReviewOutcome(Labelled):
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
    outcome_label: str | None = None
    # art. 73: the reviewing unit decides by this day; days left from today (negative: overdue).
    decide_by: date | None = None
    days_left: int | None = None
