"""media rooms: a call's room on the media server (Janus), its seats and its stored recordings

Revision ID: 0017_media_rooms
Revises: 0016_party_locale
Create Date: 2026-11-28 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0017_media_rooms"
down_revision: str | None = "0016_party_locale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_rooms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_id", sa.Integer(), sa.ForeignKey("call_sessions.id"), nullable=False, unique=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("node", sa.String(length=32), nullable=False),
        sa.Column("room", sa.BigInteger(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("pin", sa.String(length=64), nullable=False),
        sa.Column("rec_dir", sa.String(length=255), nullable=False),
        sa.Column("created_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("stored_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", kuaichu.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
    )
    op.create_table(
        "media_seats",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("room_id", sa.Integer(), sa.ForeignKey("media_rooms.id"), nullable=False, index=True),
        sa.Column("seat", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("phone_key", sa.String(length=64), nullable=True),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("publishes", sa.Boolean(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False, unique=True),
        sa.Column("feed_id", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("room_id", "seat"),
    )
    op.create_table(
        "media_recordings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("room_id", sa.Integer(), sa.ForeignKey("media_rooms.id"), nullable=False, index=True),
        sa.Column("source", sa.String(length=160), nullable=False),
        sa.Column("feed_id", sa.BigInteger(), nullable=False),
        sa.Column("seat_id", sa.Integer(), sa.ForeignKey("media_seats.id"), nullable=True),
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence_items.id"), nullable=True),
        sa.Column("stored_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("room_id", "source"),
    )


def downgrade() -> None:
    op.drop_table("media_recordings")
    op.drop_table("media_seats")
    op.drop_table("media_rooms")
