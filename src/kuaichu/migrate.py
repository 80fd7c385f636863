"""Alembic, driven from code: `kuaichu db upgrade` and every server start call `upgrade`."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from kuaichu.db import normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "heads")
