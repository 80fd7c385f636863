"""signals: fraud and quality signals on cases, stills' perceptual hashes, party login traces,
reported GPS points

Revision ID: 0023_signals
Revises: 0021_insurer_seats
Create Date: 2026-11-26 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0023_signals"
down_revision: str | None = "0021_insurer_seats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("computed_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_signals_case_id", "case_signals", ["case_id"])
    op.create_index("ix_case_signals_name_case", "case_signals", ["name", "case_id"])
    op.create_table(
        "still_hashes",
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("phash", sa.String(length=16), nullable=False),
        *(sa.Column(f"band{i}", sa.String(length=4), nullable=False) for i in range(4)),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence_items.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("evidence_id"),
    )
    op.create_index("ix_still_hashes_case_id", "still_hashes", ["case_id"])
    for i in range(4):
        op.create_index(f"ix_still_hashes_band{i}", "still_hashes", [f"band{i}"])
    op.create_table(
        "login_traces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone_key", sa.String(length=64), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("device_hash", sa.String(length=64), nullable=False),
        sa.Column("at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_traces_phone_at", "login_traces", ["phone_key", "at"])
    op.create_index("ix_login_traces_at", "login_traces", ["at"])
    op.create_table(
        "reported_points",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )


def downgrade() -> None:
    op.drop_table("reported_points")
    op.drop_table("login_traces")
    op.drop_table("still_hashes")
    op.drop_table("case_signals")
