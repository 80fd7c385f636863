from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class Agreement(Base):
    """自行协商: the responsibility the parties agreed among themselves, and who confirmed."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    # [{"party_id": 1, "responsibility": "full"}, ...], the same shape as a determination's.
    shares: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    proposed_by_phone: Mapped[str] = mapped_column(String(11))
    # Where the proposal came from (client address): proposals are limited per address too.
    proposed_from: Mapped[str | None] = mapped_column(String(64), index=True)
    # The other party's phone, who received the official SMS: limited per recipient.
    recipient_phone: Mapped[str | None] = mapped_column(String(11), index=True)
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
