"""Products, orders, their items and shipments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crossdesk.db import Amount, Base, UTCDateTime, WorkspaceOwned, utcnow

ORDER_STATUSES = ("pending", "paid", "fulfilled", "partially_fulfilled", "cancelled", "refunded")
SHIPMENT_STATUSES = ("label_created", "in_transit", "out_for_delivery", "delivered", "exception", "returned")


class Product(WorkspaceOwned, Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("workspace_id", "sku"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    price: Mapped[Decimal] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3))
    stock: Mapped[int] = mapped_column(Integer, default=0)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# Order statuses that are no sale: such orders count as orders, not as spend or demand.
NOT_SOLD = ("cancelled", "refunded")


class Order(WorkspaceOwned, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("workspace_id", "external_id"),
        Index("ix_orders_customer", "workspace_id", "customer_id", "placed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(32), default="web")
    status: Mapped[str] = mapped_column(String(24), default="paid")
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Amount)
    shipping: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    tax: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    total: Mapped[Decimal] = mapped_column(Amount)
    country: Mapped[str | None] = mapped_column(String(2))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class OrderItem(WorkspaceOwned, Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Amount)


class Shipment(WorkspaceOwned, Base):
    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    carrier: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(64), index=True)
    # The platform's tracking page for this parcel, when it gives one (Shopify does).
    tracking_url: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(24), default="label_created")
    # [{"at": iso time, "status": ..., "location": ..., "description": ...}, ...] oldest first.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    shipped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
