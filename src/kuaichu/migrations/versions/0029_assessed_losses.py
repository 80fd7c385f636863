"""assessed losses: the insurer's 定损 amount per vehicle, and 互碰自赔 per jurisdiction

Revision ID: 0029_assessed_losses
Revises: 0027_still_readings
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0029_assessed_losses"
down_revision: str | None = "0027_still_readings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assessed_losses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("party_id", sa.Integer(), sa.ForeignKey("case_parties.id"), nullable=False),
        sa.Column("claim_id", sa.Integer(), sa.ForeignKey("claims.id"), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("assessed_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("case_id", "party_id"),
    )
    with op.batch_alter_table("jurisdictions") as batch:
        batch.add_column(
            sa.Column("mutual_self_claim", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("jurisdictions") as batch:
        batch.drop_column("mutual_self_claim")
    op.drop_table("assessed_losses")
