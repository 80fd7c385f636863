"""collection gate: per-vehicle stills, required stills per jurisdiction, audited overrides

Revision ID: 0007_collection_gate
Revises: 0006_settlement
Create Date: 2026-11-25 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0007_collection_gate"
down_revision: str | None = "0006_settlement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_items") as batch:
        batch.add_column(sa.Column("party_position", sa.Integer(), nullable=True))
    with op.batch_alter_table("jurisdictions") as batch:
        batch.add_column(sa.Column("required_stills", sa.JSON(), nullable=True))
    op.create_table(
        "collection_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("operator_label", sa.String(length=64), nullable=False),
        sa.Column("at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_collection_overrides_case_id", "collection_overrides", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_collection_overrides_case_id", table_name="collection_overrides")
    op.drop_table("collection_overrides")
    with op.batch_alter_table("jurisdictions") as batch:
        batch.drop_column("required_stills")
    with op.batch_alter_table("evidence_items") as batch:
        batch.drop_column("party_position")
