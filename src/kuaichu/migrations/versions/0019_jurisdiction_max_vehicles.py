"""jurisdiction max vehicles: a jurisdiction's own limit on vehicles for quick handling

Revision ID: 0019_jurisdiction_max_vehicles
Revises: 0018_catalogue_codes
Create Date: 2026-11-26 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_jurisdiction_max_vehicles"
down_revision: str | None = "0018_catalogue_codes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jurisdictions") as batch:
        batch.add_column(sa.Column("max_vehicles", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jurisdictions") as batch:
        batch.drop_column("max_vehicles")
