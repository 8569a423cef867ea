"""The outbox: replies leave through a table, so a crash between commit and send loses nothing.

A reply and its outbox row are written in one transaction. A worker in every server process claims due rows
with a conditional UPDATE (safe with several processes: a row another worker claimed no longer matches),
hands each to its channel's sender, and records the outcome: sent; failed, retried with exponential backoff;
or dead (a permanent refusal, or too many attempts). A worker sends one conversation's replies one after
another, in the order they were written (with several processes, or after a retry, that order is not
guaranteed). A worker that dies mid-send leaves a lease that expires, and the row is sent again: senders
pass an idempotency key so the platform can drop the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.channels.adapter import Account, Adapter, Outbound, PermanentError
from crossdesk.channels.models import ChannelAccount, OutboxItem
from crossdesk.channels.registry import ADAPTERS, sender_for
from crossdesk.channels.service import view
from crossdesk.conversations.models import Message
from crossdesk.db import Database, utcnow
from crossdesk.ops import metrics

log = logging.getLogger(__name__)
MAX_CHAINS = 200  # conversations being sent at once, per process
Payload = Callable[[AsyncSession, int], Awaitable[Outbound]]
# (session, message id, state, the platform's id for it, the error): records a delivery attempt.
SetState = Callable[[AsyncSession, int, str, str | None, str | None], Awaitable[None]]


async def sender_of(session: AsyncSession, account_id: int | None) -> Adapter | None:
    """The adapter that sends replies of conversations of this account, if it is active and set up."""
    account = await session.get(ChannelAccount, account_id) if account_id is not None else None
    return sender_for(account) if account is not None and account.is_active else None


async def enqueue(session: AsyncSession, message_id: int, account_id: int) -> None:
    session.add(OutboxItem(message_id=message_id, channel_account_id=account_id))


def _redacted(error: str | None, account: Account) -> str | None:
    """An error is shown to agents and logged: no platform secret may ride along in it (say, in a URL)."""
    if error is None:
        return None
    for secret in (account.secret, *account.credentials.values()):
        if len(secret) >= 4:
            error = error.replace(secret, "[secret]")
    return error


@dataclass(frozen=True)
class Claimed:
    id: int
    workspace_id: int
    message_id: int
    account_id: int
    attempts: int
    conversation_id: int


def _by_conversation(claimed: list[Claimed]) -> dict[int, list[Claimed]]:
    threads: dict[int, list[Claimed]] = {}
    for item in claimed:
        threads.setdefault(item.conversation_id, []).append(item)
    return threads


def _due(now: dt.datetime) -> Any:
    waiting = and_(OutboxItem.state.in_(("queued", "failed")), OutboxItem.next_attempt_at <= now)
    abandoned = and_(OutboxItem.state == "sending", OutboxItem.lease_until < now)
    return or_(waiting, abandoned)


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        payload: Payload,
        set_state: SetState,
        *,
        batch: int = 20,
        poll_s: float = 1.0,
        max_attempts: int = 8,
        lease_s: int = 300,
    ) -> None:
        self.db, self.payload, self.set_state = db, payload, set_state
        self.batch, self.poll_s, self.max_attempts, self.lease_s = batch, poll_s, max_attempts, lease_s
        self._wake = asyncio.Event()
        self._chains: dict[int, asyncio.Task[None]] = {}  # conversation -> its replies being sent
        self.client = httpx.AsyncClient(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Claim due rows and send them, forever. A slow platform holds up only its own conversations:
        each conversation's replies are a chain of their own, and the next rows are claimed while they run."""
        while True:
            try:
                if len(self._chains) < MAX_CHAINS and (claimed := await self._claim()):
                    for conversation_id, items in _by_conversation(claimed).items():
                        self._chain(conversation_id, items)
                    continue
                await self._measure_depth()
            except Exception:  # the worker must outlive a database hiccup; the next round retries
                log.exception("outbox round failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)

    def _chain(self, conversation_id: int, items: list[Claimed]) -> None:
        """Send ``items`` after what is already being sent in the conversation (replies leave in order)."""
        before = self._chains.get(conversation_id)

        async def send() -> None:
            if before is not None:
                await asyncio.gather(before, return_exceptions=True)
            await self._deliver_in_order(items)

        task = asyncio.create_task(send())
        self._chains[conversation_id] = task
        task.add_done_callback(lambda done: self._unchain(conversation_id, done))

    def _unchain(self, conversation_id: int, done: asyncio.Task[None]) -> None:
        if self._chains.get(conversation_id) is done:
            del self._chains[conversation_id]
        if not done.cancelled() and done.exception() is not None:
            log.error("outbox chain failed", exc_info=done.exception())
        self._wake.set()  # room for more

    async def run_once(self) -> int:
        """One round, waited for to the end (tests, tools)."""
        claimed = await self._claim()
        chains = _by_conversation(claimed).values()
        await asyncio.gather(*(self._deliver_in_order(items) for items in chains))
        await self._measure_depth()
        return len(claimed)

    async def _deliver_in_order(self, items: list[Claimed]) -> None:
        for item in sorted(items, key=lambda i: i.message_id):
            await self._deliver(item)

    async def close(self) -> None:
        for task in list(self._chains.values()):
            task.cancel()
        await asyncio.gather(*self._chains.values(), return_exceptions=True)
        await self.client.aclose()

    async def _claim(self) -> list[Claimed]:
        now = utcnow()
        due_ids = select(OutboxItem.id).where(_due(now)).order_by(OutboxItem.id).limit(self.batch)
        stmt = (
            update(OutboxItem)
            .where(OutboxItem.id.in_(due_ids), _due(now))
            .values(
                state="sending",
                lease_until=now + dt.timedelta(seconds=self.lease_s),
                attempts=OutboxItem.attempts + 1,
            )
            .returning(
                OutboxItem.id,
                OutboxItem.workspace_id,
                OutboxItem.message_id,
                OutboxItem.channel_account_id,
                OutboxItem.attempts,
            )
        )
        async with self.db.transaction(system=True) as session:
            rows = (await session.execute(stmt)).all()
            found = await session.execute(
                select(Message.id, Message.conversation_id).where(Message.id.in_([r[2] for r in rows]))
            )
            threads = {message_id: conversation_id for message_id, conversation_id in found}
        return [Claimed(*row, conversation_id=threads[row[2]]) for row in rows]

    async def _deliver(self, item: Claimed) -> None:
        async with self.db.transaction(item.workspace_id, readonly=True) as session:
            row = await session.get_one(ChannelAccount, item.account_id)
            account, active = view(row), row.is_active
            outbound = await self.payload(session, item.message_id)
        error: str | None = None
        permanent = False
        platform_id = None
        try:
            adapter = ADAPTERS.get(account.kind)
            if adapter is None or not active:
                raise PermanentError("the channel is switched off or no longer exists")
            platform_id = await adapter.send(
                self.client, account, outbound, f"crossdesk-message-{item.message_id}"
            )
        except PermanentError as exc:
            error, permanent = str(exc), True
        except (httpx.HTTPError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a channel's bug: retried, then dead, never stuck
            log.exception("a channel's send failed unexpectedly", extra={"outbox_id": item.id})
            error = f"{type(exc).__name__}: {exc}"
        await self._record(item, _redacted(error, account), permanent, platform_id)

    async def _record(
        self, item: Claimed, error: str | None, permanent: bool, platform_id: str | None
    ) -> None:
        now = utcnow()
        if error is None:
            values: dict[str, Any] = {"state": "sent", "sent_at": now, "last_error": None}
        elif permanent or item.attempts >= self.max_attempts:
            values = {"state": "dead", "last_error": error[:500]}
        else:
            delay = min(2**item.attempts, 300) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not crypto
            values = {
                "state": "failed",
                "last_error": error[:500],
                "next_attempt_at": now + dt.timedelta(seconds=delay),
            }
        log.info(
            "outbox delivery",
            extra={"outbox_id": item.id, "state": values["state"], "attempt": item.attempts},
        )
        async with self.db.transaction(item.workspace_id) as session:
            await session.execute(
                update(OutboxItem).where(OutboxItem.id == item.id).values(lease_until=None, **values)
            )
            await self.set_state(session, item.message_id, values["state"], platform_id, error)

    async def _measure_depth(self) -> None:
        async with self.db.transaction(system=True, readonly=True) as session:
            depth = await session.scalar(
                select(func.count())
                .select_from(OutboxItem)
                .where(OutboxItem.state.in_(("queued", "sending", "failed")))
            )
        metrics.OUTBOX_DEPTH.set(depth or 0)
