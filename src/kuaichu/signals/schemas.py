from datetime import datetime

from pydantic import BaseModel


class SignalOut(BaseModel):
    """A signal on a case: the rule's code (what the list filters by), its name and its reason
    in the reader's language, personal data masked as the reader's role needs."""

    name: str
    label: str
    reason: str


class FlaggedCaseOut(BaseModel):
    id: int
    number: str
    state: str
    state_label: str
    reported_at: datetime
    signals: list[SignalOut]


class SignalRuleOut(BaseModel):
    name: str
    label: str


class StuckSignalCaseOut(BaseModel):
    """A case whose ordered computation failed or is overdue. `last_error` is the exception's
    type only: its message may quote a party's data (the log has the rest)."""

    case_id: int
    number: str
    orders: int
    attempts: int
    ordered_at: datetime
    next_attempt_at: datetime
    last_error: str


class StuckSignalsOut(BaseModel):
    """The signal orders that failed or are overdue, for the supervisor: nothing stalls unseen."""

    count: int
    oldest_ordered_at: datetime | None
    cases: list[StuckSignalCaseOut]
