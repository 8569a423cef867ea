"""RFM segments through the API, from orders imported into a workspace: scored as orders arrive, money in
the workspace's currency, cancelled and future orders left out, rules editable by admins only."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import httpx

from crossdesk.commerce import fx
from crossdesk.retention.rfm import DEFAULT_RULES
from tests.conftest import Tenant

NOW = dt.datetime.now(dt.UTC)


def order(
    email: str, days_ago: float, total: str, currency: str = "USD", status: str = "paid"
) -> dict[str, Any]:
    placed = NOW - dt.timedelta(days=days_ago)
    return {
        "external_id": f"O-{uuid.uuid4().hex[:10]}",
        "customer": {"email": email},
        "currency": currency,
        "status": status,
        "placed_at": placed.isoformat(),
        "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": total}],
    }


async def import_orders(client: httpx.AsyncClient, rows: list[dict[str, Any]]) -> None:
    files = {"file": ("orders.json", json.dumps(rows).encode(), "application/json")}
    response = await client.post("/api/v1/import/orders", files=files)
    assert response.status_code == 200, response.text


def buyers(n: int) -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"rfm-{run}-{i}@example.com" for i in range(n)]


async def scores_by_email(client: httpx.AsyncClient, emails: list[str]) -> dict[str, dict[str, Any]]:
    rows = (await client.get("/api/v1/retention/customers", params={"limit": 1000})).json()
    found = {}
    for row in rows:
        customer = (await client.get(f"/api/v1/customers/{row['customer_id']}")).json()["customer"]
        if customer["email"] in emails:
            found[customer["email"]] = row
    return found


async def test_segments_follow_the_orders(tenant: Tenant) -> None:
    champion, lost, newcomer, *others = buyers(10)
    rows = [order(champion, d, "300.00") for d in (1, 20, 45, 80, 120)]
    rows += [order(lost, 700, "12.00")]
    rows += [order(newcomer, 0.5, "9.00")]
    rows += [order(email, 90 + 30 * i, str(40 + i)) for i, email in enumerate(others)]
    async with tenant.client() as client:
        await import_orders(client, rows)
        summary = (await client.get("/api/v1/retention/segments")).json()
        scored = await scores_by_email(client, [champion, lost, newcomer])
        assert summary["customers"] == 10
        assert summary["grid"] == DEFAULT_RULES.grid()
        counts = {s["segment"]: s["customers"] for s in summary["segments"]}
        assert sum(counts.values()) == 10 and next(iter(counts)) == "Champions"
        assert scored[champion]["segment"] == "Champions" and scored[champion]["orders"] == 5
        assert Decimal(scored[champion]["spend"]) == Decimal("1500.00")
        assert scored[lost]["segment"] == "Lost"
        assert scored[newcomer]["segment"] == "New"

        # A new order moves the newcomer on at once (the scores are kept only while the orders stay).
        await import_orders(client, [order(newcomer, 0.2, "800.00") for _ in range(4)])
        moved = await scores_by_email(client, [newcomer])
    assert moved[newcomer]["orders"] == 5 and moved[newcomer]["segment"] == "Champions"


async def test_money_in_the_workspace_currency_and_unsold_orders_left_out(tenant: Tenant) -> None:
    (buyer,) = buyers(1)
    rows = [
        order(buyer, 3, "100.00", "USD"),
        order(buyer, 4, "100.00", "EUR"),
        order(buyer, 5, "500.00", "USD", status="cancelled"),
        order(buyer, -30, "500.00", "USD"),  # placed in the future: not a purchase yet
        order(buyer, 6, "100.00", "XTS"),  # the ISO test currency: no ECB rate
    ]
    async with tenant.client() as client:
        await import_orders(client, rows)
        workspace = (await client.get("/api/v1/workspace")).json()
        summary = (await client.get("/api/v1/retention/segments")).json()
        (mine,) = (await scores_by_email(client, [buyer])).values()
    assert summary["currency"] == workspace["base_currency"] == "USD"
    assert summary["unconverted_currencies"] == ["XTS"]
    assert mine["orders"] == 3, "paid in USD, EUR and XTS; not the cancelled one, not the future one"
    spend = Decimal(mine["spend"])
    assert Decimal("200") < spend < Decimal("260"), "100 USD + 100 EUR at the ECB rate; XTS not counted"


async def test_rules_are_editable_by_admins_and_checked(tenant: Tenant) -> None:
    vip_first = {"rules": [{"segment": "VIP", "recency": [1, 5], "fm": [5, 5]}]}
    vip_first["rules"] += DEFAULT_RULES.model_dump(mode="json")["rules"]
    gappy = {"rules": [{"segment": "Recent", "recency": [3, 5], "fm": [1, 5]}]}
    async with tenant.client() as client:
        changed = await client.put("/api/v1/retention/rules", json=vip_first)
        refused = await client.put("/api/v1/retention/rules", json=gappy)
        after = (await client.get("/api/v1/retention/segments")).json()
        reset = await client.put("/api/v1/retention/rules", json=DEFAULT_RULES.model_dump(mode="json"))
        person = {"email": f"agent-{uuid.uuid4().hex[:8]}@example.com", "password": "long enough pass"}
        assert (await client.post("/api/v1/agents", json={**person, "name": "A", "role": "agent"})).is_success
    assert changed.status_code == 200 and changed.json()["grid"][0][4] == "VIP"
    assert refused.status_code == 422 and "R1/FM1" in refused.text
    assert after["rules"]["rules"][0]["segment"] == "VIP", "a refused change leaves the rules as they were"
    assert reset.json()["grid"] == DEFAULT_RULES.grid()
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as agent:
        login = (await agent.post("/api/v1/auth/login", json=person)).json()
        headers = {"x-csrf-token": login["csrf_token"]}
        forbidden = await agent.put("/api/v1/retention/rules", json=vip_first, headers=headers)
        readable = await agent.get("/api/v1/retention/segments")
    assert forbidden.status_code == 403 and readable.status_code == 200


async def test_lifetime_value_and_churn_once_there_are_repeat_buyers(tenant: Tenant) -> None:
    regulars, lapsed, once = buyers(25), buyers(10), buyers(15)
    rows = [order(e, d, "60.00") for i, e in enumerate(regulars) for d in range(2 + i % 5, 400, 30)]
    rows += [order(e, d, "60.00") for e in lapsed for d in (600, 570, 540, 510, 480)]
    rows += [order(e, 10 + 20 * i, "60.00") for i, e in enumerate(once)]
    rows += [order(regulars[1], 1, "55.00", currency="EUR")]  # now buys in euros: shown in euros too
    async with tenant.client() as client:
        await import_orders(client, rows[: len(rows) // 2])
        await import_orders(client, rows[len(rows) // 2 :])
        summary = (await client.get("/api/v1/retention/segments")).json()
        scored = await scores_by_email(client, [regulars[0], regulars[1], lapsed[0], once[0]])
        exported = (await client.get("/api/v1/retention/customers.csv")).text
    assert summary["value_note"] is None
    assert sum(summary["churn_risk"].values()) == 50
    regular, gone, single = (scored[e]["value"] for e in (regulars[0], lapsed[0], once[0]))
    assert regular["p_alive"] > 0.9 and regular["churn_risk"] == "low"
    assert gone["p_alive"] < 0.3 and gone["churn_risk"] == "high", (
        "bought monthly, then nothing for 16 months"
    )
    assert Decimal(regular["clv"]) > Decimal(single["clv"]) > Decimal(0)
    assert single["churn_risk"] == "unknown", "one order says nothing about their risk yet"
    assert Decimal(gone["clv"]) < Decimal(regular["clv"]) / 10
    assert regular["next_purchase"] is not None
    assert "p_alive" in exported.splitlines()[0]
    # Money in the customer's own currency beside the workspace's (USD).
    assert (scored[regulars[0]]["currency"], scored[regulars[1]]["currency"]) == ("USD", "EUR")
    assert Decimal(scored[regulars[0]]["clv_own_currency"]) == Decimal(regular["clv"])
    euros = fx.convert(Decimal(scored[regulars[1]]["value"]["clv"]), "USD", "EUR")
    assert euros is not None
    assert Decimal(scored[regulars[1]]["clv_own_currency"]) == euros.quantize(Decimal("0.01"))
    assert exported.splitlines()[0].endswith("currency,clv_own_currency")


async def test_no_lifetime_value_until_enough_customers_bought_twice(tenant: Tenant) -> None:
    few = buyers(5)
    async with tenant.client() as client:
        await import_orders(client, [order(e, d, "30.00") for e in few for d in (5, 50)])
        summary = (await client.get("/api/v1/retention/segments")).json()
        rows = (await client.get("/api/v1/retention/customers")).json()
    assert "needs 20 customers who bought twice; 5 have" in summary["value_note"]
    assert summary["churn_risk"] == {} and all(r["value"] is None for r in rows)


async def test_orders_the_models_cannot_carry_are_explained_not_a_crash(tenant: Tenant) -> None:
    # Every buyer at the very same pace: no heterogeneity, the likelihood peaks at infinity.
    same = buyers(25)
    async with tenant.client() as client:
        await import_orders(client, [order(e, d, "60.00") for e in same for d in range(5, 400, 30)])
        summary = await client.get("/api/v1/retention/segments")
        page = await client.get("/api/v1/retention/customers")
    assert summary.status_code == page.status_code == 200
    assert "could not be fitted" in summary.json()["value_note"]
    assert all(r["value"] is None for r in page.json())
