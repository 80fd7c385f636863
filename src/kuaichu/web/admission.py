"""Accident reports in a burst are served in the order they came."""

import asyncio
from collections.abc import Collection

from starlette.types import ASGIApp, Receive, Scope, Send

# POST: the one-tap report of an accident, a new call in the queue.
REPORT_PATHS = ("/api/calls",)


class ArrivalOrder:
    """Pure ASGI middleware: reports are let in `concurrency` at a time, first come first
    served, before any of their work begins; every other request passes straight through.

    Two hundred callers reporting at once would otherwise all start at once: the event loop
    shares itself among them, every report finishes near the end of the burst, and the
    callers whose operators were already waiting wait for everyone else's report first. In
    order, the first callers reach an operator within milliseconds and the last wait no longer
    than before (bench/calls.py --burst). asyncio's semaphore lets its waiters in in the order
    they began waiting, and a caller who hangs up while waiting gives up their place."""

    def __init__(self, app: ASGIApp, paths: Collection[str], concurrency: int) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.concurrency = concurrency
        self._turns: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        async with self._semaphore():
            await self.app(scope, receive, send)

    def _semaphore(self) -> asyncio.Semaphore:
        # One per event loop: a semaphore belongs to the loop it first waited on, and the
        # tests serve one app from several loops in turn.
        loop = asyncio.get_running_loop()
        if self._turns is None or self._loop is not loop:
            self._turns, self._loop = asyncio.Semaphore(self.concurrency), loop
        return self._turns
