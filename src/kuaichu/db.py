"""Database access: SQLAlchemy 2 with one worker-thread hop per unit of work.

Every service function is plain synchronous SQLAlchemy code taking a Session; the HTTP layer
awaits `Database.write(fn)` or `Database.read(fn)`, which runs the whole transaction in one
worker thread. An async driver (aiosqlite) hops threads on every statement, which on SQLite
costs far more than the SQL itself; one hop per transaction keeps a state change, its
timeline event and its outbox rows cheap and atomic.

SQLite runs in WAL mode; write transactions start with BEGIN IMMEDIATE so concurrent writers
queue on the busy timeout instead of failing on a lock upgrade. Within one process, writers
also queue on a lock: SQLite's busy handler waits by sleeping and polling, which under
contention costs far more than the transactions themselves. PostgreSQL uses psycopg 3; its
writers run side by side, a few at a time (more only add threads fighting for the GIL and
transactions waiting on each other's rows).

Async writers wait their turn in the event loop, not in a worker thread, and an urgent one (a
person on a live call waits on it: an operator going 空闲, the queue's offers) goes before the
others waiting, so a burst of reports never stands between an operator and the next call.
"""

import asyncio
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from kuaichu.clock import as_utc

T = TypeVar("T")
log = logging.getLogger(__name__)


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
    return dialect_insert(session.get_bind().dialect.name)


def dialect_insert(dialect: str) -> Any:
    """The INSERT with ON CONFLICT clauses of the dialect of this name."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and pick the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


# Connections kept open per engine: a unit of work runs in one of anyio's worker threads (up
# to 40), and SQLAlchemy's default pool (5, closing the overflow on return) opened and closed a
# connection, with its pragmas, for most requests under 8 concurrent clients.
POOLED_CONNECTIONS = 20


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=POOLED_CONNECTIONS,
        max_overflow=POOLED_CONNECTIONS,
    )

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
        # On the driver's connection: exec_driver_sql's statement machinery costs more than
        # the BEGIN itself, once per unit of work.
        connection.connection.driver_connection.execute(begin)

    return engine


def create_engines(url: str) -> tuple[Engine, Engine]:
    """(writer, reader) engines; the same engine twice outside SQLite."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, "BEGIN IMMEDIATE"), _sqlite_engine(url, "BEGIN")
    engine = create_engine(
        url, pool_size=POOLED_CONNECTIONS, max_overflow=POOLED_CONNECTIONS, pool_pre_ping=True
    )
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
        self._turns: weakref.WeakKeyDictionary[object, _Turns] = weakref.WeakKeyDictionary()  # per loop

    @property
    def is_postgres(self) -> bool:
        return self.writer.dialect.name == "postgresql"

    async def write(self, work: Callable[[Session], T], *, urgent: bool = False) -> T:
        turn = self._turns.get(asyncio.get_running_loop())
        if turn is None:
            writers = POSTGRES_WRITERS if self.is_postgres else 1
            turn = self._turns[asyncio.get_running_loop()] = _Turns(writers)
        await turn.take(urgent)
        try:
            return await anyio.to_thread.run_sync(self.write_sync, work)
        finally:
            turn.give()

    async def read(self, work: Callable[[Session], T]) -> T:
        return await anyio.to_thread.run_sync(_run_unit, self._read_sessions, work)

    def write_sync(self, work: Callable[[Session], T]) -> T:
        with self._write_lock:
            return _run_unit(self._write_sessions, work)

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()


# Write transactions of one process at a time on PostgreSQL: about one per core. More only
# add threads waiting for the GIL while they hold row locks the others wait on.
POSTGRES_WRITERS = max(2, os.cpu_count() or 2)


class _Turns:
    """At most `writers` write units at a time among a loop's tasks; urgent ones first, then
    in order of arrival."""

    def __init__(self, writers: int) -> None:
        self._free = writers
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    async def take(self, urgent: bool) -> None:
        if self._free:  # nobody waits while a turn is free: give() hands it over
            self._free -= 1
            return
        waiting = self._urgent if urgent else self._others
        turn = asyncio.get_running_loop().create_future()
        waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if not turn.cancelled():
                self.give()  # handed the turn just as the waiter went away: pass it on
            elif turn in waiting:
                waiting.remove(turn)
            raise

    def give(self) -> None:
        for waiting in (self._urgent, self._others):
            while waiting:
                turn = waiting.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._free += 1


class Precondition:
    """A check a request's data must pass before any of it is touched (the staff session's:
    kuaichu.web.deps defers it here). The first unit of work done on the request's behalf runs
    it first, inside its own transaction: a read then costs one transaction and one thread hop,
    not two. It stays pending until it passed; the web layer runs it before any answer leaves,
    for a route that touched no data (kuaichu.web.security.PreconditionBeforeAnswer)."""

    def __init__(self) -> None:
        self._check: Callable[[Session], None] | None = None

    @property
    def pending(self) -> bool:
        return self._check is not None

    def require(self, check: Callable[[Session], None]) -> None:
        self._check = check

    def run(self, session: Session) -> None:
        check = self._check
        if check is not None:
            check(session)
            self._check = None


# The request's precondition: a context variable, so the worker thread running a unit (anyio
# copies the context into it) and the tasks the request starts see the request's own.
_precondition: ContextVar[Precondition | None] = ContextVar("kuaichu_precondition", default=None)


@contextmanager
def request_precondition() -> Iterator[Precondition]:
    """Bind a precondition to the request running in this context, for its duration."""
    precondition = Precondition()
    bound = _precondition.set(precondition)
    try:
        yield precondition
    finally:
        _precondition.reset(bound)


def defer_to_first_unit(check: Callable[[Session], None]) -> bool:
    """Leave `check` to the request's first unit of work; False outside a request that has a
    precondition bound (a write, a WebSocket, a job): the caller then checks at once."""
    precondition = _precondition.get()
    if precondition is None:
        return False
    precondition.require(check)
    return True


# PostgreSQL ends one of two transactions that wait on each other (deadlock_detected) and
# refuses a write that conflicts under SERIALIZABLE; its documentation's remedy for both is to
# run the transaction again. A unit of work is only database work, so it can run again whole.
RETRIED_SQLSTATES = frozenset({"40P01", "40001"})
UNIT_ATTEMPTS = 3


def _run_unit(factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    for attempt in range(1, UNIT_ATTEMPTS + 1):
        try:
            with factory() as session, session.begin():
                precondition = _precondition.get()
                if precondition is not None:
                    precondition.run(session)
                return work(session)
        except OperationalError as error:
            sqlstate = getattr(error.orig, "sqlstate", None)
            if sqlstate not in RETRIED_SQLSTATES or attempt == UNIT_ATTEMPTS:
                raise
            log.warning("transaction aborted by the database (%s), running it again", sqlstate)
    raise AssertionError("unreachable: the last attempt returns or raises")
