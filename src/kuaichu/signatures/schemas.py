import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from kuaichu.messages import Labelled

# A dispute's reason is the party's own text: shown to the operator, kept in the case's
# record, never put into an official SMS.
DISPUTE_REASON_MAX = 200


def _clean(text: str) -> str:
    """The party's words without control or invisible format characters (a bidi override, a
    zero-width joiner), their whitespace collapsed to single spaces."""
    kept = "".join(c if not unicodedata.category(c).startswith("C") else " " for c in text)
    return re.sub(r"\s+", " ", kept).strip()


class ConfirmationOutcome(StrEnum):
    SIGNED = "signed"
    DISPUTED = "disputed"


class ConfirmationStatus(Labelled):
    """Where a party stands, as the console and the party's page show it."""

    UNSIGNED = "unsigned"  # 未确认
    SIGNED = "signed"  # 已签名
    STALE = "stale"  # signed, but the facts or parties changed since: sign again
    DISPUTED = "disputed"  # 有异议


class DisputeIn(BaseModel):
    # Bounded as typed, then cleaned (the service refuses what cleaning leaves too short).
    reason: Annotated[str, Field(min_length=2, max_length=DISPUTE_REASON_MAX), AfterValidator(_clean)]


class FactsSeenOut(BaseModel):
    occurred_at: datetime | None
    address: str | None
    accident_type: str | None
    weather: str | None
    description: str | None


class PartySeenOut(BaseModel):
    """A party as another party may see them: the phone and licence masked but one's own."""

    position: int
    name: str
    phone: str
    licence_number: str
    plate_number: str
    vehicle_type: str
    insurer_code: str | None


class StillSeenOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    party_position: int | None


class PartyConfirmationOut(BaseModel):
    position: int
    name: str
    status: ConfirmationStatus
    status_label: str
    at: datetime | None
    reason: str | None


class ConfirmationOut(BaseModel):
    """What a party confirms (the facts, the parties, the stills), the hash that binds a
    signature to it, and each party's confirmation."""

    case_id: int
    state: str
    content_sha256: str
    facts: FactsSeenOut
    parties: list[PartySeenOut]
    stills: list[StillSeenOut]
    confirmations: list[PartyConfirmationOut]
    # The reader's own position among the parties; None for staff or a reporter not recorded.
    my_position: int | None
    # Whether the reader may sign or dispute now.
    may_sign: bool
