"""Two processes' transactions that wait on each other on PostgreSQL: the database aborts one as
a deadlock's victim, and the unit of work runs it again, so both writes land and no caller
sees an error (no 500 for what the database's own documentation says to retry)."""

import threading
from collections.abc import Callable, Iterator

import pytest
from conftest import scratch_postgres
from sqlalchemy import text
from sqlalchemy.orm import Session

from kuaichu.db import Database


@pytest.fixture
def two_rows() -> Iterator[Database]:
    with scratch_postgres("kuaichu_deadlock") as url:
        database = Database(url)
        database.write_sync(lambda s: s.execute(text("CREATE TABLE counters (id int PRIMARY KEY, n int)")))
        database.write_sync(lambda s: s.execute(text("INSERT INTO counters VALUES (1, 0), (2, 0)")))
        yield database
        database.dispose()


def _bump_both(
    first: int, second: int, both_hold_one: threading.Barrier, attempts: list[int]
) -> Callable[[Session], None]:
    def work(session: Session) -> None:
        attempts.append(first)
        session.execute(text("UPDATE counters SET n = n + 1 WHERE id = :id"), {"id": first})
        if len(attempts) <= 2:  # only the first attempts meet: the retry runs on its own
            both_hold_one.wait(timeout=30)
        session.execute(text("UPDATE counters SET n = n + 1 WHERE id = :id"), {"id": second})

    return work


def test_a_deadlocked_transaction_runs_again_and_both_land(two_rows: Database) -> None:
    both_hold_one = threading.Barrier(2)
    attempts: list[int] = []
    errors: list[BaseException] = []

    def run(first: int, second: int) -> None:
        try:
            two_rows.write_sync(_bump_both(first, second, both_hold_one, attempts))
        except BaseException as error:  # reported below, with the thread's own exception
            errors.append(error)

    threads = [threading.Thread(target=run, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(attempts) == 3  # each once, and the deadlock's victim once more
    counters = two_rows.write_sync(lambda s: s.execute(text("SELECT id, n FROM counters ORDER BY id")).all())
    assert [tuple(row) for row in counters] == [(1, 2), (2, 2)]
