"""eBay buyers' questions about listings ("Ask Seller a Question"), polled, and answered, through the
Trading API (XML over HTTPS).

eBay sends no webhook for these here, so a background service polls every active eBay account. Follows
eBay's Trading API reference:

- Calls are ``POST {api_base}/ws/api.dll`` with the headers ``X-EBAY-API-CALL-NAME``,
  ``X-EBAY-API-SITEID``, ``X-EBAY-API-COMPATIBILITY-LEVEL`` and ``X-EBAY-API-IAF-TOKEN`` (the seller's
  OAuth user token); bodies are in the ``urn:ebay:apis:eBLBaseComponents`` namespace.
- ``GetMemberMessages`` with ``MailMessageType`` AskSellerQuestion, ``MessageStatus`` Unanswered and a
  ``StartCreationTime``/``EndCreationTime`` window, paginated (``EntriesPerPage`` at most 200). Each
  ``MemberMessageExchange`` holds the ``Item`` (``ItemID``, ``Title``), the ``Question`` (``MessageID``,
  ``SenderID``, ``Subject``, ``Body``), ``CreationDate`` and ``MessageMedia``.
- ``AddMemberMessageRTQ`` answers one: ``ItemID`` and ``MemberMessage`` with ``Body`` (at most 2000
  characters, no HTML), ``ParentMessageID`` (the question's ``MessageID``) and ``RecipientID`` (the asker).
- Errors: ``Ack`` Failure with ``Errors`` of ``SeverityCode`` Error. eBay says request errors must not be
  retried as they are, and system errors may be (as may 10007 internal error, 518 call usage limit and
  219255 call timed out).

Answers are parsed with defusedxml: they are untrusted, and an entity or a DTD in them is refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import httpx
from defusedxml.ElementTree import fromstring
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from crossdesk.channels.adapter import (
    Account,
    Adapter,
    Context,
    Limits,
    Outbound,
    PermanentError,
    Service,
    raise_for_status,
)
from crossdesk.conversations.schemas import InboundMessage
from crossdesk.customers.identities import InvalidIdentity

log = logging.getLogger(__name__)

API_BASE = "https://api.ebay.com"
ENDPOINT = "/ws/api.dll"
NS = "urn:ebay:apis:eBLBaseComponents"
E = {"e": NS}
COMPATIBILITY_LEVEL = "1423"  # the Trading API schema version these calls were written against
PAGE_SIZE = 200  # the largest EntriesPerPage GetMemberMessages takes
MAX_PAGES = 50  # a bound on one round, whatever an answer claims
IDENTITY = "ebay_user"
TEMPORARY_CODES = frozenset({"10007", "518", "219255"})
# Questions can show up in the search a little after their creation time: windows overlap by this much
# (storing is idempotent by MessageID, so a question seen twice is stored once).
OVERLAP = dt.timedelta(minutes=10)
DISCOVER_S = 1.0  # how soon a new or re-enabled account is polled
BAD_CONFIG_RETRY_S = 60.0  # an account whose settings do not validate is tried again this much later
ITEM_ID = re.compile(r"[0-9]{1,38}")
# Characters XML 1.0 cannot carry: an agent's stray control character must not make the request invalid.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class EbayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_base: HttpUrl = Field(HttpUrl(API_BASE), description="The Trading API host (sandbox: api.sandbox).")
    site_id: int = Field(0, ge=0, le=999, description="The eBay site (0 is eBay US, 3 UK, 77 Germany).")
    poll_interval_s: float = Field(60.0, ge=0.1, le=86_400, description="Seconds between polls.")
    lookback_hours: int = Field(
        24, ge=1, le=24 * 30, description="How far back the first poll after a start looks."
    )


class TradingError(Exception):
    """An answer worth retrying: a temporary eBay error, or one we could not read."""


def _text(node: Element | None, path: str) -> str:
    found = None if node is None else node.find(path, E)
    return (found.text or "").strip() if found is not None else ""


def _request(call: str, fields: dict[str, Any]) -> bytes:
    """A Trading API request body: nested dicts become elements, in the order given."""
    root = Element(f"{call}Request", xmlns=NS)
    _fill(root, fields)
    return b'<?xml version="1.0" encoding="utf-8"?>' + tostring(root, encoding="unicode").encode()


def _fill(parent: Element, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        child = SubElement(parent, name)
        if isinstance(value, dict):
            _fill(child, value)
        else:
            child.text = NOT_XML.sub("", str(value))


def read_answer(raw: bytes, call: str) -> Element:
    """The checked answer to a call; raises TradingError (retry) or PermanentError (eBay's refusal)."""
    try:
        root = fromstring(raw, forbid_dtd=True)
    # ValueError: a DTD or an entity (defusedxml), or a multi-byte encoding; LookupError: an unknown one.
    except (ParseError, ValueError, LookupError) as exc:
        raise TradingError(f"eBay's {call} answer is not readable XML: {exc}") from exc
    if root.tag != f"{{{NS}}}{call}Response":
        raise TradingError(f"eBay answered {call} with an unexpected document")
    ack = _text(root, "e:Ack")
    errors = [e for e in root.findall("e:Errors", E) if _text(e, "e:SeverityCode") != "Warning"]
    if ack in ("Success", "Warning") and not errors:
        return root
    if not errors:
        raise TradingError(f"eBay answered {call} with Ack {ack[:40]!r} and no error")
    reason = "; ".join(
        f"{_text(e, 'e:ErrorCode')}: {_text(e, 'e:LongMessage') or _text(e, 'e:ShortMessage')}"
        for e in errors
    )[:400]
    if any(_temporary(e) for e in errors):
        raise TradingError(f"eBay {call} failed for now ({reason})")
    raise PermanentError(f"eBay refused {call} ({reason})")


def _temporary(error: Element) -> bool:
    return (
        _text(error, "e:ErrorClassification") == "SystemError"
        or _text(error, "e:ErrorCode") in TEMPORARY_CODES
    )


async def _call(
    client: httpx.AsyncClient, account: Account, config: EbayConfig, call: str, fields: dict[str, Any]
) -> Element:
    headers = {
        "content-type": "text/xml; charset=utf-8",
        "X-EBAY-API-CALL-NAME": call,
        "X-EBAY-API-SITEID": str(config.site_id),
        "X-EBAY-API-COMPATIBILITY-LEVEL": COMPATIBILITY_LEVEL,
        "X-EBAY-API-IAF-TOKEN": account.credentials["user_token"],
    }
    url = str(config.api_base).rstrip("/") + ENDPOINT
    response = await client.post(url, content=_request(call, fields), headers=headers)
    raise_for_status(response)
    return read_answer(response.content, call)


def _ebay_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _created(value: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _thread_key(item_id: str, buyer: str) -> str:
    """A conversation per listing and buyer: what AddMemberMessageRTQ needs, besides the question."""
    return f"{item_id}:{buyer}"


def _thread_parts(thread_key: str | None) -> tuple[str, str]:
    """The listing and the buyer of a thread key (the item id is digits, so the first colon splits)."""
    item_id, _, buyer = (thread_key or "").partition(":")
    return item_id, buyer


def question(exchange: Element) -> InboundMessage:
    """One MemberMessageExchange as an inbound message; raises ValueError (pydantic's included) if it is
    not a usable question."""
    item_id = _text(exchange, "e:Item/e:ItemID")
    if not ITEM_ID.fullmatch(item_id):
        raise ValueError("the question has no valid ItemID")
    buyer = _text(exchange, "e:Question/e:SenderID")
    media = [
        {
            "name": _text(m, "e:MediaName")[:255] or "image",
            "content_type": "image/*",
            "url": _text(m, "e:MediaURL"),
        }
        for m in exchange.findall("e:MessageMedia", E)
    ]
    return InboundMessage.model_validate(
        {
            "channel": "ebay",
            "platform_message_id": _text(exchange, "e:Question/e:MessageID"),
            "text": _text(exchange, "e:Question/e:Body"),
            "subject": _text(exchange, "e:Question/e:Subject") or None,
            "sent_at": _created(_text(exchange, "e:CreationDate")),
            "thread_key": _thread_key(item_id, buyer),
            "attachments": media,
            "sender": {"name": buyer or None, "identities": [{"kind": IDENTITY, "value": buyer}]},
            "meta": {"ebay_item_id": item_id, "ebay_item_title": _text(exchange, "e:Item/e:Title")[:500]},
        }
    )


@dataclass
class Poller:
    """Polls each active eBay account every ``poll_interval_s`` of its settings; remembers, in memory,
    where each account's last successful window ended."""

    context: Context
    adapter: EbayAdapter
    window_start: dict[int, dt.datetime] = field(default_factory=dict)
    next_poll: dict[int, float] = field(default_factory=dict)
    failures: dict[int, int] = field(default_factory=dict)  # failed polls in a row, by account

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            while True:
                await self.round(client)
                await asyncio.sleep(self._pause())

    async def round(self, client: httpx.AsyncClient) -> None:
        try:
            accounts = await self.context.accounts(self.adapter.kind)
        except Exception:  # the database may be away for a moment: the next round tries again
            log.exception("could not list eBay accounts")
            return
        now = asyncio.get_running_loop().time()
        due = [a for a in accounts if self.adapter.ready(a) and self.next_poll.get(a.id, 0.0) <= now]
        await asyncio.gather(*(self._poll_guarded(client, a) for a in due))
        known = {a.id for a in accounts}
        for gone in set(self.next_poll) - known:  # disabled or deleted: forget it (a restart would)
            for state in (self.next_poll, self.window_start, self.failures):
                state.pop(gone, None)

    def _pause(self) -> float:
        now = asyncio.get_running_loop().time()
        soonest = min(self.next_poll.values(), default=now + DISCOVER_S)
        return max(0.05, min(soonest - now, DISCOVER_S))

    async def _poll_guarded(self, client: httpx.AsyncClient, account: Account) -> None:
        interval = BAD_CONFIG_RETRY_S
        try:
            config = EbayConfig.model_validate(account.config)
            interval = config.poll_interval_s
            await self.poll(client, account, config)
            self.failures.pop(account.id, None)
        except Exception:  # one account's failure (network, eBay, bad answer) must not stop the others
            log.warning("eBay poll failed", extra={"channel_account_id": account.id}, exc_info=True)
            # Backing off: a broken account is not hammered (eBay counts calls against a daily limit).
            self.failures[account.id] = failures = self.failures.get(account.id, 0) + 1
            interval *= 2 ** min(failures, 4)
        finally:
            self.next_poll[account.id] = asyncio.get_running_loop().time() + interval

    async def poll(self, client: httpx.AsyncClient, account: Account, config: EbayConfig) -> None:
        """Ingest the unanswered questions created since the last window; the window moves on only once
        every page is stored."""
        end = dt.datetime.now(dt.UTC)
        start = self.window_start.setdefault(account.id, end - dt.timedelta(hours=config.lookback_hours))
        for page in range(1, MAX_PAGES + 1):
            root = await _call(client, account, config, "GetMemberMessages", _window(start, end, page))
            for exchange in root.iterfind("e:MemberMessage/e:MemberMessageExchange", E):
                await self._ingest(account, exchange)
            if _text(root, "e:HasMoreItems") != "true":
                break
        self.window_start[account.id] = end - OVERLAP

    async def _ingest(self, account: Account, exchange: Element) -> None:
        try:
            message = question(exchange)
        except ValueError as exc:  # one unusable question must not hold back the others
            log.warning(
                "skipped an eBay question: %s", _reason(exc), extra={"channel_account_id": account.id}
            )
            return
        try:
            await self.context.ingest(account.workspace_id, message, account.id)
        except InvalidIdentity as exc:
            log.warning("skipped an eBay question: %s", exc, extra={"channel_account_id": account.id})


def _reason(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)
        )
    return str(exc)


def _window(start: dt.datetime, end: dt.datetime, page: int) -> dict[str, Any]:
    return {
        "MailMessageType": "AskSellerQuestion",
        "MessageStatus": "Unanswered",
        "StartCreationTime": _ebay_time(start),
        "EndCreationTime": _ebay_time(end),
        "Pagination": {"EntriesPerPage": PAGE_SIZE, "PageNumber": page},
    }


class EbayAdapter(Adapter):
    kind = channel = "ebay"
    # AddMemberMessageRTQ: MemberMessage.Body takes at most 2000 characters.
    limits = Limits(max_text=2000)
    Config = EbayConfig
    credential_names = ("user_token",)

    async def send(
        self, client: httpx.AsyncClient, account: Account, outbound: Outbound, idempotency_key: str
    ) -> str | None:
        item_id, buyer = _thread_parts(outbound.thread_key)
        if not ITEM_ID.fullmatch(item_id) or not buyer or not outbound.replying_to:
            raise PermanentError("this conversation is not an eBay buyer's question about a listing")
        fields = {
            "ItemID": item_id,
            "MemberMessage": {
                "Body": outbound.text,
                "ParentMessageID": outbound.replying_to[0],  # the buyer's latest question
                "RecipientID": buyer,
            },
        }
        await _call(client, account, EbayConfig.model_validate(account.config), "AddMemberMessageRTQ", fields)
        return None  # the call answers with no id for the reply

    def services(self, context: Context) -> list[Service]:
        return [Service("ebay-poller", Poller(context, self).run)]


ADAPTERS = [EbayAdapter()]
