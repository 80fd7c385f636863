"""settlement limits: who proposed from where, and to whom

Revision ID: 0012_settlement_limits
Revises: 0006_settlement
Create Date: 2026-11-26 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_settlement_limits"
down_revision: str | None = "0006_settlement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agreements") as batch:
        batch.add_column(sa.Column("proposed_from", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("recipient_phone", sa.String(length=11), nullable=True))
        batch.create_index("ix_agreements_proposed_from", ["proposed_from"])
        batch.create_index("ix_agreements_recipient_phone", ["recipient_phone"])


def downgrade() -> None:
    with op.batch_alter_table("agreements") as batch:
        batch.drop_index("ix_agreements_recipient_phone")
        batch.drop_index("ix_agreements_proposed_from")
        batch.drop_column("recipient_phone")
        batch.drop_column("proposed_from")
