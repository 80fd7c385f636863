"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, and both event buses."""

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from kuaichu.bus import EventBus, InProcessBus, RedisBus
from kuaichu.db import Database
from kuaichu.migrate import upgrade
from kuaichu.tables import Base

POSTGRES_ADMIN_URL = os.environ.get(
    "KUAICHU_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("KUAICHU_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


POSTGRES_UP = _reachable("127.0.0.1", 5432)
REDIS_UP = _reachable("127.0.0.1", 6379)
requires_postgres = pytest.mark.skipif(not POSTGRES_UP, reason="PostgreSQL not reachable")
requires_redis = pytest.mark.skipif(not REDIS_UP, reason="Redis not reachable")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=[requires_postgres, pytest.mark.postgres]),
]
BUSES = [
    pytest.param("inprocess", id="inprocess"),
    pytest.param("redis", id="redis", marks=requires_redis),
]


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'kuaichu.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"kuaichu_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_all_tables(database: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.writer.begin() as connection:
        if database.is_postgres:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    empty_all_tables(db)
    yield db
    db.dispose()


@pytest.fixture(params=BUSES)
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    event_bus: EventBus = (
        InProcessBus()
        if request.param == "inprocess"
        else RedisBus(REDIS_URL, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    )
    yield event_bus
    await event_bus.close()


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(os.environ.get("KUAICHU_TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
