"""Alembic, driven from code: `kuaichu db upgrade` and every server start call `upgrade`."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import make_url

from kuaichu.db import normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    url = normalise_url(url)
    database = make_url(url).database
    if url.startswith("sqlite") and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "heads")
