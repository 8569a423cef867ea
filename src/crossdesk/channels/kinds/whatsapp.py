"""WhatsApp through Meta's WhatsApp Cloud API: buyer messages and delivery statuses by webhook, replies
(free text inside the 24-hour customer service window, approved templates at any time) through the
Messages API.

Follows Meta's docs: the ``messages`` webhook reference (``object: "whatsapp_business_account"``,
``entry[].changes[].value`` with ``messaging_product``, ``metadata.phone_number_id``, ``contacts[]``
(``profile.name``, ``wa_id``), ``messages[]`` (text, interactive ``button_reply``/``list_reply``,
template ``button``, image, video, audio, document, sticker, location...) and ``statuses[]``
(sent/delivered/read/failed with ``errors[]``)), sending messages (``POST /{PHONE_NUMBER_ID}/messages``
with a Bearer token, ``messaging_product: whatsapp``, ``to``, ``type`` text or template with body
``components``; answered with ``messages[0].id``), and the Cloud API error codes. The handshake, the
signature and Graph's error answers are the same as Messenger's (``crossdesk.channels.kinds.meta``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import httpx
from pydantic import Field, StringConstraints, ValidationError

from crossdesk.channels.adapter import (
    Account,
    DeliveryState,
    Limits,
    Malformed,
    Outbound,
    Parsed,
    PermanentError,
    Receipt,
    WebhookRequest,
)
from crossdesk.channels.kinds.meta import (
    REPLY_WINDOW,
    GraphAdapter,
    Lenient,
    MessageId,
    MetaConfig,
    MetaId,
    Notification,
    epoch,
    recipient_of,
    validated,
)
from crossdesk.conversations.schemas import InboundMessage, TemplateIn
from crossdesk.customers.identities import InvalidIdentity, normalize_phone

IDENTITY = "whatsapp_id"
# A WhatsApp id is the buyer's phone number in international form, digits only.
WaId = Annotated[str, StringConstraints(pattern=r"^\d{5,20}$")]
EpochS = Annotated[int, Field(ge=0, le=253_402_300_799)]
Short = Annotated[str, StringConstraints(max_length=4096)]
MEDIA = ("image", "video", "audio", "document", "sticker")
# What a status says of a reply; "sent" is known already (the send answered), "failed" carries a reason.
PROGRESS: dict[str, DeliveryState] = {"delivered": "delivered", "read": "read"}


class Profile(Lenient):
    name: Short | None = None


class Contact(Lenient):
    wa_id: WaId | None = None
    profile: Profile | None = None


class Text(Lenient):
    body: str | None = None


class Media(Lenient):
    id: MetaId | None = None
    mime_type: Annotated[str, StringConstraints(max_length=255)] | None = None
    caption: str | None = None
    filename: Short | None = None


class Location(Lenient):
    latitude: float | None = None
    longitude: float | None = None
    name: Short | None = None
    address: Short | None = None


class Choice(Lenient):
    title: str | None = None


class Interactive(Lenient):
    button_reply: Choice | None = None
    list_reply: Choice | None = None


class Button(Lenient):
    text: str | None = None


class Context(Lenient):
    id: MessageId | None = None


class WaMessage(Lenient):
    sender: WaId = Field(alias="from")
    id: MessageId
    timestamp: EpochS | None = None
    type: Annotated[str, StringConstraints(max_length=40)]
    text: Text | None = None
    interactive: Interactive | None = None
    button: Button | None = None
    location: Location | None = None
    context: Context | None = None
    image: Media | None = None
    video: Media | None = None
    audio: Media | None = None
    document: Media | None = None
    sticker: Media | None = None


class ErrorData(Lenient):
    details: Short | None = None


class WaError(Lenient):
    code: int | None = None
    title: Short | None = None
    message: Short | None = None
    error_data: ErrorData | None = None


class Status(Lenient):
    id: MessageId
    status: Annotated[str, StringConstraints(max_length=40)]
    errors: list[WaError] = Field(default_factory=list, max_length=20)


class Metadata(Lenient):
    phone_number_id: MetaId


class Value(Lenient):
    metadata: Metadata
    contacts: list[Contact] = Field(default_factory=list, max_length=100)
    messages: list[WaMessage] = Field(default_factory=list, max_length=1000)
    statuses: list[Status] = Field(default_factory=list, max_length=1000)


class Change(Lenient):
    field: Annotated[str, StringConstraints(max_length=100)]
    # Other fields (account updates, template reviews...) carry other shapes: read only "messages".
    value: dict[str, Any] | None = None


class WaEntry(Lenient):
    changes: list[Change] = Field(default_factory=list, max_length=1000)


class WaNotification(Notification):
    entry: list[WaEntry] = Field(max_length=1000)


class WhatsAppConfig(MetaConfig):
    phone_number_id: str = Field(
        pattern=r"^\d{1,40}$",
        description="The business phone number's id; webhooks about the account's other numbers are "
        "acknowledged and ignored.",
    )


def _value(change: Change) -> Value:
    try:
        return Value.model_validate(change.value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise Malformed("invalid WhatsApp messages change", detail=errors) from exc


def _phone(wa_id: str) -> str | None:
    """The WhatsApp id as a phone number, so the buyer meets their profile from other channels."""
    try:
        return normalize_phone("+" + wa_id)
    except InvalidIdentity:
        return None


def _location(place: Location | None) -> str:
    if place is None:
        return "Location"
    where = ", ".join(p for p in (place.name, place.address) if p)
    at = f" ({place.latitude}, {place.longitude})" if place.latitude is not None else ""
    return f"Location: {where}{at}" if where else f"Location{at}"


def _content(message: WaMessage) -> tuple[str, list[dict[str, Any]], list[dict[str, str]]] | None:
    """(text, attachments, media ids) of a message; None for what is no message to answer (reactions)."""
    kind = message.type
    if kind == "reaction":
        return None
    if kind in MEDIA:
        media: Media = getattr(message, kind) or Media()
        name = media.filename or kind
        attachment = {"name": name[:255], "content_type": media.mime_type or "application/octet-stream"}
        ids = [{"type": kind, "id": media.id}] if media.id else []
        return media.caption or "", [attachment], ids
    if kind == "text":
        text = message.text.body if message.text else None
    elif kind == "interactive" and message.interactive:
        choice = message.interactive.button_reply or message.interactive.list_reply
        text = choice.title if choice else None
    elif kind == "button":
        text = message.button.text if message.button else None
    elif kind == "location":
        text = _location(message.location)
    else:
        text = None
    return text or f"({kind} message)", [], []


class WhatsAppAdapter(GraphAdapter):
    kind = channel = "whatsapp"
    webhook_object = "whatsapp_business_account"
    limits = Limits(max_text=4096, reply_window=REPLY_WINDOW, outside_window="approved templates")
    Config = WhatsAppConfig
    credential_names = ("app_secret", "access_token", "verify_token")

    def parse(self, account: Account, request: WebhookRequest) -> Parsed:
        parsed = Parsed()
        number = account.config.get("phone_number_id")
        for entry in self.notification(WaNotification, request).entry:
            for change in entry.changes:
                if change.field != "messages":
                    continue
                value = _value(change)
                if value.metadata.phone_number_id != number:
                    continue  # another number of the business account
                parsed.messages.extend(self._messages(value))
                parsed.receipts.extend(_receipts(value))
        return parsed

    def _messages(self, value: Value) -> Iterator[InboundMessage]:
        names = {c.wa_id: c.profile.name for c in value.contacts if c.wa_id and c.profile}
        for message in value.messages:
            content = _content(message)
            if content is None:
                continue
            text, attachments, media = content
            name = names.get(message.sender)
            yield validated(
                {
                    "channel": self.channel,
                    "platform_message_id": message.id,
                    "text": text,
                    "sender": {
                        "name": name[:200] if name else None,
                        "phone": _phone(message.sender),
                        "identities": [{"kind": IDENTITY, "value": message.sender}],
                    },
                    "sent_at": epoch(message.timestamp * 1000) if message.timestamp is not None else None,
                    "thread_key": f"{value.metadata.phone_number_id}:{message.sender}",
                    "attachments": attachments,
                    "references": [message.context.id] if message.context and message.context.id else [],
                    "meta": {"whatsapp_media": media} if media else None,
                }
            )

    async def send(
        self, client: httpx.AsyncClient, account: Account, outbound: Outbound, idempotency_key: str
    ) -> str | None:
        config = WhatsAppConfig.model_validate(account.config)
        url = f"{str(config.api_base).rstrip('/')}/{config.phone_number_id}/messages"
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient_of(outbound, IDENTITY),
            **_content_out(outbound),
        }
        answer = await self.post_graph(client, url, account.credentials["access_token"], body)
        sent = answer.get("messages")
        first = sent[0] if isinstance(sent, list) and sent and isinstance(sent[0], dict) else {}
        message_id = first.get("id")
        return message_id if isinstance(message_id, str) else None


def _receipts(value: Value) -> Iterator[Receipt]:
    for status in value.statuses:
        if status.status == "failed":
            yield Receipt("failed", platform_message_id=status.id, error=_reason(status.errors))
        elif status.status in PROGRESS:
            yield Receipt(PROGRESS[status.status], platform_message_id=status.id)


def _reason(errors: list[WaError]) -> str:
    """Why a message failed, as Meta says it: "131047 Re-engagement message: <details>"."""
    if not errors:
        return "failed"
    error = errors[0]
    details = (error.error_data.details if error.error_data else None) or error.message or ""
    head = " ".join(str(p) for p in (error.code, error.title) if p is not None) or "failed"
    return f"{head}: {details}"[:500] if details else head[:500]


def _content_out(outbound: Outbound) -> Mapping[str, Any]:
    """Free text, or the approved template the agent chose (its parameters fill the body)."""
    if "template" not in outbound.meta:
        return {"type": "text", "text": {"preview_url": False, "body": outbound.text}}
    try:
        template = TemplateIn.model_validate(outbound.meta["template"])
    except ValidationError as exc:
        raise PermanentError("the reply's template is invalid") from exc
    sent: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
    if template.parameters:
        parameters = [{"type": "text", "text": p} for p in template.parameters]
        sent["components"] = [{"type": "body", "parameters": parameters}]
    return {"type": "template", "template": sent}


ADAPTERS = [WhatsAppAdapter()]
