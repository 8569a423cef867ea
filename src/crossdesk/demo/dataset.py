"""The demo's real data, shaped into rows: products, chosen customers and their orders with shipments.

Pure functions over the shipped parquet files (see ``data/ATTRIBUTION.md``); nothing here touches the
database, so the same input always gives the same rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any, cast

import polars as pl

from crossdesk.commerce.bulk import ItemRow, OrderRow, ShipmentRow
from crossdesk.demo import world
from crossdesk.demo.derive import SHIPPING_CODES

DATA = Path(__file__).parent / "data"
CURRENCY = "GBP"
LATEST_ORDER_AGE = dt.timedelta(days=3)
ORDER_CHANNELS = ((40, "web"), (65, "amazon"), (80, "ebay"), (92, "shopify"), (100, "tiktok"))
EXCEPTIONS = 2  # parcels with a delivery problem


def load_products() -> list[dict[str, Any]]:
    """Every real product: title-cased description, median price in GBP, a made-up stock level."""
    rows = []
    for sku, description, price, units in pl.read_parquet(DATA / "products.parquet").iter_rows():
        rows.append(
            {
                "sku": sku,
                "title": world.title_case(description),
                "price": Decimal(price),
                "currency": CURRENCY,
                "stock": stock_level(sku, units),
                "attributes": {"units_sold_2011": units},
            }
        )
    return rows


def stock_level(sku: str, units_sold: int) -> int:
    n = world.digest("stock", sku)
    if n % 23 == 0:
        return 0  # a few sold out
    return min(5000, units_sold // 20 + n % 80)


@cache
def money(value: float) -> Decimal:
    """A float price from the data as an exact amount: pence, or tenths of a penny where it has them."""
    exact = Decimal(f"{value:.3f}")
    pence = exact.quantize(Decimal("0.01"), ROUND_HALF_UP)
    return pence if pence == exact else exact


def load_lines() -> pl.DataFrame:
    return pl.read_parquet(DATA / "lines.parquet")


def choose_customers(lines: pl.DataFrame, count: int) -> list[int]:
    """``count`` real customer ids: the most active of every country first, then the most active overall."""
    activity = (
        lines.group_by("customer")
        .agg(pl.col("invoice").n_unique().alias("invoices"), pl.col("country").mode().sort().first())
        .sort(["invoices", "customer"], descending=[True, False])
    )
    leaders = activity.unique("country", keep="first", maintain_order=True)["customer"].to_list()
    chosen = leaders[:count]
    taken = set(chosen)
    for customer in activity["customer"]:
        if len(chosen) >= count:
            break
        if customer not in taken:
            chosen.append(customer)
            taken.add(customer)
    return chosen


def date_offset(lines: pl.DataFrame, now: dt.datetime) -> dt.timedelta:
    """Whole days that move the latest invoice to three (to four) days before ``now``: keeps times of day."""
    latest = cast(dt.datetime, lines["at"].max()).replace(tzinfo=dt.UTC)
    return dt.timedelta(days=((now - LATEST_ORDER_AGE) - latest).days)


@dataclass
class Buyer:
    """A chosen customer: the real id, country and orders, with a made-up person."""

    source_id: int
    country_name: str
    country: world.Country
    person: world.Person
    phone: str | None
    orders: list[OrderRow] = field(default_factory=list)
    since: dt.datetime | None = None

    @property
    def language(self) -> str:
        return self.country.language


def _order_channel(customer: int, invoice: str) -> str:
    # Most buyers stick to one channel; some orders come from elsewhere.
    n = world.digest("channel", customer if world.digest("loyal", invoice) % 10 < 7 else invoice) % 100
    return next(name for limit, name in ORDER_CHANNELS if n < limit)


def build_buyers(
    lines: pl.DataFrame, chosen: list[int], offset: dt.timedelta, now: dt.datetime
) -> list[Buyer]:
    """The chosen customers with every one of their invoices as an order (with items and a shipment)."""
    products = {r[0]: world.title_case(r[1]) for r in pl.read_parquet(DATA / "products.parquet").iter_rows()}
    picked = lines.filter(pl.col("customer").is_in(chosen))
    homes = dict(picked.group_by("customer").agg(pl.col("country").mode().sort().first()).iter_rows())
    buyers: dict[int, Buyer] = {}
    for customer in chosen:
        where = world.country(homes[customer])
        buyers[customer] = Buyer(
            customer, homes[customer], where, world.person(customer, where), world.phone(customer, where.code)
        )
    current: OrderRow | None = None
    for invoice, sku, quantity, at, price, customer, country_name in picked.sort(
        ["customer", "at", "invoice"]
    ).iter_rows():
        if current is None or current["external_id"] != invoice:
            buyer = buyers[customer]
            where = world.country(country_name)
            current = {
                "external_id": invoice,
                "customer_id": None,  # set once the customer row exists
                "channel": _order_channel(customer, invoice),
                "status": "refunded" if invoice.startswith("C") else "fulfilled",
                "currency": CURRENCY,
                "placed_at": at.replace(tzinfo=dt.UTC) + offset,
                "country": where.code,
                "items": [],
                "shipments": [],
                "shipping": Decimal(0),
                "shipping_address": _address(buyer, where),
            }
            buyer.orders.append(current)
        amount = money(price)
        if sku in SHIPPING_CODES:
            current["shipping"] = current.get("shipping", Decimal(0)) + abs(quantity) * amount
        else:
            item: ItemRow = {
                "sku": sku,
                "title": products[sku],
                "quantity": abs(quantity),
                "unit_price": amount,
            }
            current["items"].append(item)
    for buyer in buyers.values():
        buyer.orders = [o for o in buyer.orders if o["items"]]  # postage-only refunds are not orders
        buyer.since = min((o["placed_at"] for o in buyer.orders), default=None)
        for order in buyer.orders:
            if order["status"] != "refunded":
                order["shipments"] = [_shipment(buyer, order, now, exception=False)]
    _add_exceptions(list(buyers.values()), now)
    return [b for b in buyers.values() if b.orders]


def _address(buyer: Buyer, where: world.Country) -> dict[str, Any]:
    p = buyer.person
    address = {
        "name": p.name,
        "line1": p.street,
        "postcode": p.postcode,
        "city": p.city,
        "country": where.code,
    }
    return {k: v for k, v in address.items() if v}


def _shipment(buyer: Buyer, order: OrderRow, now: dt.datetime, *, exception: bool) -> ShipmentRow:
    code, number = order["country"], order["external_id"]
    carrier = world.carrier(code, number)
    hub = world.BY_CODE.get(code or "", world.UNKNOWN).city
    city = buyer.person.city if code == buyer.country.code else hub  # the address we know is the home one
    tracking = world.track(carrier, code, hub, city, order["placed_at"], now, exception=exception)
    return {
        "carrier": carrier,
        "tracking_number": world.tracking_number(carrier, number),
        "status": tracking.status,
        "history": tracking.history,
        "shipped_at": tracking.shipped_at if tracking.status != "label_created" else None,
        "delivered_at": tracking.delivered_at,
    }


def _add_exceptions(buyers: list[Buyer], now: dt.datetime) -> None:
    """Turn a couple of recent foreign deliveries into delivery problems, as every week has some."""
    recent = [
        (world.digest("exception", o["external_id"]), b, o)
        for b in buyers
        for o in b.orders
        if o["shipments"]
        and o["country"] not in ("GB", "JE")
        and o["shipments"][0]["status"] in ("out_for_delivery", "delivered")
        and now - o["placed_at"] < dt.timedelta(days=12)
    ]
    for _, buyer, order in sorted(recent, key=lambda r: r[0])[:EXCEPTIONS]:
        order["shipments"] = [_shipment(buyer, order, now, exception=True)]
