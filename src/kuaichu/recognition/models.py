from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class StillReading(Base):
    """What OCR read on one still (a plate, a driving licence): one row per evidence item,
    pending until the worker has read it. Only the values the party form takes are kept, not
    the still's other text (a licence also shows the holder's address)."""

    __tablename__ = "still_readings"

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # ReadingStatus: pending, read (something found or not), failed (the picture could not be read).
    status: Mapped[str] = mapped_column(String(8))
    plate_number: Mapped[str | None] = mapped_column(String(10))
    plate_type: Mapped[str | None] = mapped_column(String(2))
    licence_number: Mapped[str | None] = mapped_column(String(18))
    # The recogniser's confidence in the line the value came from, 0-1.
    score: Mapped[float | None]
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
