"""The customer sidebar: the whole profile beside a conversation (identities, orders with items and
tracking, past conversations, spend, retention), escaped, scoped to the workspace, and tags and notes
edited in place behind the CSRF check."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from decimal import Decimal
from typing import Any

import httpx

from crossdesk.commerce import fx
from crossdesk.commerce.schemas import OrderIn
from crossdesk.commerce.service import upsert_orders
from crossdesk.db import Database
from tests.conftest import Tenant
from tests.support import inbound
from tests.test_tenant_isolation import logged_in

NOW = dt.datetime.now(dt.UTC)
HOSTILE = "<script>alert(1)</script>"
HX = {"hx-request": "true"}


def order(email: str, days_ago: float, items: list[tuple[str, str, int, str]], **extra: Any) -> OrderIn:
    return OrderIn.model_validate(
        {
            "external_id": f"O-{uuid.uuid4().hex[:10]}",
            "customer": {"email": email},
            "currency": extra.pop("currency", "EUR"),
            "placed_at": (NOW - dt.timedelta(days=days_ago)).isoformat(),
            "items": [{"sku": s, "title": t, "quantity": q, "unit_price": p} for s, t, q, p in items],
            **extra,
        }
    )


async def add_orders(db: Database, tenant: Tenant, rows: list[OrderIn]) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        await upsert_orders(session, rows)


async def buyer_conversation(tenant: Tenant, email: str, text: str, **sender: Any) -> dict[str, Any]:
    body = inbound.message(
        text, sender={"name": f"Hans {HOSTILE}", "email": email, "country": "DE", **sender}
    )
    async with tenant.client() as client:
        posted = await inbound.post(client, tenant, body)
    assert posted.status_code == 201, posted.text
    return dict(posted.json())


async def resolve(tenant: Tenant, conversation_id: int) -> None:
    async with tenant.client() as client:
        done = await client.patch(f"/api/v1/conversations/{conversation_id}", json={"status": "resolved"})
    assert done.status_code == 200, done.text


def email() -> str:
    return f"buyer-{uuid.uuid4().hex[:8]}@example.de"


async def test_the_sidebar_shows_the_whole_customer_escaped(db: Database, tenant: Tenant) -> None:
    buyer = email()
    ebay = {"identities": [{"kind": "ebay_user", "value": "hans_ebay_42"}]}
    first = await buyer_conversation(tenant, buyer, "My first question about the teapot", **ebay)
    await resolve(tenant, first["conversation_id"])
    current = await buyer_conversation(tenant, buyer, "Where is my mug?")
    assert (
        current["customer_id"] == first["customer_id"]
        and current["conversation_id"] != first["conversation_id"]
    )
    shipped = {"carrier": "UPS", "tracking_number": "1Z999AA10123456784", "status": "in_transit"}
    local = {
        "carrier": "Hermes Local",
        "tracking_number": "H-5555-77",
        "tracking_url": "https://track.hermes.example/H-5555-77",
        "status": "delivered",
    }
    await add_orders(
        db,
        tenant,
        [
            order(buyer, 3, [("MUG-1", "Blue mug", 2, "12.50")], shipments=[shipped]),
            order(buyer, 40, [("TEA-9", "Teapot", 1, "40.00")], shipments=[local]),
            order(buyer, 60, [("MUG-1", "Blue mug", 1, "20.00")], currency="USD"),
            order(buyer, 90, [("MUG-1", "Blue mug", 1, "99.00")], status="cancelled"),
        ],
    )
    async with logged_in(tenant) as (client, _):
        page = await client.get(f"/conversations/{current['conversation_id']}/sidebar")
    assert page.status_code == 200, page.text
    text = page.text
    assert HOSTILE not in text and html.escape(f"Hans {HOSTILE}", quote=False) in text
    # Identities on every channel, labelled.
    assert buyer in text and "hans_ebay_42" in text and "eBay user" in text
    # Orders, newest first, with their items and tracking (the shop's link, else the carrier's page).
    assert text.index("Blue mug × 2") < text.index("Teapot × 1")
    ups = re.search(r'<a href="([^"]+)"[^>]*rel="noopener noreferrer"[^>]*>1Z999AA10123456784', text)
    assert ups and ups.group(1) == "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    hermes = re.search(r'<a href="([^"]+)"[^>]*rel="noopener noreferrer"[^>]*>H-5555-77', text)
    assert hermes and hermes.group(1) == "https://track.hermes.example/H-5555-77"
    assert "in transit" in text.lower().replace("_", " ") or "in_transit" in text
    # Spend per currency and in the workspace's currency (the cancelled order counts, its money does not).
    assert "4 orders" in text and "converted at ECB rates" in text
    eur = fx.convert(Decimal("65.00"), "EUR", "USD")  # the workspace's currency is USD
    assert eur is not None
    expected = (Decimal("20.00") + eur).quantize(Decimal("0.01"))
    assert f"${expected:,.2f}" in text and "€65.00" in text and "$20.00" in text
    # The other conversation (with its first words), not the current one.
    assert f'href="/conversations/{first["conversation_id"]}"' in text
    assert "My first question about the teapot" in text
    assert f'href="/conversations/{current["conversation_id"]}"' not in text
    # Retention: the segment of a buyer with sales; too few repeat buyers for a lifetime value, and why.
    assert re.search(r'class="cs-segment">[^<]+<', text)
    assert "customers who bought twice" in text
    # The same fragment for the customer directly.
    async with logged_in(tenant) as (client, _):
        direct = await client.get(f"/customers/{current['customer_id']}/sidebar")
    assert direct.status_code == 200 and "hans_ebay_42" in direct.text
    assert f'href="/conversations/{current["conversation_id"]}"' in direct.text


async def test_retention_figures_badge_and_recommendations(db: Database, tenant: Tenant) -> None:
    # Shaped as in tests/retention/test_segments_api.py: regular, lapsed and one-time buyers.
    regulars, lapsed_ones = [email() for _ in range(25)], [email() for _ in range(10)]
    once = [email() for _ in range(15)]
    cups = [("MUG-1", "Blue mug", 1, "30.00"), ("SAUCER-2", "Saucer", 1, "30.00")]
    rows = [order(e, d, cups) for i, e in enumerate(regulars) for d in range(2 + i % 5, 400, 30)]
    rows += [order(e, d, cups) for e in lapsed_ones for d in (600, 570, 540, 510, 480)]
    rows += [order(e, 10 + 20 * i, cups) for i, e in enumerate(once)]
    star, lapsed = email(), lapsed_ones[0]
    rows += [order(star, d, [("TEA-9", "Teapot", 1, "240.00")]) for d in range(1, 400, 20)]
    await add_orders(db, tenant, rows)
    async with tenant.client() as client:
        listed = (await client.get("/api/v1/retention/customers?limit=1000")).json()
        scores = {r["customer_id"]: r for r in listed}
        found = (await client.get("/api/v1/customers", params={"q": star})).json()
        gone = (await client.get("/api/v1/customers", params={"q": lapsed})).json()
        note = (await client.get("/api/v1/retention/segments")).json()["value_note"]
    mine, theirs = scores[found[0]["id"]], scores[gone[0]["id"]]
    assert mine["segment"] == "Champions" and mine["value"] is not None, note
    async with logged_in(tenant) as (client, _):
        star_page = (await client.get(f"/customers/{found[0]['id']}/sidebar")).text
        lapsed_page = (await client.get(f"/customers/{gone[0]['id']}/sidebar")).text
    assert "High value" in star_page and "At risk of leaving" not in star_page
    assert f"{Decimal(mine['value']['clv']):,.2f}" in star_page
    assert f"risk-{mine['value']['churn_risk']}" in star_page
    assert f"{round(mine['value']['p_alive'] * 100):.0f}% active" in star_page
    assert mine["value"]["next_purchase"] in star_page
    picks = re.search(r'<ol class="cs-picks">(.*?)</ol>', star_page, re.S)
    assert picks and "Blue mug" in picks.group(1) and "Teapot" not in picks.group(1), "bought already"
    assert theirs["segment"] in ("At risk", "Can't lose them") or theirs["value"]["churn_risk"] == "high"
    assert "At risk of leaving" in lapsed_page and "High value" not in lapsed_page


async def test_another_workspaces_conversation_or_customer_is_404(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    marker = f"Secret-{uuid.uuid4().hex[:8]}"
    theirs = await buyer_conversation(other_tenant, email(), f"{marker} question", name=marker)
    async with logged_in(tenant) as (client, _):
        urls = [
            f"/conversations/{theirs['conversation_id']}/sidebar",
            f"/customers/{theirs['customer_id']}/sidebar",
        ]
        answers = [await client.get(url) for url in urls]
        writes = [
            await client.post(f"/customers/{theirs['customer_id']}/tags", data={"tag": marker}, headers=HX),
            await client.post(
                f"/customers/{theirs['customer_id']}/notes", data={"notes": marker}, headers=HX
            ),
        ]
    for response in answers + writes:
        assert response.status_code == 404 and marker not in response.text
    async with other_tenant.client() as client:
        profile = (await client.get(f"/api/v1/customers/{theirs['customer_id']}")).json()["customer"]
    assert profile["tags"] == [] and profile["notes"] is None


async def test_tags_and_notes_are_edited_in_place(tenant: Tenant) -> None:
    posted = await buyer_conversation(tenant, email(), "Hello")
    customer = posted["customer_id"]
    tags_url, notes_url = f"/customers/{customer}/tags", f"/customers/{customer}/notes"
    async with logged_in(tenant) as (client, _):
        added = await client.post(tags_url, data={"tag": "  VIP   buyer "}, headers=HX)
        again = await client.post(tags_url, data={"tag": "vip BUYER"}, headers=HX)
        hostile = await client.post(tags_url, data={"tag": HOSTILE}, headers=HX)
        too_long = await client.post(tags_url, data={"tag": "x" * 65}, headers=HX)
        removed = await client.post(f"{tags_url}/remove", data={"tag": "vip buyer"}, headers=HX)
        notes = await client.post(notes_url, data={"notes": f"  Prefers DHL {HOSTILE}\n"}, headers=HX)
        long_notes = await client.post(notes_url, data={"notes": "n" * 10_001}, headers=HX)
        plain = await client.post(notes_url, data={"notes": "no htmx"}, headers={"referer": "http://x/inbox"})
        sidebar = (await client.get(f"/customers/{customer}/sidebar")).text
    assert added.status_code == 200 and 'class="cs-tag-name">VIP buyer<' in added.text
    assert again.text.count('class="cs-tag-name">') == 1, "case-insensitive: one tag"
    assert HOSTILE not in hostile.text and html.escape(HOSTILE) in hostile.text
    assert too_long.status_code == 200 and 'aria-invalid="true"' in too_long.text
    assert "at most 64 characters" in too_long.text and 'class="field-error"' in too_long.text
    assert too_long.text.count('class="cs-tag-name">') == 2, "a refused tag changes nothing"
    assert "VIP buyer" not in removed.text and removed.text.count('class="cs-tag-name">') == 1
    assert notes.status_code == 200 and "Saved." in notes.text and HOSTILE not in notes.text
    assert long_notes.status_code == 200 and 'aria-invalid="true"' in long_notes.text
    assert plain.status_code == 303 and plain.headers["location"] == "/inbox"
    async with tenant.client() as api:
        profile = (await api.get(f"/api/v1/customers/{customer}")).json()["customer"]
    assert profile["tags"] == [HOSTILE] and profile["notes"] == "no htmx"
    assert HOSTILE not in sidebar and "no htmx</textarea>" in sidebar


async def test_writes_need_the_csrf_token(tenant: Tenant) -> None:
    posted = await buyer_conversation(tenant, email(), "Hello")
    customer = posted["customer_id"]
    async with logged_in(tenant) as (client, csrf):
        client.headers.pop("x-csrf-token")
        refused = [
            await client.post(f"/customers/{customer}/tags", data={"tag": "forged"}, headers=HX),
            await client.post(f"/customers/{customer}/tags/remove", data={"tag": "kept"}, headers=HX),
            await client.post(f"/customers/{customer}/notes", data={"notes": "forged"}, headers=HX),
            await client.put(f"/api/v1/customers/{customer}/tags", json={"tags": ["forged"]}),
            await client.patch(f"/api/v1/customers/{customer}", json={"notes": "forged"}),
        ]
        wrong = await client.post(
            f"/customers/{customer}/tags", data={"tag": "forged", "csrf_token": csrf[:-1] + "x"}, headers=HX
        )
        with_field = await client.post(
            f"/customers/{customer}/tags", data={"tag": "kept", "csrf_token": csrf}, headers=HX
        )
    assert [r.status_code for r in [*refused, wrong]] == [403] * 6
    assert with_field.status_code == 200
    async with tenant.client() as api:
        profile = (await api.get(f"/api/v1/customers/{customer}")).json()["customer"]
    assert profile["tags"] == ["kept"] and profile["notes"] is None


async def test_not_logged_in_goes_to_the_login(tenant: Tenant) -> None:
    posted = await buyer_conversation(tenant, email(), "Hello")
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as anonymous:
        fragment = await anonymous.get(f"/conversations/{posted['conversation_id']}/sidebar", headers=HX)
    assert fragment.status_code == 204 and fragment.headers["hx-redirect"].startswith("/login?next=")
