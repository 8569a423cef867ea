"""A workspace's connected channel accounts, their outbox, and the webhook deliveries already taken."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crossdesk.db import Base, UTCDateTime, WorkspaceOwned, utcnow


class ChannelAccount(WorkspaceOwned, Base):
    __tablename__ = "channel_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    # Random, unguessable id used in webhook URLs; routes a request to its workspace.
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    # Shared HMAC secret: kept readable because verifying a signature needs it; never returned or logged.
    secret: Mapped[str] = mapped_column(String(128))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The platform's secrets (app secret, access token, mailbox password): write-only through the API.
    credentials: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


OUTBOX_STATES = ("queued", "sending", "sent", "failed", "dead")


class WebhookDelivery(WorkspaceOwned, Base):
    """A platform's delivery id already taken (e.g. ``X-Shopify-Webhook-Id``): a replay is skipped."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("channel_account_id", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxItem(WorkspaceOwned, Base):
    """One outbound message to hand to its channel; written in the reply's own transaction."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    channel_account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # While "sending": until when this worker owns the row; a crashed worker's rows are taken back after it.
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SyncVersion(WorkspaceOwned, Base):
    """The platform's version (its ``updated_at``) of a record last applied from it: webhooks arrive out of
    order, and an older snapshot must not overwrite a newer one."""

    __tablename__ = "sync_versions"
    __table_args__ = (UniqueConstraint("channel_account_id", "resource"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(String(200))  # e.g. "order:450789469"
    version: Mapped[dt.datetime] = mapped_column(UTCDateTime)
