from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class CaseSignal(Base):
    """One finding of a rule on a case, as computed last; its reason is said on reading from
    `detail`, which names parties by position and fields by name, never their values."""

    __tablename__ = "case_signals"
    __table_args__ = (Index("ix_case_signals_name_case", "name", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StillHash(Base):
    """A still's perceptual hash (pHash, 64 bits as 16 hex digits), cut into four 16-bit bands:
    two hashes within 3 bits of each other share a band (pigeonhole), so near copies are found
    by an indexed equality on a band, then measured."""

    __tablename__ = "still_hashes"

    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    phash: Mapped[str] = mapped_column(String(16))
    band0: Mapped[str] = mapped_column(String(4), index=True)
    band1: Mapped[str] = mapped_column(String(4), index=True)
    band2: Mapped[str] = mapped_column(String(4), index=True)
    band3: Mapped[str] = mapped_column(String(4), index=True)


class LoginTrace(Base):
    """A party's login, kept only as keyed hashes (个人信息保护法 art. 51: de-identified): the
    phone's (privacy.phone_key), the client address's as seen behind the proxy, and the
    device's (a random id in a cookie of the login). Kept Settings.signal_login_trace_days, then
    the retention job deletes it (art. 47)."""

    __tablename__ = "login_traces"
    __table_args__ = (Index("ix_login_traces_phone_at", "phone_key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_key: Mapped[str] = mapped_column(String(64))
    address_hash: Mapped[str] = mapped_column(String(64))
    device_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class ReportedPoint(Base):
    """The GPS point as the party's phone reported it, kept when the operator first records the
    facts (which may move the case's point to where the operator places the accident)."""

    __tablename__ = "reported_points"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    lat: Mapped[float]
    lng: Mapped[float]


class SignalOrder(Base):
    """A case whose signals are to be computed again because another case's cross-case finding
    named it: written in that other case's transaction (so it survives anything after the
    commit), carried out by the signal job, and deleted in the transaction that stores the
    case's new signals. Several orders may name one case; one computation serves them all."""

    __tablename__ = "signal_orders"
    __table_args__ = (Index("ix_signal_orders_due", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    ordered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # A computation that failed is tried again later, later each time (SignalJob).
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(255))
