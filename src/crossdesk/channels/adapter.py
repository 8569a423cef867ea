"""The one small interface every channel implements: verify and parse what the platform sends, send replies
the way the platform takes them, and say what the platform allows (reply window, longest text).

Adding a channel is adding one module under ``crossdesk/channels/kinds/`` whose ``ADAPTERS`` list holds
its adapters (``registry`` finds them), and its tests. Webhooks reach ``adapter.parse`` through the generic
route ``/hooks/{kind}/{public_id}``; channels that are not webhooks (e-mail servers, polling, the chat widget)
add their own ``router`` and background ``services``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict

from crossdesk.conversations.schemas import InboundMessage, IngestResult

if TYPE_CHECKING:
    from fastapi import APIRouter
    from sqlalchemy.ext.asyncio import AsyncSession

    from crossdesk.config import Settings
    from crossdesk.db import Database


class Rejected(Exception):
    """The request is refused: answered with ``status`` and ``detail`` (the reason, or a list of field
    errors), which must hold no secret."""

    status = 400

    def __init__(self, reason: str, status: int | None = None, detail: Any = None) -> None:
        super().__init__(reason)
        self.detail = reason if detail is None else detail
        if status is not None:
            self.status = status


class BadSignature(Rejected):
    status = 401


class Malformed(Rejected):
    status = 422


class PermanentError(Exception):
    """The platform refused the message for good (e.g. 4xx): retrying will not help."""


class ReplyRefused(Exception):
    """A reply the channel does not allow now (outside its reply window, too long...): the reason is shown."""


@dataclass(frozen=True)
class Limits:
    max_text: int = 20_000
    # How long after the buyer's last message a free-form reply is allowed; None: no window.
    reply_window: dt.timedelta | None = None
    # What may still be sent outside the window, said in the refusal ("approved templates"); a channel that
    # names it takes template replies (``Outbound.meta["template"]``), any time.
    outside_window: str | None = None


@dataclass(frozen=True)
class Account:
    """What an adapter sees of a channel account. Holds secrets: never log it or return it."""

    id: int
    workspace_id: int
    kind: str
    public_id: str
    secret: str  # crossdesk's own random secret of the account (signing its own URLs and tokens)
    config: Mapping[str, Any]  # settings, validated by the adapter's ``Config``; shown to admins
    credentials: Mapping[str, str]  # the platform's secrets (app secret, access token, password...)


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    headers: Mapping[str, str]  # case-insensitive (Starlette's Headers)
    query: Mapping[str, str]
    body: bytes
    # How old a signed timestamp may be, where the platform signs one (replays beyond it are refused).
    tolerance_s: int = 300


DeliveryState = Literal["delivered", "read", "failed"]


@dataclass(frozen=True)
class Receipt:
    """The platform says what became of our replies: one, by the id the platform gave it when sent; or,
    as Messenger's watermarks do, every reply in a thread (``thread_key``) sent up to ``before``."""

    state: DeliveryState
    platform_message_id: str | None = None
    thread_key: str | None = None
    before: dt.datetime | None = None
    error: str | None = None


Effect = Callable[["AsyncSession"], Awaitable[None]]


@dataclass
class Parsed:
    """What one webhook delivery carries."""

    messages: list[InboundMessage] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    # Other changes, run in one transaction of the account's workspace (e.g. Shopify orders and products).
    effects: list[Effect] = field(default_factory=list)
    # The platform's id of this delivery, when it sends one: a delivery seen before is acknowledged and
    # skipped (replays and retries).
    delivery_id: str | None = None


@dataclass(frozen=True)
class Outbound:
    """A reply to send, with what channels need to address and thread it."""

    message_id: int
    conversation_id: int
    channel: str
    text: str
    attachments: list[dict[str, Any]]
    thread_key: str | None
    subject: str | None
    customer_name: str | None
    identities: list[tuple[str, str]]  # the buyer's (kind, value) pairs
    # The platform ids of the buyer's messages in this conversation, newest first (e-mail threading).
    replying_to: list[str]
    meta: Mapping[str, Any]  # channel-specific extras set on the reply (e.g. a WhatsApp template)
    payload: dict[str, Any]  # the whole JSON view of the reply (what the API channel posts)

    def identity(self, kind: str) -> str | None:
        return next((value for k, value in self.identities if k == kind), None)


@dataclass(frozen=True)
class Service:
    """A long-running task of a channel (a mailbox poller, an SMTP listener). One process of a deployment
    runs it at a time: the holder of the lease ``name`` (``crossdesk.ops.leases``)."""

    name: str
    run: Callable[[], Coroutine[Any, Any, None]]


class NoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class Context:
    """What a channel's router and background services may use."""

    db: Database
    settings: Settings
    # Store an inbound message (exactly once, threaded, pushed to agents); returns once committed.
    ingest: Callable[[int, InboundMessage, int | None], Awaitable[IngestResult]]
    # Apply delivery receipts of an account's outbound messages.
    receipts: Callable[[Account, list[Receipt]], Awaitable[None]]
    # The active accounts of a kind, every workspace (for servers and pollers that route by address).
    accounts: Callable[[str], Awaitable[list[Account]]]


class Adapter:
    """Defaults for a channel; a channel overrides what it supports."""

    kind: ClassVar[str]  # the account kind and the URL segment: "whatsapp"
    channel: ClassVar[str]  # the conversations' channel name (usually the kind)
    limits: ClassVar[Limits] = Limits()
    Config: ClassVar[type[BaseModel]] = NoConfig  # the account's settings
    credential_names: ClassVar[tuple[str, ...]] = ()  # the platform secrets an account needs
    router: ClassVar[APIRouter | None] = None

    def verify(self, account: Account, request: WebhookRequest) -> None:
        """Check the platform's signature on a webhook; raise BadSignature."""
        raise Rejected(f"{self.kind} takes no webhooks", 405)

    def parse(self, account: Account, request: WebhookRequest) -> Parsed:
        """Turn a verified webhook into messages, receipts and effects; raise Malformed."""
        raise Rejected(f"{self.kind} takes no webhooks", 405)

    def handshake(self, account: Account, request: WebhookRequest) -> str:
        """Answer a platform's GET subscription check (Meta's hub.challenge); raise Rejected."""
        raise Rejected(f"{self.kind} has no handshake", 405)

    def ready(self, account: Account) -> bool:
        """Whether replies can be sent through this account (its credentials are set)."""
        return all(account.credentials.get(name) for name in self.credential_names)

    async def send(
        self, client: httpx.AsyncClient, account: Account, outbound: Outbound, idempotency_key: str
    ) -> str | None:
        """Deliver a reply; return the platform's id for it (receipts name it). Raise PermanentError for
        a final refusal, httpx errors (or ``raise_for_status``) for what is worth retrying."""
        raise PermanentError(f"{self.kind} cannot send replies")

    def services(self, context: Context) -> list[Service]:
        """Long-running tasks of the channel (an SMTP server, a mailbox poller), run by the app."""
        return []


def raise_for_status(response: httpx.Response) -> None:
    """2xx is done; 408, 429 and 5xx are worth retrying; any other status is final."""
    code = response.status_code
    if 200 <= code < 300:
        return
    if code in (408, 429) or code >= 500:
        raise httpx.HTTPStatusError(f"HTTP {code}", request=response.request, response=response)
    raise PermanentError(f"HTTP {code}: {response.text[:200]}")
