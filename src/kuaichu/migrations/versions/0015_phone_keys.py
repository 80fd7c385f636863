"""phone keys: the keyed hash of a phone that retention masked, so its owner still finds the case

Revision ID: 0015_phone_keys
Revises: 0014_limit_locks
Create Date: 2026-11-26 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_phone_keys"
down_revision: str | None = "0014_limit_locks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("reporter_phone_key", sa.String(length=64), nullable=True))
        batch.create_index("ix_cases_reporter_phone_key", ["reporter_phone_key"])
    with op.batch_alter_table("case_parties") as batch:
        batch.add_column(sa.Column("phone_key", sa.String(length=64), nullable=True))
        batch.create_index("ix_case_parties_phone_key", ["phone_key"])


def downgrade() -> None:
    with op.batch_alter_table("case_parties") as batch:
        batch.drop_index("ix_case_parties_phone_key")
        batch.drop_column("phone_key")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_reporter_phone_key")
        batch.drop_column("reporter_phone_key")
