"""Event buses: in-process for one server, Redis pub/sub for several processes behind one address.

``broadcaster`` delivers nothing with redis-py 8 (DESIGN.md), so the Redis bus uses ``redis.asyncio``
pub/sub directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
Events = list[dict[str, Any]]


class Receiver(Protocol):
    def receive(self, events: Events) -> None: ...
    def resync(self) -> None: ...


class Bus(Protocol):
    async def start(self, receiver: Receiver) -> None: ...
    async def publish(self, events: Events) -> None: ...
    async def close(self) -> None: ...


class MemoryBus:
    def __init__(self) -> None:
        self._receiver: Receiver | None = None

    async def start(self, receiver: Receiver) -> None:
        self._receiver = receiver

    async def publish(self, events: Events) -> None:
        if self._receiver is not None:
            self._receiver.receive(events)

    async def close(self) -> None:
        self._receiver = None


class RedisBus:
    """Every process publishes each committed transaction's events and receives everyone's."""

    def __init__(self, url: str, channel: str = "crossdesk:events") -> None:
        self._redis = aioredis.from_url(url)
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self, receiver: Receiver) -> None:
        self._task = asyncio.create_task(self._listen(receiver))
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def _listen(self, receiver: Receiver) -> None:
        backoff = 0.1
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    if self._subscribed.is_set():
                        receiver.resync()  # catch up on whatever was published while we were away
                    self._subscribed.set()
                    backoff = 0.1
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            receiver.receive(json.loads(message["data"]))
            except (RedisError, OSError) as exc:
                log.warning("redis bus disconnected, retrying", extra={"error": str(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def publish(self, events: Events) -> None:
        await self._redis.publish(self._channel, json.dumps(events, separators=(",", ":")))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._redis.aclose()


def make_bus(redis_url: str | None) -> Bus:
    return RedisBus(redis_url) if redis_url else MemoryBus()
