from datetime import datetime

from pydantic import BaseModel

from kuaichu.messages import Labelled


class ReadingStatus(Labelled):
    PENDING = "pending"
    READ = "read"
    FAILED = "failed"


class ReadingOut(BaseModel):
    """What a still shows, as a suggestion for the party form: the operator confirms it before
    it fills anything. `mismatch` names the field whose recorded value differs from the still."""

    evidence_id: int
    kind: str
    party_position: int | None
    status: ReadingStatus
    status_label: str
    plate_number: str | None
    plate_type: str | None
    plate_type_label: str | None
    licence_number: str | None
    score: float | None
    mismatch: list[str]
    mismatch_text: str | None
    read_at: datetime | None
