"""The assistant's look-ups and actions, scoped to one workspace (the session) and one buyer (the
conversation's customer): they return only facts this buyer may be told.

Orders: the buyer's own (customers merged into this one had their orders moved over by the merge), or one
named by its number and verified by the order's e-mail or shipping postcode. An unknown number and another
buyer's number without a matching verification give the same ``Missing("order_not_verified")``: a different
answer would let anyone find out which order numbers exist by asking.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.assistant.facts import (
    Missing,
    OrderFacts,
    PaymentFacts,
    ProductFacts,
    ReturnFacts,
    ShipmentFacts,
    ShippingTimeFacts,
)
from crossdesk.assistant.policy import ANY_COUNTRY, Policy
from crossdesk.commerce import service as commerce
from crossdesk.commerce.models import Order, Product
from crossdesk.commerce.schemas import OrderOut, ShipmentOut
from crossdesk.commerce.tracking import tracking_link
from crossdesk.conversations import service as conversations
from crossdesk.customers import service as customers
from crossdesk.customers.identities import EMAIL, InvalidIdentity, normalize_email

RECENT_ORDERS = 20  # enough to tell which order the buyer means without a number
MAX_SKUS = 20
# Orders that may still change for the buyer: not cancelled or refunded, and not every parcel delivered.
CLOSED = ("cancelled", "refunded")
CANCELLABLE = ("pending", "paid")
POSTCODE_KEYS = ("postcode", "postal_code", "zip", "zip_code", "zipcode")


@dataclass(frozen=True)
class ActionResult:
    done: bool  # True: recorded for the seller, who carries it out on the shop platform
    reason: str  # "requested", "not_allowed", "not_cancellable", "order_not_verified"


async def find_order(
    session: AsyncSession,
    customer_id: int,
    order_number: str | None = None,
    email: str | None = None,
    postcode: str | None = None,
) -> OrderFacts | Missing:
    """The order the buyer asks about. Without a number: their only open order, or their only order;
    several open orders (or several closed ones and none open) are ambiguous: ask for the number."""
    if order_number is not None and order_number.strip().lstrip("#"):
        order = await _order_by_number(session, order_number)
        if order is None or not await _may_see(session, order, customer_id, email, postcode):
            return Missing("order_not_verified")
        return order_facts(order)
    orders = await commerce.orders_of_customer(session, customer_id, RECENT_ORDERS)
    if not orders:
        return Missing("no_order")
    open_ = [o for o in orders if _is_open(o)]
    if len(open_) == 1:
        return order_facts(open_[0])
    if not open_ and len(orders) == 1:
        return order_facts(orders[0])
    return Missing("ask_order_number")


async def _order_by_number(session: AsyncSession, number: str) -> OrderOut | None:
    # Buyers write "#1001" for a shop that stores "1001", and the other way round.
    raw = number.strip()
    for candidate in dict.fromkeys((raw, raw.lstrip("#"), "#" + raw.lstrip("#"))):
        order = await commerce.order_by_external_id(session, candidate)
        if order is not None:
            return order
    return None


async def _may_see(
    session: AsyncSession, order: OrderOut, customer_id: int, email: str | None, postcode: str | None
) -> bool:
    if order.customer_id == customer_id:
        return True
    if postcode and _squeeze(postcode) and await _postcode_of(session, order.id) == _squeeze(postcode):
        return True
    if not email or order.customer_id is None:
        return False
    try:
        given = normalize_email(email)
    except InvalidIdentity:
        return False
    identities = await customers.identities_of(session, order.customer_id)
    return any(i.kind == EMAIL and i.value == given for i in identities)


def _squeeze(postcode: str) -> str:
    return re.sub(r"[\s-]", "", postcode).upper()


async def _postcode_of(session: AsyncSession, order_id: int) -> str | None:
    # Read here: the commerce service's order view leaves the address out.
    address = await session.scalar(select(Order.shipping_address).where(Order.id == order_id)) or {}
    for key in POSTCODE_KEYS:
        value = address.get(key)
        if isinstance(value, str) and _squeeze(value):
            return _squeeze(value)
    return None


def _is_open(order: OrderOut) -> bool:
    if order.status in CLOSED:
        return False
    return not order.shipments or any(s.status != "delivered" for s in order.shipments)


def order_facts(order: OrderOut) -> OrderFacts:
    """What the buyer may be told about their order; refunds show in ``status`` ("refunded": the whole
    order; partial refunds are not recorded by the shop imports)."""
    return OrderFacts(
        number=order.external_id,
        status=order.status,
        placed_at=order.placed_at,
        total=order.total,
        currency=order.currency,
        items=[(i.title, i.quantity) for i in order.items],
        shipments=[_shipment_facts(s) for s in order.shipments],
        country=order.country,
    )


def _shipment_facts(shipment: ShipmentOut) -> ShipmentFacts:
    last = shipment.history[-1] if shipment.history else {}
    last_at = last.get("at")
    return ShipmentFacts(
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        tracking_url=tracking_link(shipment.carrier, shipment.tracking_number, shipment.tracking_url),
        status=shipment.status,
        shipped_at=shipment.shipped_at,
        delivered_at=shipment.delivered_at,
        last_event=last.get("description"),
        last_event_at=dt.datetime.fromisoformat(last_at) if last_at else None,
    )


def return_eligibility(order: OrderOut, policy: Policy, now: dt.datetime) -> ReturnFacts:
    """Whether the order may be returned now. One non-returnable item makes the whole order
    "not_returnable": a mixed order needs a person, not a confident yes."""
    rules = policy.returns
    delivered = [s.delivered_at for s in order.shipments if s.status == "delivered" and s.delivered_at]
    days_left = None
    if order.status == "refunded":
        reason = "already_refunded"
    elif any(i.sku in rules.non_returnable_skus for i in order.items):
        reason = "not_returnable"
    elif not delivered:
        reason = "not_delivered_yet"
    else:
        deadline = max(delivered) + dt.timedelta(days=rules.window_days)
        reason = "within_window" if now <= deadline else "window_passed"
        days_left = (deadline - now).days if now <= deadline else None
    return ReturnFacts(
        order_number=order.external_id,
        eligible=reason == "within_window",
        reason=reason,
        window_days=rules.window_days,
        days_left=days_left,
        return_shipping_paid_by=rules.return_shipping_paid_by,
        condition=rules.condition,
    )


def shipping_time(country: str | None, policy: Policy) -> ShippingTimeFacts | Missing:
    """The first rule naming the country (the seller lists the usual method first), else the "*" rule."""
    code = (country or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        return Missing("ask_country")
    rule = next((r for r in policy.shipping_times if code in r.countries), None) or next(
        (r for r in policy.shipping_times if ANY_COUNTRY in r.countries), None
    )
    if rule is None:
        return Missing("no_policy")
    return ShippingTimeFacts(country=code, method=rule.method, min_days=rule.min_days, max_days=rule.max_days)


async def product_facts(session: AsyncSession, skus: list[str]) -> list[ProductFacts]:
    """The catalog's facts for these SKUs, in the order asked; unknown SKUs are left out."""
    wanted = list(dict.fromkeys(s.strip() for s in skus if s.strip()))[:MAX_SKUS]
    rows = await session.scalars(select(Product).where(Product.sku.in_(wanted)))
    found = {p.sku: p for p in rows}
    return [
        ProductFacts(sku=p.sku, title=p.title, price=p.price, currency=p.currency, in_stock=p.stock)
        for p in (found[s] for s in wanted if s in found)
    ]


def payment_methods(policy: Policy) -> PaymentFacts | Missing:
    return PaymentFacts(list(policy.payment_methods)) if policy.payment_methods else Missing("no_policy")


async def cancel_unfulfilled(
    session: AsyncSession, conversation_id: int, order: OrderFacts, policy: Policy
) -> ActionResult:
    """Ask the seller to cancel an order nothing of which has shipped.

    crossdesk cannot cancel on the shop platform, and the platform stays the truth: a local "cancelled"
    would be overwritten by the next sync, or be a lie if the parcel ships anyway. So the order is left as
    it is, and the request is recorded as a private note in the conversation (which is also the event the
    agents see); the seller cancels on the platform, or declines, which undoes nothing."""
    if not policy.actions.cancel_unfulfilled:
        return ActionResult(False, "not_allowed")
    conversation = await conversations.get_conversation(session, conversation_id)
    # Checked again on the stored order: the facts may be stale, and must belong to this conversation's buyer.
    current = await _order_by_number(session, order.number)
    if current is None or current.customer_id != conversation.customer_id:
        return ActionResult(False, "order_not_verified")
    if current.status not in CANCELLABLE or current.shipments:
        return ActionResult(False, "not_cancellable")
    await conversations.add_agent_message(
        session,
        conversation_id,
        None,
        f"Assistant: the buyer asked to cancel order {current.external_id} (status {current.status}, "
        "nothing shipped). Cancel it on the shop platform, then confirm to the buyer.",
        private=True,
        meta={"assistant_action": {"action": "cancel_unfulfilled", "order": current.external_id}},
        author_kind="assistant",
    )
    return ActionResult(True, "requested")
