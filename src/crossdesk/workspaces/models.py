"""Tenants (workspaces), their agents, login sessions and API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from crossdesk.db import Base, UTCDateTime, WorkspaceOwned, utcnow

ROLES = ("owner", "admin", "agent")
DEFAULT_BUSINESS_HOURS: dict[str, list[list[str]]] = {
    day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
}


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    base_currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    default_language: Mapped[str] = mapped_column(String(16), default="en")
    business_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=lambda: dict(DEFAULT_BUSINESS_HOURS))
    sla_first_response_minutes: Mapped[int] = mapped_column(Integer, default=60)
    sla_next_response_minutes: Mapped[int] = mapped_column(Integer, default=240)
    # New conversations go round robin to available agents who speak their language.
    auto_assign: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The seller's policies the assistant answers from and acts within (``assistant.policy.Policy``:
    # returns, shipping times by destination, payment methods, allowed actions); None: the defaults.
    assistant_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The RFM segment rules (``retention.rfm.Rules``) when the seller changed them; None: the defaults.
    rfm_rules: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Last event sequence number handed out; bumped in each writing transaction (see realtime.service).
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Agent(WorkspaceOwned, Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    # One agent account belongs to one workspace, so the e-mail alone identifies it at login.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    language: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The buyers' languages this agent answers in (BCP 47 base codes such as "de", "ja"); empty: any.
    languages: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Weekly working hours in the agent's own zone, shaped like Workspace.business_hours; None: always on.
    shifts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    availability: Mapped[str] = mapped_column(String(16), default="online", server_default="online")
    last_assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginSession(WorkspaceOwned, Base):
    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ApiToken(WorkspaceOwned, Base):
    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
