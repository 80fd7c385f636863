"""audit and retention: evidence files purged after their period, and what was purged when

Revision ID: 0011_audit_retention
Revises: 0010_presence_service_consent
Create Date: 2026-11-26 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0011_audit_retention"
down_revision: str | None = "0010_presence_service_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_items") as batch:
        batch.add_column(sa.Column("purged_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True))
    op.create_table(
        "retention_purges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("purged_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "kind"),
    )
    op.create_index("ix_retention_purges_case_id", "retention_purges", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_retention_purges_case_id", table_name="retention_purges")
    op.drop_table("retention_purges")
    with op.batch_alter_table("evidence_items") as batch:
        batch.drop_column("purged_at")
