"""limit locks: one lock row per limit key (reports, settlement proposals), replacing the
per-phone report lock

Revision ID: 0014_limit_locks
Revises: 0013_staff_sessions (and needs 0010_presence_service_consent)
Create Date: 2026-11-26 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0014_limit_locks"
down_revision: str | None = "0013_staff_sessions"
branch_labels: str | Sequence[str] | None = None
# The report lock table it replaces.
depends_on: str | Sequence[str] | None = "0010_presence_service_consent"


def upgrade() -> None:
    op.create_table(
        "limit_locks",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("taken_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    # Only ever a lock: nothing in it is needed once no transaction holds it.
    op.drop_table("call_report_locks")


def downgrade() -> None:
    op.create_table(
        "call_report_locks",
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.Column("reported_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone"),
    )
    op.drop_table("limit_locks")
