from datetime import datetime

from pydantic import BaseModel, Field


class InviteIn(BaseModel):
    insurer_code: str = Field(min_length=1, max_length=16)


class InvitationOut(BaseModel):
    """An insurer's invitation into a case's live call, as an agent's page and the console read it."""

    id: int
    case_id: int
    case_number: str
    insurer_code: str
    insurer_name: str
    invited_at: datetime
    expires_at: datetime
    # The agents in the call now.
    present: list[str] = []


class InsurerChoice(BaseModel):
    code: str
    name: str
    # The case's parties (甲, 乙...) whose compulsory insurer the registry check found it to be.
    parties: list[str]


class SeatChoicesOut(BaseModel):
    """What the console offers: the parties' insurers first, then every registered insurer;
    and the invitations of the call so far."""

    insurers: list[InsurerChoice]
    invitations: list[InvitationOut]


class PresenceOut(BaseModel):
    """One agent's time in a call, for the case's replay; `left_at` is the call's end when the
    agent never left on their own, None while they are still there."""

    insurer_code: str
    insurer_name: str
    agent: str
    joined_at: datetime
    left_at: datetime | None
