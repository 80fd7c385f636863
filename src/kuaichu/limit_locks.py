"""Limits that hold under concurrency: one lock row per limit key.

A limit ("at most N reports from one address an hour") is a count followed by an insert; two
transactions counting at the same moment would both see room. So a transaction first takes
the lock of every key it is about to count, by upserting the key's row: on PostgreSQL the
upsert holds the row lock until commit, and a second transaction on the same key waits for
it, then counts (READ COMMITTED: each statement sees what was committed before it began)
what the first one added. On SQLite every write transaction is the only writer anyway
(BEGIN IMMEDIATE), and the upsert costs one row.

Deadlocks: a transaction takes all its keys at once, in sorted order, and before any other
row lock it needs (a queue's version, a case number sequence), so two transactions never
wait on each other in a circle.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam
from sqlalchemy.orm import Mapped, Session, mapped_column

from kuaichu.db import Base, PreparedUpsert, UtcDateTime

KEY_LENGTH = 100
VALUE_LENGTH = 64  # what the counted columns keep of an address


class LimitLock(Base):
    """The lock of one limit key, e.g. "report-phone:13800000001" or "report-address:10.0.0.7"."""

    __tablename__ = "limit_locks"

    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime)


def limit_key(kind: str, value: str) -> str:
    return f"{kind}:{value[:VALUE_LENGTH]}"


def _lock(insert: Any) -> Any:
    statement = insert(LimitLock.__table__).values(key=bindparam("key"), taken_at=bindparam("now"))
    return statement.on_conflict_do_update(
        index_elements=["key"], set_={"taken_at": statement.excluded.taken_at}
    )


_LOCK = PreparedUpsert(_lock)


def lock_limits(session: Session, keys: Iterable[str], now: datetime) -> None:
    """Hold the locks of these limit keys until the transaction ends, taken in sorted order:
    in one round trip (an executemany, its rows upserted one after the other, in order)."""
    rows = [{"key": key, "now": now} for key in sorted(set(keys))]
    if rows:
        session.execute(_LOCK.of(session), rows)
