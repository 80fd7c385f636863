"""Running the queue's passes (kuaichu.calls.queue.queue_pass): after a change to a
jurisdiction's queue commits, a pass offers waiting calls to available operators, takes the
new snapshot and tells the pages.

The passes of a jurisdiction run one at a time in each process (and across processes one at a
time on the version row). Every change asks for a pass that starts after it committed; the
changes that ask while a pass runs all share the next one. So a burst of 200 reports makes a
handful of passes, not 200 snapshots of a 200-call queue, and no report waits on another's
row lock. A pass is urgent on SQLite (kuaichu.db): it goes before the reports waiting. It is
also a small write (a few rows by key and the queue's order, about 1 ms with 200 calls waiting),
so on SQLite it runs on the event loop when the writer is free. In a worker thread it held the
writer's turn until the loop, busy with a burst's 200 requests, came back for its result: every
report of the burst waited about 100 ms behind one pass.
"""

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kuaichu.bus import EventBus
from kuaichu.calls.queue import CallRules, QueueChange, queue_pass
from kuaichu.calls.schemas import OfferOut
from kuaichu.clock import Clock
from kuaichu.db import Database


async def publish(bus: EventBus, changes: list[QueueChange]) -> None:
    """After the commit: queue snapshots to the waiting pages, offers to the operators."""
    for change in changes:
        await bus.publish(f"queue:{change.snapshot.jurisdiction_id}", change.snapshot.message())
        await publish_offers(bus, change.offers)


async def publish_offers(bus: EventBus, offers: list[OfferOut]) -> None:
    for offer in offers:
        await bus.publish(f"operator:{offer.operator_id}", {"type": "offer", **offer.model_dump(mode="json")})


@dataclass
class _Jurisdiction:
    next_pass: "asyncio.Future[QueueChange] | None" = None
    running: "asyncio.Task[None] | None" = None


class QueuePasses:
    """One per database and event loop: the passes of each jurisdiction, shared by whoever asks."""

    def __init__(
        self, database: Database, bus: EventBus, clock: Clock, rules: Callable[[], CallRules]
    ) -> None:
        self._database = database
        self._bus = bus
        self._clock = clock
        self._rules = rules
        self._jurisdictions: dict[int, _Jurisdiction] = {}

    async def after_change(self, jurisdiction_id: int) -> QueueChange:
        """A pass that starts after now (the caller's change committed), once it is done."""
        return await asyncio.shield(self.soon(jurisdiction_id))

    def soon(self, jurisdiction_id: int) -> "asyncio.Future[QueueChange]":
        """Ask for a pass that starts after now, without waiting for it."""
        state = self._jurisdictions.setdefault(jurisdiction_id, _Jurisdiction())
        if state.next_pass is None:
            state.next_pass = asyncio.get_running_loop().create_future()
        if state.running is None or state.running.done():
            # Its own task: a caller that goes away doesn't stop the pass the others wait on.
            state.running = asyncio.create_task(self._run(jurisdiction_id, state))
        return state.next_pass

    async def _run(self, jurisdiction_id: int, state: _Jurisdiction) -> None:
        while state.next_pass is not None:
            this_pass, state.next_pass = state.next_pass, None
            await _settle(this_pass, self._one(jurisdiction_id))

    async def _one(self, jurisdiction_id: int) -> QueueChange:
        rules = self._rules()
        now = self._clock.now()
        change = await self._database.write_small(
            lambda s: queue_pass(s, jurisdiction_id, rules, now), urgent=True
        )
        await publish(self._bus, [change])
        return change


async def _settle(future: "asyncio.Future[QueueChange]", work: Awaitable[QueueChange]) -> None:
    try:
        result = await work
    except asyncio.CancelledError:
        future.cancel()
        raise
    except Exception as error:
        future.set_exception(error)
        future.exception()  # a pass nobody waits on any more must not log "never retrieved"
    else:
        future.set_result(result)


_passes: "weakref.WeakKeyDictionary[Database, QueuePasses]" = weakref.WeakKeyDictionary()


def passes_of(database: Database, bus: EventBus, clock: Clock, rules: Callable[[], CallRules]) -> QueuePasses:
    """The database's pass runner (made on first use)."""
    runner = _passes.get(database)
    if runner is None:
        runner = _passes[database] = QueuePasses(database, bus, clock, rules)
    return runner
