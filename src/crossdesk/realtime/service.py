"""Appending to and reading the per-workspace event log.

``append`` only queues an event on the session; ``write_pending`` (called by ``Database.transaction`` just
before commit) numbers the queued events in one statement and inserts them, so the workspace's sequence
row is locked for the shortest time. After the commit the same dicts go to the bus.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.db import utcnow
from crossdesk.realtime.models import Event
from crossdesk.workspaces.service import reserve_event_seqs

# Event types an agent's client can receive.
EVENT_TYPES = (
    "conversation.created",
    "conversation.updated",
    "message.created",
    "message.updated",
    "typing",
    "presence",
)


def append(session: AsyncSession, type_: str, data: dict[str, Any]) -> None:
    """Queue an event for the workspace of this session; it is logged and published on commit."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_}")
    session.info["events"].append({"type": type_, "data": data})


async def write_pending(session: AsyncSession) -> None:
    events: list[dict[str, Any]] = session.info["events"]
    if not events:
        return
    workspace_id = session.info["workspace_id"]
    last = await reserve_event_seqs(session, workspace_id, len(events))
    now = utcnow()
    for seq, event in enumerate(events, start=last - len(events) + 1):
        event.update(workspace_id=workspace_id, seq=seq, at=now.isoformat())
    await session.execute(
        insert(Event),
        [
            {
                "workspace_id": workspace_id,
                "seq": e["seq"],
                "type": e["type"],
                "payload": e["data"],
                "created_at": now,
            }
            for e in events
        ],
    )


def to_wire(event: Event) -> dict[str, Any]:
    """The bus/log shape of a stored event."""
    return {
        "workspace_id": event.workspace_id,
        "seq": event.seq,
        "type": event.type,
        "data": event.payload,
        "at": event.created_at.isoformat(),
    }


async def events_after(
    session: AsyncSession, after: int, limit: int, upto: int | None = None
) -> list[dict[str, Any]]:
    stmt = select(Event).where(Event.seq > after).order_by(Event.seq).limit(limit)
    if upto is not None:
        stmt = stmt.where(Event.seq <= upto)
    return [to_wire(e) for e in (await session.scalars(stmt)).all()]


async def oldest_seq(session: AsyncSession) -> int | None:
    return await session.scalar(select(func.min(Event.seq)))


async def prune(session: AsyncSession, keep: int) -> int:
    """Drop all but the newest ``keep`` events of the session's workspace; returns how many went."""
    newest = await session.scalar(select(func.max(Event.seq)))
    if newest is None or newest <= keep:
        return 0
    result = await session.execute(delete(Event).where(Event.seq <= newest - keep))
    return int(result.rowcount)  # type: ignore[attr-defined]
