"""The per-workspace, ordered, resumable event log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crossdesk.db import Base, UTCDateTime, WorkspaceOwned, utcnow


class Event(WorkspaceOwned, Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("workspace_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
