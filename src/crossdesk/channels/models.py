"""A workspace's connected channel accounts (the API channel now; shops and messengers later)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, String
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
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
