"""The burst's floor: POST /api/calls answered after nothing but a report's round trips to
PostgreSQL, each a trivial statement, in one transaction.

Run by bench/calls.py --burst as `python bench/burst_floor.py PORT ROUND_TRIPS [DATABASE_URL]`.
The handler does what any server must do for a report: parse the request, check the party's
token and, with a URL, wait for each of the report's round trips (BEGIN, `SELECT 1` for each
of its statements, COMMIT) in a worker thread, as many transactions at a time as the app's
writers (kuaichu.db.POSTGRES_WRITERS). Without a URL it touches no database. Its p99 in the
same burst is what the full stack's could at best be on this machine with as many round trips.

With `batched` after the URL it is the floor of another design: the reports that arrive while a
batch is being written wait for the next batch, which writes them all in one transaction, each
statement one executemany over the batch (psycopg sends it as one pipeline: one round trip).
"""

import asyncio
import functools
import itertools
import queue
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import psycopg
import uvicorn
from stack import TOKENS
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kuaichu.clock import SystemClock
from kuaichu.db import POSTGRES_WRITERS

PORT, ROUND_TRIPS = int(sys.argv[1]), int(sys.argv[2])
URL = sys.argv[3] if len(sys.argv) > 3 else ""
BATCHED = sys.argv[4:5] == ["batched"]
CLOCK = SystemClock()
case_ids = itertools.count(1)
# One connection per writer, handed round: psycopg_pool is no dependency of the project, and a
# floor needs nothing more than this.
connections: "queue.SimpleQueue[psycopg.Connection]" = queue.SimpleQueue()
for _ in range(POSTGRES_WRITERS if URL else 0):
    connections.put(psycopg.connect(URL))


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    """A writer's connection, in a transaction: BEGIN and COMMIT are two of the round trips."""
    connection = connections.get()
    try:
        with connection.transaction():
            yield connection
    finally:
        connections.put(connection)


def round_trips() -> None:
    with transaction() as connection:
        for _ in range(ROUND_TRIPS - 2):
            connection.execute("SELECT 1").fetchone()


def batch_round_trips(reports: int) -> None:
    with transaction() as connection, connection.cursor() as cursor:
        for _ in range(ROUND_TRIPS - 2):
            cursor.executemany("SELECT %s", [(report,) for report in range(reports)])


class Batches:
    """One writer: the reports waiting when it is free go in its next batch."""

    def __init__(self) -> None:
        self.waiting: list[asyncio.Future[None]] = []
        self.writer: asyncio.Task[None] | None = None

    async def written(self) -> None:
        report = asyncio.get_running_loop().create_future()
        self.waiting.append(report)
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self.write())
        await report

    async def write(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting, []
            try:
                await anyio.to_thread.run_sync(batch_round_trips, len(batch))
            except Exception as error:  # each report of the batch fails with it, none waits on
                for report in batch:
                    report.set_exception(error)
                continue
            for report in batch:
                report.set_result(None)


batches = Batches()


@functools.cache
def _writers() -> anyio.CapacityLimiter:
    return anyio.CapacityLimiter(POSTGRES_WRITERS)  # made on the server's event loop, at its first use


async def report(request: Request) -> JSONResponse:
    body = await request.json()
    TOKENS.principal(request.headers["authorization"].split()[1], CLOCK.now())
    if BATCHED:
        await batches.written()
    elif URL:
        await anyio.to_thread.run_sync(round_trips, limiter=_writers())
    return JSONResponse({"case_id": next(case_ids), "lat": body["lat"], "lng": body["lng"]}, status_code=201)


app = Starlette(routes=[Route("/api/calls", report, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="info", access_log=False)
