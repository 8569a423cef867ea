"""Shopify: the shop's webhooks keep its orders, customers and products live in crossdesk's commerce records,
so agents and the assistant see them. Shopify is not a messaging channel: nothing is sent back.

Follows Shopify's docs (shopify.dev): "Deliver webhooks through HTTPS" and "Verify webhook deliveries"
(``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw body, keyed with the app's client secret),
"Webhooks delivery structure" (``X-Shopify-Topic``, ``X-Shopify-Shop-Domain``, ``X-Shopify-Webhook-Id``, the
same on every retry of one delivery, ``X-Shopify-Triggered-At``, ``X-Shopify-API-Version``; the body is the
topic's REST resource), and the REST Admin API's Order, Customer and Product resources.

Deliveries come more than once and out of order, and only the body is signed, so an old body can be posted
again under new headers: each resource keeps the ``updated_at`` of the snapshot last applied
(``channels.service.claim_version``, locked while it is compared), and an older snapshot never overwrites a
newer one. A topic crossdesk does not use is acknowledged and ignored: Shopify
removes subscriptions whose deliveries keep failing.

An order's external id is its ``name`` ("#1001"): the number on the buyer's confirmation, the one they
quote. It is unique within a shop; several shops in one workspace need their own order-name prefixes
(Shopify's "order ID format" setting), or their orders would share ids.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from functools import partial
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.channels.adapter import (
    Account,
    Adapter,
    BadSignature,
    Effect,
    Malformed,
    Parsed,
    Rejected,
    WebhookRequest,
)
from crossdesk.channels.service import claim_version
from crossdesk.commerce import service as commerce
from crossdesk.commerce.money import Amount, Currency
from crossdesk.commerce.schemas import (
    OrderIn,
    OrderItemIn,
    OrderStatus,
    ProductIn,
    ShipmentIn,
    ShipmentStatus,
    items_total,
)
from crossdesk.commerce.tracking import is_web_link
from crossdesk.conversations.schemas import IdentityIn, SenderIn, Untrusted
from crossdesk.customers import service as customers
from crossdesk.customers.identities import EMAIL, PHONE, InvalidIdentity, normalize

HMAC_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
SHOP_HEADER = "x-shopify-shop-domain"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
IDENTITY = "shopify_customer"
# Shopify's webhook ids are UUIDs; no ":" keeps them apart from the resource versions kept in the same table.
WEBHOOK_ID = re.compile(r"[A-Za-z0-9-]{1,128}")
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z]{2,4})?")
AMOUNT = re.compile(r"-?\d{1,30}(\.\d{1,30})?")
ATTEMPTS = 3


def _shop_domain(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


ShopDomain = Annotated[
    str, BeforeValidator(_shop_domain), Field(pattern=r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$", max_length=255)
]


class ShopifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_domain: ShopDomain = Field(description="The shop's permanent domain: your-shop.myshopify.com.")
    currency: Currency = Field(description="The shop's currency (Shopify's product payloads carry none).")


# ---- Shopify's REST resources, as far as crossdesk reads them ----


def _amount_string(value: object) -> object:
    if isinstance(value, str) and AMOUNT.fullmatch(value):
        return value
    raise ValueError('an amount is a string of digits, such as "19.99"')


def _utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:  # year 9999 at -05:00 is no date in UTC
        raise ValueError("time out of range") from exc


Id = Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]
Time = Annotated[AwareDatetime, Field(strict=True), AfterValidator(_utc)]
Money = Annotated[Amount, BeforeValidator(_amount_string)]  # Shopify sends amounts as strings: exact
Text = Annotated[str, Field(max_length=255)]


class Resource(Untrusted):
    """Part of a Shopify payload: the many fields crossdesk does not read are ignored; no NUL in text."""

    model_config = ConfigDict(extra="ignore")


class Address(Resource):
    name: Text | None = None
    company: Text | None = None
    address1: Text | None = None
    address2: Text | None = None
    city: Text | None = None
    province: Text | None = None
    province_code: Text | None = None
    zip: Text | None = None
    country: Text | None = None
    country_code: Text | None = None
    phone: Text | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v}


class Customer(Resource):
    id: Id
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=64)
    first_name: Text | None = None
    last_name: Text | None = None
    default_address: Address | None = None

    @property
    def name(self) -> str | None:
        return " ".join(filter(None, (self.first_name, self.last_name)))[:200] or None


class CustomerResource(Customer):
    """The body of customers/create and customers/update."""

    updated_at: Time


class LineItem(Resource):
    id: Id
    variant_id: Id | None = None
    sku: str | None = Field(None, max_length=255)
    name: str | None = Field(None, max_length=1000)
    title: str | None = Field(None, max_length=1000)
    quantity: Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
    price: Money


class Fulfillment(Resource):
    status: Text | None = None
    tracking_company: Text | None = None
    tracking_number: Text | None = None
    tracking_url: str | None = None  # kept only when an http(s) URL of a sane length (_tracking_url)
    shipment_status: Text | None = None
    created_at: Time | None = None
    updated_at: Time | None = None


class ShopMoney(Resource):
    amount: Money


class MoneySet(Resource):
    shop_money: ShopMoney


class Order(Resource):
    id: Id
    name: str = Field(min_length=1, max_length=64)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=64)
    created_at: Time
    updated_at: Time
    processed_at: Time | None = None
    cancelled_at: Time | None = None
    currency: Currency
    financial_status: Text | None = None
    fulfillment_status: Text | None = None
    customer_locale: Text | None = None
    total_price: Money | None = None
    current_total_price: Money | None = None
    total_tax: Money | None = None
    current_total_tax: Money | None = None
    total_shipping_price_set: MoneySet | None = None
    current_shipping_price_set: MoneySet | None = None
    line_items: list[LineItem] = Field(max_length=1000)
    fulfillments: list[Fulfillment] = Field(default_factory=list, max_length=1000)
    shipping_address: Address | None = None
    billing_address: Address | None = None
    customer: Customer | None = None


class Variant(Resource):
    id: Id
    sku: str | None = Field(None, max_length=255)
    title: Text | None = None
    price: Money
    inventory_quantity: Annotated[int, Field(strict=True, ge=-(2**31), le=2**31 - 1)] | None = None
    inventory_policy: Text | None = None
    updated_at: Time | None = None


class Product(Resource):
    id: Id
    title: str = Field(min_length=1, max_length=500)
    updated_at: Time
    variants: list[Variant] = Field(max_length=2048)


# ---- from Shopify's resources to crossdesk's ----

# Shopify's financial_status, where it decides crossdesk's status (after cancellation and fulfillment).
PAYMENT: dict[str, OrderStatus] = {
    "paid": "paid",
    "partially_refunded": "paid",
    "refunded": "refunded",
    "voided": "cancelled",  # the payment was never taken
}
FULFILLMENT: dict[str, OrderStatus] = {"fulfilled": "fulfilled", "partial": "partially_fulfilled"}
# A fulfillment's shipment_status (Shopify's fulfillment event statuses) as crossdesk's shipment status.
SHIPMENT: dict[str, ShipmentStatus] = {
    "carrier_picked_up": "in_transit",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "ready_for_pickup": "out_for_delivery",
    "delivered": "delivered",
    "picked_up": "delivered",
    "attempted_delivery": "exception",
    "delayed": "exception",
    "failure": "exception",
    "not_delivered": "exception",
}
VOID_FULFILLMENTS = ("cancelled", "error", "failure")


def _status(order: Order) -> OrderStatus:
    if order.cancelled_at is not None:
        return "cancelled"
    payment = PAYMENT.get(order.financial_status or "", "pending")
    if payment in ("refunded", "cancelled"):
        return payment
    return FULFILLMENT.get(order.fulfillment_status or "", payment)


def _sku(sku: str | None, variant_id: int | None, line_id: int | None = None) -> str:
    """The variant's SKU, or one derived from Shopify's ids where it has none (or one longer than crossdesk
    keeps): the same for the variant's product and its order lines, so they stay linked."""
    sku = (sku or "").strip()
    if 1 <= len(sku) <= 64:
        return sku
    return f"shopify-variant-{variant_id}" if variant_id else f"shopify-line-{line_id}"


def _contact(kind: str, value: str | None, country: str | None) -> str | None:
    """An e-mail or phone as given, if crossdesk can read it; Shopify checked it already, so one crossdesk
    cannot read is left out rather than the order refused."""
    if not value or not value.strip():
        return None
    try:
        normalize(kind, value, country)
    except InvalidIdentity:
        return None
    return value


def _country(*addresses: Address | None) -> str | None:
    return next((a.country_code.upper() for a in addresses if a and a.country_code), None)


def _buyer(order: Order, country: str | None) -> SenderIn | None:
    customer = order.customer
    email = _contact(EMAIL, (customer and customer.email) or order.email, country)
    phone = _contact(PHONE, (customer and customer.phone) or order.phone, country)
    identities = [IdentityIn(kind=IDENTITY, value=str(customer.id))] if customer else []
    if not (identities or email or phone):
        return None
    locale = order.customer_locale
    return SenderIn(
        name=customer.name if customer else None,
        email=email,
        phone=phone,
        country=country,
        language=locale if locale and LANGUAGE.fullmatch(locale) else None,
        identities=identities,
    )


def _tracking_url(url: str | None) -> str | None:
    url = (url or "").strip()
    return url if is_web_link(url) and len(url) <= 2000 and not any(c.isspace() for c in url) else None


def _shipments(order: Order) -> list[ShipmentIn]:
    shipments = []
    for f in order.fulfillments:
        number = (f.tracking_number or "").strip()
        if f.status in VOID_FULFILLMENTS or not 3 <= len(number) <= 64:
            continue  # nothing to track
        status = SHIPMENT.get(f.shipment_status or "", "label_created")
        shipments.append(
            ShipmentIn(
                carrier=(f.tracking_company or "Other")[:64],
                tracking_number=number,
                tracking_url=f.tracking_url
                if is_web_link(f.tracking_url) and len(f.tracking_url or "") <= 2000
                else None,
                status=status,
                shipped_at=f.created_at,
                # Shopify's fulfillment carries no delivery time; its last change is the closest there is.
                delivered_at=f.updated_at if status == "delivered" else None,
            )
        )
    return shipments[-20:]  # crossdesk keeps 20 shipments an order: the newest


def _money_set(*sets: MoneySet | None) -> Decimal:
    return next((s.shop_money.amount for s in sets if s is not None), Decimal(0))


def _order_in(order: Order) -> OrderIn:
    # Amounts are read in the shop's currency (``currency``), as Shopify's plain amount fields give them;
    # the buyer's own currency is ``presentment_currency``.
    items = [
        OrderItemIn(
            sku=_sku(line.sku, line.variant_id, line.id),
            title=(line.name or line.title or "")[:500] or None,
            quantity=line.quantity,
            unit_price=line.price,
        )
        for line in order.line_items
    ]
    total = order.current_total_price if order.current_total_price is not None else order.total_price
    if total is None:
        raise Malformed("the order has no total_price")
    shipping = _money_set(order.current_shipping_price_set, order.total_shipping_price_set)
    tax = next((t for t in (order.current_total_tax, order.total_tax) if t is not None), Decimal(0))
    subtotal = items_total(items)
    country = _country(order.shipping_address, order.billing_address)
    return OrderIn(
        external_id=order.name,
        customer=_buyer(order, country),
        channel="shopify",
        status=_status(order),
        currency=order.currency,
        placed_at=order.processed_at or order.created_at,
        country=country,
        items=items,
        shipping=shipping,
        tax=tax,
        # Discounts, refunds, duties and tax already in the prices: Shopify's current total is the truth.
        adjustment=total - subtotal - shipping - tax,
        total=total,
        shipping_address=order.shipping_address.as_dict() if order.shipping_address else {},
        shipments=_shipments(order),
    )


def _product_in(product: Product, variant: Variant, currency: str) -> ProductIn:
    title = product.title
    if variant.title and variant.title != "Default Title":  # Shopify's name for a product's only variant
        title = f"{title} - {variant.title}"
    return ProductIn(
        sku=_sku(variant.sku, variant.id),
        title=title[:500],
        price=variant.price,
        currency=currency,
        # Shops that sell past zero (inventory_policy "continue") report negative stock: none is in hand.
        stock=max(variant.inventory_quantity or 0, 0),
        attributes={
            "shopify_product_id": product.id,
            "shopify_variant_id": variant.id,
            "inventory_policy": variant.inventory_policy,
        },
    )


# ---- applying a snapshot once, newest wins ----

Write = Callable[[AsyncSession], Awaitable[object]]


def _versioned(account: Account, key: str, version: dt.datetime, write: Write) -> Effect:
    async def effect(session: AsyncSession) -> None:
        for _ in range(ATTEMPTS):
            try:
                async with session.begin_nested():
                    if await claim_version(session, account.id, key, version):
                        await write(session)
                return
            except IntegrityError:
                # A concurrent delivery committed the same new row first (this resource's version, the
                # buyer's identity, the order): tried again, it is there to be read.
                continue
        raise Rejected("concurrent deliveries of the same records; retry", 409)

    return effect


# ---- topics ----


def _orders(account: Account, body: bytes) -> list[Effect]:
    order = Order.model_validate_json(body)
    row = _order_in(order)
    write = partial(commerce.upsert_orders, rows=[row])
    return [_versioned(account, f"order:{order.id}", order.updated_at, write)]


def _customers(account: Account, body: bytes) -> list[Effect]:
    customer = CustomerResource.model_validate_json(body)
    country = _country(customer.default_address)
    profile = customers.Profile(
        customer.name,
        _contact(EMAIL, customer.email, country),
        _contact(PHONE, customer.phone, country),
        country,
    )
    keys = customers.identity_keys(profile, [(IDENTITY, str(customer.id))])
    write = partial(customers.resolve, keys=keys, profile=profile)
    return [_versioned(account, f"customer:{customer.id}", customer.updated_at, write)]


def _products(account: Account, body: bytes) -> list[Effect]:
    product = Product.model_validate_json(body)
    rows = [_product_in(product, v, account.config["currency"]) for v in product.variants]
    # A variant can change without its product's updated_at moving: the newest of them dates the snapshot.
    version = max([product.updated_at, *(v.updated_at for v in product.variants if v.updated_at)])
    write = partial(commerce.upsert_products, rows=rows)
    return [_versioned(account, f"product:{product.id}", version, write)] if rows else []


Topic = Callable[[Account, bytes], list[Effect]]
TOPICS: dict[str, Topic] = {
    "orders/create": _orders,
    "orders/updated": _orders,
    "orders/paid": _orders,
    "orders/fulfilled": _orders,
    "orders/cancelled": _orders,
    "customers/create": _customers,
    "customers/update": _customers,
    "products/create": _products,
    "products/update": _products,
}


class ShopifyAdapter(Adapter):
    kind = channel = "shopify"
    Config = ShopifyConfig
    credential_names = ("client_secret",)

    def verify(self, account: Account, request: WebhookRequest) -> None:
        secret = account.credentials.get("client_secret")
        given = request.headers.get(HMAC_HEADER)
        if not secret:
            raise BadSignature("the channel has no client secret set")
        if not given:
            raise BadSignature("missing X-Shopify-Hmac-Sha256")
        expected = base64.b64encode(hmac.new(secret.encode(), request.body, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, given.strip().encode()):
            raise BadSignature("bad signature")
        # The client secret is the app's, shared by every shop that installed it: the shop must be ours.
        shop = (request.headers.get(SHOP_HEADER) or "").strip().lower()
        if shop != account.config.get("shop_domain"):
            raise Rejected("the webhook is from another shop than this channel's", 403)

    def parse(self, account: Account, request: WebhookRequest) -> Parsed:
        topic = TOPICS.get(request.headers.get(TOPIC_HEADER) or "")
        if topic is None:
            return Parsed()  # acknowledged and ignored
        webhook_id = (request.headers.get(WEBHOOK_ID_HEADER) or "").strip()
        if not WEBHOOK_ID.fullmatch(webhook_id):
            raise Malformed("missing or invalid X-Shopify-Webhook-Id")
        try:
            effects = topic(account, request.body)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False, include_context=False)
            raise Malformed(f"invalid {request.headers.get(TOPIC_HEADER)} payload", detail=errors) from exc
        return Parsed(effects=effects, delivery_id=webhook_id)

    def ready(self, account: Account) -> bool:
        return False  # not a messaging channel: there is nothing to send through it


ADAPTERS = [ShopifyAdapter()]
