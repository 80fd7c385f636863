"""Database access: SQLAlchemy 2 with one worker-thread hop per unit of work.

Every service function is plain synchronous SQLAlchemy code taking a Session; the HTTP layer
awaits `Database.write(fn)` or `Database.read(fn)`, which runs the whole transaction in one
worker thread. An async driver (aiosqlite) hops threads on every statement, which on SQLite
costs far more than the SQL itself; one hop per transaction keeps a state change, its
timeline event and its outbox rows cheap and atomic.

SQLite runs in WAL mode; write transactions start with BEGIN IMMEDIATE so concurrent writers
queue on the busy timeout instead of failing on a lock upgrade. Within one process, writers
also queue on a lock: SQLite's busy handler waits by sleeping and polling, which under
contention costs far more than the transactions themselves. PostgreSQL uses psycopg 3.
"""

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from kuaichu.clock import as_utc

T = TypeVar("T")


class Base(DeclarativeBase):
    pass


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        moment = as_utc(value)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


def upsert_insert(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT clauses (plain `insert` has none)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and pick the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def create_engines(url: str) -> tuple[Engine, Engine]:
    """(writer, reader) engines; the same engine twice outside SQLite."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, "BEGIN IMMEDIATE"), _sqlite_engine(url, "BEGIN")
    engine = create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)
    return engine, engine


class Database:
    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.writer, self.reader = create_engines(self.url)
        self._write_sessions = sessionmaker(self.writer, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.reader, expire_on_commit=False)
        self._write_lock: AbstractContextManager[object] = (
            nullcontext() if self.is_postgres else threading.Lock()
        )

    @property
    def is_postgres(self) -> bool:
        return self.writer.dialect.name == "postgresql"

    async def write(self, work: Callable[[Session], T]) -> T:
        return await anyio.to_thread.run_sync(self.write_sync, work)

    async def read(self, work: Callable[[Session], T]) -> T:
        return await anyio.to_thread.run_sync(_run_unit, self._read_sessions, work)

    def write_sync(self, work: Callable[[Session], T]) -> T:
        with self._write_lock:
            return _run_unit(self._write_sessions, work)

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()


def _run_unit(factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    with factory() as session, session.begin():
        return work(session)
