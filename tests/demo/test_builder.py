"""The demo workspace, built for real on SQLite and PostgreSQL from the shipped UCI Online Retail copy."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crossdesk.assistant.policy import policy_of
from crossdesk.commerce.models import Order, OrderItem, Product, Shipment
from crossdesk.conversations import macros as macros_service
from crossdesk.conversations.models import Conversation, ConversationTag, Macro, Message
from crossdesk.customers.models import Customer, CustomerIdentity, CustomerTag
from crossdesk.db import Database
from crossdesk.demo.builder import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SLUG, build, owner_email
from crossdesk.realtime.models import Event
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.models import Workspace

CUSTOMERS = 40
CONVERSATIONS = 30


@dataclass
class Demo:
    slug: str
    workspace_id: int
    summary: str


@pytest.fixture(scope="module")
async def demo(db: Database) -> Demo:
    # The session's database is shared by every test, so this demo gets a slug of its own.
    slug = f"demo-{uuid.uuid4().hex[:8]}"
    summary = await build(db, customers=CUSTOMERS, conversations=CONVERSATIONS, slug=slug, name="Demo Test")
    async with db.transaction(system=True) as session:
        ws = await workspaces.workspace_by_slug(session, slug)
    assert ws is not None
    return Demo(slug, ws.id, summary)


async def _counts(db: Database, workspace_id: int) -> dict[str, int]:
    async with db.transaction(workspace_id) as session:
        return {
            model.__name__: int(await session.scalar(select(func.count(model.id))) or 0)
            for model in (
                Product,
                Customer,
                CustomerIdentity,
                Order,
                OrderItem,
                Shipment,
                Conversation,
                Message,
                Event,
            )
        }


def test_default_login_is_the_owner_of_the_default_slug() -> None:
    assert owner_email(DEMO_SLUG) == DEMO_EMAIL


async def test_workspace_and_owner_login(db: Database, demo: Demo) -> None:
    async with db.transaction(system=True) as session:
        ws = await workspaces.get_workspace(session, demo.workspace_id)
        owner = await workspaces.authenticate(session, owner_email(demo.slug), DEMO_PASSWORD)
        wrong = await workspaces.authenticate(session, owner_email(demo.slug), "not-the-password")
    assert (ws.slug, ws.name, ws.base_currency, ws.timezone) == (
        demo.slug,
        "Demo Test",
        "GBP",
        "Asia/Shanghai",
    )
    assert ws.business_hours["sat"] == [["09:00", "21:00"]] and "sun" not in ws.business_hours
    assert owner is not None and owner.workspace_id == ws.id
    assert (owner.role, owner.language) == ("owner", "zh-CN")
    assert wrong is None
    async with db.transaction(ws.id) as session:
        team = await workspaces.list_agents(session)
    assert len(team) >= 4
    assert {a.language for a in team} == {"en", "zh-CN"}
    assert len({a.timezone for a in team}) >= 3
    assert all(a.languages and a.availability == "online" for a in team)  # auto-assignment can pick them
    assert ws.auto_assign
    assert policy_of(ws).default_mode == "suggest" and policy_of(ws).payment_methods


async def test_saved_replies_and_vip_customers(db: Database, demo: Demo) -> None:
    async with db.transaction(demo.workspace_id) as session:
        macros = (await session.scalars(select(Macro))).all()
        vips = (await session.scalars(select(CustomerTag.customer_id).where(CustomerTag.tag == "VIP"))).all()
        orders = Counter((await session.scalars(select(Order.customer_id))).all())
        conversation = await session.scalar(select(Conversation.id).where(Conversation.status == "open"))
        owner = await workspaces.authenticate(session, owner_email(demo.slug), DEMO_PASSWORD)
        assert conversation is not None and owner is not None
        rendered = await macros_service.variables_for(session, conversation, owner)
    assert {(m.name, m.language) for m in macros} >= {("Where is my order", "de"), ("Thanks, closing", None)}
    for macro in macros:  # every seeded macro renders for a real demo conversation
        assert "{{" not in macros_service.render_text(macro.body, rendered)
    # The most frequent buyers are the VIPs.
    assert vips and min(orders[c] for c in vips) >= sorted(orders.values())[-len(vips)]


async def test_products_are_the_real_catalogue_in_gbp(db: Database, demo: Demo) -> None:
    async with db.transaction(demo.workspace_id) as session:
        products = (await session.scalars(select(Product))).all()
    assert len(products) > 3000
    assert all(isinstance(p.price, Decimal) and p.currency == "GBP" and p.price >= 0 for p in products)
    by_sku = {p.sku: p for p in products}
    heart = by_sku["85123A"]
    assert (heart.title, heart.price) == ("White Hanging Heart T-Light Holder", Decimal("2.95"))
    assert by_sku["22423"].price == Decimal("12.75")
    assert not {"POST", "DOT", "M", "D", "BANK CHARGES", "AMAZONFEE", "CRUK"} & by_sku.keys()
    assert any(p.stock == 0 for p in products) and any(p.stock > 0 for p in products)


async def test_customers_from_real_countries_with_identities(db: Database, demo: Demo) -> None:
    async with db.transaction(demo.workspace_id) as session:
        customers = (await session.scalars(select(Customer))).all()
        identities = (
            await session.execute(select(CustomerIdentity.customer_id, CustomerIdentity.kind))
        ).all()
    # Every conversation found its buyer's profile: no stranger was created by ingest.
    assert len(customers) == CUSTOMERS
    countries = Counter(c.country for c in customers)
    assert len(countries) > 5 and {"GB", "DE", "FR", "IE", "JP"} <= countries.keys()
    assert all(c.country is None or re.fullmatch(r"[A-Z]{2}", c.country) for c in customers)
    assert {c.language for c in customers} >= {"en", "de", "fr", "ja"}
    assert all(re.search(r"\.\d{5}@example\.(com|net|org)$", c.email or "") for c in customers)
    assert {cid for cid, kind in identities if kind == "email"} == {c.id for c in customers}


async def test_orders_items_and_shipments_add_up(db: Database, demo: Demo) -> None:
    async with db.transaction(demo.workspace_id) as session:
        orders = (await session.scalars(select(Order))).all()
        items = (await session.scalars(select(OrderItem))).all()
        shipments = (await session.scalars(select(Shipment))).all()
    lines: dict[int, Decimal] = Counter()  # type: ignore[assignment]
    for item in items:
        assert item.quantity > 0 and isinstance(item.unit_price, Decimal)
        lines[item.order_id] += item.quantity * item.unit_price
    assert len(orders) > 500
    for order in orders:
        assert order.currency == "GBP"
        assert order.subtotal == lines[order.id]
        assert order.total == order.subtotal + order.shipping + order.tax
        assert (order.status == "refunded") == order.external_id.startswith("C")
    assert any(o.shipping > 0 for o in orders)
    now = dt.datetime.now(dt.UTC)
    latest = max(o.placed_at for o in orders)
    assert dt.timedelta(days=3) <= now - latest < dt.timedelta(days=5)
    assert len({o.channel for o in orders}) == 5
    shipped = {s.order_id for s in shipments}
    assert shipped == {o.id for o in orders if o.status != "refunded"}
    statuses = Counter(s.status for s in shipments)
    assert statuses["delivered"] > 0 and statuses["in_transit"] + statuses["out_for_delivery"] > 0
    for s in shipments:
        assert s.tracking_number and s.history
        assert s.history[-1]["status"] == s.status
        assert all(dt.datetime.fromisoformat(e["at"]).tzinfo is not None for e in s.history)
        assert (s.delivered_at is not None) == (s.status == "delivered")
    by_id = {o.id: o for o in orders}
    gb = [s for s in shipments if by_id[s.order_id].country == "GB"]
    assert gb and all(
        s.carrier == "Royal Mail" and re.fullmatch(r"[A-Z]{2}\d{9}GB", s.tracking_number) for s in gb
    )


async def test_conversations_in_several_languages_statuses_and_channels(db: Database, demo: Demo) -> None:
    async with db.transaction(demo.workspace_id) as session:
        conversations = (await session.scalars(select(Conversation))).all()
        messages = (await session.scalars(select(Message).order_by(Message.id))).all()
        tags = set((await session.scalars(select(ConversationTag.tag))).all())
        orders = {o.customer_id: o for o in (await session.scalars(select(Order))).all()}
        tracking = set((await session.scalars(select(Shipment.tracking_number))).all())
        events = Counter((await session.scalars(select(Event.type))).all())
    assert len(conversations) == CONVERSATIONS
    assert set(Counter(c.status for c in conversations)) == {"open", "pending", "snoozed", "resolved"}
    assert len({c.language for c in conversations}) >= 3
    assert len({c.channel for c in conversations}) >= 4
    assert tags & {"wismo", "refund", "return", "damaged"}
    now = dt.datetime.now(dt.UTC)
    by_conversation: dict[int, list[Message]] = {}
    for m in messages:
        by_conversation.setdefault(m.conversation_id, []).append(m)
    for c in conversations:
        thread = by_conversation[c.id]
        assert thread[0].direction == "inbound" and thread[0].author_kind == "customer"
        assert [m.sent_at for m in thread] == sorted(m.sent_at for m in thread)
        assert c.created_at == thread[0].sent_at < now
        assert c.customer_id in orders  # about a buyer with real orders
        if c.status == "resolved":
            assert c.resolved_at is not None and c.first_response_at is not None
        if c.status == "snoozed":
            assert c.snoozed_until is not None and c.snoozed_until > now
    replies = [m.text for m in messages if m.direction == "outbound"]
    assert any(t in text for text in replies for t in tracking)
    assert any(m.is_private for m in messages)
    assert any(c.status == "open" and c.assignee_id is None for c in conversations)
    assert any(c.status == "open" and c.assignee_id is not None for c in conversations)
    # Buyer messages spread over days, not the moment of loading.
    inbound = [m.sent_at for m in messages if m.direction == "inbound"]
    assert max(inbound) - min(inbound) > dt.timedelta(days=1)
    assert events["conversation.created"] == CONVERSATIONS
    assert events["message.created"] == len(messages)
    assert events["conversation.updated"] > 0


async def test_summary_and_second_build_is_a_no_op(db: Database, demo: Demo) -> None:
    assert f"{CUSTOMERS} customers" in demo.summary and f"{CONVERSATIONS} conversations" in demo.summary
    before = await _counts(db, demo.workspace_id)
    again = await build(db, customers=CUSTOMERS, conversations=CONVERSATIONS, slug=demo.slug)
    assert "already loaded" in again
    assert await _counts(db, demo.workspace_id) == before
    async with db.transaction(system=True) as session:
        same_slug = await session.scalar(
            select(func.count(Workspace.id)).where(Workspace.slug.like(f"{demo.slug}%"))
        )
    assert same_slug == 1


async def test_a_failed_build_leaves_no_half_workspace(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from crossdesk.demo import builder, dataset

    loaded: list[int] = []

    async def broken(db: Database, workspace_id: int, *args: object) -> None:
        loaded.append(workspace_id)
        raise RuntimeError("disk full")

    # A short catalogue keeps the clean-up quick: deleting a product scans order_items (no index there).
    catalogue = dataset.load_products()[:50]
    monkeypatch.setattr(dataset, "load_products", lambda: catalogue)
    monkeypatch.setattr(builder, "_play", broken)
    slug = f"demo-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError, match="disk full"):
        await build(db, customers=10, conversations=5, slug=slug)
    async with db.transaction(system=True) as session:
        assert await workspaces.workspace_by_slug(session, slug) is None
        assert await workspaces.authenticate(session, owner_email(slug), DEMO_PASSWORD) is None
    assert len(loaded) == 1  # it failed after the products, customers and orders were in
    counts = await _counts(db, loaded[0])
    assert set(counts.values()) == {0}
