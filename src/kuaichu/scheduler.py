"""The app's periodic jobs, by name: each runs at its interval, or at once when woken (the outbox
after a commit), on the app's own event loop until the app stops. A job that fails is logged
and runs again at its next period: no failure ends the loop.

Written here rather than taken from APScheduler (3.x, maintained): its AsyncIOScheduler runs
interval jobs but has no "run now, then keep the interval" wake-up short of rescheduling a job
from outside, and brings executors, misfire and coalescing rules these jobs don't need; a job
here is one coroutine function, a loop of sleep (or wake-up) and run.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


@dataclass
class _Scheduled:
    name: str
    seconds: float
    run: Job
    at_start: bool
    woken: asyncio.Event = field(default_factory=asyncio.Event)


class Scheduler:
    def __init__(self) -> None:
        self._jobs: dict[str, _Scheduled] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, name: str, seconds: float, run: Job, *, at_start: bool = False) -> None:
        """Run `run` every `seconds`: the first time after one period, or at once if `at_start`."""
        self._jobs[name] = _Scheduled(name, seconds, run, at_start)

    @property
    def names(self) -> list[str]:
        return list(self._jobs)

    def wake(self, name: str) -> None:
        """Run the job now rather than at its next period; a job not scheduled (the outbox in a
        process that does not deliver) ignores it."""
        if name in self._jobs:
            self._jobs[name].woken.set()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(job), name=job.name) for job in self._jobs.values()]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _loop(self, job: _Scheduled) -> None:
        if not job.at_start:
            await self._pause(job)
        while True:
            # Cleared before the run, so a wake-up arriving during it triggers another run.
            job.woken.clear()
            try:
                await job.run()
            except Exception:
                log.exception("job %s failed; it runs again at its next period", job.name)
            await self._pause(job)

    @staticmethod
    async def _pause(job: _Scheduled) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(job.woken.wait(), job.seconds)
