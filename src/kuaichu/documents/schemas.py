from datetime import date, datetime

from pydantic import BaseModel


class DocumentOut(BaseModel):
    number: str
    issued_at: datetime
    status: str
    status_label: str
    replaces_number: str | None
    download_url: str


class DocumentStatusOut(BaseModel):
    """What the public verify page shows: no personal data."""

    number: str
    issued_on: date
    authority: str
    status: str
    status_label: str
    replaced_by: str | None
    sha256: str
    certificate_sha256: str


class VerificationOut(BaseModel):
    number: str
    authentic: bool
    unchanged: bool
    signature_valid: bool
    status: str
    status_label: str
    message: str


class StalledDocumentOut(BaseModel):
    """A document whose making failed and is being tried again: the supervisor's to see."""

    number: str
    case_id: int
    ordered_at: datetime
    attempts: int
    last_error: str
    next_attempt_at: datetime
