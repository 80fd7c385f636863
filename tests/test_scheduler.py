"""The app's periodic jobs: each at its interval, at once when woken, and a failing job neither
stops itself nor the others."""

import asyncio
import logging

import pytest

from kuaichu.scheduler import Scheduler


async def test_a_failing_job_is_logged_and_runs_again_at_its_next_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []
    ran_again = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("database briefly unreachable")
        ran_again.set()

    scheduler = Scheduler()
    scheduler.add("flaky", 0.01, flaky)
    scheduler.start()
    try:
        await asyncio.wait_for(ran_again.wait(), timeout=10)
    finally:
        await scheduler.stop()

    assert len(runs) >= 2
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "job flaky failed" in failures[0].getMessage()


async def test_a_woken_job_runs_at_once_and_the_others_wait_for_their_period() -> None:
    woken = asyncio.Event()
    hourly_runs: list[str] = []

    async def deliver() -> None:
        woken.set()

    async def hourly() -> None:
        hourly_runs.append("ran")

    scheduler = Scheduler()
    scheduler.add("outbox", 3600, deliver)
    scheduler.add("hourly", 3600, hourly)
    scheduler.start()
    try:
        scheduler.wake("outbox")
        scheduler.wake("not scheduled here")
        await asyncio.wait_for(woken.wait(), timeout=10)
    finally:
        await scheduler.stop()

    assert hourly_runs == []
