"""call queue, operator presence, call sessions

Revision ID: 0003_calls
Revises: 0001
Create Date: 2026-11-25 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0003_calls"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_queue_entries",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "call_queue_versions",
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["jurisdiction_id"], ["jurisdictions.id"]),
        sa.PrimaryKeyConstraint("jurisdiction_id"),
    )
    op.create_table(
        "operator_presence",
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idle_since", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["jurisdiction_id"], ["jurisdictions.id"]),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("operator_id"),
    )
    op.create_index(
        "ix_operator_presence_jurisdiction_status", "operator_presence", ["jurisdiction_id", "status"]
    )
    op.create_table(
        "call_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("started_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("party_left_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("operator_left_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_call_sessions_case_id", "call_sessions", ["case_id"])
    op.create_index("ix_call_sessions_open", "call_sessions", ["ended_at", "operator_id"])


def downgrade() -> None:
    op.drop_index("ix_call_sessions_open", table_name="call_sessions")
    op.drop_index("ix_call_sessions_case_id", table_name="call_sessions")
    op.drop_table("call_sessions")
    op.drop_index("ix_operator_presence_jurisdiction_status", table_name="operator_presence")
    op.drop_table("operator_presence")
    op.drop_table("call_queue_versions")
    op.drop_table("call_queue_entries")
