from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class JoinInvitation(Base):
    """A case's join link. Only the token's hash is kept: the token itself is the keyed hash of
    `seed` under the server's secret (service.token_of), so the database alone gives no link."""

    __tablename__ = "join_invitations"
    __table_args__ = (Index("ix_join_invitations_case_live", "case_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seed: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class JoinRequest(Base):
    """A phone that opened the link and logged in, waiting for the operator (or decided)."""

    __tablename__ = "join_requests"
    __table_args__ = (UniqueConstraint("case_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("join_invitations.id"))
    phone: Mapped[str] = mapped_column(String(11))
    # waiting | admitted | refused (JoinState)
    state: Mapped[str] = mapped_column(String(12))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The party's position once admitted (甲 1, 乙 2, 丙 3...).
    position: Mapped[int | None]


class JoinSms(Base):
    """A join SMS the operator sent: what the per-case hourly limit counts. The phone is kept
    masked only (the outbox holds the message itself)."""

    __tablename__ = "join_sms"
    __table_args__ = (Index("ix_join_sms_case_at", "case_id", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    masked_phone: Mapped[str] = mapped_column(String(11))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
