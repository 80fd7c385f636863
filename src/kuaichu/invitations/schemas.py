from datetime import datetime

from pydantic import BaseModel, Field

from kuaichu.cases.schemas import MAX_ROW_ID, CaseOut, PartyIn, Phone
from kuaichu.messages import Labelled


class JoinState(Labelled):
    WAITING = "waiting"
    ADMITTED = "admitted"
    REFUSED = "refused"


class InvitationOut(BaseModel):
    """The case's join link as the reporting party's screen and the console show it."""

    link: str
    expires_at: datetime


class JoinLinkSmsIn(BaseModel):
    phone: Phone


class JoinIn(BaseModel):
    """What the joining party's page sends once logged in: the token from the link."""

    token: str = Field(min_length=1, max_length=64)


class JoinOut(BaseModel):
    """A party's own request to join. The case is named only once they are admitted: the link's
    holder reads nothing of the case before that."""

    id: int
    state: JoinState
    case_id: int | None = None


class WaitingOut(BaseModel):
    """A request as the operator on the call sees it: the phone masked (the operator asks the
    party for their details on the call; the full phone is the party's once admitted)."""

    id: int
    phone: str
    state: JoinState
    requested_at: datetime
    position: int | None


JoinId = Field(ge=1, le=MAX_ROW_ID)


class AdmitIn(PartyIn):
    """A waiting request to admit, with the party's details as the console's party form takes
    them; the phone is the one that logged in by the link, never typed."""

    join_id: int = JoinId
    phone: None = None  # type: ignore[assignment]


class RefuseIn(BaseModel):
    join_id: int = JoinId


class AdmittedOut(BaseModel):
    """The case with its new party, and the party's position (甲 1, 乙 2, 丙 3...)."""

    position: int
    case: CaseOut


class PhoneReportOut(BaseModel):
    """The case opened for a 122 caller, now the operator's call; the caller has the join SMS."""

    case_id: int
    number: str


class CallerIn(BaseModel):
    """A driver who called 122 (no app): their phone and where the accident is, as they said."""

    phone: Phone
    address: str = Field(min_length=2, max_length=200)
