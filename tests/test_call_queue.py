"""The jurisdiction's call queue: durable order, positions, offers, and assignment under load."""

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from conftest import SHANGCHENG, XIHU, Api
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuaichu.calls.api import sweep_once
from kuaichu.calls.models import CallSession
from kuaichu.cases.models import Case, TimelineEvent
from kuaichu.principal import Role
from kuaichu.settings import Settings

CALLERS = 200
OPERATORS = 10


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Hundreds of callers from the test client's one address.
    return settings.model_copy(update={"reports_per_address_per_hour": 10_000})


def caller_phone(index: int) -> str:
    return f"137{index:08d}"


async def report(api: Api, phone: str, where: dict[str, float] = XIHU) -> int:
    response = await api.client.post("/api/calls", json=where, headers=await api.agreed_party(phone))
    assert response.status_code == 201, response.text
    return response.json()["case_id"]


async def position(api: Api, phone: str, case_id: int) -> int | None:
    response = await api.client.get(f"/api/calls/{case_id}/queue", headers=api.party_token(phone))
    assert response.status_code == 200, response.text
    return response.json()["position"]


async def finish(api: Api, operator: dict[str, str], case_id: int) -> None:
    response = await api.client.post(
        f"/api/cases/{case_id}/transfer", json={"reason": "压力测试转现场"}, headers=operator
    )
    assert response.status_code == 200, response.text
    response = await api.client.post(f"/api/calls/{case_id}/hangup", headers=operator)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "wrap_up"


async def test_positions_and_estimated_wait_follow_the_queue(api: Api) -> None:
    first = await report(api, caller_phone(1))
    second = await report(api, caller_phone(2))
    elsewhere = await report(api, caller_phone(3), SHANGCHENG)
    assert await position(api, caller_phone(1), first) == 1
    assert await position(api, caller_phone(2), second) == 2
    assert await position(api, caller_phone(3), elsewhere) == 1  # its own jurisdiction's queue

    status = (
        await api.client.get(f"/api/calls/{second}/queue", headers=api.party_token(caller_phone(2)))
    ).json()
    # Nobody on duty: no estimate, and the party is told so, with 122.
    assert status["estimated_wait_seconds"] is None and status["estimated_wait_text"] is None
    assert status["service"]["reason"] == "nobody_on_duty" and "122" in status["service"]["message"]

    # Another party can't see a stranger's place in the queue.
    response = await api.client.get(f"/api/calls/{first}/queue", headers=api.party_token(caller_phone(2)))
    assert response.status_code == 404

    operator = await api.staff("op-q", Role.OPERATOR, "330106")
    offer = (await api.client.post("/api/calls/take-next", headers=operator)).json()
    assert offer["case_id"] == first
    assert (offer["presence"]["status"], offer["presence"]["status_label"]) == ("busy", "通话中")
    assert await position(api, caller_phone(2), second) == 1
    # One operator on duty, no call handled yet: one round at the default handling time.
    status = (
        await api.client.get(f"/api/calls/{second}/queue", headers=api.party_token(caller_phone(2)))
    ).json()
    assert status["estimated_wait_seconds"] == api.context.settings.call_default_handling_seconds == 300
    assert status["estimated_wait_text"] == "约 5 分钟" and status["service"]["open"] is True
    # A second call while one is open is refused, and changes nothing.
    response = await api.client.post("/api/calls/take-next", headers=operator)
    assert response.status_code == 409
    assert await position(api, caller_phone(2), second) == 1


async def test_auto_offer_goes_to_the_longest_idle_operator(api: Api) -> None:
    early = await api.staff("op-early", Role.OPERATOR, "330106")
    late = await api.staff("op-late", Role.OPERATOR, "330106")
    available = {"status": "available"}
    assert (
        await api.client.put("/api/operators/me/presence", json=available, headers=early)
    ).status_code == 200
    api.context.clock.advance(timedelta(seconds=30))  # type: ignore[attr-defined]
    assert (
        await api.client.put("/api/operators/me/presence", json=available, headers=late)
    ).status_code == 200

    case_id = await report(api, caller_phone(7))
    current = (await api.client.get("/api/calls/current", headers=early)).json()
    assert current["case_id"] == case_id
    assert current["presence"]["status"] == "busy"
    assert (await api.client.get("/api/calls/current", headers=late)).json()["case_id"] is None

    # Hang up only once the case has left the call; then wrap-up, then available again.
    response = await api.client.post(f"/api/calls/{case_id}/hangup", headers=early)
    assert response.status_code == 409
    await finish(api, early, case_id)
    queue = (await api.client.get("/api/calls/queue", headers=late)).json()
    statuses = {o["name"]: o["status"] for o in queue["operators"]}
    assert statuses == {"op-early姓名": "wrap_up", "op-late姓名": "available"}


async def test_queue_under_load_answers_every_call_exactly_once(api: Api) -> None:
    """200 callers at once; 5 operators on auto-offer and 5 taking the next call by hand."""
    operators = [await api.staff(f"op-load-{i}", Role.OPERATOR, "330106") for i in range(OPERATORS)]
    answered: list[int] = []
    offered: list[int] = []
    all_answered = asyncio.Event()
    queue_grew = asyncio.Condition()
    reported: list[int] = []

    async def caller(index: int) -> None:
        case_id = await report(api, caller_phone(index))
        async with queue_grew:
            reported.append(case_id)
            queue_grew.notify_all()

    def done(case_id: int) -> None:
        answered.append(case_id)
        if len(answered) == CALLERS:
            all_answered.set()

    async def auto_operator(headers: dict[str, str]) -> None:
        me = (await api.client.get("/api/calls/current", headers=headers)).json()["presence"]["operator_id"]
        async with api.context.bus.subscribe(f"operator:{me}") as offers:
            response = await api.client.put(
                "/api/operators/me/presence", json={"status": "available"}, headers=headers
            )
            assert response.status_code == 200
            while not all_answered.is_set():
                waiter = asyncio.create_task(offers.get())
                finished = asyncio.create_task(all_answered.wait())
                await asyncio.wait({waiter, finished}, return_when=asyncio.FIRST_COMPLETED)
                finished.cancel()
                if not waiter.done():
                    waiter.cancel()
                    return
                offer = waiter.result()
                assert offer is not None and offer["operator_id"] == me
                offered.append(offer["case_id"])
                await finish(api, headers, offer["case_id"])
                done(offer["case_id"])
                response = await api.client.put(
                    "/api/operators/me/presence", json={"status": "available"}, headers=headers
                )
                assert response.status_code == 200

    async def manual_operator(headers: dict[str, str]) -> None:
        while not all_answered.is_set():
            async with queue_grew:
                seen = len(reported)
            response = await api.client.post("/api/calls/take-next", headers=headers)
            if response.status_code == 404:
                if len(reported) == CALLERS:
                    return  # everyone reported and nobody waits: the rest are being answered
                async with queue_grew:
                    await queue_grew.wait_for(lambda s=seen: len(reported) > s)
                continue
            assert response.status_code == 200, response.text
            case_id = response.json()["case_id"]
            offered.append(case_id)
            await finish(api, headers, case_id)
            done(case_id)

    tasks = [caller(i) for i in range(CALLERS)]
    tasks += [auto_operator(h) for h in operators[:5]] + [manual_operator(h) for h in operators[5:]]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=240)

    # Every call answered, none twice, none lost.
    assert sorted(answered) == sorted(reported)
    assert len(set(offered)) == len(offered) == CALLERS

    def facts(session: Session) -> tuple[Counter[int], dict[str, int], int, list[int]]:
        takes = Counter(
            session.scalars(select(TimelineEvent.case_id).where(TimelineEvent.kind == "take")).all()
        )
        states = dict(session.execute(select(Case.state, func.count()).group_by(Case.state)).all())
        open_calls = session.scalar(select(func.count()).where(CallSession.ended_at.is_(None))) or 0
        take_order = list(
            session.scalars(
                select(TimelineEvent.case_id).where(TimelineEvent.kind == "take").order_by(TimelineEvent.id)
            )
        )
        return takes, states, open_calls, take_order

    takes, states, open_calls, take_order = await api.context.database.read(facts)
    assert set(takes.values()) == {1} and len(takes) == CALLERS
    assert states == {"transferred": CALLERS}
    assert open_calls == 0
    # First come, first served: the calls were taken in the order they joined the queue
    # (one frozen clock instant, so the order is the case id's).
    assert take_order == sorted(take_order)


async def test_positions_are_consistent_while_the_queue_drains(api: Api) -> None:
    phones = [caller_phone(500 + i) for i in range(40)]
    case_ids = list(await asyncio.gather(*(report(api, p) for p in phones)))
    positions = await asyncio.gather(*(position(api, p, c) for p, c in zip(phones, case_ids, strict=True)))
    # Concurrent reports: each caller a distinct place, in the order the cases were created.
    assert sorted(positions) == list(range(1, 41))
    assert [c for _, c in sorted(zip(positions, case_ids, strict=True))] == sorted(case_ids)

    operator = await api.staff("op-drain", Role.OPERATOR, "330106")
    last = dict(zip(case_ids, positions, strict=True))
    for expected_head in sorted(case_ids)[:10]:
        offer = (await api.client.post("/api/calls/take-next", headers=operator)).json()
        assert offer["case_id"] == expected_head
        await finish(api, operator, expected_head)
        now_waiting = [c for c in case_ids if c in last and c != expected_head]
        last.pop(expected_head)
        current = await asyncio.gather(*(position(api, phones[case_ids.index(c)], c) for c in now_waiting))
        # Everyone behind moved up by exactly one place.
        assert sorted(current) == list(range(1, len(now_waiting) + 1))
        for case_id, place in zip(now_waiting, current, strict=True):
            assert place == last[case_id] - 1
            last[case_id] = place


async def test_a_call_offered_to_an_operator_who_never_opens_it_returns_to_the_queue(api: Api) -> None:
    ghost = await api.staff("op-ghost", Role.OPERATOR, "330106")
    response = await api.client.put("/api/operators/me/presence", json={"status": "available"}, headers=ghost)
    assert response.status_code == 200
    earlier = await report(api, caller_phone(8))
    assert (await api.client.get("/api/calls/current", headers=ghost)).json()["case_id"] == earlier
    case_id = await report(api, caller_phone(9))

    # Within the offer timeout the call waits for the console to join; after it, the call goes
    # back to the head of the queue and the operator is 未应答, offered nothing more.
    offer_timeout = api.context.settings.offer_timeout_seconds
    api.context.clock.advance(timedelta(seconds=offer_timeout - 1))  # type: ignore[attr-defined]
    assert await sweep_once(api.app) == []
    api.context.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    changes = await sweep_once(api.app)
    assert [c.snapshot.order for c in changes] == [[earlier, case_id]]
    assert [c.offers for c in changes] == [[]]
    assert await position(api, caller_phone(8), earlier) == 1
    current = (await api.client.get("/api/calls/current", headers=ghost)).json()
    assert current["case_id"] is None
    assert (current["presence"]["status"], current["presence"]["status_label"]) == ("no_answer", "未应答")

    # Setting 空闲 again brings the head of the queue straight back.
    response = await api.client.put("/api/operators/me/presence", json={"status": "available"}, headers=ghost)
    assert response.status_code == 200
    assert (await api.client.get("/api/calls/current", headers=ghost)).json()["case_id"] == earlier
