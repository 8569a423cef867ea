"""Fast bulk inserts of products, orders, items and shipments into one workspace.

The ORM path (``service.upsert_orders``) is right for imports of a few hundred rows with upsert semantics;
for tens of thousands of new rows (the demo, a first sync) building ORM objects dominates, so these
functions send Core ``INSERT``s with lists of rows, a chunk at a time. They only ever insert, stamp every
row with the session's workspace, and refuse a session that has none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, NotRequired, TypedDict

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.commerce.models import Order, OrderItem, Product, Shipment
from crossdesk.db import Base, ScopeError, utcnow

CHUNK = 1000
Advance = Callable[[int], None]


class ItemRow(TypedDict):
    sku: str
    title: str
    quantity: int
    unit_price: Decimal


class ShipmentRow(TypedDict):
    carrier: str
    tracking_number: str
    status: str
    history: list[dict[str, Any]]
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None


class OrderRow(TypedDict):
    external_id: str
    customer_id: int | None
    channel: str
    status: str
    currency: str
    placed_at: dt.datetime
    country: str | None
    items: list[ItemRow]
    shipments: list[ShipmentRow]
    shipping: NotRequired[Decimal]
    tax: NotRequired[Decimal]
    shipping_address: NotRequired[dict[str, Any]]


def _workspace(session: AsyncSession) -> int:
    workspace_id = session.info.get("workspace_id")
    if workspace_id is None:
        raise ScopeError("bulk inserts need a workspace-scoped session")
    return int(workspace_id)


def _chunks(rows: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def insert_rows(
    session: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]], *, chunk: int = CHUNK
) -> list[int]:
    """Insert rows of a workspace-owned table; returns their new ids in the order given."""
    workspace_id = _workspace(session)
    table: Table = model.__table__  # type: ignore[assignment]
    if "workspace_id" not in table.c:
        raise ScopeError(f"{table.name} does not belong to a workspace")
    ids: list[int] = []
    for part in _chunks(rows, chunk):
        stamped = [{**row, "workspace_id": workspace_id} for row in part]
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids.extend((await session.execute(stmt, stamped)).scalars().all())
    return ids


async def _insert_plain(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], workspace_id: int
) -> None:
    for part in _chunks(rows, CHUNK * 5):
        await session.execute(insert(table), [{**row, "workspace_id": workspace_id} for row in part])


async def product_ids(session: AsyncSession, skus: Iterable[str]) -> dict[str, int]:
    """The workspace's product id for each of these SKUs that exists."""
    wanted = sorted(set(skus))
    found: dict[str, int] = {}
    for part in _chunks(wanted, CHUNK):
        rows = await session.execute(select(Product.sku, Product.id).where(Product.sku.in_(part)))
        found.update({sku: ident for sku, ident in rows.all()})
    return found


async def insert_products(
    session: AsyncSession, rows: Sequence[dict[str, Any]], progress: Advance | None = None
) -> int:
    """New products (sku, title, price, currency, stock, attributes); SKUs must not exist yet."""
    now = utcnow()
    for part in _chunks(rows, CHUNK):
        await insert_rows(
            session, Product, [{"attributes": {}, "stock": 0, "updated_at": now, **r} for r in part]
        )
        if progress:
            progress(len(part))
    return len(rows)


async def insert_orders(
    session: AsyncSession, orders: Sequence[OrderRow], *, chunk: int = CHUNK, progress: Advance | None = None
) -> tuple[int, int, int]:
    """New orders with their items and shipments; totals are computed from the items.

    Items are linked to the workspace's products by SKU. Returns (orders, items, shipments) inserted.
    """
    workspace_id = _workspace(session)
    products = await product_ids(session, (i["sku"] for o in orders for i in o["items"]))
    counts = [0, 0, 0]
    for part in _chunks(orders, chunk):
        heads = []
        for o in part:
            subtotal = sum((i["quantity"] * i["unit_price"] for i in o["items"]), Decimal(0))
            shipping, tax = o.get("shipping", Decimal(0)), o.get("tax", Decimal(0))
            heads.append(
                {
                    "external_id": o["external_id"],
                    "customer_id": o["customer_id"],
                    "channel": o["channel"],
                    "status": o["status"],
                    "currency": o["currency"],
                    "subtotal": subtotal,
                    "shipping": shipping,
                    "tax": tax,
                    "total": subtotal + shipping + tax,
                    "country": o["country"],
                    "shipping_address": o.get("shipping_address", {}),
                    "placed_at": o["placed_at"],
                }
            )
        ids = await insert_rows(session, Order, heads, chunk=chunk)
        items = [
            {**item, "order_id": order_id, "product_id": products.get(item["sku"])}
            for order_id, o in zip(ids, part, strict=True)
            for item in o["items"]
        ]
        shipments = [
            {**s, "order_id": order_id} for order_id, o in zip(ids, part, strict=True) for s in o["shipments"]
        ]
        await _insert_plain(session, OrderItem.__table__, items, workspace_id)  # type: ignore[arg-type]
        await _insert_plain(session, Shipment.__table__, shipments, workspace_id)  # type: ignore[arg-type]
        counts[0], counts[1], counts[2] = (
            counts[0] + len(ids),
            counts[1] + len(items),
            counts[2] + len(shipments),
        )
        if progress:
            progress(len(part))
    return counts[0], counts[1], counts[2]
