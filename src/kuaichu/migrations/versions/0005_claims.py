"""claims: insurer webhooks and claim progress

Revision ID: 0005_claims
Revises: 0004_audit
Create Date: 2026-11-25 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0005_claims"
down_revision: str | None = "0004_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("insurers") as batch:
        batch.add_column(sa.Column("webhook_url", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("webhook_secret", sa.String(length=100), nullable=True))
    with op.batch_alter_table("claims") as batch:
        batch.alter_column("status", type_=sa.String(length=24), existing_type=sa.String(length=16))
    op.create_table(
        "claim_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_claim_progress_claim_id", "claim_progress", ["claim_id"])


def downgrade() -> None:
    op.drop_table("claim_progress")
    with op.batch_alter_table("claims") as batch:
        batch.alter_column("status", type_=sa.String(length=16), existing_type=sa.String(length=24))
    with op.batch_alter_table("insurers") as batch:
        batch.drop_column("webhook_secret")
        batch.drop_column("webhook_url")
