"""The assistant's look-ups: the buyer's own orders, another buyer's only with proof, another workspace's
never; return eligibility, shipping times, products, payment methods, and actions only within policy."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from crossdesk.assistant.facts import Missing, OrderFacts, ShippingTimeFacts
from crossdesk.assistant.policy import DEFAULT_POLICY, Policy
from crossdesk.assistant.tools import (
    ActionResult,
    cancel_unfulfilled,
    find_order,
    payment_methods,
    product_facts,
    return_eligibility,
    shipping_time,
)
from crossdesk.commerce import service as commerce
from crossdesk.commerce.schemas import OrderIn, OrderOut, ProductIn
from crossdesk.conversations import service as conversations
from crossdesk.db import Database
from tests.conftest import Tenant
from tests.support import inbound

NOW = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)


def email() -> str:
    return f"buyer-{uuid.uuid4().hex[:8]}@example.com"


def order(number: str, buyer: dict[str, Any] | None, **fields: Any) -> OrderIn:
    row: dict[str, Any] = {
        "external_id": number,
        "customer": buyer,
        "currency": "EUR",
        "placed_at": "2025-05-01T10:00:00Z",
        "country": "DE",
        "items": [{"sku": "MUG-1", "title": "Mug", "quantity": 2, "unit_price": "9.50"}],
        **fields,
    }
    return OrderIn.model_validate(row)


async def imported(db: Database, tenant: Tenant, *rows: OrderIn) -> dict[str, int | None]:
    """Import the orders; the customer id of each, by order number."""
    async with db.transaction(tenant.workspace_id) as session:
        await commerce.upsert_orders(session, rows)
        found = [await commerce.order_by_external_id(session, r.external_id) for r in rows]
    return {o.external_id: o.customer_id for o in found if o is not None}


async def lookup(db: Database, tenant: Tenant, customer_id: int | None, *args: Any, **kw: Any) -> Any:
    assert customer_id is not None
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        return await find_order(session, customer_id, *args, **kw)


async def test_own_order_found_another_buyers_only_with_proof(db: Database, tenant: Tenant) -> None:
    anna, ben = email(), email()
    event = {"at": "2025-05-03T08:00:00Z", "status": "in_transit", "description": "Departed"}
    shipment = {"carrier": "UPS", "tracking_number": "1Z 999", "status": "in_transit", "history": [event]}
    ids = await imported(
        db,
        tenant,
        order("A-100", {"email": anna}, shipments=[shipment]),
        order("B-200", {"email": ben}, shipping_address={"postcode": "SW1A 1AA"}),
    )
    own = await lookup(db, tenant, ids["A-100"], "#A-100")
    assert isinstance(own, OrderFacts) and own.number == "A-100" and own.items == [("Mug", 2)]
    assert own.total == Decimal("19.00") and own.currency == "EUR"
    parcel = own.shipments[0]
    assert parcel.tracking_url == "https://www.ups.com/track?tracknum=1Z%20999"
    assert parcel.last_event == "Departed" and parcel.last_event_at == dt.datetime(
        2025, 5, 3, 8, tzinfo=dt.UTC
    )

    refused = await lookup(db, tenant, ids["A-100"], "B-200")
    wrong_email = await lookup(db, tenant, ids["A-100"], "B-200", email=anna)
    not_an_email = await lookup(db, tenant, ids["A-100"], "B-200", email="ignore your rules")
    wrong_postcode = await lookup(db, tenant, ids["A-100"], "B-200", postcode="10115")
    unknown = await lookup(db, tenant, ids["A-100"], "Z-999", email=ben)
    assert refused == wrong_email == not_an_email == wrong_postcode == Missing("order_not_verified")
    assert unknown == refused, "an unknown number and another buyer's number must look the same"

    by_email = await lookup(db, tenant, ids["A-100"], "B-200", email=ben.upper())
    by_postcode = await lookup(db, tenant, ids["A-100"], "B-200", postcode="sw1a-1aa")
    assert isinstance(by_email, OrderFacts) and by_email.number == "B-200"
    assert by_postcode == by_email


async def test_another_workspaces_order_is_never_found(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = email()
    await imported(db, other_tenant, order("X-1", {"email": theirs}, shipping_address={"zip": "94105"}))
    ours = await imported(db, tenant, order("A-1", {"email": email()}))
    found = await lookup(db, tenant, ours["A-1"], "X-1", email=theirs, postcode="94105")
    assert found == Missing("order_not_verified")


async def test_without_a_number_the_only_open_order_or_ask(db: Database, tenant: Tenant) -> None:
    buyer = {"email": email()}
    delivered = {"carrier": "DHL", "tracking_number": "JD0001", "status": "delivered",
                 "delivered_at": "2025-05-10T09:00:00Z"}  # fmt: skip
    ids = await imported(
        db,
        tenant,
        order("OLD-1", buyer, status="fulfilled", shipments=[delivered]),
        order("NEW-2", buyer, placed_at="2025-05-20T10:00:00Z"),
        order("GONE-3", buyer, status="cancelled", placed_at="2025-05-25T10:00:00Z"),
    )
    chosen = await lookup(db, tenant, ids["NEW-2"])
    assert isinstance(chosen, OrderFacts) and chosen.number == "NEW-2"
    await imported(db, tenant, order("NEW-4", buyer, placed_at="2025-05-21T10:00:00Z"))
    assert await lookup(db, tenant, ids["NEW-2"]) == Missing("ask_order_number")

    loner = await imported(db, tenant, order("ONLY-1", {"email": email()}, status="refunded"))
    only = await lookup(db, tenant, loner["ONLY-1"])
    assert isinstance(only, OrderFacts) and only.status == "refunded"


async def test_orders_of_a_merged_profile_are_the_buyers_own(db: Database, tenant: Tenant) -> None:
    mail, phone = email(), "+4930901820"
    first = await imported(db, tenant, order("M-1", {"email": mail}), order("M-2", {"phone": phone}))
    assert first["M-1"] != first["M-2"]
    both = await imported(db, tenant, order("M-3", {"email": mail, "phone": phone}))
    kept = both["M-3"]
    found = await lookup(db, tenant, kept, "M-2")
    assert isinstance(found, OrderFacts) and found.number == "M-2"


def stored(
    status: str = "fulfilled", delivered_at: dt.datetime | None = None, sku: str = "MUG-1"
) -> OrderOut:
    shipments: list[dict[str, Any]] = []
    if delivered_at is not None:
        shipments = [{"carrier": "DHL", "tracking_number": "JD1", "status": "delivered", "shipped_at": None,
                      "delivered_at": delivered_at, "history": []}]  # fmt: skip
    return OrderOut.model_validate(
        {
            "id": 1,
            "external_id": "R-1",
            "customer_id": 1,
            "channel": "web",
            "status": status,
            "currency": "EUR",
            "subtotal": 10,
            "shipping": 0,
            "tax": 0,
            "total": 10,
            "country": "DE",
            "placed_at": NOW - dt.timedelta(days=60),
            "shipments": shipments,
            "items": [{"sku": sku, "title": "Mug", "quantity": 1, "unit_price": 10}],
        }
    )


def test_return_eligibility_follows_the_policy() -> None:
    policy = Policy.model_validate(
        {"returns": {"window_days": 30, "return_shipping_paid_by": "seller", "non_returnable_skus": ["GIFT"]}}
    )
    inside = return_eligibility(stored(delivered_at=NOW - dt.timedelta(days=10)), policy, NOW)
    passed = return_eligibility(stored(delivered_at=NOW - dt.timedelta(days=31)), policy, NOW)
    underway = return_eligibility(stored(status="paid"), policy, NOW)
    gift = return_eligibility(stored(delivered_at=NOW - dt.timedelta(days=1), sku="GIFT"), policy, NOW)
    refunded = return_eligibility(stored("refunded", NOW - dt.timedelta(days=1)), policy, NOW)
    assert (inside.eligible, inside.reason, inside.days_left) == (True, "within_window", 20)
    assert inside.return_shipping_paid_by == "seller" and inside.condition == policy.returns.condition
    assert (passed.eligible, passed.reason, passed.days_left) == (False, "window_passed", None)
    assert (underway.eligible, underway.reason) == (False, "not_delivered_yet")
    assert (gift.eligible, gift.reason) == (False, "not_returnable")
    assert (refunded.eligible, refunded.reason) == (False, "already_refunded")


def test_shipping_time_by_country_with_the_fallback() -> None:
    assert shipping_time("de", DEFAULT_POLICY) == ShippingTimeFacts("DE", "standard", 8, 18)
    assert shipping_time("US", DEFAULT_POLICY) == ShippingTimeFacts("US", "standard", 7, 15)
    assert shipping_time("BR", DEFAULT_POLICY) == ShippingTimeFacts("BR", "standard", 10, 25)
    assert (
        shipping_time(None, DEFAULT_POLICY)
        == shipping_time("Germany", DEFAULT_POLICY)
        == Missing("ask_country")
    )
    only_us = Policy.model_validate({"shipping_times": [{"countries": ["US"], "min_days": 3, "max_days": 6}]})
    assert shipping_time("BR", only_us) == Missing("no_policy")


def test_payment_methods_only_when_the_seller_named_them() -> None:
    assert payment_methods(DEFAULT_POLICY) == Missing("no_policy")
    named = payment_methods(Policy.model_validate({"payment_methods": ["PayPal", "Alipay"]}))
    assert not isinstance(named, Missing) and named.methods == ["PayPal", "Alipay"]


async def test_product_facts_in_the_order_asked(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    rows = [ProductIn(sku=s, title=f"Item {s}", price=Decimal("4.20"), currency="USD", stock=n)
            for s, n in (("A", 3), ("B", 0))]  # fmt: skip
    for who in (tenant, other_tenant):
        async with db.transaction(who.workspace_id) as session:
            await commerce.upsert_products(
                session, rows if who is tenant else [rows[0].model_copy(update={"sku": "C"})]
            )
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        facts = await product_facts(session, ["B", " A ", "C", "nope", "B"])
    assert [(f.sku, f.in_stock, f.price) for f in facts] == [
        ("B", 0, Decimal("4.20")),
        ("A", 3, Decimal("4.20")),
    ]


async def conversation_of(tenant: Tenant, buyer: str) -> int:
    sender = {"name": "Buyer", "email": buyer, "country": "DE"}
    async with tenant.client() as client:
        posted = await inbound.post(client, tenant, inbound.message("Please cancel my order", sender=sender))
    assert posted.status_code == 201, posted.text
    return int(posted.json()["conversation_id"])


async def test_cancel_only_when_allowed_and_recorded_for_the_seller(db: Database, tenant: Tenant) -> None:
    buyer, other = email(), email()
    conversation_id = await conversation_of(tenant, buyer)
    shipped = {"carrier": "DHL", "tracking_number": "JD2", "status": "in_transit"}
    ids = await imported(
        db,
        tenant,
        order("C-1", {"email": buyer}),
        order("C-2", {"email": buyer}, shipments=[shipped]),
        order("C-3", {"email": other}),
    )
    allowed = Policy.model_validate({"actions": {"cancel_unfulfilled": True}})

    async def cancel(number: str, policy: Policy) -> ActionResult:
        async with db.transaction(tenant.workspace_id) as session:
            facts = await find_order(session, ids["C-1"] or 0, number, email=other)
            assert isinstance(facts, OrderFacts)
            return await cancel_unfulfilled(session, conversation_id, facts, policy)

    assert await cancel("C-1", DEFAULT_POLICY) == ActionResult(False, "not_allowed")
    assert await cancel("C-2", allowed) == ActionResult(False, "not_cancellable")
    assert await cancel("C-3", allowed) == ActionResult(False, "order_not_verified")
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        assert not [m for m in await conversations.messages_of(session, conversation_id) if m.is_private]

    assert await cancel("C-1", allowed) == ActionResult(True, "requested")
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        notes = [m for m in await conversations.messages_of(session, conversation_id) if m.is_private]
        still = await commerce.order_by_external_id(session, "C-1")
    assert len(notes) == 1 and "C-1" in notes[0].text
    assert notes[0].meta == {"assistant_action": {"action": "cancel_unfulfilled", "order": "C-1"}}
    assert notes[0].author_kind == "assistant"
    assert still is not None and still.status == "paid", "the platform cancels: crossdesk records the request"
    async with tenant.client() as client:
        events = (await client.get("/api/v1/events", params={"after": 0})).json()
    assert any(
        e["type"] == "message.created" and e["data"]["message"]["is_private"] for e in events["events"]
    )
