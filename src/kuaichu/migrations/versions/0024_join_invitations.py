"""join invitations: a case's join link (its token's hash), the requests to join, the join SMS

Revision ID: 0024_join_invitations
Revises: 0023_signals
Create Date: 2026-11-26 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0024_join_invitations"
down_revision: str | None = "0023_signals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "join_invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("seed", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("created_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_join_invitations_case_live", "join_invitations", ["case_id", "revoked_at"])
    op.create_table(
        "join_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("invitation_id", sa.Integer(), sa.ForeignKey("join_invitations.id"), nullable=False),
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("requested_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.UniqueConstraint("case_id", "phone"),
    )
    op.create_table(
        "join_sms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("masked_phone", sa.String(length=11), nullable=False),
        sa.Column("sent_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_join_sms_case_at", "join_sms", ["case_id", "sent_at"])


def downgrade() -> None:
    op.drop_table("join_sms")
    op.drop_table("join_requests")
    op.drop_index("ix_join_invitations_case_live", table_name="join_invitations")
    op.drop_table("join_invitations")
