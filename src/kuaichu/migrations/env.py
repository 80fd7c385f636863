from alembic import context
from sqlalchemy import create_engine

from kuaichu.db import normalise_url
from kuaichu.tables import Base

config = context.config


def run_migrations_online() -> None:
    url = normalise_url(config.get_main_option("sqlalchemy.url") or "")
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
