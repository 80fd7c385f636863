"""The event bus: publish/subscribe between pages and server processes.

Two implementations behind one interface: in-process (one server) and Redis pub/sub (several
server processes). Messages are JSON objects; delivery is best-effort and live-only, so anything
that must not be lost goes through the outbox first.
"""

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import redis.asyncio as aioredis

Message = dict[str, Any]


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[Message]: ...

    async def get(self, timeout: float | None = None) -> Message | None: ...


class EventBus(Protocol):
    async def publish(self, channel: str, message: Message) -> None: ...

    def subscribe(self, *channels: str) -> "contextlib.AbstractAsyncContextManager[Subscription]": ...

    async def close(self) -> None: ...


class _QueueSubscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue()

    async def get(self, timeout: float | None = None) -> Message | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    async def __aiter__(self) -> AsyncIterator[Message]:
        while True:
            yield await self.queue.get()


class InProcessBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[_QueueSubscription]] = defaultdict(set)

    async def publish(self, channel: str, message: Message) -> None:
        # Round-trip through JSON so both buses hand subscribers the same shapes.
        encoded = json.loads(json.dumps(message, default=str))
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.queue.put_nowait(encoded)

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        subscription = _QueueSubscription()
        for channel in channels:
            self._subscribers[channel].add(subscription)
        try:
            yield subscription
        finally:
            for channel in channels:
                self._subscribers[channel].discard(subscription)
                if not self._subscribers[channel]:
                    del self._subscribers[channel]

    async def close(self) -> None:
        self._subscribers.clear()


class _RedisSubscription:
    def __init__(self, pubsub: Any, early: list[Message]) -> None:
        self._pubsub = pubsub
        self._early = early

    async def get(self, timeout: float | None = None) -> Message | None:
        if self._early:
            return self._early.pop(0)
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        while True:
            remaining = None if deadline is None else deadline - asyncio.get_running_loop().time()
            if remaining is not None and remaining <= 0:
                return None
            raw = await self._pubsub.get_message(
                ignore_subscribe_messages=True, timeout=remaining if remaining else 1.0
            )
            if raw is not None and raw.get("type") == "message":
                return json.loads(raw["data"])

    async def __aiter__(self) -> AsyncIterator[Message]:
        while True:
            message = await self.get(timeout=None)
            if message is not None:
                yield message


class RedisBus:
    def __init__(self, url: str, prefix: str = "kuaichu:") -> None:
        self._redis = aioredis.from_url(url)
        self._prefix = prefix

    async def publish(self, channel: str, message: Message) -> None:
        await self._redis.publish(self._prefix + channel, json.dumps(message, default=str))

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        pubsub = self._redis.pubsub()
        names = [self._prefix + c for c in channels]
        await pubsub.subscribe(*names)
        # Wait for Redis to confirm every channel, so nothing published after `subscribe`
        # returns can be missed; messages arriving meanwhile are kept, not dropped.
        early: list[Message] = []
        confirmed = 0
        while confirmed < len(names):
            raw = await pubsub.get_message(timeout=5.0)
            if raw is None:
                raise ConnectionError("Redis did not confirm the subscription")
            if raw["type"] == "subscribe":
                confirmed += 1
            elif raw["type"] == "message":
                early.append(json.loads(raw["data"]))
        try:
            yield _RedisSubscription(pubsub, early)
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()


def create_bus(redis_url: str) -> EventBus:
    return RedisBus(redis_url) if redis_url else InProcessBus()
