"""Repeat-purchase and win-back campaigns: who gets what, through which channel, when, and what came of it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crossdesk.db import Base, UTCDateTime, WorkspaceOwned, utcnow

CAMPAIGN_STATES = ("draft", "scheduled", "sending", "done", "cancelled")
RECIPIENT_STATES = ("pending", "skipped", "queued", "sent", "delivered", "read", "failed", "control")


class Campaign(WorkspaceOwned, Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="repeat")  # repeat or win_back
    # The audience: RFM segment names (``retention``); empty means every customer who bought.
    segments: Mapped[list[str]] = mapped_column(JSON, default=list)
    channel_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="SET NULL")
    )
    # {language: {"subject": ..., "body": ...}}; bodies are sandboxed templates like macros.
    templates: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    default_language: Mapped[str] = mapped_column(String(16), default="en")
    discount_code: Mapped[str | None] = mapped_column(String(64))
    # Sent only between these hours of the buyer's own day (their time zone, else the workspace's).
    send_from_hour: Mapped[int] = mapped_column(Integer, default=10)
    send_until_hour: Mapped[int] = mapped_column(Integer, default=19)
    # At most one campaign message per customer within this many days, across all campaigns.
    frequency_cap_days: Mapped[int] = mapped_column(Integer, default=7)
    control_share: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal("0.100"))
    attribution_days: Mapped[int] = mapped_column(Integer, default=14)
    state: Mapped[str] = mapped_column(String(16), default="draft")
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CampaignRecipient(WorkspaceOwned, Base):
    __tablename__ = "campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        Index("ix_campaign_recipients_due", "state", "send_after"),
        Index("ix_campaign_recipients_customer", "workspace_id", "customer_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    is_control: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    skip_reason: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    send_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    # Handed to the outbox; what came of it (delivery, replies, orders) is read from the message, the
    # conversation and the orders when results are asked for (campaigns.results).
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Unsubscribe(WorkspaceOwned, Base):
    """A customer's "no more marketing" (per channel kind, or "*" for all); kept forever."""

    __tablename__ = "unsubscribes"
    __table_args__ = (UniqueConstraint("customer_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32), default="*")
    source: Mapped[str] = mapped_column(String(32), default="link")  # link, reply, agent, import
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
