"""Facebook Messenger and Instagram Direct messages, through Meta's Messenger Platform; and the pieces every
Meta channel shares (WhatsApp's too): the ``hub.challenge`` subscription handshake, the
``X-Hub-Signature-256`` check and calls to the Graph API with its error answers.

Follows Meta's docs: "Meta Webhooks for Messenger Platform" (verification requests, event notifications
signed with the app secret), the webhook events ``messages``, ``message_echoes``, ``message_deliveries``,
``message_reads`` (and Instagram's ``messaging_seen``), the Send API
(``POST /{PAGE-ID}/messages`` with ``recipient``, ``messaging_type: RESPONSE`` and ``message.text``,
answered with ``recipient_id`` and ``message_id``), Instagram Messaging (the same webhooks under
``object: "instagram"`` and the same Send API), and the Graph API's "Handling Errors" guide.

Meta signs no timestamp, so a replayed delivery is caught by the platform message ids (stored once).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, TypeVar
from urllib.parse import unquote

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, ValidationError

from crossdesk.channels.adapter import (
    Account,
    Adapter,
    BadSignature,
    DeliveryState,
    Limits,
    Malformed,
    Outbound,
    Parsed,
    PermanentError,
    Receipt,
    Rejected,
    WebhookRequest,
)
from crossdesk.conversations.schemas import InboundMessage

# The Graph API version Meta's Send API reference uses in its examples.
GRAPH_API = "https://graph.facebook.com/v25.0"
SIGNATURE_HEADER = "x-hub-signature-256"
REPLY_WINDOW = dt.timedelta(hours=24)
# Graph error codes worth retrying ("Handling Errors": unknown/service errors, throttling; WhatsApp's
# throughput, spam and pair rate limits, and its "something went wrong" and "service unavailable").
RETRYABLE_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, 130429, 131000, 131016, 131048, 131056, 133004})
MAX_ERROR = 300

# Meta's ids are numeric strings; anything else (and anything long) is refused before it reaches storage.
MetaId = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_.-]{1,100}$")]
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=320)]
# Epoch times bounded to what a datetime holds (a signed payload may still carry nonsense).
EpochMs = Annotated[int, Field(ge=0, le=253_402_300_799_999)]


class Lenient(BaseModel):
    """A platform payload: fields Meta adds later are ignored, the ones read are type-checked."""

    model_config = ConfigDict(extra="ignore")


class Notification(Lenient):
    """Every Meta webhook delivery names the product it comes from."""

    object: str


N = TypeVar("N", bound=Notification)


# ---- shared by every Meta channel ----


def check_signature(app_secret: str | None, request: WebhookRequest) -> None:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed by the app secret>``."""
    if not app_secret:
        raise BadSignature("the channel has no app secret set, so no signature can be checked")
    given = request.headers.get(SIGNATURE_HEADER)
    if not given:
        raise BadSignature(f"missing {SIGNATURE_HEADER} header")
    expected = "sha256=" + hmac.new(app_secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        raise BadSignature("signature does not match the body")


def answer_handshake(verify_token: str | None, request: WebhookRequest) -> str:
    """Meta's verification request: echo ``hub.challenge`` when ``hub.verify_token`` is the account's."""
    given = request.query.get("hub.verify_token") or ""
    if (
        not verify_token
        or request.query.get("hub.mode") != "subscribe"
        or not hmac.compare_digest(verify_token.encode(), given.encode())
    ):
        raise Rejected("verification failed", 403)
    challenge = request.query.get("hub.challenge") or ""
    if not 0 < len(challenge) <= 256:
        raise Rejected("hub.challenge must have 1 to 256 characters", 400)
    return challenge


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch(ms: int) -> dt.datetime:
    """A platform's epoch milliseconds as a UTC time (exact: no float rounding at the edges)."""
    return EPOCH + dt.timedelta(milliseconds=ms)


def validated(message: dict[str, Any]) -> InboundMessage:
    """The normalized message, or Malformed with the field errors (no input echoed back)."""
    try:
        return InboundMessage.model_validate(message)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise Malformed("invalid message", detail=errors) from exc


class GraphAdapter(Adapter):
    """A Meta channel: webhooks signed with the app secret, a verify token, replies through the Graph API."""

    webhook_object: ClassVar[str]  # what the webhooks' "object" says

    def verify(self, account: Account, request: WebhookRequest) -> None:
        check_signature(account.credentials.get("app_secret"), request)

    def handshake(self, account: Account, request: WebhookRequest) -> str:
        return answer_handshake(account.credentials.get("verify_token"), request)

    def notification(self, model: type[N], request: WebhookRequest) -> N:
        """The delivery's JSON as ``model``, from the product this channel subscribes to."""
        try:
            delivery = model.model_validate_json(request.body)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False, include_context=False)
            raise Malformed(f"not a {self.kind} webhook", detail=errors) from exc
        if delivery.object != self.webhook_object:
            raise Malformed(
                f"a {self.kind} webhook has object {self.webhook_object!r}, not {delivery.object[:40]!r}"
            )
        return delivery

    async def post_graph(
        self, client: httpx.AsyncClient, url: str, token: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """POST to the Graph API (the token as a Bearer header, never in the URL) and return its JSON.

        Throttling, outages and transient errors raise an httpx error (the outbox retries them); any other
        refusal is a PermanentError carrying Graph's own message. Graph takes no idempotency key, so a
        retry after an answer lost on the way back may deliver a reply twice.
        """
        response = await client.post(url, json=body, headers={"authorization": f"Bearer {token}"})
        if response.is_success:
            answer = _json(response)
            return answer if isinstance(answer, dict) else {}
        error = _graph_error(response)
        code = error.get("code")
        if (
            response.status_code in (408, 429)
            or response.status_code >= 500
            or code in RETRYABLE_CODES
            or error.get("is_transient") is True
        ):
            raise httpx.HTTPStatusError(
                f"HTTP {response.status_code}, Graph error {code}",
                request=response.request,
                response=response,
            )
        message = str(error.get("message") or response.text or "no reason given")
        if token:  # Graph does not echo tokens; should it ever, the reason shown to agents must not either
            message = message.replace(token, "[token]")
        raise PermanentError(f"Graph error {code} (HTTP {response.status_code}): {message}"[:MAX_ERROR])


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _graph_error(response: httpx.Response) -> dict[str, Any]:
    """Graph's ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"...}}``, or {}."""
    answer = _json(response)
    error = answer.get("error") if isinstance(answer, dict) else None
    return error if isinstance(error, dict) else {}


class MetaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_base: HttpUrl = Field(HttpUrl(GRAPH_API), description="The Graph API, with its version.")


# ---- Messenger and Instagram ----


class Party(Lenient):
    # Absent where the sender is no person with a page-scoped id (e.g. a plugin opt-in's ``user_ref``).
    id: MetaId | None = None


class AttachmentPayload(Lenient):
    url: str | None = None


class Attachment(Lenient):
    type: str = Field(max_length=40)
    payload: AttachmentPayload | None = None


class ReplyTo(Lenient):
    mid: MessageId | None = None


class EventMessage(Lenient):
    mid: MessageId
    text: str | None = None
    is_echo: bool = False
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    reply_to: ReplyTo | None = None


class Delivery(Lenient):
    mids: list[MessageId] = Field(default_factory=list, max_length=100)
    watermark: EpochMs | None = None


class Read(Lenient):
    watermark: EpochMs | None = None
    mid: MessageId | None = None  # Instagram's messaging_seen names the message


class Event(Lenient):
    sender: Party
    timestamp: EpochMs | None = None
    message: EventMessage | None = None
    delivery: Delivery | None = None
    read: Read | None = None


class Entry(Lenient):
    id: MetaId
    messaging: list[Event] = Field(default_factory=list, max_length=1000)


class Envelope(Notification):
    entry: list[Entry] = Field(max_length=1000)


# What a buyer's attachment is, as far as the webhook tells (it gives a type, not a MIME type).
CONTENT_TYPES = {
    "image": "image/*",
    "video": "video/*",
    "reel": "video/*",
    "ig_reel": "video/*",
    "audio": "audio/*",
    "file": "application/octet-stream",
}


def attachment_in(attachment: Attachment) -> dict[str, Any] | None:
    """A downloadable attachment (image, video, audio, file, reel) as stored; others are left out."""
    url = attachment.payload.url if attachment.payload else None
    if attachment.type not in CONTENT_TYPES or not url or len(url) > 2048:
        return None
    # The file name is the URL's last path segment (split by hand: urlsplit raises on a bad IPv6 host).
    name = unquote(url.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1])[-255:] or attachment.type
    return {"name": name, "content_type": CONTENT_TYPES[attachment.type], "url": url}


class MessagingConfig(MetaConfig):
    page_id: str | None = Field(
        None,
        pattern=r"^\d{1,40}$",
        description="The Facebook Page that sends the replies (for Instagram: the Page linked to the "
        "account); unset, replies go to /me/messages, which the page access token names.",
    )


class MessagingAdapter(GraphAdapter):
    """Messenger and Instagram Direct: one webhook shape and one Send API, told apart by ``object``."""

    identity: ClassVar[str]  # the identity kind of a page-scoped user id
    Config = MessagingConfig
    credential_names = ("app_secret", "page_access_token", "verify_token")

    def parse(self, account: Account, request: WebhookRequest) -> Parsed:
        parsed = Parsed()
        for entry in self.notification(Envelope, request).entry:
            for event in entry.messaging:
                self._read_event(entry.id, event, parsed)
        return parsed

    def _read_event(self, page: str, event: Event, parsed: Parsed) -> None:
        user = event.sender.id
        if user is None:
            return  # nobody a reply could reach
        thread = f"{page}:{user}"
        if event.message is not None and not event.message.is_echo:  # echoes are our own replies
            parsed.messages.append(self._inbound(user, thread, event.timestamp, event.message))
        parsed.receipts.extend(self._receipts(thread, event))

    def _inbound(
        self, user: str, thread: str, timestamp: int | None, message: EventMessage
    ) -> InboundMessage:
        attachments = [a for a in map(attachment_in, message.attachments) if a is not None]
        text = message.text or ("" if attachments else "(a message type crossdesk cannot show)")
        return validated(
            {
                "channel": self.channel,
                "platform_message_id": message.mid,
                "text": text,
                "sender": {"identities": [{"kind": self.identity, "value": user}]},
                "sent_at": epoch(timestamp) if timestamp is not None else None,
                "thread_key": thread,
                "attachments": attachments,
                "references": [message.reply_to.mid] if message.reply_to and message.reply_to.mid else [],
            }
        )

    def _receipts(self, thread: str, event: Event) -> Iterator[Receipt]:
        if event.delivery is not None:
            yield from _marks("delivered", thread, event.delivery.mids, event.delivery.watermark)
        if event.read is not None:
            yield from _marks(
                "read", thread, [event.read.mid] if event.read.mid else [], event.read.watermark
            )

    async def send(
        self, client: httpx.AsyncClient, account: Account, outbound: Outbound, idempotency_key: str
    ) -> str | None:
        config = MessagingConfig.model_validate(account.config)
        recipient = recipient_of(outbound, self.identity)
        url = f"{str(config.api_base).rstrip('/')}/{config.page_id or 'me'}/messages"
        body = {
            "recipient": {"id": recipient},
            "messaging_type": "RESPONSE",
            "message": {"text": outbound.text},
        }
        answer = await self.post_graph(client, url, account.credentials["page_access_token"], body)
        message_id = answer.get("message_id")
        return message_id if isinstance(message_id, str) else None


def _marks(state: DeliveryState, thread: str, mids: list[str], watermark: int | None) -> Iterator[Receipt]:
    """Receipts by message id where Meta names them, else every reply in the thread up to the watermark."""
    if mids:
        for mid in mids:
            yield Receipt(state, platform_message_id=mid)
    elif watermark is not None:
        yield Receipt(state, thread_key=thread, before=epoch(watermark))


def recipient_of(outbound: Outbound, identity: str) -> str:
    """The buyer's id on the platform: from the conversation's thread ("<page or number>:<user>"), else
    the buyer's identity of that kind."""
    user = outbound.thread_key.rpartition(":")[2] if outbound.thread_key else outbound.identity(identity)
    if not user:
        raise PermanentError("the conversation names no recipient on this channel")
    return user


class MessengerAdapter(MessagingAdapter):
    kind = channel = "messenger"
    webhook_object = "page"
    identity = "messenger_psid"
    limits = Limits(max_text=2000, reply_window=REPLY_WINDOW)


class InstagramAdapter(MessagingAdapter):
    kind = channel = "instagram"
    webhook_object = "instagram"
    identity = "instagram_igsid"
    limits = Limits(max_text=1000, reply_window=REPLY_WINDOW)


ADAPTERS = [MessengerAdapter(), InstagramAdapter()]
