"""jurisdiction boxes: each boundary's bounding box, so a report's point is tried against the
boundaries whose box holds it

Revision ID: 0033_jurisdiction_boxes
Revises: 0032_signal_orders
Create Date: 2026-11-26 18:30:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from shapely.geometry import shape

revision: str = "0033_jurisdiction_boxes"
down_revision: str | None = "0032_signal_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOX = ("min_lng", "min_lat", "max_lng", "max_lat")


def upgrade() -> None:
    with op.batch_alter_table("jurisdictions") as batch:
        for column in BOX:
            batch.add_column(sa.Column(column, sa.Float(), nullable=True))
    connection = op.get_bind()
    for row in connection.execute(sa.text("SELECT id, boundary FROM jurisdictions")).all():
        # SQLite hands JSON back as text, PostgreSQL as the decoded value.
        boundary = json.loads(row.boundary) if isinstance(row.boundary, str) else row.boundary
        geometry = shape(boundary) if boundary else None
        bounds = (None,) * 4 if geometry is None or geometry.is_empty else geometry.bounds
        box = dict(zip(BOX, bounds, strict=True))
        connection.execute(
            sa.text(
                "UPDATE jurisdictions SET min_lng = :min_lng, min_lat = :min_lat, "
                "max_lng = :max_lng, max_lat = :max_lat WHERE id = :id"
            ),
            box | {"id": row.id},
        )


def downgrade() -> None:
    with op.batch_alter_table("jurisdictions") as batch:
        for column in BOX:
            batch.drop_column(column)
