"""Channel accounts of a workspace."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.channels.adapter import Account
from crossdesk.channels.models import ChannelAccount, SyncVersion, WebhookDelivery
from crossdesk.db import Database


async def create_account(
    session: AsyncSession,
    kind: str,
    name: str,
    config: dict[str, Any] | None = None,
    credentials: dict[str, str] | None = None,
) -> tuple[ChannelAccount, str]:
    """Create a channel account; returns it and its secret (shown to the user once)."""
    secret = secrets.token_urlsafe(32)
    account = ChannelAccount(
        kind=kind,
        name=name,
        public_id=secrets.token_urlsafe(16),
        secret=secret,
        config=config or {},
        credentials=credentials or {},
    )
    session.add(account)
    await session.flush()
    return account, secret


def view(account: ChannelAccount) -> Account:
    return Account(
        id=account.id,
        workspace_id=account.workspace_id,
        kind=account.kind,
        public_id=account.public_id,
        secret=account.secret,
        config=dict(account.config),
        credentials=dict(account.credentials),
    )


async def find_by_public_id(session: AsyncSession, kind: str, public_id: str) -> ChannelAccount | None:
    """Route an inbound request to its account (system session: the account decides the workspace)."""
    stmt = select(ChannelAccount).where(
        ChannelAccount.public_id == public_id, ChannelAccount.kind == kind, ChannelAccount.is_active.is_(True)
    )
    return await session.scalar(stmt)


async def list_accounts(session: AsyncSession) -> list[ChannelAccount]:
    return list((await session.scalars(select(ChannelAccount).order_by(ChannelAccount.id))).all())


async def get_account(session: AsyncSession, account_id: int) -> ChannelAccount | None:
    return await session.get(ChannelAccount, account_id)


async def update_account(
    session: AsyncSession, account_id: int, changes: dict[str, Any]
) -> ChannelAccount | None:
    """Rename, switch on or off, and merge settings and secrets into the account (a secret set to an empty
    string is removed)."""
    account = await get_account(session, account_id)
    if account is None:
        return None
    if "config" in changes:
        account.config = {**account.config, **changes.pop("config")}
    if "credentials" in changes:
        merged = {**account.credentials, **changes.pop("credentials")}
        account.credentials = {name: value for name, value in merged.items() if value}
    for name, value in changes.items():
        setattr(account, name, value)
    await session.flush()
    return account


async def active_accounts(session: AsyncSession, kind: str) -> list[Account]:
    """Every active account of a kind, across workspaces (a system session)."""
    stmt = select(ChannelAccount).where(ChannelAccount.kind == kind, ChannelAccount.is_active.is_(True))
    return [view(a) for a in (await session.scalars(stmt.order_by(ChannelAccount.id))).all()]


async def delivery_seen(session: AsyncSession, account_id: int, delivery_id: str) -> bool:
    stmt = select(WebhookDelivery.id).where(
        WebhookDelivery.channel_account_id == account_id, WebhookDelivery.delivery_id == delivery_id[:200]
    )
    return await session.scalar(stmt) is not None


async def first_delivery(session: AsyncSession, account_id: int, delivery_id: str) -> bool:
    """Record a platform's delivery id; False if it was taken before (a replay or a retry)."""
    try:
        async with session.begin_nested():
            session.add(WebhookDelivery(channel_account_id=account_id, delivery_id=delivery_id[:200]))
            await session.flush()
    except IntegrityError:
        return False
    return True


async def claim_version(session: AsyncSession, account_id: int, resource: str, version: dt.datetime) -> bool:
    """Whether a platform's snapshot of a record is at least as new as the last one applied (then it becomes
    the record's version). The row stays locked to the commit on PostgreSQL (SQLite has one writer), so
    snapshots of one record apply one after another; a concurrent first claim raises IntegrityError."""
    stmt = (
        select(SyncVersion)
        .where(SyncVersion.channel_account_id == account_id, SyncVersion.resource == resource)
        .with_for_update()
    )
    row = await session.scalar(stmt)
    if row is None:
        session.add(SyncVersion(channel_account_id=account_id, resource=resource, version=version))
        await session.flush()
        return True
    if row.version > version:
        return False
    row.version = version
    return True


class Directory:
    """Routes inbound requests to their accounts without a database round trip each time.

    Webhooks arrive by the thousand per second; the account behind a public id rarely changes. A change
    made through this process is seen at once (``forget``); one made through another process within
    ``ttl_s``.
    """

    def __init__(self, db: Database, ttl_s: float = 10.0, size: int = 10_000) -> None:
        self.db, self.ttl_s, self.size = db, ttl_s, size
        # Unknown ids are remembered too (as None), so a flood of made-up ids costs no database reads;
        # public ids are random, so no real account is asked for before it exists.
        self._routes: dict[tuple[str, str], tuple[float, Account | None]] = {}

    async def find(self, kind: str, public_id: str) -> Account | None:
        now = time.monotonic()
        cached = self._routes.get((kind, public_id))
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.db.transaction(system=True, readonly=True) as session:
            account = await find_by_public_id(session, kind, public_id)
        route = None if account is None else view(account)
        if len(self._routes) >= self.size:
            self._routes.clear()  # bounded: a cold start costs a read per id, nothing more
        self._routes[(kind, public_id)] = (now + self.ttl_s, route)
        return route

    def forget(self, kind: str, public_id: str) -> None:
        self._routes.pop((kind, public_id), None)
