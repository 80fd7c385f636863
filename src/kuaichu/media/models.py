"""A call's room on a media server, its participants' seats and what became of its recordings."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class MediaRoom(Base):
    """One VideoRoom per call, on one Janus node. Closed once the call ended and Janus destroyed
    the room (its recordings are complete); stored once every recording is evidence."""

    __tablename__ = "media_rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("call_sessions.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    node: Mapped[str] = mapped_column(String(32))
    # Janus's room id: random below 2**53, so a page's JavaScript holds it exactly.
    room: Mapped[int] = mapped_column(BigInteger)
    # The room secret (destroy, allow, recording) stays with the app; the pin goes to the seats.
    secret: Mapped[str] = mapped_column(String(64))
    pin: Mapped[str] = mapped_column(String(64))
    rec_dir: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    stored_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # One process at a time closes or stores a room: the others skip it until the lease ends.
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)


class MediaSeat(Base):
    """One participant's place in one call's room: the token only they were given, and the feed
    id they publish under (what names their recording)."""

    __tablename__ = "media_seats"
    __table_args__ = (UniqueConstraint("room_id", "seat"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("media_rooms.id"), index=True)
    # Who sits here: "party:<phone key>" or "<role>:<user id>".
    seat: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None]
    # A party's phone under the keyed hash (privacy.phone_key): never the phone itself.
    phone_key: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(64))
    publishes: Mapped[bool]
    token: Mapped[str] = mapped_column(String(64), unique=True)
    feed_id: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MediaRecording(Base):
    """One publisher's recording in a room (one .mjr per track, Janus's base name), once stored:
    the evidence item it became, or none when it held no media."""

    __tablename__ = "media_recordings"
    __table_args__ = (UniqueConstraint("room_id", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("media_rooms.id"), index=True)
    source: Mapped[str] = mapped_column(String(160))
    feed_id: Mapped[int] = mapped_column(BigInteger)
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("media_seats.id"))
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_items.id"))
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime)
