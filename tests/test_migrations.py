"""The migrations build the tables the models describe, on SQLite and on PostgreSQL: a column
added to a model without its migration (or the other way round) fails here, not in production."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import kuaichu.app  # noqa: F401  (imports every domain's models)
from kuaichu.db import Base, normalise_url
from kuaichu.migrate import upgrade


def same_in_all_but_name(difference: object) -> bool:
    """SQLite reflects a float column as FLOAT where the model says DOUBLE: the same storage."""
    if not isinstance(difference, list) or difference[0][0] != "modify_type":
        return False
    *_, reflected, modelled = difference[0]
    return isinstance(reflected, sa.Float) and isinstance(modelled, sa.Float)


def test_the_migrations_build_the_tables_the_models_describe(fresh_url: str) -> None:
    upgrade(fresh_url)
    engine = sa.create_engine(normalise_url(fresh_url))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()

    assert [d for d in differences if not same_in_all_but_name(d)] == []
