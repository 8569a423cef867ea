"""One-click unsubscribe (RFC 8058): signed links in campaign messages, and the public page behind them.

A token is ``u1.<channel kind>.<account public id>.<customer id>.<campaign id>.<signature>``: HMAC-SHA256
(RFC 2104) under a key derived from the channel account's own secret, as the chat widget's visitor tokens
are. So only this server mints them, the account decides the workspace, and a token names one customer:
changing any part of it breaks the signature. Unsubscribe links must keep working, so tokens do not expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.campaigns.models import Unsubscribe
from crossdesk.customers import service as customers

VERSION = "u1"
MAX_TOKEN = 400
_PURPOSE = b"crossdesk campaign unsubscribe v1"
_SHAPE = re.compile(
    r"^u1\.([a-z][a-z0-9_]{1,31})\.([A-Za-z0-9_-]{8,64})\.(\d{1,18})\.(\d{1,18})\.([A-Za-z0-9_-]{43})$"
)


class InvalidToken(Exception):
    """Forged, malformed or of another account; the reason holds no secret."""


@dataclass(frozen=True)
class Claims:
    kind: str  # the channel account's kind, which is also the channel unsubscribed from
    public_id: str
    customer_id: int
    campaign_id: int


def _signature(secret: str, signed: str) -> str:
    key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()  # a key for this purpose only
    digest = hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(secret: str, claims: Claims) -> str:
    signed = f"{VERSION}.{claims.kind}.{claims.public_id}.{claims.customer_id}.{claims.campaign_id}"
    return f"{signed}.{_signature(secret, signed)}"


def read(token: str) -> Claims:
    """What a token claims, before its signature is checked (which needs the account it names)."""
    found = _SHAPE.match(token) if len(token) <= MAX_TOKEN else None
    if found is None:
        raise InvalidToken("malformed token")
    kind, public_id, customer_id, campaign_id, _ = found.groups()
    return Claims(kind, public_id, int(customer_id), int(campaign_id))


def verify(secret: str, token: str) -> Claims:
    claims = read(token)
    signed, _, signature = token.rpartition(".")
    if not hmac.compare_digest(signature.encode(), _signature(secret, signed).encode()):
        raise InvalidToken("bad token signature")
    return claims


def link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/u/{token}"


async def is_unsubscribed(session: AsyncSession, customer_id: int, channel: str) -> bool:
    stmt = select(Unsubscribe.id).where(
        Unsubscribe.customer_id == customer_id, Unsubscribe.channel.in_((channel, "*"))
    )
    return await session.scalar(stmt.limit(1)) is not None


async def unsubscribed_ids(session: AsyncSession, customer_ids: list[int], channel: str) -> set[int]:
    stmt = select(Unsubscribe.customer_id).where(
        Unsubscribe.customer_id.in_(customer_ids), Unsubscribe.channel.in_((channel, "*"))
    )
    return set((await session.scalars(stmt)).all())


async def state(session: AsyncSession, claims: Claims) -> bool | None:
    """Whether the token's customer is unsubscribed from its channel; None when the customer is not one
    of the session's workspace."""
    customer = await customers.get(session, claims.customer_id)
    if customer is None:
        return None
    return await is_unsubscribed(session, customer.merged_into_id or customer.id, claims.kind)


async def record(session: AsyncSession, claims: Claims, source: str = "link") -> bool:
    """Record the customer's unsubscribe from this channel (once; a repeat changes nothing). False when
    the customer is not one of the session's workspace."""
    customer = await customers.get(session, claims.customer_id)
    if customer is None:
        return False
    customer_id = customer.merged_into_id or customer.id  # the profile the campaigns see
    if await is_unsubscribed(session, customer_id, claims.kind):
        return True
    try:
        async with session.begin_nested():
            session.add(
                Unsubscribe(
                    customer_id=customer_id,
                    channel=claims.kind,
                    source=source,
                    note=f"campaign {claims.campaign_id}",
                )
            )
            await session.flush()
    except IntegrityError:
        pass  # a concurrent click recorded it first
    return True
