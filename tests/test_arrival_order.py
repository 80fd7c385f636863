"""Accident reports in a burst are let in a few at a time, in the order they came
(kuaichu.web.admission); nothing else waits behind them, and a report that fails or a caller
who hangs up gives the turn to the next one."""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from conftest import XIHU, Api
from starlette.types import Receive, Scope, Send

from kuaichu.web.admission import REPORT_PATHS, ArrivalOrder


@dataclass
class Desk:
    """Behind the middleware: holds each report until the test lets it finish."""

    started: list[str] = field(default_factory=list)
    finish: dict[str, asyncio.Event] = field(default_factory=dict)
    entered: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = dict(scope["headers"])[b"x-caller"].decode()
        self.finish[caller] = asyncio.Event()
        async with self.entered:
            self.started.append(caller)
            self.entered.notify_all()
        if scope["path"] in REPORT_PATHS:
            await self.finish[caller].wait()
        if caller == "fails":
            raise RuntimeError("the report failed")
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def until_started(self, count: int) -> None:
        async with self.entered:
            await self.entered.wait_for(lambda: len(self.started) >= count)


@pytest.fixture
def desk() -> Iterator[Desk]:
    yield Desk()


def client(desk: Desk, concurrency: int) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(
        app=ArrivalOrder(desk, REPORT_PATHS, concurrency), raise_app_exceptions=False
    )
    return httpx.AsyncClient(transport=transport, base_url="http://kuaichu.test")


def report(http: httpx.AsyncClient, caller: str) -> "asyncio.Task[httpx.Response]":
    return asyncio.create_task(http.post("/api/calls", headers={"x-caller": caller}))


async def test_reports_are_let_in_two_at_a_time_in_the_order_they_came(desk: Desk) -> None:
    async with client(desk, concurrency=2) as http:
        reports = [report(http, caller) for caller in ("first", "second", "third", "fourth")]
        await desk.until_started(2)
        assert desk.started == ["first", "second"]

        desk.finish["second"].set()
        await reports[1]
        await desk.until_started(3)
        assert desk.started == ["first", "second", "third"]

        for caller in ("first", "third"):
            desk.finish[caller].set()
        await desk.until_started(4)
        desk.finish["fourth"].set()
        answers = await asyncio.gather(*reports)

    assert desk.started == ["first", "second", "third", "fourth"]
    assert [answer.status_code for answer in answers] == [201] * 4


async def test_other_requests_do_not_wait_behind_the_reports(desk: Desk) -> None:
    async with client(desk, concurrency=1) as http:
        held = [report(http, "first"), report(http, "second")]
        await desk.until_started(1)

        operator = await http.put("/api/operators/me/presence", headers={"x-caller": "operator"})

        assert operator.status_code == 201
        assert desk.started == ["first", "operator"]
        desk.finish["first"].set()
        await desk.until_started(3)
        desk.finish["second"].set()
        await asyncio.gather(*held)


async def test_a_report_that_fails_lets_the_next_one_in(desk: Desk) -> None:
    async with client(desk, concurrency=1) as http:
        failing, next_one = report(http, "fails"), report(http, "next")
        await desk.until_started(1)
        desk.finish["fails"].set()

        assert (await failing).status_code == 500
        await desk.until_started(2)
        desk.finish["next"].set()
        assert (await next_one).status_code == 201


async def test_a_caller_who_hangs_up_while_waiting_gives_up_their_place(desk: Desk) -> None:
    async with client(desk, concurrency=1) as http:
        first, gone, last = report(http, "first"), report(http, "gone"), report(http, "last")
        await desk.until_started(1)
        gone.cancel()
        desk.finish["first"].set()
        await first

        await desk.until_started(2)
        assert desk.started == ["first", "last"]
        desk.finish["last"].set()
        assert (await last).status_code == 201


async def test_a_burst_of_real_reports_all_land(api: Api) -> None:
    phones = [f"1380000{index:04d}" for index in range(6)]
    logins = [await api.agreed_party(phone) for phone in phones]

    answers = await asyncio.gather(*(api.client.post("/api/calls", json=XIHU, headers=h) for h in logins))

    assert [answer.status_code for answer in answers] == [201] * len(phones)
    assert len({answer.json()["case_id"] for answer in answers}) == len(phones)
