from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime
from kuaichu.liability.grades import DeterminationStatus


class Determination(Base):
    """An officer's liability determination (事故认定); a revoked one stays for the record."""

    __tablename__ = "determinations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Electronic delivery: the moment the parties were sent it; the review period counts from here.
    delivered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(8), default=DeterminationStatus.IN_FORCE)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("determinations.id"))
    # [{"party_id": 1, "responsibility": "full"}, ...]
    shares: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    reasoning: Mapped[str] = mapped_column(String(2000), default="")
    # The rules engine's proposal when one fitted: {"rule": "rear_end", "shares": [...]}.
    proposal: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # True: the officer accepted it; False: overrode it (with override_reason); None: no proposal.
    proposal_accepted: Mapped[bool | None]
    override_reason: Mapped[str | None] = mapped_column(Text)


class LiabilityFacts(Base):
    """Which party did what (the acts the rules look at) and where each vehicle was hit."""

    __tablename__ = "liability_facts"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    # {"1": {"acts": ["rear_end"], "impact_point": "车头"}, "2": {...}}, by party position.
    parties: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
