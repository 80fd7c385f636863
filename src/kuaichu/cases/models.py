from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kuaichu.db import Base, UtcDateTime


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_jurisdiction_state", "jurisdiction_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"))
    state: Mapped[str] = mapped_column(String(24))
    reporter_phone: Mapped[str] = mapped_column(String(11), index=True)
    # Set when retention masks reporter_phone: its keyed hash (privacy.phone_key), so the
    # reporter still opens the case and its document (个人信息保护法 art. 47, 51).
    reporter_phone_key: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    report_lat: Mapped[float]
    report_lng: Mapped[float]
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Facts recorded by the operator.
    occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    address: Mapped[str | None] = mapped_column(String(200))
    accident_type: Mapped[str | None] = mapped_column(String(16))
    weather: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    transfer_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    parties: Mapped[list["CaseParty"]] = relationship(
        back_populates="case", order_by="CaseParty.position", cascade="all, delete-orphan"
    )


class CaseParty(Base):
    """One party (当事人) to the accident: driver and vehicle."""

    __tablename__ = "case_parties"
    __table_args__ = (UniqueConstraint("case_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(11), index=True)
    # Set when retention masks the phone: its keyed hash, what the party's login matches then.
    phone_key: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    id_number: Mapped[str] = mapped_column(String(18))
    licence_number: Mapped[str] = mapped_column(String(18))
    plate_number: Mapped[str] = mapped_column(String(10))
    plate_type: Mapped[str] = mapped_column(String(2))
    vehicle_type: Mapped[str] = mapped_column(String(16))
    insurer_code: Mapped[str | None] = mapped_column(String(16))
    policy_number: Mapped[str | None] = mapped_column(String(32))

    case: Mapped[Case] = relationship(back_populates="parties")


class TimelineEvent(Base):
    """One line of the case's history: every transition and every evidence item."""

    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    state_after: Mapped[str] = mapped_column(String(24))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CaseNumberSequence(Base):
    """The last sequence number given out per jurisdiction and Shanghai calendar day."""

    __tablename__ = "case_number_sequences"

    jurisdiction_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int]
