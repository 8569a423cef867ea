"""The offline assistant's answers: localized templates filled only with looked-up facts.

Each language has one data file, ``templates/<lang>.toml``; a case without a template in the buyer's language
is never answered in another language: ``compose`` returns None and a human takes over. Every answer is
checked by ``check_grounded`` before it leaves (the LLM path uses the same check): any number, date, order
id, tracking number, money amount or link in the text that the facts do not give makes it unsendable.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal

from crossdesk.assistant.facts import (
    Fact,
    Missing,
    OrderFacts,
    PaymentFacts,
    ProductFacts,
    ReturnFacts,
    ShipmentFacts,
    ShippingTimeFacts,
)
from crossdesk.assistant.language import SUPPORTED

TEMPLATES = Path(__file__).resolve().parent / "templates"
TONES = ("friendly", "formal")
MAX_NAME = 40
# Intents answered from order facts, shipping facts, return facts or payment facts.
ORDER_INTENTS = ("track_order", "cancel_order", "change_shipping_address", "track_refund", "get_refund")
ANSWERED: tuple[str, ...] = (
    *ORDER_INTENTS,
    "shipping_time",
    "delivery_options",
    "return_item",
    "check_refund_policy",
    "check_payment_methods",
)
# Intents a person must handle: the buyer gets the polite hand-over line, never a guess.
HANDED_OVER: tuple[str, ...] = (
    "contact_human_agent",
    "contact_customer_service",
    "complaint",
    "damaged_item",
    "missing_item",
    "payment_issue",
)
MISSING_CASES = {
    "no_order": "missing.ask_order_number",
    "ask_order_number": "missing.ask_order_number",
    "order_not_found": "missing.order_not_found",
    "order_not_verified": "missing.order_not_verified",
    "no_policy": "handover",
}
NOT_SHIPPED = ("pending", "paid")
MOVING = ("label_created", "in_transit", "out_for_delivery", "exception", "returned")
# Date renderings a text may use for a fact's date: Babel's widths in every language, and ISO.
DATE_WIDTHS = ("full", "long", "medium", "short")
# The calendar dates an instant has somewhere on Earth (UTC-12 to UTC+14), when the zone is not known.
EARTH = (dt.timezone(dt.timedelta(hours=-12)), dt.timezone(dt.timedelta(hours=14)))

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\S+@\S+")
_NAME_OK = re.compile(r"[^\W\d_](?:[^\W\d_]|[ '’.\-])*", re.UNICODE)
_FIXED = re.compile(r"\{fixed:([^{}]+)\}")
_SLOT = re.compile(r"\{(\w+)\}")
_TOKEN = re.compile(r"[0-9A-Za-z\-/.,:#+]*\d[0-9A-Za-z\-/.,:#+]*")  # digits are ASCII once normalized
_EDGE_PUNCT = "()[]{}<>.,;:!?\"'«»“”„‘’、。，：；！？（）「」"


@dataclass(frozen=True)
class Answer:
    text: str
    language: str
    used: list[Fact]
    confidence_ok: bool  # False: a holding reply (a colleague will answer); send it only with a hand-over
    fixed: tuple[str, ...] = ()  # numbers no fact gives that the text may hold: wording, the seller's code


@dataclass(frozen=True)
class Offer:
    """What the seller lets the assistant offer this buyer: recommended products and/or a win-back code."""

    products: list[ProductFacts]
    code: str | None


@dataclass(frozen=True)
class _Ctx:
    language: str
    zone: ZoneInfo


class _Unanswerable(Exception):
    """The facts do not fit this intent, or a template is missing: hand over."""


@cache
def templates(language: str) -> Mapping[str, Any]:
    """The language's template file, parsed (empty when the language has none)."""
    path = TEMPLATES / f"{language}.toml"
    if language not in SUPPORTED or not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def template(language: str, key: str) -> str:
    """The template at dotted ``key`` (``answer.order_shipped``), or _Unanswerable when the file lacks it."""
    node: Any = templates(language)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise _Unanswerable(f"{language}: no template {key}")
        node = node[part]
    if not isinstance(node, str):
        raise _Unanswerable(f"{language}: {key} is not a template")
    return node


def clean_name(name: str | None) -> str | None:
    """A buyer-supplied name fit to greet with, or None: no links, e-mails, digits, markup or control text."""
    if not name:
        return None
    text = " ".join(unicodedata.normalize("NFKC", name).split())
    if not text or len(text) > MAX_NAME or _URL.search(text) or _EMAIL.search(text):
        return None
    if any(unicodedata.category(ch)[0] == "C" for ch in text) or not _NAME_OK.fullmatch(text):
        return None
    return text


def _fill(raw: str, values: Mapping[str, str]) -> tuple[str, list[str]]:
    """The template with its slots filled, and the numbers the template marks as its own wording."""
    fixed = _FIXED.findall(raw)
    text = _FIXED.sub(lambda m: m.group(1), raw)

    def slot(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise _Unanswerable(f"template slot {match.group(1)} has no value")
        return values[match.group(1)]

    return _SLOT.sub(slot, text), fixed


def _local_date(when: dt.datetime, zone: dt.tzinfo) -> dt.date:
    aware = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
    return aware.astimezone(zone).date()


def _date(when: dt.datetime, ctx: _Ctx) -> str:
    return format_date(_local_date(when, ctx.zone), "long", locale=ctx.language)


def _money(amount: Decimal, currency: str, ctx: _Ctx) -> str:
    return format_currency(amount, currency, locale=ctx.language)


def _days(low: int, high: int, ctx: _Ctx) -> str:
    """``3–5 days`` in the language, the plural form chosen by the larger number."""
    span = (
        str(low)
        if low == high
        else _fill(template(ctx.language, "range"), {"min": str(low), "max": str(high)})[0]
    )
    plural = Locale.parse(ctx.language).plural_form(high)
    key = f"days.{plural}" if plural in templates(ctx.language).get("days", {}) else "days.other"
    return _fill(template(ctx.language, key), {"n": span})[0]


def _country(code: str | None, ctx: _Ctx) -> str:
    names = Locale.parse(ctx.language).territories
    if code is None or code.upper() not in names:
        raise _Unanswerable(f"unknown country {code!r}")
    return str(names[code.upper()])


class _Writer:
    """Collects the answer (paragraphs, lines, sentences) and the numbers its templates mark as fixed."""

    def __init__(self, ctx: _Ctx) -> None:
        self.ctx = ctx
        self.text = ""
        self.fixed: list[str] = []
        # Chinese and Japanese put no space between sentences.
        self.gap = str(templates(ctx.language).get("sentence_gap", " "))
        self.pending = ""

    def paragraph(self) -> None:
        """The next text starts a new paragraph."""
        self.pending = "\n\n"

    def add(self, key: str, *, new: str = "", **values: str) -> None:
        """Appends the template at ``key``: as a new paragraph/line when ``new`` says so, else a sentence."""
        text, fixed = _fill(template(self.ctx.language, key), values)
        self.text += (self.pending or new or self.gap if self.text else "") + text
        self.pending = ""
        self.fixed += fixed


def _first(facts: Iterable[Fact], kind: type[Any]) -> Any:
    found = next((f for f in facts if isinstance(f, kind)), None)
    if found is None:
        raise _Unanswerable(f"no {kind.__name__}")
    return found


def _shipment(w: _Writer, s: ShipmentFacts) -> None:
    if s.status == "delivered" and s.delivered_at is not None:
        w.add(
            "answer.shipment_delivered",
            new="\n",
            carrier=s.carrier,
            tracking=s.tracking_number,
            date=_date(s.delivered_at, w.ctx),
            url=s.tracking_url,
        )
        return
    status = s.status if s.status in MOVING else None
    if status is None and s.status != "delivered":
        raise _Unanswerable(f"shipment status {s.status}")
    label = template(w.ctx.language, f"status.{status or 'delivered'}")
    w.add(
        "answer.shipment",
        new="\n",
        carrier=s.carrier,
        tracking=s.tracking_number,
        status=label,
        url=s.tracking_url,
    )


def _closed_order(w: _Writer, order: OrderFacts) -> bool:
    """Words a cancelled or refunded order (the same answer whatever was asked); False for an open one."""
    if order.status == "cancelled":
        w.add("answer.order_cancelled", order=order.number)
    elif order.status == "refunded":
        w.add("answer.order_refunded", order=order.number)
    else:
        return False
    return True


def _track(w: _Writer, order: OrderFacts) -> bool:
    if _closed_order(w, order):
        return True
    if not order.shipments:
        if order.status not in NOT_SHIPPED:
            raise _Unanswerable(f"{order.status} order without shipments")
        w.add("answer.order_not_shipped", order=order.number, placed=_date(order.placed_at, w.ctx))
        return True
    w.add("answer.order_shipped", order=order.number)
    for shipment in order.shipments:
        _shipment(w, shipment)
    return all(s.status not in ("exception", "returned") for s in order.shipments)


def _cancel(w: _Writer, order: OrderFacts) -> bool:
    if _closed_order(w, order):
        return True
    if order.status in NOT_SHIPPED and not order.shipments:
        w.add("answer.cancel_possible", order=order.number)
        if order.status == "paid":
            w.add("answer.cancel_refund", total=_money(order.total, order.currency, w.ctx))
        return True
    w.add("answer.cancel_too_late", order=order.number)
    return True


def _address(w: _Writer, order: OrderFacts) -> bool:
    if _closed_order(w, order):
        return True
    if order.status in NOT_SHIPPED and not order.shipments:
        w.add("answer.address_possible", order=order.number)
        return True
    w.add("answer.address_too_late", order=order.number)
    return False  # a colleague checks what the carrier can still do


def _refund(w: _Writer, order: OrderFacts) -> bool:
    if order.status == "refunded":
        w.add("answer.order_refunded", order=order.number)
        return True
    w.add("answer.refund_none", order=order.number)
    return False


def _return(w: _Writer, r: ReturnFacts) -> bool:
    window = _days(r.window_days, r.window_days, w.ctx)
    if r.eligible:
        w.add("answer.return_eligible", order=r.order_number, window=window)
        if r.days_left is not None:
            w.add("answer.return_days_left", left=_days(r.days_left, r.days_left, w.ctx))
        w.add("answer.return_condition", condition=r.condition)
        if r.return_shipping_paid_by not in ("buyer", "seller"):
            raise _Unanswerable(f"return shipping paid by {r.return_shipping_paid_by}")
        w.add(f"answer.return_paid_by_{r.return_shipping_paid_by}")
        return True
    cases = {
        "window_passed": "answer.return_window_passed",
        "not_delivered_yet": "answer.return_not_delivered",
        "not_returnable": "answer.return_not_returnable",
        "already_refunded": "answer.order_refunded",
    }
    if r.reason not in cases:
        raise _Unanswerable(f"return reason {r.reason}")
    w.add(cases[r.reason], order=r.order_number, window=window)
    return True


def _shipping_time(w: _Writer, s: ShippingTimeFacts) -> bool:
    if s.min_days < 0 or s.max_days < s.min_days:
        raise _Unanswerable("shipping time range")
    method = templates(w.ctx.language).get("method", {}).get(s.method, s.method)
    w.add(
        "answer.shipping_time",
        country=_country(s.country, w.ctx),
        method=method,
        days=_days(s.min_days, s.max_days, w.ctx),
    )
    return True


def _payment(w: _Writer, p: PaymentFacts) -> bool:
    if not p.methods:
        raise _Unanswerable("no payment methods")
    w.add("answer.payment_methods", methods=format_list(p.methods, locale=w.ctx.language))
    return True


def _offer(w: _Writer, offer: Offer) -> list[Fact]:
    """The offer's lines after the body; returns the products it named (the facts behind their titles)."""
    w.paragraph()
    if offer.products:
        w.add("offer.recommend", titles=format_list([p.title for p in offer.products], locale=w.ctx.language))
    if offer.code:
        w.add("offer.code", new="\n", code=offer.code)
        w.fixed.append(offer.code)  # the seller's own code: allowed, though it is no looked-up fact
    return list(offer.products)


def _body(w: _Writer, intent: str, facts: list[Fact]) -> tuple[bool, list[Fact]]:
    """Writes the answer's body; returns whether it answers the question and the facts it used."""
    missing = next((f for f in facts if isinstance(f, Missing)), None)
    if missing is not None:
        if missing.reason not in MISSING_CASES:
            raise _Unanswerable(f"missing {missing.reason}")
        key = MISSING_CASES[missing.reason]
        w.add(key if key.startswith("missing.") else "handover")
        return key != "handover", [missing]
    if intent in ORDER_INTENTS:
        order: OrderFacts = _first(facts, OrderFacts)
        writers = {"track_order": _track, "cancel_order": _cancel, "change_shipping_address": _address}
        return writers.get(intent, _refund)(w, order), [order]
    if intent in ("return_item", "check_refund_policy"):
        ret: ReturnFacts = _first(facts, ReturnFacts)
        return _return(w, ret), [ret]
    if intent in ("shipping_time", "delivery_options"):
        ship: ShippingTimeFacts = _first(facts, ShippingTimeFacts)
        return _shipping_time(w, ship), [ship]
    pay: PaymentFacts = _first(facts, PaymentFacts)
    return _payment(w, pay), [pay]


def compose(
    intent: str,
    language: str,
    facts: list[Fact],
    *,
    customer_name: str | None,
    tone: str = "friendly",
    timezone: str,
    offer: Offer | None = None,
) -> Answer | None:
    """The buyer's answer in their language from ``facts``, or None when a person must write it; ``offer``
    adds its lines after an answer (never to a holding reply)."""
    if tone not in TONES:
        raise ValueError(f"unknown tone {tone!r}")
    if intent not in ANSWERED + HANDED_OVER or not templates(language):
        return None
    ctx = _Ctx(language, ZoneInfo(timezone))
    name = clean_name(customer_name)
    w = _Writer(ctx)
    try:
        w.add(f"tone.{tone}.greeting_name" if name else f"tone.{tone}.greeting", name=name or "")
        w.paragraph()
        if intent in HANDED_OVER:
            w.add("handover")
            answered, used = False, list[Fact]()
        else:
            answered, used = _body(w, intent, facts)
            if answered and offer is not None and (offer.products or offer.code):
                used = [*used, *_offer(w, offer)]
        w.paragraph()
        w.add(f"tone.{tone}.close")
    except _Unanswerable:
        return None
    text = w.text
    if check_grounded(text, used, timezone=timezone, fixed=w.fixed):
        return None
    return Answer(text=text, language=language, used=used, confidence_ok=answered, fixed=tuple(w.fixed))


# --- grounding -------------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Compatibility forms (full-width digits, no-break spaces) folded, every decimal digit ASCII."""
    folded = unicodedata.normalize("NFKC", text)
    digits = "".join(
        str(unicodedata.decimal(ch)) if unicodedata.decimal(ch, None) is not None else ch for ch in folded
    )
    return " ".join(digits.split())


def _date_forms(when: dt.datetime, timezone: str | None) -> Iterator[str]:
    zones: tuple[dt.tzinfo, ...] = (ZoneInfo(timezone),) if timezone else EARTH
    days = {_local_date(when, zone) for zone in zones}
    if not timezone:  # every calendar day between the two extremes
        low, high = min(days), max(days)
        days = {low + dt.timedelta(days=i) for i in range((high - low).days + 1)}
    for day in days:
        yield day.isoformat()
        for language in SUPPORTED:
            for width in DATE_WIDTHS:
                yield format_date(day, width, locale=language)


def _money_forms(amount: Decimal, currency: str) -> Iterator[str]:
    yield str(amount)
    for language in SUPPORTED:
        yield format_decimal(amount, locale=language)
        yield format_currency(amount, currency, locale=language)


def _fact_values(fact: Fact, timezone: str | None) -> Iterator[str]:
    """Every string an answer may show for ``fact``: verbatim values, numbers, dates and money rendered."""
    if isinstance(fact, OrderFacts):
        yield fact.number
        yield from _date_forms(fact.placed_at, timezone)
        yield from _money_forms(fact.total, fact.currency)
        for title, quantity in fact.items:
            yield from (title, str(quantity))
        for s in fact.shipments:
            yield from (s.carrier, s.tracking_number, s.tracking_url)
            if s.last_event:
                yield s.last_event
            for when in (s.shipped_at, s.delivered_at, s.last_event_at):
                if when is not None:
                    yield from _date_forms(when, timezone)
    elif isinstance(fact, ReturnFacts):
        yield from (fact.order_number, fact.condition, str(fact.window_days))
        if fact.days_left is not None:
            yield str(fact.days_left)
    elif isinstance(fact, ShippingTimeFacts):
        yield from (fact.method, str(fact.min_days), str(fact.max_days))
    elif isinstance(fact, PaymentFacts):
        yield from fact.methods
    elif not isinstance(fact, Missing):  # ProductFacts
        yield from (fact.sku, fact.title, str(fact.in_stock))
        yield from _money_forms(fact.price, fact.currency)


def _strip_edges(token: str) -> str:
    return token.strip(_EDGE_PUNCT)


def check_grounded(
    text: str, facts: Iterable[Fact], *, timezone: str | None = None, fixed: Iterable[str] = ()
) -> list[str]:
    """Every number, date, id, amount or link in ``text`` that ``facts`` do not give (empty: grounded).

    The facts' values (and their renderings) are cut out of the text, longest first, wherever they stand
    clear of other letters and digits; whatever still holds a digit, or is a link, was invented. ``timezone``
    pins dates to the buyer's calendar day (unknown: any day the instant has somewhere on Earth); ``fixed``
    are numbers a template marks as its own wording.
    """
    rest = normalize(text)
    values = {normalize(v) for f in facts for v in _fact_values(f, timezone)} | {normalize(v) for v in fixed}
    for value in sorted((v for v in values if v), key=len, reverse=True):
        rest = re.sub(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", " ", rest)
    found = [_strip_edges(m.group()) for m in _URL.finditer(rest)]
    rest = _URL.sub(" ", rest)
    found += [_strip_edges(m.group()) for m in _TOKEN.finditer(rest)]
    return [token for token in found if token]
