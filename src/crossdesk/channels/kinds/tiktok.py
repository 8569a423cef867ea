"""TikTok Shop customer-service chat: buyers' messages arrive by webhook, agents' replies go out through the
Customer Service API.

Follows TikTok Shop Partner Center's documentation:

- Webhooks: the ``Authorization`` header is the lowercase hex HMAC-SHA256, keyed with the app secret, of
  the app key followed by the raw body (no timestamp is signed: a replay is harmless because messages are
  stored once by their ``message_id``).
- Webhook "(14) New message": ``data`` holds ``conversation_id``, ``message_id``, ``type`` (TEXT, IMAGE,
  VIDEO, cards...), ``content`` (a JSON-serialised string), ``create_time``, ``is_visible`` and the
  ``sender`` (``im_user_id``, ``role``: BUYER, SHOP, CUSTOMER_SERVICE, SYSTEM or ROBOT). The buyer's
  ``im_user_id`` is the only buyer id a webhook carries: it is the ``tiktok_buyer`` identity.
- "Sign your API request": ``sign`` = hex HMAC-SHA256 keyed with the app secret over app secret + path +
  the query parameters (but ``sign`` and ``access_token``) sorted by name as ``{key}{value}`` + body + app
  secret; ``app_key``, ``timestamp``, ``shop_cipher`` and ``sign`` go in the query, the access token in the
  ``x-tts-access-token`` header.
- "Send Message" (202309): ``POST /customer_service/202309/conversations/{conversation_id}/messages`` with
  ``{"type": "TEXT", "content": "{\\"content\\": ...}"}``; a TEXT message holds at most 2000 characters.
  The answer is ``{"code": 0, "data": {"message_id": ...}}``; any other code is a refusal with its
  ``message``, except the documented transient ones (36009002 too many requests, 36009003 and 45101001
  internal errors), which are retried.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from crossdesk.channels.adapter import (
    Account,
    Adapter,
    BadSignature,
    Limits,
    Malformed,
    Outbound,
    Parsed,
    PermanentError,
    WebhookRequest,
    raise_for_status,
)
from crossdesk.conversations.schemas import InboundMessage

API_BASE = "https://open-api.tiktokglobalshop.com"
SEND_PATH = "/customer_service/202309/conversations/{}/messages"
NEW_MESSAGE = 14
IDENTITY = "tiktok_buyer"
# TikTok's ids are decimal strings; anything else is refused so it can never bend the signed URL path.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
# Documented transient API codes: too many requests, internal error, customer-service internal error.
TRANSIENT_CODES = frozenset({36009002, 36009003, 45101001})
MEDIA_TYPES = {"IMAGE": "image/*", "VIDEO": "video/*"}


class TikTokConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app_key: str = Field(min_length=1, max_length=200, description="The app's key (not a secret).")
    shop_cipher: str | None = Field(
        None, max_length=500, description="The shop's cipher (needed for cross-border shops)."
    )
    api_base: HttpUrl = Field(HttpUrl(API_BASE), description="TikTok Shop's open API host.")


class Sender(BaseModel):
    im_user_id: str = Field(min_length=1, max_length=320)
    role: str = Field(max_length=40)


class NewMessage(BaseModel):
    """The ``data`` of a "(14) New message" webhook (unknown fields are ignored: TikTok adds some)."""

    message_id: str = Field(min_length=1, max_length=320)
    conversation_id: str = Field(pattern=ID_PATTERN)
    type: str = Field(max_length=40)
    content: str
    create_time: int | None = Field(None, ge=0, le=10**11)
    is_visible: bool = True
    sender: Sender


class Envelope(BaseModel):
    type: int
    data: Any = None


def sign(app_secret: str, path: str, params: Mapping[str, str], body: bytes) -> str:
    """TikTok Shop's request signature ("Sign your API request")."""
    pairs = "".join(f"{k}{v}" for k, v in sorted(params.items()) if k not in ("sign", "access_token"))
    key = app_secret.encode()
    return hmac.new(key, key + path.encode() + pairs.encode() + body + key, hashlib.sha256).hexdigest()


def _fields(exc: ValidationError) -> list[Any]:
    return list(exc.errors(include_url=False, include_input=False, include_context=False))


def _json(raw: bytes | str, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, or nested beyond the parser
        raise Malformed(f"{what} is not valid JSON") from exc


def _content(message: NewMessage) -> tuple[str, list[dict[str, Any]]] | None:
    """The text and attachments of a buyer's message; None for types that carry neither (cards...)."""
    content = _json(message.content, "data.content")
    if not isinstance(content, dict):
        raise Malformed("data.content must be a JSON object")
    if message.type == "TEXT":
        text = content.get("content")
        if not isinstance(text, str):
            raise Malformed("a TEXT message needs content.content as a string")
        return text, []
    if message.type in MEDIA_TYPES:
        url = content.get("url")
        if not isinstance(url, str):
            raise Malformed(f"{message.type} messages need content.url as a string")
        name = message.type.lower()
        return "", [{"name": name, "content_type": MEDIA_TYPES[message.type], "url": url}]
    return None


def _inbound(message: NewMessage, text: str, attachments: list[dict[str, Any]]) -> InboundMessage:
    sent_at = None
    if message.create_time is not None:
        sent_at = dt.datetime.fromtimestamp(message.create_time, dt.UTC)
    try:
        return InboundMessage.model_validate(
            {
                "channel": "tiktok",
                "platform_message_id": message.message_id,
                "text": text,
                "attachments": attachments,
                "sent_at": sent_at,
                "thread_key": message.conversation_id,
                "sender": {"identities": [{"kind": IDENTITY, "value": message.sender.im_user_id}]},
            }
        )
    except ValidationError as exc:
        raise Malformed("invalid message", detail=_fields(exc)) from exc


def _outcome(response: httpx.Response) -> str | None:
    """The id TikTok gave the reply; raises what the outbox retries, or PermanentError with TikTok's
    reason."""
    if response.status_code in (408, 429) or response.status_code >= 500:
        raise_for_status(response)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise_for_status(response)
        raise PermanentError("TikTok answered without a JSON object")
    code = answer.get("code") if type(answer.get("code")) is int else None  # not a bool, a list...
    reason = str(answer.get("message") or "")[:300]
    if code == 0 and response.is_success:
        data = answer.get("data")
        message_id = data.get("message_id") if isinstance(data, dict) else None
        return str(message_id) if message_id else None
    if code in TRANSIENT_CODES:
        raise httpx.HTTPStatusError(f"TikTok {code}: {reason}", request=response.request, response=response)
    raise PermanentError(f"TikTok refused the reply ({code}): {reason}")


class TikTokAdapter(Adapter):
    kind = channel = "tiktok"
    # "Send Message": a TEXT message's content holds at most 2000 characters.
    limits = Limits(max_text=2000)
    Config = TikTokConfig
    credential_names = ("app_secret", "access_token")

    def verify(self, account: Account, request: WebhookRequest) -> None:
        secret = account.credentials.get("app_secret")
        app_key = account.config.get("app_key")
        if not secret or not app_key:
            raise BadSignature("this TikTok channel has no app key and secret set")
        given = request.headers.get("authorization")
        if not given:
            raise BadSignature("missing signature (Authorization header)")
        mac = hmac.new(secret.encode(), str(app_key).encode() + request.body, hashlib.sha256)
        if not hmac.compare_digest(mac.hexdigest().encode(), given.strip().lower().encode()):
            raise BadSignature("signature does not match")

    def parse(self, account: Account, request: WebhookRequest) -> Parsed:
        payload = _json(request.body, "the body")
        try:
            envelope = Envelope.model_validate(payload)
            if envelope.type != NEW_MESSAGE:
                return Parsed()  # other topics (orders, packages...) are not messages
            message = NewMessage.model_validate(envelope.data)
        except ValidationError as exc:
            raise Malformed("invalid TikTok webhook", detail=_fields(exc)) from exc
        # Only what the buyer wrote: the shop's, agents', system and robot messages are not inbound.
        if message.sender.role != "BUYER" or not message.is_visible:
            return Parsed()
        content = _content(message)
        if content is None:
            return Parsed()
        return Parsed(messages=[_inbound(message, *content)])

    async def send(
        self, client: httpx.AsyncClient, account: Account, outbound: Outbound, idempotency_key: str
    ) -> str | None:
        config = TikTokConfig.model_validate(account.config)
        conversation = outbound.thread_key or ""
        if not re.fullmatch(ID_PATTERN, conversation):
            raise PermanentError("this conversation has no TikTok conversation id to reply to")
        path = SEND_PATH.format(conversation)
        content = json.dumps({"content": outbound.text}, ensure_ascii=False)
        body = json.dumps({"type": "TEXT", "content": content}, ensure_ascii=False).encode()
        params = {"app_key": config.app_key, "timestamp": str(int(time.time()))}
        if config.shop_cipher:
            params["shop_cipher"] = config.shop_cipher
        params["sign"] = sign(account.credentials["app_secret"], path, params, body)
        token = account.credentials["access_token"]
        headers = {"content-type": "application/json", "x-tts-access-token": token}
        url = str(config.api_base).rstrip("/") + path
        return _outcome(await client.post(url, params=params, content=body, headers=headers))


ADAPTERS = [TikTokAdapter()]
