"""The inbox: ingest, threading, replies, notes, assignment, status and the SLA clock."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.channels import outbox
from crossdesk.channels.adapter import Outbound, Receipt
from crossdesk.channels.rules import check_reply
from crossdesk.conversations.models import Conversation, ConversationTag, Message
from crossdesk.conversations.schemas import (
    ConversationOut,
    ConversationPatch,
    MessageOut,
    TemplateIn,
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
    # Further conditions built elsewhere (the inbox's views and search: conversations.views).
    where: list[ColumnElement[bool]] = field(default_factory=list)


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
    return select(Conversation).where(*clauses, *flt.where)


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
    session: AsyncSession,
    conversation_id: int,
    agent_id: int | None,
    text: str,
    *,
    private: bool,
    template: TemplateIn | None = None,
    meta: dict[str, Any] | None = None,
    author_kind: str = "agent",
) -> dict[str, Any]:
    """A reply to the buyer (private=False) or an internal note (private=True) by an agent or integration
    (or by the assistant, ``author_kind="assistant"``, or crossdesk itself, ``"system"``).
    ``meta`` is stored with the message (a note's ``{"mentions": [agent ids]}``).

    A reply the conversation's channel would refuse (too long, outside its reply window) raises
    ReplyRefused with the reason, and nothing is stored."""
    conversation = await get_conversation(session, conversation_id)
    now = utcnow()
    sender = None if private else await outbox.sender_of(session, conversation.channel_account_id)
    if sender is not None:
        check_reply(
            sender.limits, text, await _last_inbound_at(session, conversation.id), now, bool(template)
        )
    message = Message(
        conversation_id=conversation.id,
        channel=conversation.channel,
        direction="internal" if private else "outbound",
        author_kind=author_kind,
        author_agent_id=agent_id,
        text=text,
        is_private=private,
        meta={**(meta or {}), **({"template": template.model_dump()} if template else {})} or None,
        delivery_state="queued" if sender is not None else None,
        sent_at=now,
        created_at=now,
    )
    session.add(message)
    if not private:
        conversation.first_response_at = conversation.first_response_at or now
        conversation.next_response_due_at = None
        conversation.last_message_at = now
    conversation.updated_at = now
    await session.flush()
    if sender is not None:
        await outbox.enqueue(session, message.id, conversation.channel_account_id)  # type: ignore[arg-type]
    out = message_out(message)
    conv = conversation_out(conversation, await tags_of(session, [conversation.id]))
    append(session, "message.created", {"message": out, "conversation": conv})
    return out


async def _last_inbound_at(session: AsyncSession, conversation_id: int) -> dt.datetime | None:
    stmt = select(func.max(Message.created_at)).where(
        Message.conversation_id == conversation_id, Message.direction == "inbound"
    )
    return await session.scalar(stmt)


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


async def outbound_payload(session: AsyncSession, message_id: int) -> Outbound:
    """What a channel needs to deliver a reply: the message, its thread and the buyer's identities."""
    message = await session.get_one(Message, message_id)
    conversation = await get_conversation(session, message.conversation_id)
    customer = await customers.get(session, conversation.customer_id)
    identities = [(i.kind, i.value) for i in await customers.identities_of(session, conversation.customer_id)]
    replying_to = await session.scalars(
        select(Message.platform_message_id)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == "inbound",
            Message.platform_message_id.is_not(None),
        )
        .order_by(Message.id.desc())
        .limit(20)
    )
    out = message_out(message)
    name = customer.name if customer else None
    return Outbound(
        message_id=message.id,
        conversation_id=conversation.id,
        channel=conversation.channel,
        text=message.text,
        attachments=list(message.attachments),
        thread_key=conversation.thread_key,
        subject=conversation.subject,
        customer_name=name,
        identities=identities,
        replying_to=[str(p) for p in replying_to],
        meta=dict(message.meta or {}),
        payload={
            "event": "message.outbound",
            "message": out,
            "conversation": {
                "id": conversation.id,
                "thread_key": conversation.thread_key,
                "subject": conversation.subject,
            },
            "customer": {
                "id": conversation.customer_id,
                "name": name,
                "identities": [{"kind": k, "value": v} for k, v in identities],
            },
        },
    )


async def set_delivery_state(
    session: AsyncSession, message_id: int, state: str, platform_id: str | None, error: str | None
) -> None:
    """Record how a reply's delivery went (and the platform's id for it) and tell the agents."""
    message = await session.get_one(Message, message_id)
    message.delivery_state = state
    if platform_id is not None:
        message.platform_message_id = platform_id
    if error is not None or (message.meta or {}).get("delivery_error"):
        message.meta = {**(message.meta or {}), "delivery_error": error}
    await session.flush()
    append(session, "message.updated", {"message": message_out(message)})


# A receipt only moves a reply forward (a late "delivered" does not undo "read"); "failed" always counts.
_PROGRESS = {"queued": 0, "sending": 0, "failed": 0, "sent": 1, "delivered": 2, "read": 3}


async def apply_receipts(session: AsyncSession, channel: str, receipts: list[Receipt]) -> None:
    """The platform says replies were delivered, read or failed: update them and tell the agents."""
    for receipt in receipts:
        for message in await session.scalars(_receipt_targets(channel, receipt)):
            current = _PROGRESS.get(message.delivery_state or "", 0)
            if receipt.state == "failed":
                message.delivery_state = "failed"
                message.meta = {**(message.meta or {}), "delivery_error": receipt.error or "failed"}
            elif _PROGRESS[receipt.state] > current:
                message.delivery_state = receipt.state
            else:
                continue
            await session.flush()
            append(session, "message.updated", {"message": message_out(message)})


def _receipt_targets(channel: str, receipt: Receipt) -> Select[Message]:
    stmt = select(Message).where(Message.channel == channel, Message.direction == "outbound")
    if receipt.platform_message_id is not None:
        return stmt.where(Message.platform_message_id == receipt.platform_message_id)
    if receipt.thread_key is None or receipt.before is None:
        raise ValueError("a receipt names a message, or a thread and a time")
    return stmt.where(
        Message.conversation_id.in_(
            select(Conversation.id).where(
                Conversation.channel == channel, Conversation.thread_key == receipt.thread_key
            )
        ),
        Message.sent_at <= receipt.before,
        Message.delivery_state.in_(("sent", "delivered")),
    ).order_by(Message.id)


FIRST_WORDS = 120  # characters of a past conversation's first message shown beside the current one


@dataclass(frozen=True)
class PastConversation:
    id: int
    channel: str
    subject: str | None
    first_words: str
    status: str
    last_message_at: dt.datetime


async def conversations_of(
    session: AsyncSession, customer_id: int, *, besides: int | None = None, limit: int = 10
) -> tuple[list[PastConversation], int]:
    """The customer's newest conversations (all but ``besides``) with the start of their first visible
    message, and how many there are in all: one query."""
    first = (
        select(func.substr(Message.text, 1, FIRST_WORDS))
        .where(Message.conversation_id == Conversation.id, Message.is_private.is_(False))
        .order_by(Message.id)
        .limit(1)
        .scalar_subquery()
    )
    stmt = select(Conversation, first, func.count().over()).where(Conversation.customer_id == customer_id)
    if besides is not None:
        stmt = stmt.where(Conversation.id != besides)
    rows = await session.execute(
        stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit)
    )
    listed = rows.all()
    found = [
        PastConversation(c.id, c.channel, c.subject, " ".join((t or "").split()), c.status, c.last_message_at)
        for c, t, _total in listed
    ]
    return found, int(listed[0][2]) if listed else 0


async def neighbours(session: AsyncSession, conversation: Conversation) -> tuple[int | None, int | None]:
    """The open conversations before and after this one in the inbox's order (latest message first)."""
    at, ident = conversation.last_message_at, conversation.id
    base = select(Conversation.id).where(Conversation.status == "open", Conversation.id != ident)
    newer = or_(
        Conversation.last_message_at > at, and_(Conversation.last_message_at == at, Conversation.id > ident)
    )
    older = or_(
        Conversation.last_message_at < at, and_(Conversation.last_message_at == at, Conversation.id < ident)
    )
    previous = await session.scalar(
        base.where(newer).order_by(Conversation.last_message_at.asc(), Conversation.id.asc()).limit(1)
    )
    following = await session.scalar(
        base.where(older).order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(1)
    )
    return previous, following
