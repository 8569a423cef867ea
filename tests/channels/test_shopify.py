"""The Shopify channel: signed webhooks, posted to the real app server as Shopify delivers them, keep orders,
customers and products in crossdesk's commerce records; read back through the API and the commerce service.

The payloads under ``fixtures/shopify`` follow the REST Order, Customer and Product resources of Shopify's
docs; tests change a field or two of them (a later ``updated_at``, another buyer) where a case needs it.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from crossdesk.channels.adapter import Account, Outbound, Parsed, PermanentError, Rejected, WebhookRequest
from crossdesk.channels.kinds.shopify import TOPICS, ShopifyAdapter
from crossdesk.commerce import service as commerce
from crossdesk.commerce.models import Order, Product
from crossdesk.commerce.schemas import OrderOut
from crossdesk.customers.models import Customer
from crossdesk.db import Database
from tests.conftest import Tenant

FIXTURES = Path(__file__).parent / "fixtures" / "shopify"
SHOP = "nordlicht-outdoor.myshopify.com"
SECRET = "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"  # a made-up client secret, shaped like Shopify's


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def hmac_of(raw: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def headers_for(
    raw: bytes, topic: str, *, webhook_id: str | None = None, shop: str = SHOP, secret: str = SECRET
) -> dict[str, str]:
    """The headers of one delivery, as Shopify's "Webhooks delivery structure" lists them."""
    return {
        "content-type": "application/json",
        "x-shopify-topic": topic,
        "x-shopify-hmac-sha256": hmac_of(raw, secret),
        "x-shopify-shop-domain": shop,
        "x-shopify-webhook-id": webhook_id or str(uuid.uuid4()),
        "x-shopify-triggered-at": "2024-05-02T14:14:03.123456789Z",
        "x-shopify-api-version": "2024-07",
        "x-shopify-event-id": str(uuid.uuid4()),
    }


@dataclass
class Shop:
    tenant: Tenant
    public_id: str

    @property
    def path(self) -> str:
        return f"/hooks/shopify/{self.public_id}"

    async def post(self, raw: bytes, headers: dict[str, str]) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.tenant.server.url, timeout=30) as client:
            return await client.post(self.path, content=raw, headers=headers)

    async def deliver(
        self, topic: str, body: dict[str, Any], webhook_id: str | None = None
    ) -> httpx.Response:
        raw = json.dumps(body).encode()
        return await self.post(raw, headers_for(raw, topic, webhook_id=webhook_id))


async def connect(tenant: Tenant, credentials: dict[str, str] | None = None) -> Shop:
    async with tenant.client() as client:
        response = await client.post(
            "/api/v1/channels/shopify",
            json={
                "name": "Nordlicht Outdoor",
                "config": {"shop_domain": SHOP, "currency": "EUR"},
                "credentials": {"client_secret": SECRET} if credentials is None else credentials,
            },
        )
    assert response.status_code == 201, response.text
    assert response.json()["inbound_url"].endswith(f"/hooks/shopify/{response.json()['public_id']}")
    return Shop(tenant, response.json()["public_id"])


@pytest.fixture
async def shop(tenant: Tenant) -> Shop:
    return await connect(tenant)


def later(body: dict[str, Any], updated_at: str, **changes: Any) -> dict[str, Any]:
    """The same resource, changed at ``updated_at``."""
    return {**copy.deepcopy(body), "updated_at": updated_at, **changes}


async def order(db: Database, tenant: Tenant, external_id: str = "#1001") -> OrderOut | None:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        return await commerce.order_by_external_id(session, external_id)


async def products(tenant: Tenant) -> dict[str, dict[str, Any]]:
    async with tenant.client() as client:
        response = await client.get("/api/v1/products?limit=500")
    assert response.status_code == 200, response.text
    return {p["sku"]: p for p in response.json()}


async def customer_by_email(tenant: Tenant, email: str) -> dict[str, Any]:
    async with tenant.client() as client:
        found = (await client.get("/api/v1/customers", params={"q": email})).json()
        assert len(found) == 1, found
        response = await client.get(f"/api/v1/customers/{found[0]['id']}")
    assert response.status_code == 200, response.text
    profile: dict[str, Any] = response.json()
    return profile


async def counts(db: Database, tenant: Tenant) -> tuple[int, int, int]:
    """What the workspace holds: (orders, products, customers)."""
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        return (
            int(await session.scalar(select(func.count()).select_from(Order)) or 0),
            int(await session.scalar(select(func.count()).select_from(Product)) or 0),
            int(await session.scalar(select(func.count()).select_from(Customer)) or 0),
        )


def assert_json_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["detail"], response.text


# ---- the account ----


async def test_account_takes_a_shop_domain_and_sends_nothing(tenant: Tenant) -> None:
    async with tenant.client() as client:
        for config in (
            {"shop_domain": "nordlicht.com", "currency": "EUR"},
            {"shop_domain": "https://nordlicht.myshopify.com/admin", "currency": "EUR"},
            {"shop_domain": SHOP},
            {"shop_domain": SHOP, "currency": "euro"},
            {"shop_domain": SHOP, "currency": "EUR", "api_base": "https://example.com"},
        ):
            refused = await client.post(
                "/api/v1/channels/shopify", json={"name": "x", "config": config, "credentials": {}}
            )
            assert refused.status_code == 422, (config, refused.text)
        created = await client.post(
            "/api/v1/channels/shopify",
            json={
                "name": "Nordlicht",
                "config": {"shop_domain": " Nordlicht-Outdoor.MyShopify.com ", "currency": "EUR"},
                "credentials": {"client_secret": SECRET},
            },
        )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["config"] == {"shop_domain": SHOP, "currency": "EUR"}
    assert account["credentials_set"] == ["client_secret"] and SECRET not in created.text
    assert account["ready"] is False  # not a messaging channel
    adapter = ShopifyAdapter()
    view = Account(1, 1, "shopify", "p", "s", account["config"], {"client_secret": SECRET})
    outbound = Outbound(1, 1, "shopify", "hi", [], None, None, None, [], [], {}, {})
    with pytest.raises(PermanentError):
        async with httpx.AsyncClient() as http:
            await adapter.send(http, view, outbound, "key")


# ---- orders ----


async def test_order_created_then_fulfilled(db: Database, tenant: Tenant, shop: Shop) -> None:
    created = await shop.deliver("orders/create", fixture("orders_create"))
    assert created.status_code == 200, created.text
    placed = await order(db, tenant)
    assert placed is not None
    assert (placed.status, placed.channel, placed.currency, placed.country) == (
        "paid",
        "shopify",
        "EUR",
        "DE",
    )
    assert placed.placed_at == dt.datetime(2024, 5, 2, 14, 14, tzinfo=dt.UTC)
    # Shopify's string amounts, exactly: 89.00 + 2 x 24.00, shipping 4.90, tax (in the prices) 19.69, and
    # the total after the 10% discount as Shopify charged it.
    assert (placed.subtotal, placed.shipping, placed.tax, placed.total) == (
        Decimal("137.00"),
        Decimal("4.90"),
        Decimal("19.69"),
        Decimal("128.20"),
    )
    assert [(i.sku, i.title, i.quantity, i.unit_price) for i in placed.items] == [
        ("NL-JACKET-BLU-M", "Trekking Jacket - Blue / M", 1, Decimal("89.00")),
        # The socks have no SKU in Shopify: one derived from the variant id stands in.
        ("shopify-variant-44801234600179", "Merino Socks", 2, Decimal("24.00")),
    ]
    assert placed.shipments == []

    buyer = await customer_by_email(tenant, "lena.schmidt@example.de")
    profile = buyer["customer"]
    assert (profile["name"], profile["phone"], profile["country"], profile["language"]) == (
        "Lena Schmidt",
        "+4915112345678",
        "DE",
        "de-DE",
    )
    assert {"kind": "shopify_customer", "value": "7390135615731"} in profile["identities"]
    assert [o["external_id"] for o in buyer["orders"]] == ["#1001"] and placed.customer_id == profile["id"]

    fulfilled = await shop.deliver("orders/fulfilled", fixture("orders_fulfilled"))
    assert fulfilled.status_code == 200, fulfilled.text
    (shown,) = (await customer_by_email(tenant, "lena.schmidt@example.de"))["orders"]
    assert shown["status"] == "fulfilled"
    (shipment,) = shown["shipments"]
    assert (shipment["carrier"], shipment["tracking_number"], shipment["status"]) == (
        "DHL Express",
        "JD014600006281230704",
        "in_transit",
    )
    assert shipment["shipped_at"].startswith("2024-05-03T12:02:44")
    assert (
        shipment["tracking_url"]
        == "https://www.dhl.com/de-en/home/tracking.html?tracking-id=JD014600006281230704"
    )

    assert await counts(db, tenant) == (1, 0, 1)


async def test_order_cancelled_and_refunded(db: Database, tenant: Tenant, shop: Shop) -> None:
    assert (await shop.deliver("orders/create", fixture("orders_create"))).status_code == 200
    cancelled = await shop.deliver("orders/cancelled", fixture("orders_cancelled"))
    assert cancelled.status_code == 200, cancelled.text
    after = await order(db, tenant)
    assert after is not None and after.status == "cancelled"
    # What the buyer was charged, all of it refunded; what they had ordered stays listed.
    assert after.total == Decimal("0.00") and [i.quantity for i in after.items] == [1, 2]
    assert await counts(db, tenant) == (1, 0, 1)


async def test_same_webhook_id_is_applied_once(db: Database, tenant: Tenant, shop: Shop) -> None:
    webhook_id = str(uuid.uuid4())
    first = await shop.deliver("orders/create", fixture("orders_create"), webhook_id)
    # Replayed under the same id, even with another (newer) body: already taken, skipped.
    again = await shop.deliver("orders/fulfilled", fixture("orders_fulfilled"), webhook_id)
    assert (first.status_code, again.status_code) == (200, 200), again.text
    kept = await order(db, tenant)
    assert kept is not None and kept.status == "paid" and kept.shipments == []
    # The same body under its own id is a new delivery, and applied.
    assert (await shop.deliver("orders/fulfilled", fixture("orders_fulfilled"))).status_code == 200
    applied = await order(db, tenant)
    assert applied is not None and applied.status == "fulfilled" and len(applied.shipments) == 1


async def test_older_snapshot_never_overwrites_a_newer_one(db: Database, tenant: Tenant, shop: Shop) -> None:
    # orders/fulfilled arrives first; the orders/create of an earlier moment comes late.
    assert (await shop.deliver("orders/fulfilled", fixture("orders_fulfilled"))).status_code == 200
    late = await shop.deliver("orders/create", fixture("orders_create"))
    assert late.status_code == 200, late.text
    kept = await order(db, tenant)
    assert kept is not None and kept.status == "fulfilled" and len(kept.shipments) == 1
    # A snapshot of the same moment is applied (two changes can share Shopify's one-second timestamps).
    same_time = fixture("orders_fulfilled")
    same_time["fulfillments"][0]["shipment_status"] = "delivered"
    assert (await shop.deliver("orders/updated", same_time)).status_code == 200
    delivered = await order(db, tenant)
    assert delivered is not None and delivered.shipments[0].status == "delivered"
    assert delivered.shipments[0].delivered_at is not None


async def test_customer_then_their_order_share_one_profile(db: Database, tenant: Tenant, shop: Shop) -> None:
    kenji = fixture("customers_create")
    assert (await shop.deliver("customers/create", kenji)).status_code == 200
    profile = (await customer_by_email(tenant, "kenji.tanaka@example.jp"))["customer"]
    assert (profile["name"], profile["phone"], profile["country"]) == ("Kenji Tanaka", "+819012345678", "JP")
    assert {"kind": "shopify_customer", "value": str(kenji["id"])} in profile["identities"]
    # His order gives only his Shopify id and a new e-mail: still him, and the e-mail joins his profile.
    body = fixture("orders_create")
    body.update(name="#1002", id=5837461258483, email=None, contact_email=None)
    body["customer"] = {"id": kenji["id"], "email": "kenji@example.com", "first_name": "Kenji"}
    assert (await shop.deliver("orders/create", body)).status_code == 200
    buyer = await customer_by_email(tenant, "kenji@example.com")
    assert buyer["customer"]["id"] == profile["id"]
    assert [o["external_id"] for o in buyer["orders"]] == ["#1002"]
    # An older customers/update does not undo anything, and stores nothing new.
    stale = later(kenji, "2024-01-01T00:00:00Z", email="kenji.old@example.jp")
    assert (await shop.deliver("customers/update", stale)).status_code == 200
    async with tenant.client() as client:
        assert (await client.get("/api/v1/customers", params={"q": "kenji.old"})).json() == []
    assert await counts(db, tenant) == (1, 0, 1)


async def test_concurrent_deliveries_of_one_new_buyer(db: Database, tenant: Tenant, shop: Shop) -> None:
    """orders/create, orders/paid and customers/create of one new buyer come at once: every delivery is
    applied, to one profile (concurrent first rows are retried, never a 500)."""
    bodies: list[tuple[str, dict[str, Any]]] = [("customers/create", fixture("customers_create"))]
    for n in range(4):
        body = fixture("orders_create")
        body.update(id=6000000000000 + n, name=f"#20{n:02d}")
        body["customer"] = fixture("customers_create")
        bodies += [("orders/create", body), ("orders/paid", body)]
    responses = await asyncio.gather(*(shop.deliver(topic, body) for topic, body in bodies))
    assert [r.status_code for r in responses] == [200] * len(bodies), [r.text for r in responses]
    buyer = await customer_by_email(tenant, "kenji.tanaka@example.jp")
    assert sorted(o["external_id"] for o in buyer["orders"]) == ["#2000", "#2001", "#2002", "#2003"]
    assert await counts(db, tenant) == (4, 0, 1)


# ---- products ----


async def test_products_one_per_variant_newest_wins(db: Database, tenant: Tenant, shop: Shop) -> None:
    assert (await shop.deliver("products/create", fixture("products_create"))).status_code == 200
    shown = await products(tenant)
    assert {sku: (p["title"], p["price"], p["currency"], p["stock"]) for sku, p in shown.items()} == {
        "NL-JACKET-BLU-M": ("Trekking Jacket - Blue / M", "89.0000", "EUR", 14),
        # Sold past zero (-2 in Shopify): none in hand.
        "NL-JACKET-BLU-L": ("Trekking Jacket - Blue / L", "89.0000", "EUR", 0),
        "shopify-variant-44801234632948": ("Trekking Jacket - Red / M", "92.5000", "EUR", 5),
    }
    assert shown["NL-JACKET-BLU-L"]["attributes"] == {
        "shopify_product_id": 8123456789235,
        "shopify_variant_id": 44801234600180,
        "inventory_policy": "continue",
    }
    assert (await shop.deliver("products/update", fixture("products_update"))).status_code == 200
    updated = (await products(tenant))["NL-JACKET-BLU-M"]
    assert (updated["price"], updated["stock"]) == ("79.0000", 9)
    # The products/create of before, delivered again late under a new id: ignored.
    assert (await shop.deliver("products/create", fixture("products_create"))).status_code == 200
    assert (await products(tenant))["NL-JACKET-BLU-M"]["price"] == "79.0000"
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        listed = await commerce.list_products(session, 10, 0)
    assert [(p.sku, p.price) for p in listed][:2] == [
        ("NL-JACKET-BLU-L", Decimal("89.00")),
        ("NL-JACKET-BLU-M", Decimal("79.00")),
    ]
    single = later(fixture("products_create"), "2024-06-01T00:00:00Z", id=8123456822003, title="Merino Socks")
    single["variants"] = [
        {**single["variants"][0], "id": 44801234600179, "title": "Default Title", "sku": ""}
    ]
    assert (await shop.deliver("products/create", single)).status_code == 200
    assert (await products(tenant))["shopify-variant-44801234600179"]["title"] == "Merino Socks"


# ---- refusals ----


def _bad_signatures(raw: bytes) -> dict[str, dict[str, str]]:
    good = headers_for(raw, "orders/create")
    without = {k: v for k, v in good.items() if k != "x-shopify-hmac-sha256"}
    hex_digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return {
        "no signature": without,
        "empty signature": {**without, "x-shopify-hmac-sha256": ""},
        "other secret": headers_for(raw, "orders/create", secret="shpss_not_the_secret"),
        "other body": {**good, "x-shopify-hmac-sha256": hmac_of(raw + b" ")},
        "hex instead of base64": {**good, "x-shopify-hmac-sha256": hex_digest},
        "not base64": {**good, "x-shopify-hmac-sha256": "%%%not-base64%%%"},
        "truncated": {**good, "x-shopify-hmac-sha256": good["x-shopify-hmac-sha256"][:-4]},
    }


async def test_bad_signatures_are_401_and_store_nothing(db: Database, tenant: Tenant, shop: Shop) -> None:
    raw = json.dumps(fixture("orders_create")).encode()
    for case, headers in _bad_signatures(raw).items():
        response = await shop.post(raw, headers)
        assert response.status_code == 401, (case, response.text)
        assert response.json()["detail"] and SECRET not in response.text
    # An account whose client secret is not set takes nothing.
    unset = await connect(tenant, credentials={})
    assert_json_error(await unset.post(raw, headers_for(raw, "orders/create")), 401)
    assert await counts(db, tenant) == (0, 0, 0)
    assert (await shop.post(raw, headers_for(raw, "orders/create"))).status_code == 200
    assert await counts(db, tenant) == (1, 0, 1)


async def test_other_shop_is_refused(db: Database, tenant: Tenant, shop: Shop) -> None:
    """The client secret is the app's, the same for every shop that installed it: a delivery signed right
    but from another shop is not this channel's."""
    raw = json.dumps(fixture("orders_create")).encode()
    for other in ("rival-store.myshopify.com", "", "nordlicht-outdoor.myshopify.com.evil.example"):
        response = await shop.post(raw, headers_for(raw, "orders/create", shop=other))
        assert_json_error(response, 403)
    missing = {k: v for k, v in headers_for(raw, "orders/create").items() if k != "x-shopify-shop-domain"}
    assert_json_error(await shop.post(raw, missing), 403)
    assert await counts(db, tenant) == (0, 0, 0)
    # Header names and the domain's case are Shopify's to choose.
    upper = {k.title(): v for k, v in headers_for(raw, "orders/create", shop=SHOP.upper()).items()}
    assert (await shop.post(raw, upper)).status_code == 200


async def test_unknown_topics_are_acknowledged_and_ignored(db: Database, tenant: Tenant, shop: Shop) -> None:
    for topic in ("app/uninstalled", "inventory_levels/update", "orders/edited", ""):
        response = await shop.deliver(topic, fixture("orders_create"))
        assert response.status_code == 200, (topic, response.text)
    assert await counts(db, tenant) == (0, 0, 0)


def _with(name: str, change: Any) -> bytes:
    body = fixture(name)
    change(body)
    return json.dumps(body).encode()


def _set(path: str, value: Any) -> Any:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _drop(key: str) -> Any:
    return lambda body: body.pop(key)


BAD_PAYLOADS: dict[str, tuple[str, bytes]] = {
    "empty body": ("orders/create", b""),
    "not JSON": ("orders/create", b"order #1001 was paid"),
    "truncated JSON": ("orders/create", json.dumps(fixture("orders_create")).encode()[:500]),
    "invalid UTF-8": ("orders/create", b'{"name": "\xff\xfe"}'),
    "JSON array": ("orders/create", b"[]"),
    "JSON null": ("products/update", b"null"),
    "order without name": ("orders/create", _with("orders_create", _drop("name"))),
    "order without updated_at": ("orders/updated", _with("orders_create", _drop("updated_at"))),
    "order without line items": ("orders/create", _with("orders_create", _set("line_items", []))),
    "order without totals": (
        "orders/create",
        _with("orders_create", lambda b: [b.pop("total_price"), b.pop("current_total_price")]),
    ),
    "order id a string": ("orders/create", _with("orders_create", _set("id", "5837461225715"))),
    "order id past 64 bits": ("orders/create", _with("orders_create", _set("id", 2**64))),
    "order id a float": ("orders/create", _with("orders_create", _set("id", 5.5))),
    "order id huge": (
        "orders/create",
        json.dumps(fixture("orders_create"))
        .encode()
        .replace(b'"id": 5837461225715', b'"id": ' + b"9" * 5000, 1),
    ),
    "price a number": ("orders/create", _with("orders_create", _set("line_items.0.price", 89.0))),
    "price not a number": ("orders/create", _with("orders_create", _set("line_items.0.price", "free"))),
    "price huge": ("orders/create", _with("orders_create", _set("line_items.0.price", "1" * 20 + ".00"))),
    "price with 5 decimals": ("orders/create", _with("orders_create", _set("line_items.0.price", "1.00001"))),
    "price negative": ("orders/create", _with("orders_create", _set("line_items.0.price", "-89.00"))),
    "total huge": ("orders/create", _with("orders_create", _set("current_total_price", "9" * 15))),
    "quantity zero": ("orders/create", _with("orders_create", _set("line_items.0.quantity", 0))),
    "quantity huge": ("orders/create", _with("orders_create", _set("line_items.0.quantity", 10**12))),
    "quantity a string": ("orders/create", _with("orders_create", _set("line_items.0.quantity", "1"))),
    "currency lower case": ("orders/create", _with("orders_create", _set("currency", "eur"))),
    "naive time": ("orders/create", _with("orders_create", _set("updated_at", "2024-05-02T10:14:03"))),
    "time a number": ("orders/create", _with("orders_create", _set("updated_at", 1714659243))),
    "time past year 9999 in UTC": (
        "orders/create",
        _with("orders_create", _set("processed_at", "9999-12-31T23:00:00-05:00")),
    ),
    "NUL in the name": ("orders/create", _with("orders_create", _set("name", "#10\x0001"))),
    "NUL in the address": (
        "orders/create",
        _with("orders_create", _set("shipping_address.city", "Ber\x00lin")),
    ),
    "line items not a list": ("orders/create", _with("orders_create", _set("line_items", {"id": 1}))),
    "customer a string": ("orders/create", _with("orders_create", _set("customer", "Lena"))),
    "customer id a bool": ("orders/create", _with("orders_create", _set("customer.id", True))),
    "country not ISO": (
        "orders/create",
        _with("orders_create", _set("shipping_address.country_code", "DEU")),
    ),
    "name too long": ("orders/create", _with("orders_create", _set("name", "#" + "1" * 64))),
    "customer without id": ("customers/create", _with("customers_create", _drop("id"))),
    "customer without updated_at": ("customers/update", _with("customers_create", _drop("updated_at"))),
    "product without variants": ("products/create", _with("products_create", _drop("variants"))),
    "variant price missing": (
        "products/update",
        _with("products_create", lambda b: b["variants"][0].pop("price")),
    ),
    "stock past 32 bits": (
        "products/update",
        _with("products_create", _set("variants.0.inventory_quantity", 2**40)),
    ),
    "product title empty": ("products/create", _with("products_create", _set("title", ""))),
}


async def test_bad_payloads_are_422_and_store_nothing(db: Database, tenant: Tenant, shop: Shop) -> None:
    failures = []
    for case, (topic, raw) in BAD_PAYLOADS.items():
        response = await shop.post(raw, headers_for(raw, topic))
        if response.status_code != 422 or not response.json().get("detail"):
            failures.append(f"{case}: {response.status_code} {response.text[:300]}")
    assert not failures, "\n".join(failures)
    raw = json.dumps(fixture("orders_create")).encode()
    for webhook_id in ("", "shopify:order:5837461225715", "x" * 129):
        headers = {**headers_for(raw, "orders/create"), "x-shopify-webhook-id": webhook_id}
        assert_json_error(await shop.post(raw, headers), 422)
    assert await counts(db, tenant) == (0, 0, 0)


# ---- property-based: signed random payloads; parse raises only Rejected, the server answers 2xx or 4xx ----

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=10,
)
SAMPLES = {
    "orders/updated": fixture("orders_fulfilled"),
    "customers/update": fixture("customers_create"),
    "products/update": fixture("products_create"),
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    )
    return [prefix] + [p for key, child in children for p in _paths(child, (*prefix, key))]


def _replace(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


@st.composite
def near_payloads(draw: st.DrawFn) -> tuple[str, bytes]:
    """A documented payload with a few parts replaced by random JSON, under its topic or another."""
    topic = draw(st.sampled_from(sorted(SAMPLES)))
    body = copy.deepcopy(SAMPLES[topic])
    paths = _paths(body)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        try:
            body = _replace(body, path, draw(JSON_VALUES))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    topic = draw(st.sampled_from([topic, topic, *TOPICS]))
    return topic, json.dumps(body).encode()


RANDOM = st.tuples(st.sampled_from(sorted(TOPICS)), JSON_VALUES.map(lambda v: json.dumps(v).encode()))


@settings(max_examples=300, deadline=None)
@given(payload=near_payloads() | RANDOM | st.tuples(st.sampled_from(sorted(TOPICS)), st.binary(max_size=200)))
def test_parse_raises_only_rejected(payload: tuple[str, bytes]) -> None:
    topic, raw = payload
    account = Account(1, 1, "shopify", "p", "s", {"shop_domain": SHOP, "currency": "EUR"}, {})
    request = WebhookRequest("POST", headers_for(raw, topic), {}, raw)
    try:
        parsed = ShopifyAdapter().parse(account, request)
    except Rejected as exc:
        assert 400 <= exc.status < 500 and exc.detail
        return
    assert isinstance(parsed, Parsed) and len(parsed.effects) <= 1 and parsed.delivery_id


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=near_payloads() | RANDOM)
def test_signed_random_payloads_never_5xx(shop: Shop, payload: tuple[str, bytes]) -> None:
    topic, raw = payload
    # No keep-alive: a connection the server drops after an error must not fail the next example.
    with httpx.Client(
        base_url=shop.tenant.server.url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
    ) as client:
        response = client.post(shop.path, content=raw, headers=headers_for(raw, topic))
    assert response.status_code in (200, 422), (response.status_code, response.text[:300], raw[:300])
    assert response.headers["content-type"].startswith("application/json")
