"""POST /api/v1/import/{kind}: all rows or none, re-imports update, orders find their customers."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from crossdesk.commerce.models import Order
from crossdesk.db import Database
from crossdesk.workspaces import service as workspaces
from tests.conftest import Tenant
from tests.support import inbound

PRODUCTS = "sku,title,price,currency,stock,color\n{rows}"
ORDER_HEADER = (
    "order_id,placed_at,currency,status,channel,country,customer_email,customer_name,customer_phone,"
    "sku,title,quantity,unit_price,shipping,tax,carrier,tracking_number,shipment_status\n"
)


async def upload(
    client: httpx.AsyncClient, kind: str, content: str | bytes, filename: str = "f.csv"
) -> httpx.Response:
    data = content.encode() if isinstance(content, str) else content
    return await client.post(f"/api/v1/import/{kind}", files={"file": (filename, data, "text/csv")})


async def products(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/v1/products")
    assert response.status_code == 200, response.text
    return {p["sku"]: p for p in response.json()}


async def test_products_all_or_nothing_then_update_not_duplicate(tenant: Tenant) -> None:
    async with tenant.client() as client:
        bad = await upload(
            client, "products", PRODUCTS.format(rows="A,Mug,9.90,EUR,5,red\nB,Tee,abc,EUR,1,\n")
        )
        assert bad.status_code == 422, bad.text
        report = bad.json()
        assert report["rows"] == 0
        assert [(e["row"], e["field"]) for e in report["errors"]] == [(2, "price")]
        assert await products(client) == {}, "the valid row A must not be stored either"

        first = await upload(
            client, "products", PRODUCTS.format(rows="A,Mug,9.90,EUR,5,red\nB,Tee,19.99,EUR,1,\n")
        )
        assert first.status_code == 200, first.text
        assert (first.json()["created"], first.json()["updated"]) == (2, 0)

        again = await upload(
            client, "products", PRODUCTS.format(rows="A,Mug,8.50,EUR,7,blue\nC,Cap,5,EUR,0,\n")
        )
        assert (again.json()["created"], again.json()["updated"]) == (1, 1)
        stored = await products(client)
        assert sorted(stored) == ["A", "B", "C"]
        assert (Decimal(stored["A"]["price"]), stored["A"]["stock"], stored["A"]["attributes"]) == (
            Decimal("8.50"),
            7,
            {"color": "blue"},
        )


async def test_json_products(tenant: Tenant) -> None:
    body = json.dumps([{"sku": "J-1", "title": "Lamp", "price": "39.0000", "currency": "USD", "stock": 3}])
    async with tenant.client() as client:
        response = await upload(client, "products", body, "products.json")
        assert response.status_code == 200, response.text
        assert Decimal((await products(client))["J-1"]["price"]) == Decimal("39")


async def test_import_needs_an_admin(tenant: Tenant, db: Database) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        _, agent_token = await workspaces.create_api_token(
            session, tenant.workspace_id, "agent", "agent", None
        )
    csv = PRODUCTS.format(rows="A,Mug,9.90,EUR,5,red\n")
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as anonymous:
        assert (await upload(anonymous, "products", csv)).status_code == 401
        anonymous.headers["authorization"] = f"Bearer {agent_token}"
        assert (await upload(anonymous, "products", csv)).status_code == 403
    async with tenant.client() as client:
        assert await products(client) == {}


def order_line(
    order_id: str, email: str = "", sku: str = "MUG", quantity: int = 1, tracking: str = ""
) -> str:
    return (
        f"{order_id},2024-05-01T10:00:00Z,EUR,paid,web,DE,{email},,,{sku},,{quantity},12.50,4.90,0,"
        f"{'DHL' if tracking else ''},{tracking},{'in_transit' if tracking else ''}\n"
    )


async def test_orders_reimport_replaces_items(tenant: Tenant, db: Database) -> None:
    csv = ORDER_HEADER + order_line("A-1", sku="MUG", quantity=2) + order_line("A-1", sku="TEE")
    async with tenant.client() as client:
        first = await upload(client, "orders", csv)
        assert first.status_code == 200, first.text
        assert (first.json()["created"], first.json()["updated"]) == (1, 0)
        changed = ORDER_HEADER + order_line("A-1", sku="MUG", quantity=3)
        again = await upload(client, "orders", changed)
        assert (again.json()["created"], again.json()["updated"]) == (0, 1)
    async with db.transaction(tenant.workspace_id) as session:
        orders = (await session.scalars(select(Order).where(Order.external_id == "A-1"))).all()
        assert len(orders) == 1
        assert orders[0].subtotal == Decimal("37.50")
        assert orders[0].total == Decimal("42.40")


async def test_orders_link_to_the_customer_by_email(tenant: Tenant) -> None:
    email = f"Lena.{uuid.uuid4().hex[:8]}@Example.de"
    async with tenant.client() as client:
        message = await inbound.post(
            client, tenant, inbound.message("Wo ist meine Bestellung?", sender={"email": email})
        )
        assert message.status_code == 201, message.text
        customer_id, conversation_id = message.json()["customer_id"], message.json()["conversation_id"]

        csv = (
            ORDER_HEADER + order_line("L-1", email.upper(), "MUG", 2, "JJD42") + order_line("L-1", "", "TEE")
        )
        response = await upload(client, "orders", csv)
        assert response.status_code == 200, response.text
        assert (await upload(client, "orders", csv)).json()["updated"] == 1

        profile = (await client.get(f"/api/v1/customers/{customer_id}")).json()
        detail = (await client.get(f"/api/v1/conversations/{conversation_id}")).json()
    for orders in (profile["orders"], detail["orders"]):
        assert [o["external_id"] for o in orders] == ["L-1"], "one order, not one per import"
        (order,) = orders
        assert order["customer_id"] == customer_id
        assert [(i["sku"], i["quantity"]) for i in order["items"]] == [("MUG", 2), ("TEE", 1)]
        assert Decimal(order["total"]) == Decimal("12.50") * 3 + Decimal("4.90")
        assert [(s["carrier"], s["tracking_number"], s["status"]) for s in order["shipments"]] == [
            ("DHL", "JJD42", "in_transit")
        ]


async def test_a_failure_while_storing_rolls_back_every_order(tenant: Tenant, db: Database) -> None:
    good = {
        "external_id": "G-1",
        "currency": "EUR",
        "placed_at": "2024-05-01T10:00:00Z",
        "items": [{"sku": "MUG", "quantity": 1, "unit_price": "1.00"}],
    }
    # The rows are valid; the second customer's phone only fails when identities are resolved.
    bad = {**good, "external_id": "G-2", "customer": {"phone": "12"}}
    async with tenant.client() as client:
        response = await upload(client, "orders", json.dumps([good, bad]), "orders.json")
        assert response.status_code == 422, response.text
    async with db.transaction(tenant.workspace_id) as session:
        assert (
            await session.scalars(select(Order.external_id).where(Order.external_id.in_(["G-1", "G-2"])))
        ).all() == []
