"""Leases: one holder at a time, taken over when the holder's term runs out or it lets go, and the work
behind a lease runs only while it is held."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import update

from crossdesk.db import Database, utcnow
from crossdesk.ops import leases
from crossdesk.ops.models import Lease


def name() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


async def test_one_holder_at_a_time_until_its_term_runs_out(db: Database) -> None:
    lease = name()
    assert await leases.take(db, lease, "first", 30)
    assert await leases.take(db, lease, "first", 30), "the holder renews"
    assert not await leases.take(db, lease, "second", 30)
    async with db.transaction(system=True) as session:
        ended = utcnow() - dt.timedelta(seconds=1)
        await session.execute(update(Lease).where(Lease.name == lease).values(expires_at=ended))
    assert await leases.take(db, lease, "second", 30), "a lapsed lease is taken over"
    assert not await leases.take(db, lease, "first", 30)


async def test_a_released_lease_is_free_at_once(db: Database) -> None:
    lease = name()
    assert await leases.take(db, lease, "first", 30)
    await leases.release(db, lease, "second")  # not its lease: nothing happens
    assert not await leases.take(db, lease, "second", 30)
    await leases.release(db, lease, "first")
    assert await leases.take(db, lease, "second", 30)


async def test_work_runs_only_in_the_holder(db: Database) -> None:
    lease, runs = name(), {"a": 0, "b": 0}
    stopped = asyncio.Event()

    def work(who: str) -> Callable[[], Coroutine[Any, Any, None]]:
        async def run() -> None:
            runs[who] += 1
            try:
                await asyncio.Event().wait()
            finally:
                if who == "a":
                    stopped.set()

        return run

    a = asyncio.create_task(leases.run_while_held(db, lease, work("a"), term_s=0.3))
    await asyncio.sleep(0.2)
    b = asyncio.create_task(leases.run_while_held(db, lease, work("b"), term_s=0.3))
    await asyncio.sleep(0.5)
    assert runs == {"a": 1, "b": 0}, "only the first process runs the work"
    a.cancel()  # the holder shuts down: it stops its work and lets go
    await asyncio.gather(a, return_exceptions=True)
    assert stopped.is_set()
    for _ in range(50):
        if runs["b"]:
            break
        await asyncio.sleep(0.05)
    b.cancel()
    await asyncio.gather(b, return_exceptions=True)
    assert runs == {"a": 1, "b": 1}, "the other process took over"


async def test_work_stops_when_the_lease_is_lost(db: Database) -> None:
    lease, cancelled = name(), asyncio.Event()

    async def run() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = asyncio.create_task(leases.run_while_held(db, lease, run, term_s=0.3))
    await asyncio.sleep(0.2)
    async with db.transaction(system=True) as session:  # another process took it (say, after a pause)
        later = utcnow() + dt.timedelta(hours=1)
        await session.execute(
            update(Lease).where(Lease.name == lease).values(holder="other", expires_at=later)
        )
    await asyncio.wait_for(cancelled.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
