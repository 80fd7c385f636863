"""presence heartbeat and offer timeout, service hours and pause, one case per phone, consent

Revision ID: 0010_presence_service_consent
Revises: 0007_collection_gate (and needs 0003_calls)
Create Date: 2026-11-26 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0010_presence_service_consent"
down_revision: str | None = "0007_collection_gate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0003_calls"  # the call tables it alters


def upgrade() -> None:
    with op.batch_alter_table("operator_presence") as batch:
        batch.add_column(sa.Column("console_connections", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("console_left_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("call_sessions") as batch:
        batch.add_column(sa.Column("joined_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("jurisdictions") as batch:
        batch.add_column(sa.Column("service_hours_start", sa.String(length=5), nullable=True))
        batch.add_column(sa.Column("service_hours_end", sa.String(length=5), nullable=True))
        batch.add_column(sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("pause_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("paused_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True))
    op.create_table(
        "call_report_locks",
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.Column("reported_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone"),
    )
    op.create_table(
        "call_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("reported_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_call_reports_phone_at", "call_reports", ["phone", "reported_at"])
    op.create_index("ix_call_reports_address_at", "call_reports", ["address", "reported_at"])
    op.create_table(
        "privacy_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("consented_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone", "version"),
    )


def downgrade() -> None:
    op.drop_table("privacy_consents")
    op.drop_index("ix_call_reports_address_at", table_name="call_reports")
    op.drop_index("ix_call_reports_phone_at", table_name="call_reports")
    op.drop_table("call_reports")
    op.drop_table("call_report_locks")
    with op.batch_alter_table("jurisdictions") as batch:
        for column in ("paused_at", "pause_reason", "paused", "service_hours_end", "service_hours_start"):
            batch.drop_column(column)
    with op.batch_alter_table("call_sessions") as batch:
        batch.drop_column("joined_at")
    with op.batch_alter_table("operator_presence") as batch:
        batch.drop_column("console_left_at")
        batch.drop_column("console_connections")
