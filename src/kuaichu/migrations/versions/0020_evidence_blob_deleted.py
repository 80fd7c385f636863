"""evidence blob deleted: when retention deleted a purged item's file from the store

Revision ID: 0020_evidence_blob_deleted
Revises: 0019_jurisdiction_max_vehicles
Create Date: 2026-11-26 09:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_evidence_blob_deleted"
down_revision: str | None = "0019_jurisdiction_max_vehicles"
branch_labels: str | Sequence[str] | None = None
# purged_at comes from the audit-retention branch.
depends_on: str | Sequence[str] | None = "0011_audit_retention"


def upgrade() -> None:
    with op.batch_alter_table("evidence_items") as batch:
        batch.add_column(sa.Column("blob_deleted_at", sa.DateTime(timezone=True), nullable=True))
    # Files of items purged before this column existed were deleted after their purge committed.
    op.execute("UPDATE evidence_items SET blob_deleted_at = purged_at WHERE purged_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("evidence_items") as batch:
        batch.drop_column("blob_deleted_at")
