from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class RetentionPurge(Base):
    """One kind of a case's data (recording, still, personal_data) deleted when its period ran out."""

    __tablename__ = "retention_purges"
    __table_args__ = (UniqueConstraint("case_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    purged_at: Mapped[datetime] = mapped_column(UtcDateTime)
    items: Mapped[int]
