"""The inbox: ingest, threading, replies, notes, assignment, status and the SLA clock."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.channels import outbox
from crossdesk.conversations.models import Conversation, ConversationTag, Message
from crossdesk.conversations.schemas import (
    ConversationOut,
    ConversationPatch,
    MessageOut,
)
from crossdesk.conversations.sla import add_business_minutes
from crossdesk.customers import service as customers
from crossdesk.db import utcnow
from crossdesk.realtime.service import append
from crossdesk.workspaces import service as workspaces

if TYPE_CHECKING:
    from crossdesk.workspaces.models import Workspace


class NotFound(LookupError):
    pass


def due(ws: Workspace, start: dt.datetime, which: str) -> dt.datetime:
    """When the first (or next) response is due for a buyer message at ``start``, in business time."""
    minutes = ws.sla_first_response_minutes if which == "first" else ws.sla_next_response_minutes
    return add_business_minutes(start, minutes, ws.business_hours, ws.timezone)


async def reassign_customer_conversations(session: AsyncSession, from_ids: list[int], to_id: int) -> None:
    await session.execute(
        update(Conversation).where(Conversation.customer_id.in_(from_ids)).values(customer_id=to_id)
    )


def message_out(message: Message | dict[str, Any]) -> dict[str, Any]:
    """A message as the API and the event log show it, from a row object or a row's values."""
    return MessageOut.model_validate(message).model_dump(mode="json")


def conversation_out(conversation: Conversation, tags: dict[int, list[str]]) -> dict[str, Any]:
    out = ConversationOut.model_validate(conversation)
    out.tags = tags.get(conversation.id, [])
    return out.model_dump(mode="json")


async def tags_of(session: AsyncSession, conversation_ids: list[int]) -> dict[int, list[str]]:
    rows = await session.execute(
        select(ConversationTag.conversation_id, ConversationTag.tag)
        .where(ConversationTag.conversation_id.in_(conversation_ids))
        .order_by(ConversationTag.tag)
    )
    tags: dict[int, list[str]] = {}
    for conversation_id, tag in rows:
        tags.setdefault(conversation_id, []).append(tag)
    return tags


@dataclass
class ConversationFilter:
    status: list[str] = field(default_factory=list)
    assignee_id: int | None = None
    unassigned: bool = False
    channel: str | None = None
    language: str | None = None
    tag: str | None = None
    customer_id: int | None = None


def _encode_cursor(conversation: Conversation) -> str:
    raw = f"{conversation.last_message_at.isoformat()}|{conversation.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        at, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = dt.datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, int(ident)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("invalid cursor") from exc


def _filtered(flt: ConversationFilter) -> Select[Conversation]:
    clauses: list[ColumnElement[bool]] = []
    if flt.status:
        clauses.append(Conversation.status.in_(flt.status))
    if flt.unassigned:
        clauses.append(Conversation.assignee_id.is_(None))
    elif flt.assignee_id is not None:
        clauses.append(Conversation.assignee_id == flt.assignee_id)
    for column, value in (
        (Conversation.channel, flt.channel),
        (Conversation.language, flt.language),
        (Conversation.customer_id, flt.customer_id),
    ):
        if value is not None:
            clauses.append(column == value)
    if flt.tag is not None:
        clauses.append(
            Conversation.id.in_(select(ConversationTag.conversation_id).where(ConversationTag.tag == flt.tag))
        )
    return select(Conversation).where(*clauses)


async def list_conversations(
    session: AsyncSession, flt: ConversationFilter, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest activity first, keyset-paged so pages stay stable while messages arrive."""
    stmt = _filtered(flt)
    if cursor:
        at, ident = _decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                Conversation.last_message_at < at,
                and_(Conversation.last_message_at == at, Conversation.id < ident),
            )
        )
    rows = list(
        (
            await session.scalars(
                stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit + 1)
            )
        ).all()
    )
    page, more = rows[:limit], len(rows) > limit
    tags = await tags_of(session, [c.id for c in page])
    return [conversation_out(c, tags) for c in page], _encode_cursor(page[-1]) if more else None


async def get_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


async def messages_of(
    session: AsyncSession, conversation_id: int, include_private: bool = True
) -> list[Message]:
    stmt = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
    if not include_private:
        stmt = stmt.where(Message.is_private.is_(False))
    return list((await session.scalars(stmt)).all())


async def add_agent_message(
    session: AsyncSession, conversation_id: int, agent_id: int | None, text: str, *, private: bool
) -> dict[str, Any]:
    """A reply to the buyer (private=False) or an internal note (private=True) by an agent or integration."""
    conversation = await get_conversation(session, conversation_id)
    now = utcnow()
    message = Message(
        conversation_id=conversation.id,
        channel=conversation.channel,
        direction="internal" if private else "outbound",
        author_kind="agent",
        author_agent_id=agent_id,
        text=text,
        is_private=private,
        sent_at=now,
        created_at=now,
    )
    session.add(message)
    if not private:
        conversation.first_response_at = conversation.first_response_at or now
        conversation.next_response_due_at = None
        conversation.last_message_at = now
        if await outbox.can_send(session, conversation.channel_account_id):
            message.delivery_state = "queued"
    conversation.updated_at = now
    await session.flush()
    if message.delivery_state == "queued":
        await outbox.enqueue(session, message.id, conversation.channel_account_id)  # type: ignore[arg-type]
    out = message_out(message)
    conv = conversation_out(conversation, await tags_of(session, [conversation.id]))
    append(session, "message.created", {"message": out, "conversation": conv})
    return out


async def update_conversation(
    session: AsyncSession, conversation_id: int, patch: ConversationPatch
) -> dict[str, Any]:
    conversation = await get_conversation(session, conversation_id)
    changes = patch.model_dump(exclude_unset=True)
    now = utcnow()
    assignee = changes.get("assignee_id")
    if assignee is not None and await workspaces.get_agent(session, assignee) is None:
        raise NotFound(f"agent {assignee} not found")
    if changes.get("status") == "snoozed" and not patch.snoozed_until:
        raise ValueError("snoozing needs snoozed_until")
    for name in ("status", "priority", "assignee_id", "snoozed_until"):
        if name in changes:
            setattr(conversation, name, changes[name])
    if "status" in changes:
        conversation.resolved_at = now if patch.status == "resolved" else None
        if patch.status != "snoozed":
            conversation.snoozed_until = None
    if patch.tags is not None:
        await session.execute(
            delete(ConversationTag).where(ConversationTag.conversation_id == conversation.id)
        )
        session.add_all(
            ConversationTag(conversation_id=conversation.id, tag=t) for t in dict.fromkeys(patch.tags)
        )
    conversation.updated_at = now
    await session.flush()
    out = conversation_out(conversation, await tags_of(session, [conversation.id]))
    append(session, "conversation.updated", {"conversation": out, "changed": sorted(changes)})
    return out


async def outbound_payload(session: AsyncSession, message_id: int) -> dict[str, Any]:
    """What a channel sender needs to deliver a reply: the message, its thread and the buyer's identities."""
    message = await session.get_one(Message, message_id)
    conversation = await get_conversation(session, message.conversation_id)
    customer = await customers.get(session, conversation.customer_id)
    identities = await customers.identities_of(session, conversation.customer_id)
    return {
        "event": "message.outbound",
        "message": message_out(message),
        "conversation": {
            "id": conversation.id,
            "thread_key": conversation.thread_key,
            "subject": conversation.subject,
        },
        "customer": {
            "id": conversation.customer_id,
            "name": customer.name if customer else None,
            "identities": [{"kind": i.kind, "value": i.value} for i in identities],
        },
    }


async def set_delivery_state(session: AsyncSession, message_id: int, state: str) -> None:
    """Record how a reply's delivery went and tell the agents."""
    message = await session.get_one(Message, message_id)
    message.delivery_state = state
    await session.flush()
    append(session, "message.updated", {"message": message_out(message)})
