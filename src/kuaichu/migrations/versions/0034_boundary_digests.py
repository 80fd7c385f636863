"""boundary digests: each boundary's SHA-256, so a process decodes a boundary once, not for
every report located in it

Revision ID: 0034_boundary_digests
Revises: 0033_jurisdiction_boxes
Create Date: 2026-11-27 02:30:00
"""

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0034_boundary_digests"
down_revision: str | None = "0033_jurisdiction_boxes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def digest_of(boundary: dict[str, Any] | None) -> str | None:
    """As kuaichu.geo.models.digest_of was when this migration was written."""
    if not boundary:
        return None
    canonical = json.dumps(boundary, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("jurisdictions") as batch:
        batch.add_column(sa.Column("boundary_digest", sa.String(64), nullable=True))
    connection = op.get_bind()
    for row in connection.execute(sa.text("SELECT id, boundary FROM jurisdictions")).all():
        # SQLite hands JSON back as text, PostgreSQL as the decoded value.
        boundary = json.loads(row.boundary) if isinstance(row.boundary, str) else row.boundary
        connection.execute(
            sa.text("UPDATE jurisdictions SET boundary_digest = :digest WHERE id = :id"),
            {"digest": digest_of(boundary), "id": row.id},
        )


def downgrade() -> None:
    with op.batch_alter_table("jurisdictions") as batch:
        batch.drop_column("boundary_digest")
