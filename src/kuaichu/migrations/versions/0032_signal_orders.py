"""signal orders: the other cases a cross-case signal names, computed again after the commit

Revision ID: 0032_signal_orders
Revises: 0031_document_orders
Create Date: 2026-11-26 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0032_signal_orders"
down_revision: str | None = "0031_document_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Cases computed again inside earlier transactions are up to date already: no order.
    op.create_table(
        "signal_orders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("ordered_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
    )
    op.create_index("ix_signal_orders_due", "signal_orders", ["next_attempt_at", "id"])


def downgrade() -> None:
    op.drop_table("signal_orders")
