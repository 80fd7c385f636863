from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class Determination(Base):
    """An officer's liability determination (事故认定); a revoked one stays for the record."""

    __tablename__ = "determinations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Electronic delivery: the moment the parties were sent it; the review period counts from here.
    delivered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(8), default="in_force")
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("determinations.id"))
    # [{"party_id": 1, "responsibility": "full"}, ...]
    shares: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    reasoning: Mapped[str] = mapped_column(String(2000), default="")
