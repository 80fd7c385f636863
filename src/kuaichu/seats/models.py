"""An insurer's seat in a live call (保险公司坐席): the operator's invitation, and each agent's
presence (when they joined and left), which the case's replay shows."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class InsurerInvitation(Base):
    """The operator invited an insurer into one call; its agents may join until it expires."""

    __tablename__ = "insurer_invitations"
    __table_args__ = (UniqueConstraint("call_id", "insurer_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("call_sessions.id"))
    insurer_code: Mapped[str] = mapped_column(ForeignKey("insurers.code"), index=True)
    invited_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    invited_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class InsurerPresence(Base):
    """One agent in the call, from joining (their seat in the room) to leaving; a presence
    still open when the call ended lasted until its end."""

    __tablename__ = "insurer_presences"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("insurer_invitations.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The agent's name as shown when they joined (the replay says who was there).
    agent_label: Mapped[str] = mapped_column(String(64))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
