from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class Claim(Base):
    """A claim a party pushed to a compulsory-insurance (交强险) insurer."""

    __tablename__ = "claims"
    __table_args__ = (UniqueConstraint("case_id", "party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("case_parties.id"))
    insurer_code: Mapped[str] = mapped_column(String(16), index=True)
    pushed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pushed")
