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
