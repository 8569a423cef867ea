"""Leases: work that one process of a deployment must do alone (a mailbox poller, the SMTP listener) runs
in the process holding its lease. A holder renews it well within its term; when the holder dies, the lease
runs out and another process takes it over. Kept in the database, so it works across processes and
machines on PostgreSQL and between the app instances sharing one SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import delete, insert, or_, update
from sqlalchemy.exc import IntegrityError

from crossdesk.db import Database, utcnow
from crossdesk.ops.models import Lease

log = logging.getLogger(__name__)


async def take(db: Database, name: str, holder: str, term_s: float) -> bool:
    """Take or renew the lease; False while another holder's term runs."""
    now = utcnow()
    until = now + dt.timedelta(seconds=term_s)
    async with db.transaction(system=True) as session:
        renewed = await session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
            .values(holder=holder, expires_at=until)
        )
        if renewed.rowcount:  # type: ignore[attr-defined]
            return True
        try:
            async with session.begin_nested():
                await session.execute(insert(Lease).values(name=name, holder=holder, expires_at=until))
        except IntegrityError:
            return False  # held by another process
    return True


async def release(db: Database, name: str, holder: str) -> None:
    async with db.transaction(system=True) as session:
        await session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


async def run_while_held(
    db: Database, name: str, start: Callable[[], Coroutine[Any, Any, None]], term_s: float = 30.0
) -> None:
    """Run ``start()`` while this process holds the lease ``name``; stop it if the lease is lost. Forever."""
    holder = secrets.token_hex(8)
    running: asyncio.Task[None] | None = None
    try:
        while True:
            try:
                held = await take(db, name, holder, term_s)
            except Exception:  # the database away for a moment: keep what runs, try again soon
                log.warning("could not renew lease %s", name, exc_info=True)
                held = running is not None
            if held and running is None:
                log.info("took lease %s", name)
                running = asyncio.create_task(start())
            elif not held and running is not None:
                log.warning("lost lease %s: stopping its work", name)
                await _stop(running)
                running = None
            await asyncio.sleep(term_s / 3)
    finally:
        if running is not None:
            await _stop(running)
            with contextlib.suppress(Exception):  # let another process take over at once
                await release(db, name, holder)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
