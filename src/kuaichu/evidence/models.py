from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class EvidenceItem(Base):
    __tablename__ = "evidence_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int]
    media_type: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(24))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    uploaded_by_role: Mapped[str] = mapped_column(String(16))
    uploaded_by_id: Mapped[int | None]
    uploaded_by_label: Mapped[str] = mapped_column(String(64))
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    # Whose vehicle a per-vehicle still shows (overview, plate); None for the scene as a whole.
    party_position: Mapped[int | None]
    # When retention deleted the file (the row and its hash stay); None while it is kept.
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # When the purged item's file left the store: after the purge committed, retried until done.
    blob_deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
