"""On SQLite the hot paths' small units run on the event loop (kuaichu.db): reads always, writes
when the write lock is free at once. Nothing on the loop may wait: a write lock held elsewhere
sends the unit to a worker thread, and the WAL is copied back by a job, never by a commit."""

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import XIHU, Api, scratch_postgres
from sqlalchemy import text
from sqlalchemy.orm import Session

from kuaichu.calls import passes
from kuaichu.calls.queue import QueueChange
from kuaichu.db import Database

PAGE = 4096


@pytest.fixture
def notes(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'kuaichu.db'}")
    database.write_sync(lambda s: s.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")))
    yield database
    database.dispose()


def add_note(body: str, ran_on: list[int]) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        ran_on.append(threading.get_ident())
        return session.execute(
            text("INSERT INTO notes (body) VALUES (:b) RETURNING id"), {"b": body}
        ).scalar_one()

    return work


def add_note_in_order(body: str, order: list[str]) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        order.append(body)
        return add_note(body, [])(session)

    return work


def count_notes(session: Session) -> int:
    return session.execute(text("SELECT count(*) FROM notes")).scalar_one()


def wal_bytes(database: Database) -> int:
    return Path(f"{database.url.removeprefix('sqlite:///')}-wal").stat().st_size


async def test_a_small_read_and_write_on_sqlite_run_on_the_event_loop(notes: Database) -> None:
    ran_on: list[int] = []

    await notes.write_small(add_note("一", ran_on))

    assert ran_on == [threading.get_ident()]
    assert await notes.read_small(count_notes) == 1


async def test_a_small_write_waits_in_a_thread_while_another_process_holds_the_lock(
    notes: Database,
) -> None:
    holder = sqlite3.connect(notes.url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO notes (body) VALUES ('the other process')")
    ran_on: list[int] = []

    writing = asyncio.create_task(notes.write_small(add_note("ours", ran_on)))
    await asyncio.sleep(0)  # one turn of the loop: the write found the lock taken and left it
    assert not writing.done()
    holder.execute("COMMIT")  # the loop is free to get here while the write waits
    await writing

    assert ran_on and threading.get_ident() not in ran_on
    assert await notes.read_small(count_notes) == 2
    holder.close()


async def test_a_small_write_waits_its_turn_behind_a_write_of_this_process(notes: Database) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(session: Session) -> None:
        session.execute(text("INSERT INTO notes (body) VALUES ('slow')"))
        started.set()
        release.wait(timeout=30)

    slow_write = asyncio.get_running_loop().run_in_executor(None, notes.write_sync, slow)
    await asyncio.get_running_loop().run_in_executor(None, started.wait)
    ran_on: list[int] = []
    writing = asyncio.create_task(notes.write_small(add_note("after", ran_on)))
    await asyncio.sleep(0)
    assert not writing.done()
    release.set()
    await slow_write
    await writing

    assert threading.get_ident() not in ran_on
    rows = await notes.read_small(
        lambda s: s.execute(text("SELECT body FROM notes ORDER BY id")).scalars().all()
    )
    assert rows == ["slow", "after"]


async def test_a_console_woken_by_one_write_hears_before_the_next_write_runs(notes: Database) -> None:
    """Two reports read in one go: the offer the first one makes reaches its console before
    the second report's unit takes the loop."""
    order: list[str] = []
    offered = asyncio.Event()

    async def console() -> None:
        await offered.wait()
        order.append("console")

    async def report(body: str, offers: bool) -> None:
        await notes.write_small(add_note_in_order(body, order))
        if offers:
            offered.set()

    listening = asyncio.create_task(console())
    await asyncio.sleep(0)  # the console listens
    await asyncio.gather(report("first", offers=True), report("second", offers=False))
    await listening

    assert order == ["first", "console", "second"]
    assert await notes.read_small(count_notes) == 2


async def test_an_urgent_write_read_behind_others_goes_before_them(notes: Database) -> None:
    """An operator going 空闲, read behind a burst's reports, waits for none but the first."""
    order: list[str] = []

    async def write(body: str, urgent: bool = False) -> None:
        await notes.write_small(add_note_in_order(body, order), urgent=urgent)

    await asyncio.gather(write("report 1"), write("report 2"), write("report 3"), write("空闲", urgent=True))

    assert order == ["report 1", "空闲", "report 2", "report 3"]


async def test_a_failing_small_write_changes_nothing_and_frees_the_lock(notes: Database) -> None:
    def half_done(session: Session) -> None:
        session.execute(text("INSERT INTO notes (body) VALUES ('half')"))
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await notes.write_small(half_done)
    ran_on: list[int] = []
    await notes.write_small(add_note("next", ran_on))

    assert ran_on == [threading.get_ident()]  # the lock was free again at once
    assert await notes.read_small(count_notes) == 1


async def test_commits_leave_the_wal_to_the_checkpoint(notes: Database) -> None:
    body = "字" * PAGE  # a few pages a row
    for _ in range(600):
        await notes.write_small(add_note(body, []))
    grown = wal_bytes(notes)
    # SQLite's own checkpoint after 1000 pages would have kept the log about that size.
    assert grown > 1000 * PAGE

    notes.checkpoint()
    for _ in range(600):
        await notes.write_small(add_note(body, []))

    assert wal_bytes(notes) == grown  # copied back: the log starts over instead of growing
    assert await notes.read_small(count_notes) == 1200


async def test_the_app_copies_the_wal_back_by_a_job_on_sqlite_only(api: Api) -> None:
    jobs = api.app.state.scheduler.names

    assert ("sqlite checkpoint" in jobs) is not api.context.database.is_postgres


async def test_the_queue_pass_after_a_report_runs_on_the_loop_on_sqlite_only(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a worker thread the pass held SQLite's one writer until the loop, busy with a
    burst's other requests, came back for it; every report waited behind it."""
    ran_on: list[int] = []
    real_pass = passes.queue_pass

    def recorded_pass(*args: Any) -> QueueChange:
        ran_on.append(threading.get_ident())
        return real_pass(*args)

    monkeypatch.setattr(passes, "queue_pass", recorded_pass)
    caller = await api.agreed_party("13800000009")

    reported = await api.client.post("/api/calls", json=XIHU, headers=caller)

    assert reported.status_code == 201, reported.text
    on_the_loop = threading.get_ident()
    assert ran_on and all(
        (thread == on_the_loop) is not api.context.database.is_postgres for thread in ran_on
    )


async def test_on_postgresql_small_units_run_in_a_worker_thread() -> None:
    with scratch_postgres("kuaichu_small_units") as url:
        database = Database(url)
        database.write_sync(
            lambda s: s.execute(text("CREATE TABLE notes (id serial PRIMARY KEY, body text)"))
        )
        ran_on: list[int] = []

        await database.write_small(add_note("网", ran_on))

        assert threading.get_ident() not in ran_on
        assert await database.read_small(count_notes) == 1
        database.dispose()
