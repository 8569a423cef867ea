"""Tables of the deployment itself (not of any workspace)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crossdesk.db import Base, UTCDateTime


class Lease(Base):
    """Who runs a piece of work that one process of the deployment must do alone (see ``ops.leases``)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
