"""Products, orders and shipments of a workspace."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.commerce.models import NOT_SOLD, Order, OrderItem, Product, Shipment
from crossdesk.commerce.schemas import OrderIn, OrderItemOut, OrderOut, ProductIn, ProductOut, ShipmentOut
from crossdesk.customers import service as customers
from crossdesk.db import utcnow

Progress = Callable[[int], None]


async def upsert_products(session: AsyncSession, rows: Sequence[ProductIn]) -> tuple[int, int]:
    """Create or update products by SKU; returns (created, updated)."""
    existing = {
        p.sku: p
        for p in (await session.scalars(select(Product).where(Product.sku.in_([r.sku for r in rows])))).all()
    }
    created = 0
    for row in rows:
        product = existing.get(row.sku)
        if product is None:
            product = Product(sku=row.sku)
            session.add(product)
            existing[row.sku] = product
            created += 1
        product.title, product.price, product.currency = row.title, row.price, row.currency
        product.stock, product.attributes, product.updated_at = row.stock, row.attributes, utcnow()
    await session.flush()
    return created, len(rows) - created


async def upsert_orders(session: AsyncSession, rows: Sequence[OrderIn]) -> tuple[int, int]:
    """Create or replace orders by their external id, linking each to its customer; (created, updated)."""
    ids = [r.external_id for r in rows]
    existing = {
        o.external_id: o
        for o in (await session.scalars(select(Order).where(Order.external_id.in_(ids)))).all()
    }
    skus = {i.sku for r in rows for i in r.items}
    products = {p.sku: p for p in (await session.scalars(select(Product).where(Product.sku.in_(skus)))).all()}
    created = 0
    for row in rows:
        order = existing.get(row.external_id)
        if order is None:
            order = Order(external_id=row.external_id)
            created += 1
        else:
            await session.execute(delete(OrderItem).where(OrderItem.order_id == order.id))
            await session.execute(delete(Shipment).where(Shipment.order_id == order.id))
        await _fill_order(session, order, row)  # before add: resolving the buyer may flush the session
        session.add(order)
        await session.flush()
        for item in row.items:
            product = products.get(item.sku)
            session.add(
                OrderItem(
                    order_id=order.id,
                    product_id=product.id if product else None,
                    sku=item.sku,
                    title=item.title or (product.title if product else item.sku),
                    quantity=item.quantity,
                    unit_price=item.unit_price,
                )
            )
        for shipment in row.shipments:
            data = shipment.model_dump(mode="json", include={"history"})
            session.add(
                Shipment(
                    order_id=order.id,
                    carrier=shipment.carrier,
                    tracking_number=shipment.tracking_number,
                    tracking_url=shipment.tracking_url,
                    status=shipment.status,
                    shipped_at=shipment.shipped_at,
                    delivered_at=shipment.delivered_at,
                    history=data["history"],
                )
            )
    await session.flush()
    return created, len(rows) - created


async def _fill_order(session: AsyncSession, order: Order, row: OrderIn) -> None:
    customer_id = None
    if row.customer is not None:
        sender = row.customer
        profile = customers.Profile(
            sender.name, sender.email, sender.phone, sender.country or row.country, sender.language
        )
        keys = customers.identity_keys(profile, [(i.kind, i.value) for i in sender.identities])
        if keys:
            customer_id = (await customers.resolve(session, keys, profile)).id
    order.customer_id = customer_id
    order.channel, order.status, order.currency = row.channel, row.status, row.currency
    order.subtotal, order.shipping, order.tax, order.total = (
        row.subtotal,
        row.shipping,
        row.tax,
        row.computed_total,
    )
    order.country, order.placed_at, order.shipping_address = row.country, row.placed_at, row.shipping_address


async def upsert_rows(session: AsyncSession, rows: Sequence[ProductIn | OrderIn]) -> tuple[int, int]:
    """Upsert parsed import rows of either kind (one kind per call); returns (created, updated)."""
    products = [r for r in rows if isinstance(r, ProductIn)]
    orders = [r for r in rows if isinstance(r, OrderIn)]
    if products and orders:
        raise ValueError("one import holds one kind of row")
    return await (upsert_products(session, products) if products else upsert_orders(session, orders))


async def reassign_customer_orders(session: AsyncSession, from_ids: list[int], to_id: int) -> None:
    await session.execute(update(Order).where(Order.customer_id.in_(from_ids)).values(customer_id=to_id))


async def list_products(session: AsyncSession, limit: int, offset: int) -> list[ProductOut]:
    rows = await session.scalars(select(Product).order_by(Product.sku).limit(limit).offset(offset))
    return [ProductOut.model_validate(p) for p in rows.all()]


async def orders_of_customer(session: AsyncSession, customer_id: int, limit: int = 50) -> list[OrderOut]:
    """The customer's newest orders with their items and shipments."""
    stmt = select(Order).where(Order.customer_id == customer_id).order_by(Order.placed_at.desc()).limit(limit)
    return await _with_lines(session, list((await session.scalars(stmt)).all()))


async def order_by_external_id(session: AsyncSession, external_id: str) -> OrderOut | None:
    """One order, by the shop's own id for it, with its items and shipments."""
    order = await session.scalar(select(Order).where(Order.external_id == external_id))
    return None if order is None else (await _with_lines(session, [order]))[0]


async def _with_lines(session: AsyncSession, orders: list[Order]) -> list[OrderOut]:
    ids = [o.id for o in orders]
    items = (
        await session.scalars(select(OrderItem).where(OrderItem.order_id.in_(ids)).order_by(OrderItem.id))
    ).all()
    shipments = (
        await session.scalars(select(Shipment).where(Shipment.order_id.in_(ids)).order_by(Shipment.id))
    ).all()
    return [
        OrderOut.model_validate(o).model_copy(
            update={
                "items": [OrderItemOut.model_validate(i) for i in items if i.order_id == o.id],
                "shipments": [ShipmentOut.model_validate(s) for s in shipments if s.order_id == o.id],
            }
        )
        for o in orders
    ]


@dataclass(frozen=True)
class Spend:
    """A customer's orders in one currency (cancelled and refunded ones count as orders, not as spend)."""

    currency: str
    orders: int
    total: Decimal


async def spend_of(session: AsyncSession, customer_id: int) -> list[Spend]:
    """Lifetime orders and spend per currency, biggest count first: one grouped query."""
    sold = case((Order.status.not_in(NOT_SOLD), Order.total), else_=0)
    rows = await session.execute(
        select(Order.currency, func.count(Order.id), func.coalesce(func.sum(sold), 0))
        .where(Order.customer_id == customer_id)
        .group_by(Order.currency)
    )
    found = [Spend(currency, int(n), Decimal(total)) for currency, n, total in rows]  # SUM keeps Amount
    return sorted(found, key=lambda s: (-s.orders, s.currency))
