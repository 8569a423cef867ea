"""Conversations, their messages and tags."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crossdesk.db import Base, UTCDateTime, WorkspaceOwned, utcnow

STATUSES = ("open", "pending", "snoozed", "resolved")
PRIORITIES = ("low", "normal", "high", "urgent")
AUTHOR_KINDS = ("customer", "agent", "assistant", "system")
DIRECTIONS = ("inbound", "outbound", "internal")


class Conversation(WorkspaceOwned, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_inbox", "workspace_id", "status", "last_message_at"),
        Index("ix_conversations_thread", "workspace_id", "customer_id", "channel", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    channel_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="SET NULL")
    )
    # The platform's own thread reference (e-mail thread, marketplace order thread), when it has one.
    thread_key: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_response_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    snoozed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ConversationTag(WorkspaceOwned, Base):
    __tablename__ = "conversation_tags"
    __table_args__ = (
        UniqueConstraint("conversation_id", "tag"),
        Index("ix_conversation_tags_tag", "workspace_id", "tag"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(64))


class Message(WorkspaceOwned, Base):
    __tablename__ = "messages"
    __table_args__ = (
        # Idempotent ingest: a platform's message id is stored once per channel and workspace.
        UniqueConstraint("workspace_id", "channel", "platform_message_id"),
        Index("ix_messages_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(16))
    author_kind: Mapped[str] = mapped_column(String(16))
    author_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    platform_message_id: Mapped[str | None] = mapped_column(String(320))
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    # Outbound only: queued, sent, delivered, read, failed or dead (see channels.outbox); None where
    # nothing is sent.
    delivery_state: Mapped[str | None] = mapped_column(String(16))
    # Channel-specific extras: e-mail headers, a WhatsApp template, the order an Amazon message is about.
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Macro(WorkspaceOwned, Base):
    """A saved reply with variables such as ``{{ customer.first_name }}`` (see conversations.macros)."""

    __tablename__ = "macros"
    __table_args__ = (UniqueConstraint("workspace_id", "name", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # The buyer's language this version is written in; None: any.
    language: Mapped[str | None] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    # Tags the macro adds and the status it sets when used (optional actions, as in Gorgias/Zendesk).
    add_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    set_status: Mapped[str | None] = mapped_column(String(16))
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
