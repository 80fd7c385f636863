"""still readings: what OCR read on a plate or driving-licence still (kuaichu.recognition)

Revision ID: 0027_still_readings
Revises: 0024_join_invitations
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_still_readings"
down_revision: str | None = "0024_join_invitations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "still_readings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "evidence_id", sa.Integer(), sa.ForeignKey("evidence_items.id"), nullable=False, unique=True
        ),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("plate_number", sa.String(10), nullable=True),
        sa.Column("plate_type", sa.String(2), nullable=True),
        sa.Column("licence_number", sa.String(18), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_still_readings_case_id", "still_readings", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_still_readings_case_id", table_name="still_readings")
    op.drop_table("still_readings")
