"""Channel accounts of a workspace."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.channels.models import ChannelAccount


async def create_account(
    session: AsyncSession, kind: str, name: str, config: dict[str, Any] | None = None
) -> tuple[ChannelAccount, str]:
    """Create a channel account; returns it and its secret (shown to the user once)."""
    secret = secrets.token_urlsafe(32)
    account = ChannelAccount(
        kind=kind, name=name, public_id=secrets.token_urlsafe(16), secret=secret, config=config or {}
    )
    session.add(account)
    await session.flush()
    return account, secret


async def find_by_public_id(session: AsyncSession, kind: str, public_id: str) -> ChannelAccount | None:
    """Route an inbound request to its account (system session: the account decides the workspace)."""
    stmt = select(ChannelAccount).where(
        ChannelAccount.public_id == public_id, ChannelAccount.kind == kind, ChannelAccount.is_active.is_(True)
    )
    return await session.scalar(stmt)


async def list_accounts(session: AsyncSession) -> list[ChannelAccount]:
    return list((await session.scalars(select(ChannelAccount).order_by(ChannelAccount.id))).all())


async def update_account(
    session: AsyncSession, account_id: int, changes: dict[str, Any]
) -> ChannelAccount | None:
    account = await session.get(ChannelAccount, account_id)
    if account is None:
        return None
    if "webhook_url" in changes:
        account.config = {**account.config, "webhook_url": changes.pop("webhook_url")}
    for name, value in changes.items():
        setattr(account, name, value)
    await session.flush()
    return account
