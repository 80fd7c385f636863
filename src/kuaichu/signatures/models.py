from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class PartyConfirmation(Base):
    """A party's answer to the recorded facts before leaving the scene: a signature drawn on
    their phone (kept as evidence), or a dispute with its reason. Rows are never changed: a
    new signature after the facts changed is a new row, the latest one per party counts."""

    __tablename__ = "party_confirmations"
    __table_args__ = (Index("ix_party_confirmations_case_position", "case_id", "party_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    party_position: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(8))  # ConfirmationOutcome
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Who: the signer's phone under the server's keyed hash (privacy.phone_key), and the SMS
    # login's session (the SHA-256 of its token, never the token itself).
    phone_key: Mapped[str] = mapped_column(String(64))
    session_sha256: Mapped[str] = mapped_column(String(64))
    # What was signed: the SHA-256 of the facts and parties as recorded when the party saw them.
    content_sha256: Mapped[str] = mapped_column(String(64))
    # The drawn signature (a PNG in the evidence store) for a signature; None for a dispute.
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_items.id"))
    signature_sha256: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
