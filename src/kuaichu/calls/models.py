"""The call queue's own tables: the queue itself is the jurisdiction's cases in state queued."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class QueueEntry(Base):
    """How a queued case is called: its place class (a dropped call goes back to the head) and mode."""

    __tablename__ = "call_queue_entries"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    # 0 = back at the head after a dropped call, 1 = in order of reporting.
    priority: Mapped[int] = mapped_column(default=1)
    # video | audio | photo (guided upload, handled without a call).
    mode: Mapped[str] = mapped_column(String(8), default="video")


class QueueVersion(Base):
    """A counter per jurisdiction, bumped by every queue change: it serializes the changes and
    lets pages drop a snapshot older than one they already have."""

    __tablename__ = "call_queue_versions"

    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), primary_key=True)
    version: Mapped[int]


class OperatorPresence(Base):
    """An operator's availability; `idle_since` orders auto-offers (longest idle first)."""

    __tablename__ = "operator_presence"
    __table_args__ = (Index("ix_operator_presence_jurisdiction_status", "jurisdiction_id", "status"),)

    operator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"))
    # available | busy | wrap_up | away | no_answer (an offer not joined; nothing more is offered)
    status: Mapped[str] = mapped_column(String(16))
    idle_since: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The console's connections are the heartbeat: how many are open, and when the last closed.
    # An operator who never opened a console (an API client) is not timed out.
    console_connections: Mapped[int] = mapped_column(default=0)
    console_left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CallSession(Base):
    """One video call between a case's party and its operator."""

    __tablename__ = "call_sessions"
    __table_args__ = (Index("ix_call_sessions_open", "ended_at", "operator_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # When the operator's console first joined; an offer not joined in time returns to the queue.
    joined_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When a side's page lost its connection; cleared when it joins again (grace period).
    party_left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    operator_left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # evacuated | transferred | dropped | no_answer (the last two: back to the queue)
    outcome: Mapped[str | None] = mapped_column(String(16))


class CallReport(Base):
    """A one-tap report that opened a case: what the per-phone and per-address limits count."""

    __tablename__ = "call_reports"
    __table_args__ = (
        Index("ix_call_reports_phone_at", "phone", "reported_at"),
        Index("ix_call_reports_address_at", "address", "reported_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    phone: Mapped[str] = mapped_column(String(11))
    address: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)
