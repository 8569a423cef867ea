"""Ingest: every inbound message stored exactly once, tied to its customer, threaded, and pushed on commit.

Messages are ingested in batches inside one transaction (set-based look-ups, one flush per stage, one
event-sequence reservation), because on SQLite every write goes through one connection and the cost of a
write is mostly per statement, not per row. ``Ingestor`` forms the batches: requests queue up while a batch
commits, and the next batch takes all of them (group commit). A request alone is a batch of one, so an idle
server answers at once. Each request is answered only after its batch has committed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.conversations import assignment
from crossdesk.conversations.models import Conversation, Message
from crossdesk.conversations.schemas import InboundMessage, IngestResult
from crossdesk.conversations.service import conversation_out, due, message_out, tags_of
from crossdesk.customers import service as customers
from crossdesk.customers.identities import InvalidIdentity
from crossdesk.db import Database, utcnow
from crossdesk.realtime.service import append
from crossdesk.retention.segments import SegmentCache
from crossdesk.retention.standing import standings
from crossdesk.workspaces import service as workspaces

if TYPE_CHECKING:
    from crossdesk.workspaces.models import Workspace

log = logging.getLogger(__name__)
ATTEMPTS = 4
MAX_BATCH = 256


@dataclass(frozen=True)
class Inbound:
    """An inbound message with its sender's identities already normalised (so bad ones fail up front)."""

    message: InboundMessage
    account_id: int | None
    keys: list[customers.Key]
    profile: customers.Profile

    @classmethod
    def prepare(cls, message: InboundMessage, account_id: int | None = None) -> Inbound:
        sender = message.sender
        profile = customers.Profile(
            name=sender.name,
            email=sender.email,
            phone=sender.phone,
            country=sender.country,
            language=sender.language or message.language,
        )
        keys = customers.identity_keys(profile, [(i.kind, i.value) for i in sender.identities])
        if not keys:
            raise InvalidIdentity("the sender needs an e-mail, a phone or an identity")
        return cls(message, account_id, keys, profile)

    @property
    def key(self) -> tuple[str, str]:
        return self.message.channel, self.message.platform_message_id


async def ingest(
    db: Database, workspace_id: int, message: InboundMessage, channel_account_id: int | None = None
) -> IngestResult:
    """Ingest one message now, without the batching queue (imports, the demo, tests)."""
    return (await ingest_many(db, workspace_id, [Inbound.prepare(message, channel_account_id)]))[0]


async def ingest_many(
    db: Database, workspace_id: int, items: list[Inbound], segments: SegmentCache | None = None
) -> list[IngestResult]:
    """Store a batch in one transaction; a unique-constraint race with another process retries it whole
    (the retry then finds the other process's rows). With ``segments`` (the app's), a new conversation of
    a high-value or at-risk customer is routed first, by the scores already computed (never here)."""
    scored = segments.peek(workspace_id) if segments is not None else None
    routed_first = standings(scored).marked if scored is not None else frozenset()
    for attempt in range(ATTEMPTS):
        try:
            async with db.transaction(workspace_id) as session:
                return await _store(session, items, routed_first)
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def _store(
    session: AsyncSession, items: list[Inbound], routed_first: frozenset[int]
) -> list[IngestResult]:
    known = await _already_stored(session, items)
    first: dict[tuple[str, str], int] = {}
    fresh = []
    for index, item in enumerate(items):
        if item.key not in known and item.key not in first:
            first[item.key] = index
            fresh.append(item)
    stored = await _store_fresh(session, fresh, routed_first) if fresh else []
    by_key = {item.key: result for item, result in zip(fresh, stored, strict=True)}
    results = []
    for index, item in enumerate(items):
        if item.key in known:
            results.append(known[item.key])
        elif first[item.key] == index:
            results.append(by_key[item.key])
        else:  # the same message twice in one batch
            results.append(by_key[item.key].model_copy(update={"duplicate": True}))
    return results


async def _already_stored(session: AsyncSession, items: list[Inbound]) -> dict[tuple[str, str], IngestResult]:
    rows = await session.execute(
        select(
            Message.channel,
            Message.platform_message_id,
            Message.id,
            Message.conversation_id,
            Conversation.customer_id,
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(tuple_(Message.channel, Message.platform_message_id).in_({i.key for i in items}))
    )
    return {
        (channel, str(pid)): IngestResult(
            message_id=mid, conversation_id=cid, customer_id=cust, duplicate=True
        )
        for channel, pid, mid, cid, cust in rows
    }


async def _store_fresh(
    session: AsyncSession, items: list[Inbound], routed_first: frozenset[int]
) -> list[IngestResult]:
    ws = await workspaces.get_workspace(session, session.info["workspace_id"])
    now = utcnow()
    buyers = await customers.resolve_many(session, [(i.keys, i.profile) for i in items])
    threads, created = await _thread(session, items, [b.id for b in buyers], ws, now, routed_first)
    await session.flush()
    messages = []
    for item, conversation in zip(items, threads, strict=True):
        if (
            conversation.id not in created
            and conversation.first_response_at
            and not conversation.next_response_due_at
        ):
            conversation.next_response_due_at = due(ws, now, "next")
        if conversation.status != "open":  # a buyer's message reopens (a reply by reference, too)
            conversation.status, conversation.snoozed_until, conversation.resolved_at = "open", None, None
        conversation.last_message_at = conversation.updated_at = now
        messages.append(_message(item.message, conversation.id, ws.id, now))
    await _insert_messages(session, messages)
    _log_events(session, threads, created, messages, await tags_of(session, list({c.id for c in threads})))
    return [
        IngestResult(message_id=m["id"], conversation_id=c.id, customer_id=b.id, duplicate=False)
        for m, c, b in zip(messages, threads, buyers, strict=True)
    ]


async def _insert_messages(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert the batch's messages in one executemany, then read their ids back by their unique key.

    Unit-of-work inserts would need RETURNING in row order, which SQLite cannot promise for generated
    keys, so SQLAlchemy falls back to one INSERT per row there (documented under "insertmanyvalues").
    """
    await session.execute(insert(Message), rows)
    keys = [(r["channel"], r["platform_message_id"]) for r in rows]
    found = await session.execute(
        select(Message.channel, Message.platform_message_id, Message.id).where(
            tuple_(Message.channel, Message.platform_message_id).in_(keys)
        )
    )
    ids = {(channel, pid): ident for channel, pid, ident in found}
    for row, key in zip(rows, keys, strict=True):
        row["id"] = ids[key]


def _thread_key(item: Inbound, customer_id: int) -> tuple[str, str, str | int]:
    """A platform thread when the channel names one, else the customer's open conversation there."""
    channel, thread = item.message.channel, item.message.thread_key
    return ("thread", channel, thread) if thread else ("customer", channel, customer_id)


async def _thread(
    session: AsyncSession,
    items: list[Inbound],
    customer_ids: list[int],
    ws: Workspace,
    now: dt.datetime,
    routed_first: frozenset[int],
) -> tuple[list[Conversation], set[int]]:
    """The conversation each message belongs to, opening new ones (flushed) where there is none; those of
    the customers in ``routed_first`` get priority high."""
    threads = {i.message.thread_key for i in items if i.message.thread_key}
    rows = await session.scalars(
        select(Conversation)
        .where(
            Conversation.status != "resolved",
            Conversation.channel.in_({i.message.channel for i in items}),
            or_(Conversation.customer_id.in_(set(customer_ids)), Conversation.thread_key.in_(threads)),
        )
        .order_by(Conversation.id)
    )
    open_by_key: dict[tuple[str, str, str | int], Conversation] = {}
    for conversation in rows:  # newest last, so the newest wins
        _register(open_by_key, conversation)
    referenced = await _referenced(session, items)
    found: list[Conversation] = []
    new: list[Conversation] = []
    for item, customer_id in zip(items, customer_ids, strict=True):
        existing = next((referenced[r] for r in item.message.references if r in referenced), None)
        existing = existing or open_by_key.get(_thread_key(item, customer_id))
        if existing is None:
            existing = _new_conversation(item, customer_id, ws, now)
            new.append(existing)
            _register(open_by_key, existing)
        found.append(existing)
    _route_first(new, routed_first)
    await assignment.assign_new(session, ws, new, now)
    session.add_all(new)
    await session.flush()
    return found, {c.id for c in new}


async def _referenced(session: AsyncSession, items: list[Inbound]) -> dict[str, Conversation]:
    """The conversations of the earlier messages that these answer (by platform id, same channel)."""
    refs = {(i.message.channel, r) for i in items for r in i.message.references}
    if not refs:
        return {}
    rows = await session.execute(
        select(Message.platform_message_id, Conversation)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(tuple_(Message.channel, Message.platform_message_id).in_(refs))
        .order_by(Message.id)
    )
    return {str(pid): conversation for pid, conversation in rows}


def _register(index: dict[tuple[str, str, str | int], Conversation], conversation: Conversation) -> None:
    index[("customer", conversation.channel, conversation.customer_id)] = conversation
    if conversation.thread_key:
        index[("thread", conversation.channel, conversation.thread_key)] = conversation


def _route_first(new: list[Conversation], customer_ids: frozenset[int]) -> None:
    """High-value and at-risk customers are answered first; a priority other than the default stays."""
    for conversation in new:
        if conversation.customer_id in customer_ids and conversation.priority == "normal":
            conversation.priority = "high"


def _new_conversation(item: Inbound, customer_id: int, ws: Workspace, now: dt.datetime) -> Conversation:
    message = item.message
    return Conversation(
        customer_id=customer_id,
        channel=message.channel,
        channel_account_id=item.account_id,
        thread_key=message.thread_key,
        subject=message.subject,
        language=message.language or item.profile.language,
        status="open",
        priority="normal",
        created_at=now,
        updated_at=now,
        last_message_at=now,
        first_response_due_at=due(ws, now, "first"),
    )


def _message(
    inbound: InboundMessage, conversation_id: int, workspace_id: int, now: dt.datetime
) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,  # a bulk insert is not stamped by the session: say it here
        "conversation_id": conversation_id,
        "channel": inbound.channel,
        "direction": "inbound",
        "author_kind": "customer",
        "author_agent_id": None,
        "text": inbound.text,
        "attachments": [a.model_dump() for a in inbound.attachments],
        "platform_message_id": inbound.platform_message_id,
        "is_private": False,
        "delivery_state": None,
        "meta": inbound.meta,
        "sent_at": inbound.sent_at or now,
        "created_at": now,
    }


def _log_events(
    session: AsyncSession,
    threads: list[Conversation],
    created: set[int],
    messages: list[dict[str, Any]],
    tags: dict[int, list[str]],
) -> None:
    views = {c.id: conversation_out(c, tags) for c in threads}
    announced: set[int] = set()
    for conversation, message in zip(threads, messages, strict=True):
        if conversation.id in created and conversation.id not in announced:
            announced.add(conversation.id)
            append(session, "conversation.created", views[conversation.id])
        append(
            session,
            "message.created",
            {"message": message_out(message), "conversation": views[conversation.id]},
        )


class Ingestor:
    """The batching queue in front of ``ingest_many`` (one per server process)."""

    def __init__(self, db: Database, runners: int, segments: SegmentCache | None = None) -> None:
        self.db = db
        self.segments = segments
        self.queue: asyncio.Queue[tuple[int, Inbound, asyncio.Future[IngestResult]]] = asyncio.Queue()
        self.tasks = [asyncio.create_task(self._run()) for _ in range(runners)]

    async def submit(
        self, workspace_id: int, message: InboundMessage, account_id: int | None
    ) -> IngestResult:
        """Queue a message; returns once it is committed. Raises InvalidIdentity at once for a bad sender."""
        return (await self.submit_many(workspace_id, [message], account_id))[0]

    async def submit_many(
        self, workspace_id: int, messages: list[InboundMessage], account_id: int | None
    ) -> list[IngestResult]:
        """Queue a webhook's messages together (no task each: a task per message splits the batches and
        costs a third of the throughput); returns once all are committed."""
        items = [Inbound.prepare(message, account_id) for message in messages]
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[IngestResult]] = []
        for item in items:
            futures.append(loop.create_future())
            self.queue.put_nowait((workspace_id, item, futures[-1]))
        return [await future for future in futures]

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            by_workspace: dict[int, list[tuple[Inbound, asyncio.Future[IngestResult]]]] = {}
            for workspace_id, item, future in batch:
                by_workspace.setdefault(workspace_id, []).append((item, future))
            for workspace_id, entries in by_workspace.items():
                await self._commit(workspace_id, entries)

    async def _commit(
        self, workspace_id: int, entries: list[tuple[Inbound, asyncio.Future[IngestResult]]]
    ) -> None:
        try:
            results = await ingest_many(self.db, workspace_id, [item for item, _ in entries], self.segments)
        except Exception as exc:
            if len(entries) > 1:  # one bad message must not fail the others: settle them one by one
                for entry in entries:
                    await self._commit(workspace_id, [entry])
                return
            log.exception("ingest failed")
            if not entries[0][1].done():
                entries[0][1].set_exception(exc)
            return
        for (_, future), result in zip(entries, results, strict=True):
            if not future.done():  # the caller may have gone away
                future.set_result(result)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
