"""document orders: a determination's document, made and signed after its transaction

Revision ID: 0031_document_orders
Revises: 0030_party_confirmations
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0031_document_orders"
down_revision: str | None = "0030_party_confirmations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Determinations made before this table existed have their document already: no order.
    op.create_table(
        "document_orders",
        sa.Column("determination_id", sa.Integer(), sa.ForeignKey("determinations.id"), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("number", sa.String(length=40), nullable=False, unique=True),
        sa.Column("ordered_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("issued_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", kuaichu.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("document_orders")
