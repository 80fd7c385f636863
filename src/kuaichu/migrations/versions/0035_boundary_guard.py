"""boundary guard: a jurisdiction's boundary changes only with its digest

A process keeps each district's decoded boundary by its digest (kuaichu.geo.service._SHAPES),
and locates by the box kept beside it; both are set by the model when a boundary is assigned.
A boundary written behind the model (an UPDATE by hand) would keep the old digest and box, and
a process that had decoded the old shape would go on locating reports by it. The database now
refuses such a write: a changed boundary must come with a changed digest.

Revision ID: 0035_boundary_guard
Revises: 0034_boundary_digests
Create Date: 2026-11-27 05:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0035_boundary_guard"
down_revision: str | None = "0034_boundary_digests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL = "jurisdictions.boundary changed without boundary_digest: import boundaries with kuaichu"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # jsonb compares content: the same boundary written with its keys in another order is
        # no change (json, the column's type, has no equality at all).
        op.execute(
            "CREATE FUNCTION kuaichu_boundary_with_digest() RETURNS trigger AS $$ BEGIN "
            "IF NEW.boundary::jsonb IS DISTINCT FROM OLD.boundary::jsonb "
            "AND NEW.boundary_digest IS NOT DISTINCT FROM OLD.boundary_digest THEN "
            f"RAISE EXCEPTION '{REFUSAL}'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER jurisdictions_boundary_digest BEFORE UPDATE OF boundary ON jurisdictions "
            "FOR EACH ROW EXECUTE FUNCTION kuaichu_boundary_with_digest()"
        )
        return
    op.execute(
        "CREATE TRIGGER jurisdictions_boundary_digest BEFORE UPDATE OF boundary ON jurisdictions "
        "WHEN NEW.boundary IS NOT OLD.boundary AND NEW.boundary_digest IS OLD.boundary_digest "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER jurisdictions_boundary_digest ON jurisdictions")
        op.execute("DROP FUNCTION kuaichu_boundary_with_digest()")
        return
    op.execute("DROP TRIGGER jurisdictions_boundary_digest")
