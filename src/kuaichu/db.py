"""Database access: SQLAlchemy 2 with at most one worker-thread hop per unit of work.

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

On SQLite the hot paths' units (`read_small`, `write_small`: a few rows found by key, nothing
but the database) skip the hop and run on the event loop. In a worker thread such a unit cost
twice its own CPU: SQLite lets go of the GIL at every step, so the thread and the loop hand it
back and forth dozens of times a unit. On the loop nothing may wait: a WAL read takes no lock,
a write runs there only when the write lock is free at once (else it waits in a thread, as
before), and the WAL is checkpointed by a job in a thread (`checkpoint`), never by a commit.

A turn passes to the next writer only after the tasks ready at its end have run (`_turn`).
Otherwise a burst's reports, read in one go, each ran its unit on the loop back to back, and
the offers the first ones made reached the operators' consoles only after the last (about
100 ms at 200 callers): the consoles' tasks wait in the same line as the requests.
"""

import asyncio
import logging
import os
import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
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


class PreparedUpsert:
    """An upsert built once for each dialect (their ON CONFLICT clauses differ), its values
    bound at execution: on the hot paths (a report's case number, its limit locks, a queue's
    version) building the statement for every call cost more than running it. `build` gets the
    dialect's INSERT; build it on a Table, not an ORM class, so that executing it skips the
    ORM's bulk-insert machinery."""

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self._build = build
        self._built: dict[str, Any] = {}

    def of(self, session: Session) -> Any:
        dialect = session.get_bind().dialect.name
        statement = self._built.get(dialect)
        if statement is None:
            statement = self._built[dialect] = self._build(dialect_insert(dialect))
        return statement


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
BUSY_TIMEOUT_SECONDS = 30


class _WriteLockTaken(Exception):
    """SQLite's write lock is held elsewhere: a unit begun on the event loop goes to a thread."""


# Set while a unit runs on the event loop: its BEGIN IMMEDIATE must not wait for the lock.
_begin_at_once: ContextVar[bool] = ContextVar("kuaichu_begin_at_once", default=False)


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS},
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
        # A commit on the event loop must not copy the WAL back and fsync: Database.checkpoint.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # On the driver's connection: exec_driver_sql's statement machinery costs more than
        # the BEGIN itself, once per unit of work.
        driver = connection.connection.driver_connection
        if not _begin_at_once.get():
            driver.execute(begin)
            return
        driver.execute("PRAGMA busy_timeout = 0")
        try:
            driver.execute(begin)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:  # the extended codes too
                raise _WriteLockTaken from error
            raise
        finally:
            driver.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")

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
        # SQLite's one writer, within this process (PostgreSQL's writers run side by side).
        self._write_lock: threading.Lock | None = None if self.is_postgres else threading.Lock()
        self._turns: weakref.WeakKeyDictionary[object, _Turns] = weakref.WeakKeyDictionary()  # per loop

    @property
    def is_postgres(self) -> bool:
        return self.writer.dialect.name == "postgresql"

    async def write(self, work: Callable[[Session], T], *, urgent: bool = False) -> T:
        async with self._turn(urgent):
            return await anyio.to_thread.run_sync(self.write_sync, work)

    async def write_small(self, work: Callable[[Session], T], *, urgent: bool = False) -> T:
        """A write of a few rows found by key (a case's change with its timeline line, audit
        entry and outbox message) that touches nothing but the database. On SQLite it runs on
        the event loop when the write lock is free at once; otherwise like `write`."""
        if self._write_lock is None:
            return await self.write(work, urgent=urgent)
        async with self._turn(urgent):
            try:
                return self._write_at_once(self._write_lock, work)
            except _WriteLockTaken:
                return await anyio.to_thread.run_sync(self.write_sync, work)

    async def read(self, work: Callable[[Session], T]) -> T:
        return await anyio.to_thread.run_sync(_run_unit, self._read_sessions, work)

    async def read_small(self, work: Callable[[Session], T]) -> T:
        """A read of a few rows found by key (a case and its parts, a session's row). On SQLite
        it runs on the event loop: a WAL read takes no lock a writer holds. A read that may
        scan many rows uses `read`, so that the loop serves others while SQLite works."""
        if self.is_postgres:
            return await self.read(work)
        return _run_unit(self._read_sessions, work)

    def write_sync(self, work: Callable[[Session], T]) -> T:
        with self._write_lock or nullcontext():
            return _run_unit(self._write_sessions, work)

    def checkpoint(self) -> None:
        """Copy SQLite's WAL back into the database file (a job, in a worker thread: it writes
        and fsyncs the file). PASSIVE: it never waits for a reader or a writer."""
        if self._write_lock is None:
            return
        # The driver's own connection: SQLAlchemy's would begin a transaction, and a
        # connection inside one cannot checkpoint.
        connection = self.writer.raw_connection()
        try:
            connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()

    @asynccontextmanager
    async def _turn(self, urgent: bool) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = _Turns(POSTGRES_WRITERS if self._write_lock is None else 1)
        await turns.take(urgent)
        try:
            yield
        finally:
            # Behind the tasks ready now: those this unit woke (a console to push an offer to)
            # and the fronts of requests already read, which then queue here in order.
            loop.call_soon(turns.give)

    def _write_at_once(self, lock: threading.Lock, work: Callable[[Session], T]) -> T:
        """Run `work` here if SQLite's write lock is free now, in this process and in the file;
        raise _WriteLockTaken, having run none of it, if not."""
        if not lock.acquire(blocking=False):
            raise _WriteLockTaken
        at_once = _begin_at_once.set(True)
        try:
            return _run_unit(self._write_sessions, lambda session: _begun_first(session, work))
        finally:
            _begin_at_once.reset(at_once)
            lock.release()

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
    it first, inside its own transaction: a read, or a staff write without a body (a take, a
    hang-up), then costs one transaction, not two. It stays pending until it passed; the web
    layer runs it before any answer leaves, for a route that touched no data
    (kuaichu.web.security.PreconditionBeforeAnswer)."""

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


def _begun_first(session: Session, work: Callable[[Session], T]) -> T:
    session.connection()  # BEGIN before any of the work: a lock taken elsewhere shows here
    return work(session)


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
