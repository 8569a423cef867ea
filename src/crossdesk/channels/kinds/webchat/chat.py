"""What a visitor can do, whichever way they come in (HTTP or the socket): send a message, say they are
typing, acknowledge replies; and what they can read: their own thread.

Messages go through the channels' ``Context.ingest`` (exactly once by platform id), receipts through
``Context.receipts``; typing goes into the event log like the agents' typing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError, field_validator
from sqlalchemy import select

from crossdesk.channels.adapter import Account, Context, Receipt, Rejected
from crossdesk.channels.kinds.webchat import view
from crossdesk.channels.kinds.webchat.config import KIND, WebchatConfig
from crossdesk.channels.kinds.webchat.ratelimit import Limiter, Rate
from crossdesk.conversations.models import Conversation, Message
from crossdesk.conversations.schemas import (
    IdentityIn,
    InboundMessage,
    IngestResult,
    LanguageCode,
    SenderIn,
    Untrusted,
)
from crossdesk.customers.identities import EMAIL, InvalidIdentity, normalize_email
from crossdesk.customers.models import CustomerIdentity
from crossdesk.realtime.service import append

if TYPE_CHECKING:
    from starlette.datastructures import State

IDENTITY = "webchat_visitor"
MAX_TEXT = 4_000
THREAD_SHOWN = 200  # the newest messages a (re)opened widget shows
_LANGUAGE: TypeAdapter[str] = TypeAdapter(LanguageCode)
_MOMENT: TypeAdapter[dt.datetime] = TypeAdapter(dt.datetime)  # as the event log writes times


class TooFast(Rejected):
    status = 429

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many requests; retry in {int(retry_after)} s")
        self.retry_after = int(retry_after)


@dataclass
class Guards:
    """The widget's rate limits in this process (see ``ratelimit``)."""

    sessions_per_ip: Limiter = field(default_factory=lambda: Limiter(Rate(30, 0.5)))
    sockets_per_ip: Limiter = field(default_factory=lambda: Limiter(Rate(30, 0.5)))
    messages_per_visitor: Limiter = field(default_factory=lambda: Limiter(Rate(10, 0.5)))
    messages_per_ip: Limiter = field(default_factory=lambda: Limiter(Rate(60, 2)))
    typing_per_visitor: Limiter = field(default_factory=lambda: Limiter(Rate(2, 0.5)))
    acks_per_visitor: Limiter = field(default_factory=lambda: Limiter(Rate(30, 2)))


def guards_of(state: State) -> Guards:
    """This app's guards, made on first use (per app: two servers in one process keep theirs apart)."""
    guards: Guards | None = getattr(state, "webchat_guards", None)
    if guards is None:
        guards = state.webchat_guards = Guards()
    return guards


def check(limiter: Limiter, key: str) -> None:
    wait = limiter.take(key)
    if wait:
        raise TooFast(wait)


@dataclass(frozen=True)
class Caller:
    """A verified visitor of one account, and where they call from."""

    account: Account
    config: WebchatConfig
    visitor_id: str
    ip: str

    @property
    def key(self) -> str:
        return f"{self.account.public_id}:{self.visitor_id}"

    @property
    def ip_key(self) -> str:
        return f"{self.account.public_id}:{self.ip}"


class VisitorMessageIn(Untrusted):
    """A message typed in the widget; ``client_id`` is the widget's own id for it (a resend is stored once).
    ``email`` and ``name``, when the visitor left them, tie the visitor to that customer."""

    client_id: str = Field(pattern=view.CLIENT_ID.pattern)
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    email: str | None = Field(None, max_length=320)
    name: str | None = Field(None, max_length=200)
    language: str | None = Field(None, max_length=35)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is empty")
        return value

    @field_validator("email", "name")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


def _language(caller: Caller, browser: str | None) -> str | None:
    """The browser's language when it is a well-formed code the shop serves."""
    try:
        return caller.config.language_of(_LANGUAGE.validate_python(browser) if browser else None)
    except ValidationError:
        return None


def inbound(caller: Caller, body: VisitorMessageIn, link_email: bool) -> InboundMessage:
    """The message for ingest; the e-mail is the sender's (so it joins that customer) only if ``link_email``,
    and is always noted, as unverified, on the message for the agents."""
    visitor = caller.visitor_id
    meta = {"claimed_email": body.email, "email_linked": link_email, "email_verified": False}
    return InboundMessage(
        channel=KIND,
        platform_message_id=view.platform_id(visitor, body.client_id),
        text=body.text,
        thread_key=view.thread_key(caller.account.public_id, visitor),
        meta=meta if body.email else None,
        sender=SenderIn(
            name=body.name,
            email=body.email if link_email else None,
            language=_language(caller, body.language),
            identities=[IdentityIn(kind=IDENTITY, value=visitor)],
        ),
    )


async def post_message(
    context: Context, guards: Guards, caller: Caller, body: VisitorMessageIn
) -> IngestResult:
    check(guards.messages_per_visitor, caller.key)
    check(guards.messages_per_ip, caller.ip_key)
    try:
        link = body.email is not None and await _may_link(context, caller, normalize_email(body.email))
        return await context.ingest(
            caller.account.workspace_id, inbound(caller, body, link), caller.account.id
        )
    except InvalidIdentity as exc:
        raise Rejected(str(exc), 422) from exc


async def _may_link(context: Context, caller: Caller, email: str) -> bool:
    """Whether a typed (unverified) e-mail may join the visitor to that address's customer: only while the
    visitor's profile has no other address. Otherwise one visitor typing one address after another would
    merge the profiles of strangers (their orders and conversations) into one."""
    owner = (
        select(CustomerIdentity.customer_id)
        .where(CustomerIdentity.kind == IDENTITY, CustomerIdentity.value == caller.visitor_id)
        .scalar_subquery()
    )
    stmt = select(CustomerIdentity.value).where(
        CustomerIdentity.customer_id == owner, CustomerIdentity.kind == EMAIL
    )
    async with context.db.transaction(caller.account.workspace_id, readonly=True) as session:
        known = set((await session.scalars(stmt)).all())
    return not known or email in known


async def acknowledge(
    context: Context, guards: Guards, caller: Caller, refs: list[str], state: Literal["delivered", "read"]
) -> None:
    """The widget showed these replies (``read``: with the panel open): receipts for them."""
    check(guards.acks_per_visitor, caller.key)
    receipts = [Receipt(state, platform_message_id=view.platform_id(caller.visitor_id, r)) for r in refs]
    await context.receipts(caller.account, receipts)


async def typing(context: Context, guards: Guards, caller: Caller, is_typing: bool) -> None:
    """Tell the agents the visitor is typing in their latest conversation; quietly dropped when too
    frequent or before the visitor's first message."""
    if guards.typing_per_visitor.take(caller.key):
        return
    account = caller.account
    async with context.db.transaction(account.workspace_id) as session:
        conversation_id = await session.scalar(
            _theirs(caller, select(Conversation.id)).order_by(Conversation.id.desc()).limit(1)
        )
        if conversation_id is None:
            return
        event = {
            "conversation_id": conversation_id,
            "agent_id": None,
            "customer": True,
            "is_typing": is_typing,
        }
        append(session, "typing", event)


def _theirs(caller: Caller, stmt: Any) -> Any:
    return stmt.where(
        Conversation.channel_account_id == caller.account.id,
        Conversation.thread_key == view.thread_key(caller.account.public_id, caller.visitor_id),
    )


async def conversation_ids(context: Context, caller: Caller) -> set[int]:
    async with context.db.transaction(caller.account.workspace_id, readonly=True) as session:
        return set((await session.scalars(_theirs(caller, select(Conversation.id)))).all())


def _as_event_data(message: Message) -> dict[str, Any]:
    """The fields of a stored message that ``view.public_message`` reads, as the event log has them.
    (Not ``conversations.service.message_out``: that module imports the channel registry, which imports
    this one.)"""
    names = ("id", "platform_message_id", "is_private", "direction", "delivery_state", "author_kind", "text")
    return {
        **{name: getattr(message, name) for name in names},
        "sent_at": _MOMENT.dump_python(message.sent_at, mode="json"),
    }


async def thread(context: Context, caller: Caller) -> list[dict[str, Any]]:
    """The visitor's newest messages as they see them, oldest first."""
    stmt = (
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.is_private.is_(False))
        .order_by(Message.id.desc())
        .limit(THREAD_SHOWN)
    )
    async with context.db.transaction(caller.account.workspace_id, readonly=True) as session:
        rows = [_as_event_data(m) for m in (await session.scalars(_theirs(caller, stmt))).all()]
    shown = (view.public_message(caller.visitor_id, m, view.SHOWN_REPLY_STATES) for m in reversed(rows))
    return [m for m in shown if m is not None]
