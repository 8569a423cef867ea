"""Products, orders and shipments as imported and as shown."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from crossdesk.commerce.money import Amount, Currency, line_total
from crossdesk.conversations.schemas import SenderIn, Untrusted

OrderStatus = Literal["pending", "paid", "fulfilled", "partially_fulfilled", "cancelled", "refunded"]
ShipmentStatus = Literal[
    "label_created", "in_transit", "out_for_delivery", "delivered", "exception", "returned"
]


class ProductIn(Untrusted):
    sku: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=500)
    price: Amount = Field(ge=0)
    currency: Currency
    stock: int = Field(0, ge=0)
    attributes: dict[str, Any] = Field(default_factory=dict)


class ProductOut(ProductIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    updated_at: dt.datetime


class OrderItemIn(Untrusted):
    sku: str = Field(min_length=1, max_length=64)
    title: str | None = Field(None, max_length=500)
    quantity: int = Field(gt=0, le=1_000_000)
    unit_price: Amount = Field(ge=0)


def items_total(items: list[OrderItemIn]) -> Decimal:
    return sum((line_total(i.quantity, i.unit_price) for i in items), Decimal(0))


class TrackingEvent(Untrusted):
    at: AwareDatetime
    status: ShipmentStatus
    location: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=500)


class ShipmentIn(Untrusted):
    carrier: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=3, max_length=64)
    tracking_url: str | None = Field(None, max_length=2000, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$")
    status: ShipmentStatus = "label_created"
    shipped_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None
    history: list[TrackingEvent] = Field(default_factory=list, max_length=100)


class OrderIn(Untrusted):
    external_id: str = Field(min_length=1, max_length=64)
    customer: SenderIn | None = None
    channel: str = Field("web", pattern=r"^[a-z][a-z0-9_]{1,31}$")
    status: OrderStatus = "paid"
    currency: Currency
    placed_at: AwareDatetime
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    items: list[OrderItemIn] = Field(min_length=1, max_length=1000)
    shipping: Amount = Field(Decimal(0), ge=0)
    tax: Amount = Field(Decimal(0), ge=0)
    adjustment: Amount = Field(
        Decimal(0),
        description="What the total differs from items + shipping + tax by: discounts, refunds and tax "
        "already in the prices (negative), duties and fees (positive).",
    )
    total: Amount | None = Field(
        None, ge=0, description="Checked against items + shipping + tax + adjustment when given."
    )
    shipping_address: dict[str, str] = Field(default_factory=dict)
    shipments: list[ShipmentIn] = Field(default_factory=list, max_length=20)

    @property
    def subtotal(self) -> Decimal:
        return items_total(self.items)

    @property
    def computed_total(self) -> Decimal:
        return self.subtotal + self.shipping + self.tax + self.adjustment

    @field_validator("total")
    @classmethod
    def _total_matches(cls, total: Decimal | None, info: ValidationInfo) -> Decimal | None:
        data = info.data
        if total is None or any(data.get(k) is None for k in ("items", "shipping", "tax", "adjustment")):
            return total  # another field is invalid already, and reported
        expected = items_total(data["items"]) + data["shipping"] + data["tax"] + data["adjustment"]
        if total != expected:
            raise ValueError(f"total {total} is not items + shipping + tax + adjustment = {expected}")
        return total

    @model_validator(mode="after")
    def _total_not_negative(self) -> OrderIn:
        if self.computed_total < 0:
            raise ValueError("the adjustment makes the total negative")
        return self


class OrderItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    title: str
    quantity: int
    unit_price: Decimal


class ShipmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    carrier: str
    tracking_number: str
    tracking_url: str | None = None
    status: str
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    history: list[dict[str, Any]]


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str
    customer_id: int | None
    channel: str
    status: str
    currency: str
    subtotal: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal
    country: str | None
    placed_at: dt.datetime
    items: list[OrderItemOut] = Field(default_factory=list)
    shipments: list[ShipmentOut] = Field(default_factory=list)


class RowError(BaseModel):
    row: int = Field(
        description="1-based row (CSV: the data row after the header; JSON: the array index + 1)."
    )
    field: str
    message: str


class ImportReport(BaseModel):
    kind: Literal["products", "orders"]
    rows: int
    created: int = 0
    updated: int = 0
    errors: list[RowError] = Field(default_factory=list)
