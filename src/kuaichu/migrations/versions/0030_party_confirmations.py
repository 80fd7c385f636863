"""party confirmations: each party's drawn signature of the recorded facts, or their dispute

Revision ID: 0030_party_confirmations
Revises: 0029_assessed_losses
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kuaichu.db import UtcDateTime

revision: str = "0030_party_confirmations"
down_revision: str | None = "0029_assessed_losses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "party_confirmations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("party_position", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("phone_key", sa.String(64), nullable=False),
        sa.Column("session_sha256", sa.String(64), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence_items.id"), nullable=True),
        sa.Column("signature_sha256", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index(
        "ix_party_confirmations_case_position", "party_confirmations", ["case_id", "party_position"]
    )


def downgrade() -> None:
    op.drop_index("ix_party_confirmations_case_position", table_name="party_confirmations")
    op.drop_table("party_confirmations")
