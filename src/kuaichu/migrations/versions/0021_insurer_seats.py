"""insurer seats: insurers' agents (users.insurer_id), invitations into calls, agents' presence

Revision ID: 0021_insurer_seats
Revises: 0020_evidence_blob_deleted
Create Date: 2026-11-26 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0021_insurer_seats"
down_revision: str | None = "0020_evidence_blob_deleted"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("insurer_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_users_insurer_id", "insurers", ["insurer_id"], ["id"])
    op.create_table(
        "insurer_invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("call_id", sa.Integer(), sa.ForeignKey("call_sessions.id"), nullable=False),
        sa.Column(
            "insurer_code", sa.String(length=16), sa.ForeignKey("insurers.code"), nullable=False, index=True
        ),
        sa.Column("invited_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("invited_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("call_id", "insurer_code"),
    )
    op.create_table(
        "insurer_presences",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column(
            "invitation_id",
            sa.Integer(),
            sa.ForeignKey("insurer_invitations.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("agent_label", sa.String(length=64), nullable=False),
        sa.Column("joined_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("left_at", kuaichu.db.UtcDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("insurer_presences")
    op.drop_table("insurer_invitations")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("fk_users_insurer_id", type_="foreignkey")
        batch.drop_column("insurer_id")
