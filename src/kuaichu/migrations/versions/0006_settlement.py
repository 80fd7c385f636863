"""settlement: agreements the parties reach themselves (自行协商)

Revision ID: 0006_settlement
Revises: 0005_claims
Create Date: 2026-11-25 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0006_settlement"
down_revision: str | None = "0005_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # "agreement_pending" is longer than the states before it.
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("state", type_=sa.String(length=24), existing_type=sa.String(length=16))
    with op.batch_alter_table("timeline_events") as batch:
        batch.alter_column("state_after", type_=sa.String(length=24), existing_type=sa.String(length=16))
    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("shares", sa.JSON(), nullable=False),
        sa.Column("proposed_by_phone", sa.String(length=11), nullable=False),
        sa.Column("proposed_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("answered_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
    )


def downgrade() -> None:
    op.drop_table("agreements")
    with op.batch_alter_table("timeline_events") as batch:
        batch.alter_column("state_after", type_=sa.String(length=16), existing_type=sa.String(length=24))
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("state", type_=sa.String(length=16), existing_type=sa.String(length=24))
