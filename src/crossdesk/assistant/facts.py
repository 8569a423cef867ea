"""What the assistant's look-ups find and its answers may say: the only source of every number, date, order
id and tracking number in an answer (``assistant.tools`` fills these; ``assistant.answers`` words them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class ShipmentFacts:
    carrier: str
    tracking_number: str
    tracking_url: str  # always a web link: the platform's, or the carrier's page
    status: str  # label_created, in_transit, out_for_delivery, delivered, exception, returned
    shipped_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    last_event: str | None = None  # the carrier's latest description, as the carrier wrote it
    last_event_at: dt.datetime | None = None


@dataclass(frozen=True)
class OrderFacts:
    number: str  # the platform's order number, as the buyer knows it
    status: str  # pending, paid, fulfilled, partially_fulfilled, cancelled, refunded
    placed_at: dt.datetime
    total: Decimal
    currency: str
    items: list[tuple[str, int]] = field(default_factory=list)  # (title, quantity)
    shipments: list[ShipmentFacts] = field(default_factory=list)
    country: str | None = None  # where it ships to (ISO 3166-1 alpha-2)


@dataclass(frozen=True)
class ReturnFacts:
    order_number: str
    eligible: bool
    reason: str  # "within_window", "window_passed", "not_delivered_yet", "not_returnable", "already_refunded"
    window_days: int
    days_left: int | None  # None when not delivered yet or not eligible
    return_shipping_paid_by: str  # "buyer" or "seller"
    condition: str  # the seller's wording, e.g. "unused, in its original packaging"


@dataclass(frozen=True)
class ShippingTimeFacts:
    country: str  # ISO 3166-1 alpha-2
    method: str  # e.g. "standard", "express"
    min_days: int
    max_days: int


@dataclass(frozen=True)
class ProductFacts:
    sku: str
    title: str
    price: Decimal
    currency: str
    in_stock: int


@dataclass(frozen=True)
class PaymentFacts:
    methods: list[str]  # as the seller names them: "Visa", "PayPal", "Alipay"...


@dataclass(frozen=True)
class Missing:
    """Why a look-up found nothing it may say: the answer asks for what is missing, or hands over."""

    reason: str  # "no_order", "order_not_found", "order_not_verified", "ask_order_number", "no_policy"


Fact = OrderFacts | ReturnFacts | ShippingTimeFacts | ProductFacts | PaymentFacts | Missing
