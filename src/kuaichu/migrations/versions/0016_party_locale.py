"""party locale: the language a party chose on the party page, for their official SMS

Revision ID: 0016_party_locale
Revises: 0015_phone_keys
Create Date: 2026-11-27 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaichu.db

revision: str = "0016_party_locale"
down_revision: str | None = "0015_phone_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "party_locales",
        sa.Column("phone", sa.String(length=11), primary_key=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("chosen_at", kuaichu.db.UtcDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("party_locales")
