"""Tenant isolation: an agent of workspace A, by API token and by cookie session, against every id of B.

The route table below is checked against the app's own routes, so a route added later either gets a
probe here or makes ``test_every_route_has_a_probe`` fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import html
import io
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.routing import APIWebSocketRoute
from sqlalchemy import delete, func, select, update
from starlette.routing import Mount, WebSocketRoute
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from crossdesk.app import create_app
from crossdesk.campaigns import unsubscribe
from crossdesk.channels.kinds.email import attachments
from crossdesk.config import Settings
from crossdesk.conversations.models import Conversation, ConversationTag, Message
from crossdesk.db import Database, ScopeError, utcnow
from tests.campaigns.conftest import ACCOUNTS, LATER
from tests.channels.email.conftest import create_account, unique_address
from tests.conftest import PASSWORD, Tenant
from tests.support import inbound

REFUSED = {403, 404}
A_SHOP, B_SHOP = "https://a-shop.example", "https://b-shop.example"
FRAME_WAIT_S = 15  # a guard against hanging, not a timing assertion


def app_routes() -> set[tuple[str, str]]:
    """(method, path) of every route of the app; "WS" for sockets and "MOUNT" for mounted apps."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    try:  # FastAPI versions that include routers lazily only list them through this helper
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:
        routes = list(app.routes)
    found: set[tuple[str, str]] = set()
    for route in routes:
        original = getattr(route, "original_route", route)
        if route.methods:
            found |= {(m, route.path) for m in route.methods - {"HEAD"}}  # HEAD is GET without a body
        elif isinstance(original, (APIWebSocketRoute, WebSocketRoute)):
            found.add(("WS", route.path))
        elif isinstance(original, Mount):
            found.add(("MOUNT", route.path))
        else:
            raise AssertionError(f"unknown kind of route {route!r}")
    return found


@dataclass
class B:
    """Workspace B's rows, and strings that must never appear in anything A receives."""

    tenant: Tenant
    marker: str
    conversation_id: int
    customer_id: int
    customer_email: str
    platform_message_id: str
    agent_id: int
    token: str
    token_ids: list[int]
    channel_id: int
    channel_public_id: str
    widget_public_id: str
    sku: str
    order_external_id: str
    macro_id: int
    customer_tag: str
    mail_account_id: int
    campaign_id: int
    unsubscribe_token: str  # B's customer's link in B's campaign, as B's account signs it
    secrets: list[str] = field(default_factory=list)


@dataclass
class A:
    tenant: Tenant
    client: httpx.AsyncClient
    mode: str
    conversation_id: int
    customer_id: int
    spare_token_id: int
    csrf: str | None = None
    cookie: str | None = None


def json_file(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"file": ("rows.json", json.dumps(rows).encode(), "application/json")}


async def mail_account(tenant: Tenant) -> dict[str, Any]:
    """A new e-mail account of the tenant's that can send (to a closed port): its id, public id, secret."""
    return await create_account(tenant, unique_address(), **ACCOUNTS["email"][0])


def campaign_body(account_id: int, name: str) -> dict[str, Any]:
    """A campaign whose name, subject and body carry ``name``; it starts far ahead, so once launched the
    server's sender leaves it alone."""
    return {
        "name": name,
        "channel_account_id": account_id,
        "templates": {"en": {"subject": f"{name} is back", "body": f"{name}: {{{{ discount_code }}}}"}},
        "discount_code": "BACK10",
        "send_from_hour": 0,
        "send_until_hour": 24,
        "starts_at": (utcnow() + LATER).isoformat(),
    }


def unsubscribe_token(account: dict[str, Any], customer_id: int, campaign_id: int = 1) -> str:
    """The token of a campaign message's unsubscribe link, signed as the app signs it."""
    claims = unsubscribe.Claims("email", account["public_id"], customer_id, campaign_id)
    return unsubscribe.issue(account["secret"], claims)


async def build_b(b: Tenant) -> B:
    marker = f"bsecret{uuid.uuid4().hex[:12]}"
    # Values A reuses on purpose (e-mail, SKU, order id) carry no marker; B's names and texts all do.
    email = f"buyer-{uuid.uuid4().hex[:12]}@example.com"
    sender = {"name": f"Buyer {marker}", "email": email, "country": "DE"}
    async with b.client() as c:
        first_body = inbound.message(f"{marker} where is my parcel?", sender=sender)
        first = await inbound.post(c, b, first_body)
        assert first.status_code == 201, first.text
        ids = first.json()
        assert (
            await inbound.post(c, b, inbound.message(f"{marker} hello?", sender=sender))
        ).status_code == 201
        agent = await c.post(
            "/api/v1/agents",
            json={"email": f"agent-{marker}@example.com", "name": f"Agent {marker}", "password": PASSWORD},
        )
        assert agent.status_code == 201, agent.text
        token = await c.post("/api/v1/tokens", json={"name": f"token {marker}", "role": "admin"})
        assert token.status_code == 201, token.text
        channel = await c.post("/api/v1/channels/api", json={"name": f"channel {marker}"})
        assert channel.status_code == 201, channel.text
        widget = await c.post(
            "/api/v1/channels/webchat", json={"name": "chat", "config": {"allowed_origins": [B_SHOP]}}
        )
        assert widget.status_code == 201, widget.text
        sku, order_id = f"SKU-{uuid.uuid4().hex[:12]}", f"ORD-{uuid.uuid4().hex[:12]}"
        product = {"sku": sku, "title": f"Product {marker}", "price": "12.50", "currency": "EUR", "stock": 7}
        order = {
            "external_id": order_id,
            "customer": {"email": email},
            "currency": "EUR",
            "placed_at": "2024-05-01T10:00:00+00:00",
            "items": [{"sku": sku, "quantity": 1, "unit_price": "12.50", "title": f"Item {marker}"}],
        }
        for kind, row in (("products", product), ("orders", order)):
            imported = await c.post(f"/api/v1/import/{kind}", files=json_file([row]))
            assert imported.status_code == 200 and imported.json()["created"] == 1, imported.text
        conv = ids["conversation_id"]
        for path in ("messages", "notes"):
            written = await c.post(f"/api/v1/conversations/{conv}/{path}", json={"text": f"{marker} {path}"})
            assert written.status_code == 201, written.text
        patched = await c.patch(
            f"/api/v1/conversations/{conv}", json={"assignee_id": agent.json()["id"], "tags": ["vip"]}
        )
        assert patched.status_code == 200, patched.text
        token_ids = [t["id"] for t in (await c.get("/api/v1/tokens")).json()]
        macro = {"name": f"Macro {marker}", "body": marker + " {{ customer.name }}", "add_tags": [marker]}
        made = await c.post("/api/v1/macros", json=macro)
        assert made.status_code == 201, made.text
        customer = f"/api/v1/customers/{ids['customer_id']}"
        tagged = await c.put(f"{customer}/tags", json={"tags": [f"tag {marker}"]})
        assert tagged.status_code == 200, tagged.text
        noted = await c.patch(customer, json={"notes": f"{marker} notes"})
        assert noted.status_code == 200, noted.text
        mail = await mail_account(b)
        campaign = await c.post("/api/v1/campaigns", json=campaign_body(mail["id"], f"Campaign {marker}"))
        assert campaign.status_code == 201, campaign.text
    created = token.json()["token"]
    return B(
        tenant=b,
        marker=marker,
        conversation_id=conv,
        customer_id=ids["customer_id"],
        customer_email=email,
        platform_message_id=first_body["platform_message_id"],
        agent_id=agent.json()["id"],
        token=created,
        token_ids=token_ids,
        channel_id=channel.json()["id"],
        channel_public_id=channel.json()["public_id"],
        widget_public_id=widget.json()["public_id"],
        sku=sku,
        order_external_id=order_id,
        macro_id=made.json()["id"],
        customer_tag=f"tag {marker}",
        mail_account_id=mail["id"],
        campaign_id=campaign.json()["id"],
        unsubscribe_token=unsubscribe_token(mail, ids["customer_id"], campaign.json()["id"]),
        # The marker is in every text, name and title of B; the rest are B's unguessable values.
        secrets=[
            marker,
            b.slug,
            b.owner_email,
            b.token,
            b.channel_public_id,
            created,
            created[:10],
            channel.json()["public_id"],
            mail["public_id"],
            mail["secret"],
        ],
    )


async def snapshot(b: B) -> dict[str, Any]:
    """Everything of B that A might try to read or change, as B sees it."""
    urls = [
        f"/api/v1/conversations/{b.conversation_id}",
        "/api/v1/conversations?limit=200",
        f"/api/v1/customers/{b.customer_id}",
        f"/api/v1/customers/{b.customer_id}/tags",
        "/api/v1/macros",
        "/api/v1/workspace",
        "/api/v1/products?limit=500",
        "/api/v1/agents",
        "/api/v1/tokens",
        "/api/v1/channels",
        "/api/v1/events?limit=1000",
        "/api/v1/campaigns",
        f"/api/v1/campaigns/{b.campaign_id}",
        f"/api/v1/campaigns/{b.campaign_id}/results",
    ]
    state: dict[str, Any] = {"unsubscribed": await b_unsubscribed(b)}
    async with b.tenant.client() as c:
        for url in urls:
            response = await c.get(url)
            assert response.status_code == 200, (url, response.text)
            state[url] = response.json()
    for token in state["/api/v1/tokens"]:
        token.pop("last_used_at")  # B's own reads above touch it
    return state


async def b_unsubscribed(b: B) -> bool:
    """Whether B's customer is unsubscribed, as B's own link's page says."""
    async with httpx.AsyncClient(base_url=b.tenant.server.url, timeout=30) as anyone:
        page = await anyone.get(f"/u/{b.unsubscribe_token}")
    assert page.status_code == 200, page.text
    return "You are unsubscribed" in page.text


@asynccontextmanager
async def logged_in(tenant: Tenant) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A cookie-session client (CSRF header set) for the tenant's owner, and its CSRF token."""
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as client:
        response = await client.post(
            "/api/v1/auth/login", json={"email": tenant.owner_email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        csrf = response.json()["csrf_token"]
        client.headers["x-csrf-token"] = csrf
        yield client, csrf


@asynccontextmanager
async def as_a(tenant: Tenant, mode: str) -> AsyncIterator[A]:
    async with tenant.client() as admin:
        posted = await inbound.post(admin, tenant, inbound.message("A's own question"))
        assert posted.status_code == 201, posted.text
        spare = await admin.post("/api/v1/tokens", json={"name": "spare"})
        assert spare.status_code == 201, spare.text
    ids, spare_id = posted.json(), spare.json()["id"]
    if mode == "bearer":
        async with tenant.client() as client:
            yield A(tenant, client, mode, ids["conversation_id"], ids["customer_id"], spare_id)
        return
    async with logged_in(tenant) as (client, csrf):
        cookie = client.cookies.get("crossdesk_session")
        yield A(tenant, client, mode, ids["conversation_id"], ids["customer_id"], spare_id, csrf, cookie)


def assert_no_leak(b: B, where: str, text: str) -> None:
    leaked = [s for s in b.secrets if s in text]
    assert not leaked, f"{where} shows workspace B's {leaked}: {text[:300]}"


async def call(
    a: A,
    b: B,
    method: str,
    url: str,
    expect: set[int],
    client: httpx.AsyncClient | None = None,
    **kwargs: Any,
) -> httpx.Response:
    response = await (client or a.client).request(method, url, **kwargs)
    assert response.status_code in expect, (a.mode, method, url, response.status_code, response.text[:300])
    assert_no_leak(b, f"{method} {url}", response.text)
    if response.status_code >= 400 and url.startswith("/api/"):
        assert "detail" in response.json(), response.text  # a JSON error, not a page
    return response


# ---- the probes: one per route, each trying B's ids as A (and A's own ids, to show the route works) ----


async def read_conversation(a: A, b: B) -> None:
    await call(a, b, "GET", f"/api/v1/conversations/{b.conversation_id}", REFUSED)
    own = await call(a, b, "GET", f"/api/v1/conversations/{a.conversation_id}", {200})
    assert own.json()["conversation"]["id"] == a.conversation_id


async def list_conversations(a: A, b: B) -> None:
    page = (await call(a, b, "GET", "/api/v1/conversations?limit=200", {200})).json()
    assert [c["id"] for c in page["items"]] == [a.conversation_id]
    for query in (
        f"customer_id={b.customer_id}",
        f"assignee={b.agent_id}",
        "tag=vip",
        "channel=api&status=open",
    ):
        items = (await call(a, b, "GET", f"/api/v1/conversations?{query}", {200})).json()["items"]
        assert b.conversation_id not in {c["id"] for c in items}, query


async def write_conversation(a: A, b: B, path: str, body: dict[str, Any], ok: int) -> None:
    await call(a, b, "POST", f"/api/v1/conversations/{b.conversation_id}/{path}", REFUSED, json=body)
    await call(a, b, "POST", f"/api/v1/conversations/{a.conversation_id}/{path}", {ok}, json=body)


async def reply(a: A, b: B) -> None:
    await write_conversation(a, b, "messages", {"text": "A's reply"}, 201)


async def note(a: A, b: B) -> None:
    await write_conversation(a, b, "notes", {"text": "A's note"}, 201)


async def typing(a: A, b: B) -> None:
    await write_conversation(a, b, "typing", {"is_typing": True}, 202)


async def patch_conversation(a: A, b: B) -> None:
    hijack = {"status": "resolved", "priority": "urgent", "tags": ["hijacked"], "assignee_id": None}
    await call(a, b, "PATCH", f"/api/v1/conversations/{b.conversation_id}", REFUSED, json=hijack)
    # Nor may A hand its own conversation to B's agent.
    await call(
        a,
        b,
        "PATCH",
        f"/api/v1/conversations/{a.conversation_id}",
        {404, 422},
        json={"assignee_id": b.agent_id},
    )
    own = await call(
        a, b, "PATCH", f"/api/v1/conversations/{a.conversation_id}", {200}, json={"priority": "high"}
    )
    assert own.json()["assignee_id"] is None and own.json()["priority"] == "high"


async def search_customers(a: A, b: B) -> None:
    for q in (b.marker, b.customer_email, "example.com", "Buyer", "bsecret"):
        found = (await call(a, b, "GET", "/api/v1/customers", {200}, params={"q": q})).json()
        assert b.customer_id not in {c["id"] for c in found}, q


async def read_customer(a: A, b: B) -> None:
    await call(a, b, "GET", f"/api/v1/customers/{b.customer_id}", REFUSED)
    own = await call(a, b, "GET", f"/api/v1/customers/{a.customer_id}", {200})
    assert own.json()["customer"]["id"] == a.customer_id


async def list_products(a: A, b: B) -> None:
    await call(a, b, "GET", "/api/v1/products?limit=500", {200})


async def import_rows(a: A, b: B) -> None:
    """A imports a product with B's SKU and an order with B's order id: new rows in A, B's untouched."""
    product = {"sku": b.sku, "title": "A's product", "price": "1.00", "currency": "USD"}
    report = (await call(a, b, "POST", "/api/v1/import/products", {200}, files=json_file([product]))).json()
    assert (report["created"], report["updated"]) == (1, 0)
    report = (await call(a, b, "POST", "/api/v1/import/orders", {200}, files=json_file([a_order(b)]))).json()
    assert (report["created"], report["updated"]) == (1, 0)
    products = (await call(a, b, "GET", "/api/v1/products?limit=500", {200})).json()
    assert [(p["sku"], p["title"]) for p in products] == [(b.sku, "A's product")]
    found = (await call(a, b, "GET", "/api/v1/customers", {200}, params={"q": b.customer_email})).json()
    assert len(found) == 1 and found[0]["id"] != b.customer_id
    mine = (await call(a, b, "GET", f"/api/v1/customers/{found[0]['id']}", {200})).json()
    assert [(o["external_id"], o["total"]) for o in mine["orders"]] == [(b.order_external_id, "2.0000")]


def a_order(b: B) -> dict[str, Any]:
    """An order of A's with B's order id, B's SKU and B's customer's e-mail."""
    return {
        "external_id": b.order_external_id,
        "customer": {"email": b.customer_email},
        "currency": "USD",
        "placed_at": "2024-06-01T10:00:00+00:00",
        "items": [{"sku": b.sku, "quantity": 2, "unit_price": "1.00"}],
    }


async def list_agents(a: A, b: B) -> None:
    agents = (await call(a, b, "GET", "/api/v1/agents", {200})).json()
    assert {x["workspace_id"] for x in agents} == {a.tenant.workspace_id}
    assert b.agent_id not in {x["id"] for x in agents}


async def create_agent(a: A, b: B) -> None:
    body = {"email": f"a-{uuid.uuid4().hex[:8]}@example.com", "name": "A's agent", "password": PASSWORD}
    created = await call(a, b, "POST", "/api/v1/agents", {201}, json=body)
    assert created.json()["workspace_id"] == a.tenant.workspace_id


async def list_tokens(a: A, b: B) -> None:
    tokens = (await call(a, b, "GET", "/api/v1/tokens", {200})).json()
    assert not {t["id"] for t in tokens} & set(b.token_ids)


async def create_token(a: A, b: B) -> None:
    created = (await call(a, b, "POST", "/api/v1/tokens", {201}, json={"name": "made by A"})).json()
    async with httpx.AsyncClient(base_url=a.tenant.server.url, timeout=30) as fresh:
        me = await call(
            a,
            b,
            "GET",
            "/api/v1/me",
            {200},
            client=fresh,
            headers={"authorization": f"Bearer {created['token']}"},
        )
    assert me.json()["workspace_id"] == a.tenant.workspace_id


async def revoke_token(a: A, b: B) -> None:
    for token_id in b.token_ids:
        await call(a, b, "DELETE", f"/api/v1/tokens/{token_id}", REFUSED)
    await call(a, b, "DELETE", f"/api/v1/tokens/{a.spare_token_id}", {204})
    async with httpx.AsyncClient(base_url=a.tenant.server.url, timeout=30) as fresh:
        still = await fresh.get("/api/v1/me", headers={"authorization": f"Bearer {b.token}"})
    assert still.status_code == 200 and still.json()["workspace_id"] == b.tenant.workspace_id


async def list_channels(a: A, b: B) -> None:
    channels = (await call(a, b, "GET", "/api/v1/channels", {200})).json()
    assert b.channel_id not in {c["id"] for c in channels}


async def create_channel(a: A, b: B) -> None:
    await call(a, b, "POST", "/api/v1/channels/api", {201}, json={"name": "A's channel"})


async def patch_channel(a: A, b: B) -> None:
    hijack = {
        "name": "taken over",
        "is_active": False,
        "config": {"webhook_url": "https://attacker.example.net/hook"},
    }
    await call(a, b, "PATCH", f"/api/v1/channels/{b.channel_id}", REFUSED, json=hijack)
    own = (await call(a, b, "GET", "/api/v1/channels", {200})).json()[0]["id"]
    renamed = await call(
        a, b, "PATCH", f"/api/v1/channels/{own}", {200}, json={"name": "A's renamed channel"}
    )
    assert renamed.json()["name"] == "A's renamed channel"


async def channel_inbound(a: A, b: B) -> None:
    """A's secret does not open B's channel; B's platform id and e-mail in A's channel make A's own rows."""
    body = inbound.message("A posts into B", sender={"email": b.customer_email})
    raw = json.dumps(body).encode()
    headers = inbound.signed_headers(a.tenant.channel_secret, raw)
    for public_id in (b.tenant.channel_public_id, b.channel_public_id):
        url = f"/api/v1/channels/api/{public_id}/messages"
        await call(a, b, "POST", url, {401}, content=raw, headers=headers)
    twin = inbound.message(
        "same platform id as B's",
        platform_message_id=b.platform_message_id,
        sender={"email": b.customer_email},
    )
    raw = json.dumps(twin).encode()
    headers = inbound.signed_headers(a.tenant.channel_secret, raw)
    stored = (await call(a, b, "POST", a.tenant.inbound_url(), {201}, content=raw, headers=headers)).json()
    assert stored["duplicate"] is False
    assert stored["conversation_id"] != b.conversation_id and stored["customer_id"] != b.customer_id


async def webhook(a: A, b: B) -> None:
    """The generic webhook URL of B's channel does not take A's signature."""
    raw = json.dumps(inbound.message("A posts into B", sender={"email": b.customer_email})).encode()
    headers = inbound.signed_headers(a.tenant.channel_secret, raw)
    for public_id in (b.tenant.channel_public_id, b.channel_public_id):
        await call(a, b, "POST", f"/hooks/api/{public_id}", {401}, content=raw, headers=headers)


async def webhook_handshake(a: A, b: B) -> None:
    await call(a, b, "GET", f"/hooks/api/{b.channel_public_id}?hub.challenge=1", {405})


async def read_events(a: A, b: B) -> None:
    events = (await call(a, b, "GET", "/api/v1/events?after=0&limit=1000", {200})).json()["events"]
    assert events, "A's own activity is in its log"
    assert b.conversation_id not in conversation_ids(events)
    assert a.conversation_id in conversation_ids(events)


def conversation_ids(events: list[dict[str, Any]]) -> set[int]:
    ids: set[int] = set()
    for event in events:
        data = event["data"]
        if event["type"] == "conversation.created":
            ids.add(data["id"])
        if "conversation" in data:
            ids.add(data["conversation"]["id"])
        if "conversation_id" in data:
            ids.add(data["conversation_id"])
    return ids


async def read_workspace(a: A, b: B) -> None:
    assert (await call(a, b, "GET", "/api/v1/workspace", {200})).json()["id"] == a.tenant.workspace_id


async def patch_workspace(a: A, b: B) -> None:
    changed = await call(a, b, "PATCH", "/api/v1/workspace", {200}, json={"name": "A renamed"})
    assert changed.json()["id"] == a.tenant.workspace_id
    async with httpx.AsyncClient(base_url=a.tenant.server.url, timeout=30) as fresh:
        theirs = await fresh.get("/api/v1/workspace", headers={"authorization": f"Bearer {b.token}"})
    assert theirs.json()["name"] != "A renamed"


async def me(a: A, b: B) -> None:
    assert (await call(a, b, "GET", "/api/v1/me", {200})).json()["workspace_id"] == a.tenant.workspace_id


async def api_login(a: A, b: B) -> None:
    async with httpx.AsyncClient(base_url=a.tenant.server.url, timeout=30) as fresh:
        creds = {"email": b.tenant.owner_email, "password": "not B's password"}
        await call(a, b, "POST", "/api/v1/auth/login", {401}, client=fresh, json=creds)
        creds = {"email": a.tenant.owner_email, "password": PASSWORD}
        mine = await call(a, b, "POST", "/api/v1/auth/login", {200}, client=fresh, json=creds)
    assert mine.json()["workspace_id"] == a.tenant.workspace_id


async def api_logout(a: A, b: B) -> None:
    await call(a, b, "POST", "/api/v1/auth/logout", {204})
    if a.mode == "cookie":
        async with httpx.AsyncClient(base_url=a.tenant.server.url, timeout=30) as fresh:
            gone = await fresh.get("/api/v1/me", headers={"cookie": f"crossdesk_session={a.cookie}"})
        assert gone.status_code == 401


async def socket(a: A, b: B) -> None:
    """A's socket replays A's log only (``test_socket_*`` below covers live delivery)."""
    last = (await call(a, b, "GET", "/api/v1/events?after=0&limit=1000", {200})).json()["last_id"]
    async with open_socket(a.tenant, a.mode, "?last_event_id=0", a.cookie) as ws:
        frames = await frames_until(ws, lambda f: f.get("id") == last)
    assert_no_leak(b, "socket backlog", json.dumps(frames))
    assert b.conversation_id not in conversation_ids([f for f in frames if "data" in f])


async def web_home(a: A, b: B) -> None:
    """The home address only sends on: to the inbox with credentials, to the login page without."""
    home = await call(a, b, "GET", "/", {303}, follow_redirects=False)
    assert home.headers["location"] == "/inbox"
    async with httpx.AsyncClient(base_url=a.tenant.server.url, timeout=30) as fresh:
        anonymous = await call(a, b, "GET", "/", {303}, client=fresh)
    assert anonymous.headers["location"] == "/login"


async def web_login_form(a: A, b: B) -> None:
    await call(a, b, "GET", "/login", {200})


async def web_login_submit(a: A, b: B) -> None:
    async with httpx.AsyncClient(base_url=a.tenant.server.url, timeout=30) as fresh:
        form = await fresh.get("/login")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        data = {"email": a.tenant.owner_email, "password": PASSWORD, "csrf_token": token}
        await call(a, b, "POST", "/login", {303}, client=fresh, data=data)
        inbox = await call(a, b, "GET", "/inbox?view=all", {200}, client=fresh)
    assert f'data-id="{a.conversation_id}"' in inbox.text


async def web_logout(a: A, b: B) -> None:
    await call(a, b, "POST", "/logout", {303}, data={"csrf_token": a.csrf or "none"}, follow_redirects=False)


async def channel_settings_page(a: A, b: B) -> None:
    page = await call(a, b, "GET", "/settings/channels", {200, 303}, follow_redirects=False)
    assert page.status_code == (200 if a.mode == "cookie" else 303)  # a token is no agent with a page
    if a.mode == "cookie":
        assert a.tenant.channel_public_id in page.text and b.channel_public_id not in page.text


async def channel_settings_add(a: A, b: B) -> None:
    form = {"csrf_token": a.csrf or "none", "name": "A's form channel"}
    await call(a, b, "POST", "/settings/channels/api", {303}, data=form, follow_redirects=False)


async def channel_settings_update(a: A, b: B) -> None:
    # No is_active: would switch B's channel off.
    await on_page(a, b, "POST", f"/settings/channels/{b.channel_id}/update", REFUSED, data=form(a))


async def a_visitor(a: A) -> str:
    """A visitor of A's own chat widget (on A's shop): its token."""
    async with a.tenant.client() as c:
        widget = await c.post("/api/v1/channels/webchat", json={"name": "A's chat"})
    async with httpx.AsyncClient(base_url=a.tenant.server.url, timeout=30) as fresh:
        started = await fresh.post(f"/widget/api/{widget.json()['public_id']}/session")
    assert started.status_code == 200, started.text
    return str(started.json()["token"])


async def widget_preflight(a: A, b: B) -> None:
    headers = {"origin": A_SHOP, "access-control-request-method": "POST"}
    refused = await call(
        a, b, "OPTIONS", f"/widget/api/{b.widget_public_id}/messages", {403}, headers=headers
    )
    assert "access-control-allow-origin" not in refused.headers


async def widget_session(a: A, b: B) -> None:
    """A's visitor token (or A's own credentials) opens no session of B's widget."""
    headers = {"authorization": f"Bearer {await a_visitor(a)}", "origin": B_SHOP}
    async with httpx.AsyncClient(base_url=a.tenant.server.url, timeout=30) as fresh:
        await call(
            a, b, "POST", f"/widget/api/{b.widget_public_id}/session", {401}, client=fresh, headers=headers
        )
    await call(
        a, b, "POST", f"/widget/api/{b.widget_public_id}/session", {200, 401}, headers={"origin": B_SHOP}
    )


async def widget_messages(a: A, b: B) -> None:
    headers = {"authorization": f"Bearer {await a_visitor(a)}", "origin": B_SHOP}
    body = {"client_id": uuid.uuid4().hex, "text": "A's visitor writes to B"}
    async with httpx.AsyncClient(base_url=a.tenant.server.url, timeout=30) as fresh:
        url = f"/widget/api/{b.widget_public_id}/messages"
        await call(a, b, "POST", url, {401}, client=fresh, json=body, headers=headers)


async def widget_socket(a: A, b: B) -> None:
    """A's visitor token is refused on B's widget socket (closed with 4401, nothing of B sent)."""
    url = f"{a.tenant.server.ws_url}/widget/api/{b.widget_public_id}/ws?last_event_id=0"
    frames: list[str] = []
    async with connect(url, additional_headers={"origin": B_SHOP}, proxy=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": await a_visitor(a)}))
        with contextlib.suppress(ConnectionClosed):
            while True:
                frames.append(str(await asyncio.wait_for(ws.recv(), FRAME_WAIT_S)))
    assert ws.close_code == 4401, (ws.close_code, frames)
    assert_no_leak(b, "widget socket", json.dumps(frames))


async def email_attachment(a: A, b: B) -> None:
    """A file kept for B's mail is not served to A, under its own digest; A's own file is."""
    data_dir = a.tenant.server.server.config.app.state.settings.data_dir
    for tenant, content in ((b.tenant, b.marker), (a.tenant, "A's invoice")):
        kept = (
            attachments.folder(data_dir, tenant.workspace_id) / hashlib.sha256(content.encode()).hexdigest()
        )
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(content)
    theirs = hashlib.sha256(b.marker.encode()).hexdigest()
    await call(a, b, "GET", f"/api/v1/email/attachments/{theirs}/invoice.pdf", REFUSED)
    mine = hashlib.sha256(b"A's invoice").hexdigest()
    assert (
        await call(a, b, "GET", f"/api/v1/email/attachments/{mine}/invoice.pdf", {200})
    ).text == "A's invoice"


async def retention_segments(a: A, b: B) -> None:
    """A's segments count A's customers only (B has one who bought; A's own counts are its own)."""
    mine = (await call(a, b, "GET", "/api/v1/retention/segments", {200})).json()
    ours = (await call(a, b, "GET", "/api/v1/retention/customers?limit=1000", {200})).json()
    assert mine["customers"] == len(ours)


async def retention_customers(a: A, b: B) -> None:
    rows = (await call(a, b, "GET", "/api/v1/retention/customers?limit=1000", {200})).json()
    assert b.customer_id not in {r["customer_id"] for r in rows}


async def retention_export(a: A, b: B) -> None:
    exported = await call(a, b, "GET", "/api/v1/retention/customers.csv", {200})
    ids = {line.split(",", 1)[0] for line in exported.text.splitlines()[1:]}
    assert str(b.customer_id) not in ids


async def web_customers(a: A, b: B) -> None:
    page = await call(a, b, "GET", "/customers", {200, 303}, follow_redirects=False)
    assert page.status_code == (200 if a.mode == "cookie" else 303)  # a token is no agent with a page
    assert f'data-id="{b.customer_id}"' not in page.text


async def retention_rules(a: A, b: B) -> None:
    """A's rules are A's: B still has the defaults afterwards."""
    rules = [{"segment": f"All of A {a.mode}", "recency": [1, 5], "fm": [1, 5]}]
    await call(a, b, "PUT", "/api/v1/retention/rules", {200}, json={"rules": rules})
    async with b.tenant.client() as theirs:
        grid = (await theirs.get("/api/v1/retention/segments")).json()["grid"]
    assert grid[4][4] == "Champions"


# ---- the agents' app: pages, their htmx partials and form posts, and the APIs behind them ----


def form(a: A, **fields: Any) -> dict[str, Any]:
    """A page form's fields with the session's CSRF token (a token client has none to send)."""
    return {"csrf_token": a.csrf or "none", **fields}


async def on_page(
    a: A,
    b: B,
    method: str,
    url: str,
    expect: set[int],
    htmx: bool = False,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response | None:
    """A page route: a token is no agent with a page, so it is sent to log in (an htmx request by
    ``HX-Redirect``) and None comes back; a cookie session gets one of ``expect``."""
    headers = {**(headers or {}), **({"hx-request": "true"} if htmx else {})}
    if a.mode == "cookie":
        return await call(a, b, method, url, expect, headers=headers, follow_redirects=False, **kwargs)
    sent = await call(
        a, b, method, url, {204 if htmx else 303}, headers=headers, follow_redirects=False, **kwargs
    )
    assert sent.headers["hx-redirect" if htmx else "location"].startswith("/login?next="), sent.headers
    return None


async def own(a: A, b: B, url: str) -> Any:
    """A's state as A's admin token reads it (nothing of B's may be in it either)."""
    async with a.tenant.client() as admin:
        return (await call(a, b, "GET", url, {200}, client=admin)).json()


async def own_conversations(a: A, b: B) -> list[dict[str, Any]]:
    return list((await own(a, b, "/api/v1/conversations?limit=200"))["items"])


async def own_tags(a: A, b: B) -> list[str]:
    return list((await own(a, b, f"/api/v1/conversations/{a.conversation_id}"))["conversation"]["tags"])


async def their_tags(b: B) -> list[str]:
    async with b.tenant.client() as theirs:
        read = await theirs.get(f"/api/v1/conversations/{b.conversation_id}")
    return list(read.json()["conversation"]["tags"])


async def a_macro(a: A, b: B) -> int:
    """A new macro of A's (a unique name: several probes make one); it names the buyer, so rendering it
    for B's conversation would show B's marker."""
    body = {"name": f"Greeting {uuid.uuid4().hex[:8]}", "body": "Hello {{ customer.name }}"}
    async with a.tenant.client() as admin:
        made = await call(a, b, "POST", "/api/v1/macros", {201}, client=admin, json=body)
    return int(made.json()["id"])


async def a_agent(a: A, b: B) -> int:
    """A new agent of A's, for probes that change one (A's owner cannot be changed by A's admin token)."""
    body = {"email": f"a-{uuid.uuid4().hex[:8]}@example.com", "name": "A's spare agent", "password": PASSWORD}
    async with a.tenant.client() as admin:
        made = await call(a, b, "POST", "/api/v1/agents", {201}, client=admin, json=body)
    return int(made.json()["id"])


async def own_agent(a: A, b: B, agent_id: int) -> dict[str, Any]:
    return next(x for x in await own(a, b, "/api/v1/agents") if x["id"] == agent_id)


async def web_inbox(a: A, b: B) -> None:
    """A's inbox lists A's conversation and none of B's, in every view and search."""
    views = ["", "view=all", "view=open", "view=unassigned", "view=vip", "view=tag&tag=vip"]
    views += ["view=channel&channel=api", urlencode({"q": "Buyer"}), urlencode({"q": b.customer_email})]
    for query in views:
        inbox = await on_page(a, b, "GET", f"/inbox?{query}", {200})
        assert inbox is None or f'data-id="{b.conversation_id}"' not in inbox.text, query
    listed = await on_page(a, b, "GET", "/inbox?view=all", {200})
    assert listed is None or f'data-id="{a.conversation_id}"' in listed.text


async def web_inbox_row(a: A, b: B) -> None:
    """B's conversation is in no view of A's (an empty answer); A's own is."""
    for query in ("view=all", "view=unassigned", "view=tag&tag=vip"):
        url = f"/inbox/rows/{b.conversation_id}?{query}"
        row = await on_page(a, b, "GET", url, {200, 404}, htmx=True)
        assert row is None or row.status_code == 404 or not row.text.strip(), (query, row.text[:300])
    mine = await on_page(a, b, "GET", f"/inbox/rows/{a.conversation_id}?view=all", {200}, htmx=True)
    assert mine is None or f'data-id="{a.conversation_id}"' in mine.text


async def web_inbox_counts(a: A, b: B) -> None:
    """The counters count A's conversations only (B's, tagged "vip", adds to none of them)."""
    counts = await on_page(a, b, "GET", "/inbox/counts", {200}, htmx=True)
    if counts is None:
        return
    shown = {k: int(n) for k, n in re.findall(r'<a id="([^"]+)".*?data-count="(\d+)"', counts.text, re.S)}
    mine = await own_conversations(a, b)
    assert shown["v-open"] == sum(c["status"] == "open" for c in mine), shown
    assert "tag-vip" not in shown or any("vip" in c["tags"] for c in mine), shown


async def web_inbox_bulk(a: A, b: B) -> None:
    """B's ids, alone or beside A's, change nothing (all or nothing); nor may A assign to B's agent."""
    for ids in ([b.conversation_id], [a.conversation_id, b.conversation_id]):
        close = form(a, action="close", ids=ids)
        await on_page(a, b, "POST", "/inbox/bulk", REFUSED, htmx=True, data=close)
    assign = form(a, action="assign", assignee=str(b.agent_id), ids=[a.conversation_id])
    await on_page(a, b, "POST", "/inbox/bulk", REFUSED, htmx=True, data=assign)
    tag = form(a, action="tag", tag="bulk by A", ids=[a.conversation_id])
    done = await on_page(a, b, "POST", "/inbox/bulk", {200}, htmx=True, data=tag)
    mine = (await own(a, b, f"/api/v1/conversations/{a.conversation_id}"))["conversation"]
    assert mine["status"] != "resolved" and mine["assignee_id"] is None
    assert done is None or "bulk by A" in mine["tags"]


async def bulk_conversations(a: A, b: B) -> None:
    for ids in ([b.conversation_id], [a.conversation_id, b.conversation_id]):
        hijack = {"ids": ids, "status": "resolved", "add_tags": ["hijacked"]}
        await call(a, b, "POST", "/api/v1/conversations/bulk", REFUSED, json=hijack)
    # Nor may A hand its own conversation to B's agent.
    to_b = {"ids": [a.conversation_id], "assignee_id": b.agent_id}
    await call(a, b, "POST", "/api/v1/conversations/bulk", {404, 422}, json=to_b)
    tag = {"ids": [a.conversation_id], "add_tags": ["bulk"]}
    done = (await call(a, b, "POST", "/api/v1/conversations/bulk", {200}, json=tag)).json()
    assert [(c["id"], c["assignee_id"]) for c in done["items"]] == [(a.conversation_id, None)]


async def web_conversation(a: A, b: B) -> None:
    await on_page(a, b, "GET", f"/conversations/{b.conversation_id}", REFUSED)
    mine = await on_page(a, b, "GET", f"/conversations/{a.conversation_id}", {200})
    assert mine is None or "own question" in mine.text


async def web_thread(a: A, b: B) -> None:
    await on_page(a, b, "GET", f"/conversations/{b.conversation_id}/thread", REFUSED, htmx=True)
    mine = await on_page(a, b, "GET", f"/conversations/{a.conversation_id}/thread", {200}, htmx=True)
    assert mine is None or "own question" in mine.text


async def web_actions(a: A, b: B) -> None:
    await on_page(a, b, "GET", f"/conversations/{b.conversation_id}/actions", REFUSED, htmx=True)
    mine = await on_page(a, b, "GET", f"/conversations/{a.conversation_id}/actions", {200}, htmx=True)
    assert mine is None or f"/conversations/{a.conversation_id}/actions" in mine.text


async def web_change(a: A, b: B) -> None:
    hijack = form(a, status="resolved", priority="urgent", tags="hijacked", assignee="")
    url = f"/conversations/{b.conversation_id}/actions"
    await on_page(a, b, "POST", url, REFUSED, htmx=True, data=hijack)
    # Nor may A hand its own conversation to B's agent.
    url = f"/conversations/{a.conversation_id}/actions"
    await on_page(a, b, "POST", url, REFUSED, htmx=True, data=form(a, assignee=str(b.agent_id)))
    done = await on_page(a, b, "POST", url, {200}, htmx=True, data=form(a, priority="urgent"))
    mine = (await own(a, b, f"/api/v1/conversations/{a.conversation_id}"))["conversation"]
    assert mine["assignee_id"] is None
    assert done is None or mine["priority"] == "urgent"


async def web_macro_search(a: A, b: B) -> None:
    await on_page(a, b, "GET", f"/conversations/{b.conversation_id}/macros", REFUSED, htmx=True)
    macro = await a_macro(a, b)
    url = f"/conversations/{a.conversation_id}/macros"
    found = await on_page(a, b, "GET", url, {200}, htmx=True)
    assert found is None or f'data-macro-id="{macro}"' in found.text
    for q in ("Macro", "customer"):  # in B's macro's name and body (a query is shown: not the marker)
        found = await on_page(a, b, "GET", url, {200}, htmx=True, params={"q": q})
        assert found is None or f'data-macro-id="{b.macro_id}"' not in found.text


async def web_use_macro(a: A, b: B) -> None:
    """Neither B's macro on A's conversation, nor A's macro on B's (its tags, its count, B's buyer)."""
    mine = await a_macro(a, b)
    for conversation, macro in (
        (b.conversation_id, b.macro_id),
        (a.conversation_id, b.macro_id),
        (b.conversation_id, mine),
    ):
        url = f"/conversations/{conversation}/macros/{macro}"
        await on_page(a, b, "POST", url, REFUSED, data=form(a))
    url = f"/conversations/{a.conversation_id}/macros/{mine}"
    used = await on_page(a, b, "POST", url, {200}, data=form(a))
    assert used is None or used.json()["text"].startswith("Hello")


async def web_reply(a: A, b: B) -> None:
    for kind in ("reply", "note"):
        text = form(a, text="A writes to B", kind=kind)
        url = f"/conversations/{b.conversation_id}/messages"
        await on_page(a, b, "POST", url, REFUSED, htmx=True, data=text)
    url = f"/conversations/{a.conversation_id}/messages"
    sent = await on_page(a, b, "POST", url, {200}, htmx=True, data=form(a, text="A's page note", kind="note"))
    assert sent is None or sent.headers["hx-trigger"] == "thread-changed"


async def web_conversation_sidebar(a: A, b: B) -> None:
    await on_page(a, b, "GET", f"/conversations/{b.conversation_id}/sidebar", REFUSED, htmx=True)
    url = f"/conversations/{a.conversation_id}/sidebar"
    mine = await on_page(a, b, "GET", url, {200}, htmx=True)
    assert mine is None or f"/customers/{a.customer_id}/notes" in mine.text


async def web_customer_sidebar(a: A, b: B) -> None:
    await on_page(a, b, "GET", f"/customers/{b.customer_id}/sidebar", REFUSED, htmx=True)
    mine = await on_page(a, b, "GET", f"/customers/{a.customer_id}/sidebar", {200}, htmx=True)
    assert mine is None or f"/customers/{a.customer_id}/notes" in mine.text


async def web_customer_tag(a: A, b: B) -> None:
    url = f"/customers/{b.customer_id}/tags"
    await on_page(a, b, "POST", url, REFUSED, htmx=True, data=form(a, tag="planted by A"))
    url = f"/customers/{a.customer_id}/tags"
    added = await on_page(a, b, "POST", url, {200}, htmx=True, data=form(a, tag="seen by A"))
    tags = (await own(a, b, f"/api/v1/customers/{a.customer_id}/tags"))["tags"]
    assert ("seen by A" in tags) == (added is not None)


async def web_customer_untag(a: A, b: B) -> None:
    url = f"/customers/{b.customer_id}/tags/remove"
    await on_page(a, b, "POST", url, REFUSED, htmx=True, data=form(a, tag=b.customer_tag))
    async with a.tenant.client() as admin:
        body = {"tags": ["drop me"]}
        await call(a, b, "PUT", f"/api/v1/customers/{a.customer_id}/tags", {200}, client=admin, json=body)
    url = f"/customers/{a.customer_id}/tags/remove"
    removed = await on_page(a, b, "POST", url, {200}, htmx=True, data=form(a, tag="drop me"))
    tags = (await own(a, b, f"/api/v1/customers/{a.customer_id}/tags"))["tags"]
    assert tags == ([] if removed is not None else ["drop me"])


async def web_customer_notes(a: A, b: B) -> None:
    url = f"/customers/{b.customer_id}/notes"
    await on_page(a, b, "POST", url, REFUSED, htmx=True, data=form(a, notes="overwritten by A"))
    url = f"/customers/{a.customer_id}/notes"
    saved = await on_page(a, b, "POST", url, {200}, htmx=True, data=form(a, notes="A's page notes"))
    notes = (await own(a, b, f"/api/v1/customers/{a.customer_id}"))["customer"]["notes"]
    assert saved is None or notes == "A's page notes"


async def read_customer_tags(a: A, b: B) -> None:
    await call(a, b, "GET", f"/api/v1/customers/{b.customer_id}/tags", REFUSED)
    await call(a, b, "GET", f"/api/v1/customers/{a.customer_id}/tags", {200})


async def replace_customer_tags(a: A, b: B) -> None:
    await call(a, b, "PUT", f"/api/v1/customers/{b.customer_id}/tags", REFUSED, json={"tags": []})
    url = f"/api/v1/customers/{a.customer_id}/tags"
    assert (await call(a, b, "PUT", url, {200}, json={"tags": ["A's tag"]})).json() == {"tags": ["A's tag"]}


async def patch_customer(a: A, b: B) -> None:
    await call(a, b, "PATCH", f"/api/v1/customers/{b.customer_id}", REFUSED, json={"notes": None})
    url = f"/api/v1/customers/{a.customer_id}"
    mine = (await call(a, b, "PATCH", url, {200}, json={"notes": "A's notes"})).json()
    assert (mine["id"], mine["notes"]) == (a.customer_id, "A's notes")


async def list_macros(a: A, b: B) -> None:
    mine = await a_macro(a, b)
    for query in ("", f"?q={b.marker}", "?q=Hello", "?language=en"):
        found = {m["id"] for m in (await call(a, b, "GET", f"/api/v1/macros{query}", {200})).json()}
        assert b.macro_id not in found and (mine in found or "bsecret" in query), query


async def create_macro(a: A, b: B) -> None:
    body = {"name": f"Made by A {a.mode}", "body": "Hello", "add_tags": ["vip"]}
    made = (await call(a, b, "POST", "/api/v1/macros", {201}, json=body)).json()
    assert made["id"] != b.macro_id and made["usage_count"] == 0


async def patch_macro(a: A, b: B) -> None:
    hijack = {"body": "hijacked", "add_tags": ["hijacked"], "set_status": "resolved"}
    await call(a, b, "PATCH", f"/api/v1/macros/{b.macro_id}", REFUSED, json=hijack)
    url = f"/api/v1/macros/{await a_macro(a, b)}"
    assert (await call(a, b, "PATCH", url, {200}, json={"body": "Changed"})).json()["body"] == "Changed"


async def delete_macro(a: A, b: B) -> None:
    await call(a, b, "DELETE", f"/api/v1/macros/{b.macro_id}", REFUSED)
    await call(a, b, "DELETE", f"/api/v1/macros/{await a_macro(a, b)}", {204})


async def render_macro(a: A, b: B) -> None:
    mine = await a_macro(a, b)
    for macro, conversation in (
        (b.macro_id, b.conversation_id),
        (b.macro_id, a.conversation_id),
        (mine, b.conversation_id),
    ):
        body = {"conversation_id": conversation}
        await call(a, b, "POST", f"/api/v1/macros/{macro}/render", REFUSED, json=body)
    body = {"conversation_id": a.conversation_id}
    rendered = await call(a, b, "POST", f"/api/v1/macros/{mine}/render", {200}, json=body)
    assert rendered.json()["text"].startswith("Hello")


async def web_macros(a: A, b: B) -> None:
    """Settings → Macros lists A's macros; asked to edit B's, it shows an empty form."""
    await on_page(a, b, "GET", "/settings/macros", {200})
    await on_page(a, b, "GET", f"/settings/macros?edit={b.macro_id}", {200})
    mine = await a_macro(a, b)
    editing = await on_page(a, b, "GET", f"/settings/macros?edit={mine}", {200})
    assert editing is None or f'action="/settings/macros/{mine}"' in editing.text


async def web_macro_create(a: A, b: B) -> None:
    name = f"Page macro {a.mode}"
    made = await on_page(a, b, "POST", "/settings/macros", {303}, data=form(a, name=name, body="Hi"))
    names = {m["name"] for m in await own(a, b, "/api/v1/macros")}
    assert (name in names) == (made is not None)


async def web_macro_update(a: A, b: B) -> None:
    hijack = form(a, name="hijacked", body="hijacked", add_tags="hijacked", set_status="resolved")
    await on_page(a, b, "POST", f"/settings/macros/{b.macro_id}", REFUSED, data=hijack)
    mine = await a_macro(a, b)
    changed = form(a, name=f"Renamed {mine}", body="Changed")
    done = await on_page(a, b, "POST", f"/settings/macros/{mine}", {303}, data=changed)
    names = {m["name"] for m in await own(a, b, "/api/v1/macros")}
    assert (f"Renamed {mine}" in names) == (done is not None)


async def web_macro_delete(a: A, b: B) -> None:
    await on_page(a, b, "POST", f"/settings/macros/{b.macro_id}/delete", REFUSED, data=form(a))
    mine = await a_macro(a, b)
    done = await on_page(a, b, "POST", f"/settings/macros/{mine}/delete", {303}, data=form(a))
    ids = {m["id"] for m in await own(a, b, "/api/v1/macros")}
    assert (mine in ids) == (done is None)


async def web_team(a: A, b: B) -> None:
    team = await on_page(a, b, "GET", "/settings/team", {200})
    assert team is None or a.tenant.owner_email in team.text


async def web_team_add(a: A, b: B) -> None:
    email = f"page-{uuid.uuid4().hex[:8]}@example.com"
    fields = form(a, name="Page agent", email=email, password=PASSWORD, role="agent", timezone="UTC")
    added = await on_page(a, b, "POST", "/settings/team", {303}, data=fields)
    emails = {x["email"] for x in await own(a, b, "/api/v1/agents")}
    assert (email in emails) == (added is not None)


async def web_team_agent(a: A, b: B) -> None:
    await on_page(a, b, "GET", f"/settings/team/{b.agent_id}", REFUSED)
    mine = await on_page(a, b, "GET", f"/settings/team/{a.tenant.owner_id}", {200})
    assert mine is None or a.tenant.owner_email in mine.text


async def web_team_edit(a: A, b: B) -> None:
    off = form(a, role="agent", timezone="UTC", availability="offline")  # no is_active: switched off
    await on_page(a, b, "POST", f"/settings/team/{b.agent_id}", REFUSED, data=off)
    spare = await a_agent(a, b)
    done = await on_page(a, b, "POST", f"/settings/team/{spare}", {303}, data=off)
    assert (await own_agent(a, b, spare))["is_active"] == (done is None)


async def web_hours(a: A, b: B) -> None:
    await on_page(a, b, "GET", "/settings/hours", {200})


async def web_hours_save(a: A, b: B) -> None:
    """A's hours and SLA are A's (``snapshot`` compares B's workspace)."""
    zone = (await own(a, b, "/api/v1/workspace"))["timezone"]
    fields = form(a, timezone=zone, sla_first_response_minutes="30", sla_next_response_minutes="45")
    saved = await on_page(a, b, "POST", "/settings/hours", {303}, data={**fields, "day-mon": "09:00-17:00"})
    workspace = await own(a, b, "/api/v1/workspace")
    assert (workspace["business_hours"].get("mon") == [["09:00", "17:00"]]) == (saved is not None)


async def web_assignment(a: A, b: B) -> None:
    await on_page(a, b, "GET", "/settings/assignment", {200})


async def web_auto_assign(a: A, b: B) -> None:
    # Switched on, then off again: later probes expect A's new conversations unassigned.
    for fields, on in ((form(a, auto_assign="on"), True), (form(a), False)):
        done = await on_page(a, b, "POST", "/settings/assignment", {303}, data=fields)
        assert done is None or (await own(a, b, "/api/v1/workspace"))["auto_assign"] is on


async def web_shifts(a: A, b: B) -> None:
    fields = form(a, languages="fr", **{"shift-mon": "08:00-12:00"})
    await on_page(a, b, "POST", f"/settings/assignment/{b.agent_id}", REFUSED, data=fields)
    done = await on_page(a, b, "POST", f"/settings/assignment/{a.tenant.owner_id}", {303}, data=fields)
    owner = await own_agent(a, b, a.tenant.owner_id)
    assert (owner["languages"] == ["fr"]) == (done is not None)


async def web_tags(a: A, b: B) -> None:
    """Settings → Tags lists A's conversation tags only (B's "vip" is not among them)."""
    page = await on_page(a, b, "GET", "/settings/tags", {200})
    if page is not None:
        shown = {html.unescape(t) for t in re.findall(r'<tr data-tag="([^"]*)"', page.text)}
        assert shown == {t for c in await own_conversations(a, b) for t in c["tags"]}


async def web_tag_rename(a: A, b: B) -> None:
    """Renaming "vip" renames A's, not B's."""
    async with a.tenant.client() as admin:
        url = f"/api/v1/conversations/{a.conversation_id}"
        await call(a, b, "PATCH", url, {200}, client=admin, json={"tags": ["vip"]})
    done = await on_page(a, b, "POST", "/settings/tags/rename", {303}, data=form(a, tag="vip", new="A's vip"))
    assert await own_tags(a, b) == (["A's vip"] if done is not None else ["vip"])
    assert "vip" in await their_tags(b)


async def web_tag_delete(a: A, b: B) -> None:
    """Deleting "vip" deletes A's, not B's."""
    async with a.tenant.client() as admin:
        url = f"/api/v1/conversations/{a.conversation_id}"
        await call(a, b, "PATCH", url, {200}, client=admin, json={"tags": ["vip"]})
    done = await on_page(a, b, "POST", "/settings/tags/delete", {303}, data=form(a, tag="vip"))
    assert await own_tags(a, b) == ([] if done is not None else ["vip"])
    assert "vip" in await their_tags(b)


async def web_tokens(a: A, b: B) -> None:
    tokens = await on_page(a, b, "GET", "/settings/tokens", {200})
    assert tokens is None or f'data-token="{a.spare_token_id}"' in tokens.text


async def web_token_create(a: A, b: B) -> None:
    made = await on_page(
        a, b, "POST", "/settings/tokens", {201}, data=form(a, name="page token", role="agent")
    )
    if made is None:
        return
    token = re.search(r'<code class="secret">([^<]+)</code>', made.text)
    assert token, made.text[:300]
    async with httpx.AsyncClient(base_url=a.tenant.server.url, timeout=30) as fresh:
        headers = {"authorization": f"Bearer {token.group(1)}"}
        me = await call(a, b, "GET", "/api/v1/me", {200}, client=fresh, headers=headers)
    assert me.json()["workspace_id"] == a.tenant.workspace_id


async def web_token_revoke(a: A, b: B) -> None:
    for token_id in b.token_ids:
        await on_page(a, b, "POST", f"/settings/tokens/{token_id}/revoke", REFUSED, data=form(a))
    async with a.tenant.client() as admin:
        made = await call(a, b, "POST", "/api/v1/tokens", {201}, client=admin, json={"name": "to revoke"})
    spare = made.json()["id"]
    done = await on_page(a, b, "POST", f"/settings/tokens/{spare}/revoke", {303}, data=form(a))
    revoked = {t["id"]: t["revoked_at"] for t in await own(a, b, "/api/v1/tokens")}[spare]
    assert (revoked is not None) == (done is not None)


async def patch_agent(a: A, b: B) -> None:
    hijack = {"is_active": False, "role": "admin", "languages": ["xx"]}
    await call(a, b, "PATCH", f"/api/v1/agents/{b.agent_id}", REFUSED, json=hijack)
    spare = await a_agent(a, b)
    changed = await call(a, b, "PATCH", f"/api/v1/agents/{spare}", {200}, json={"availability": "away"})
    assert (changed.json()["workspace_id"], changed.json()["availability"]) == (a.tenant.workspace_id, "away")


async def viewing(a: A, b: B) -> None:
    await write_conversation(a, b, "viewing", {"viewing": True}, 202)


async def web_preferences(a: A, b: B) -> None:
    """A's language and zone change for A alone; then they are put back for the probes after this one."""
    before = (await call(a, b, "GET", "/api/v1/me", {200})).json()["agent"]
    back = {"referer": f"{a.tenant.server.url}/inbox?view=all"}
    chinese = form(a, language="zh-CN", timezone="Asia/Shanghai")
    changed = await on_page(a, b, "POST", "/me/preferences", {303}, headers=back, data=chinese)
    if changed is None:
        return
    assert changed.headers["location"] == "/inbox?view=all"
    assert (await call(a, b, "GET", "/api/v1/me", {200})).json()["agent"]["language"] == "zh-CN"
    undo = form(a, language=before["language"], timezone=before["timezone"])
    await on_page(a, b, "POST", "/me/preferences", {303}, data=undo)
    assert (await call(a, b, "GET", "/api/v1/me", {200})).json()["agent"] == before


async def read_report(a: A, b: B) -> None:
    """A's report counts A's conversations and lists A's agents only."""
    report = (await call(a, b, "GET", "/api/v1/reports", {200}, params={"tz": "UTC"})).json()
    assert report["totals"]["conversations"] == len(await own_conversations(a, b))
    agents = await own(a, b, "/api/v1/agents")
    listed = {r["agent_id"] for r in report["by_agent"]} - {None}
    assert {x["id"] for x in agents if x["is_active"]} <= listed <= {x["id"] for x in agents}
    assert b.agent_id not in listed


async def export_report(a: A, b: B) -> None:
    async def table(name: str) -> list[dict[str, str]]:
        params = {"table": name, "tz": "UTC"}
        exported = await call(a, b, "GET", "/api/v1/reports.csv", {200}, params=params)
        return list(csv.DictReader(io.StringIO(exported.text)))

    by_channel = await table("by_channel")
    assert sum(int(r["conversations"]) for r in by_channel) == len(await own_conversations(a, b))
    agents = {str(x["id"]) for x in await own(a, b, "/api/v1/agents")}
    assert {r["agent_id"] for r in await table("by_agent")} - {""} <= agents


async def web_reports(a: A, b: B) -> None:
    """The reports page (its agent table would name B's agent, with B's marker, if B's were counted)."""
    await on_page(a, b, "GET", "/reports", {200})


# ---- campaigns, and the public unsubscribe links in their messages ----


async def a_campaign(a: A, b: B) -> int:
    """A new draft of A's, on a new e-mail account of A's."""
    account = await mail_account(a.tenant)
    async with a.tenant.client() as admin:
        body = campaign_body(account["id"], f"A's campaign {uuid.uuid4().hex[:8]}")
        made = await call(a, b, "POST", "/api/v1/campaigns", {201}, client=admin, json=body)
    return int(made.json()["id"])


async def list_campaigns(a: A, b: B) -> None:
    mine = await a_campaign(a, b)
    listed = [c["id"] for c in (await call(a, b, "GET", "/api/v1/campaigns", {200})).json()]
    assert mine in listed and b.campaign_id not in listed


async def create_campaign(a: A, b: B) -> None:
    """Not on B's account; on A's own, a draft."""
    theirs = campaign_body(b.mail_account_id, "A's campaign on B's account")
    await call(a, b, "POST", "/api/v1/campaigns", {404, 422}, json=theirs)
    account = await mail_account(a.tenant)
    made = await call(a, b, "POST", "/api/v1/campaigns", {201}, json=campaign_body(account["id"], "A's own"))
    assert (made.json()["state"], made.json()["channel_account_id"]) == ("draft", account["id"])


async def read_campaign(a: A, b: B) -> None:
    await call(a, b, "GET", f"/api/v1/campaigns/{b.campaign_id}", {404})
    mine = await a_campaign(a, b)
    assert (await call(a, b, "GET", f"/api/v1/campaigns/{mine}", {200})).json()["id"] == mine


async def patch_campaign(a: A, b: B) -> None:
    hijack = {"name": "hijacked", "discount_code": "HIJACKED", "segments": [], "control_share": "0"}
    await call(a, b, "PATCH", f"/api/v1/campaigns/{b.campaign_id}", {404}, json=hijack)
    url = f"/api/v1/campaigns/{await a_campaign(a, b)}"
    # Nor may A move its own campaign onto B's account.
    await call(a, b, "PATCH", url, {404, 422}, json={"channel_account_id": b.mail_account_id})
    assert (await call(a, b, "PATCH", url, {200}, json={"name": "renamed"})).json()["name"] == "renamed"


async def launch_campaign(a: A, b: B) -> None:
    """Not B's draft; A's own goes to A's buyers only (B's, who bought, is none of them)."""
    await call(a, b, "POST", f"/api/v1/campaigns/{b.campaign_id}/launch", {404})
    launched = (await call(a, b, "POST", f"/api/v1/campaigns/{await a_campaign(a, b)}/launch", {200})).json()
    reached = launched["recipients"] + launched["control"] + sum(launched["skipped"].values())
    assert reached == (await own(a, b, "/api/v1/retention/segments"))["customers"], launched


async def cancel_campaign(a: A, b: B) -> None:
    await call(a, b, "POST", f"/api/v1/campaigns/{b.campaign_id}/cancel", {404})
    url = f"/api/v1/campaigns/{await a_campaign(a, b)}/cancel"
    assert (await call(a, b, "POST", url, {200})).json()["state"] == "cancelled"


async def campaign_results(a: A, b: B) -> None:
    await call(a, b, "GET", f"/api/v1/campaigns/{b.campaign_id}/results", {404})
    mine = await a_campaign(a, b)
    results = (await call(a, b, "GET", f"/api/v1/campaigns/{mine}/results", {200})).json()
    assert (results["campaign_id"], results["state"]) == (mine, "draft")


def campaign_form(a: A, account_id: int, name: str) -> dict[str, Any]:
    """The campaign form's fields for ``campaign_body``'s campaign (the form's own defaults elsewhere)."""
    body = campaign_body(account_id, name)
    template = body["templates"]["en"]
    return form(
        a,
        name=name,
        kind="repeat",
        channel_account_id=str(account_id),
        t0_language="en",
        t0_subject=template["subject"],
        t0_body=template["body"],
        discount_code=body["discount_code"],
        send_from_hour="0",
        send_until_hour="24",
        frequency_cap_days="7",
        control_share="10",
        attribution_days="14",
        starts_at=(utcnow() + LATER).strftime("%Y-%m-%dT%H:%M"),  # in the agent's zone: far ahead anyway
    )


def account_options(page: httpx.Response) -> set[int]:
    """The accounts the campaign form offers to send through."""
    return {
        int(i)
        for i in re.findall(r'<option value="(\d+)"[^>]*>[^<]*\((?:email|whatsapp|messenger)\)', page.text)
    }


async def web_campaigns(a: A, b: B) -> None:
    mine = await a_campaign(a, b)
    listed = await on_page(a, b, "GET", "/campaigns", {200})
    assert listed is None or f'"/campaigns/{mine}"' in listed.text
    assert listed is None or f'"/campaigns/{b.campaign_id}"' not in listed.text


async def web_campaign_new(a: A, b: B) -> None:
    """The form offers A's accounts only."""
    account = (await mail_account(a.tenant))["id"]
    blank = await on_page(a, b, "GET", "/campaigns/new", {200})
    if blank is not None:
        offered = account_options(blank)
        assert account in offered and b.mail_account_id not in offered, offered


async def web_campaign(a: A, b: B) -> None:
    await on_page(a, b, "GET", f"/campaigns/{b.campaign_id}", REFUSED)
    mine = await a_campaign(a, b)
    shown = await on_page(a, b, "GET", f"/campaigns/{mine}", {200})
    assert shown is None or f'action="/campaigns/{mine}/launch"' in shown.text


async def web_campaign_edit(a: A, b: B) -> None:
    await on_page(a, b, "GET", f"/campaigns/{b.campaign_id}/edit", REFUSED)
    mine = await a_campaign(a, b)
    editing = await on_page(a, b, "GET", f"/campaigns/{mine}/edit", {200})
    assert editing is None or f'action="/campaigns/{mine}"' in editing.text


async def web_campaign_create(a: A, b: B) -> None:
    """Not on B's account (the form comes back with the error); on A's own, a draft."""
    before = {c["id"] for c in await own(a, b, "/api/v1/campaigns")}
    theirs = campaign_form(a, b.mail_account_id, "A's page campaign on B's account")
    refused = await on_page(a, b, "POST", "/campaigns", {422}, data=theirs)
    assert refused is None or 'aria-invalid="true"' in refused.text
    account = (await mail_account(a.tenant))["id"]
    made = await on_page(
        a, b, "POST", "/campaigns", {303}, data=campaign_form(a, account, "A's page campaign")
    )
    added = [c for c in await own(a, b, "/api/v1/campaigns") if c["id"] not in before]
    assert [(c["name"], c["channel_account_id"]) for c in added] == (
        [("A's page campaign", account)] if made is not None else []
    )


async def web_campaign_update(a: A, b: B) -> None:
    account = (await mail_account(a.tenant))["id"]
    hijack = campaign_form(a, account, "hijacked")
    await on_page(a, b, "POST", f"/campaigns/{b.campaign_id}", REFUSED, data=hijack)
    mine = await a_campaign(a, b)
    # Nor may A move its own campaign onto B's account.
    onto_b = campaign_form(a, b.mail_account_id, "moved")
    await on_page(a, b, "POST", f"/campaigns/{mine}", {422}, data=onto_b)
    done = await on_page(a, b, "POST", f"/campaigns/{mine}", {303}, data=campaign_form(a, account, "renamed"))
    changed = await own(a, b, f"/api/v1/campaigns/{mine}")
    assert (changed["name"], changed["channel_account_id"]) != ("moved", b.mail_account_id)
    assert (changed["name"] == "renamed") == (done is not None)


async def web_campaign_launch(a: A, b: B) -> None:
    await on_page(a, b, "POST", f"/campaigns/{b.campaign_id}/launch", REFUSED, data=form(a))
    mine = await a_campaign(a, b)
    done = await on_page(a, b, "POST", f"/campaigns/{mine}/launch", {303}, data=form(a))
    state = (await own(a, b, f"/api/v1/campaigns/{mine}"))["state"]
    assert (state != "draft") == (done is not None)


async def web_campaign_cancel(a: A, b: B) -> None:
    await on_page(a, b, "POST", f"/campaigns/{b.campaign_id}/cancel", REFUSED, data=form(a))
    mine = await a_campaign(a, b)
    done = await on_page(a, b, "POST", f"/campaigns/{mine}/cancel", {303}, data=form(a))
    state = (await own(a, b, f"/api/v1/campaigns/{mine}"))["state"]
    assert (state == "cancelled") == (done is not None)


async def unsubscribe_tokens(a: A, b: B) -> tuple[list[str], str]:
    """Tokens that must unsubscribe nobody, and a genuine one of A's for a new buyer of A's (so that A's
    own customer stays subscribed for the other probes)."""
    account = await mail_account(a.tenant)
    async with a.tenant.client() as admin:
        posted = await inbound.post(admin, a.tenant, inbound.message("unsubscribe me"))  # a new sender
    assert posted.status_code == 201, posted.text
    buyer = int(posted.json()["customer_id"])
    genuine = unsubscribe_token(account, buyer)
    b_account = {"public_id": unsubscribe.read(b.unsubscribe_token).public_id, "secret": account["secret"]}
    refused = [
        unsubscribe_token(account, b.customer_id, b.campaign_id),  # A's account, B's customer
        unsubscribe_token(b_account, b.customer_id, b.campaign_id),  # B's account, A's signature
        genuine.replace(f".{buyer}.", f".{b.customer_id}.", 1),  # B's customer under A's signature
        genuine[:-1] + ("A" if genuine[-1] != "A" else "B"),  # tampered
        "u1.email.nope.1.1.x",
    ]
    return refused, genuine


async def unsubscribe_page(a: A, b: B) -> None:
    refused, genuine = await unsubscribe_tokens(a, b)
    for token in refused:
        await call(a, b, "GET", f"/u/{token}", {404})
    page = await call(a, b, "GET", f"/u/{genuine}", {200})
    assert f'action="/u/{genuine}"' in page.text and "You are unsubscribed" not in page.text
    assert not await b_unsubscribed(b)


async def unsubscribe_now(a: A, b: B) -> None:
    """Only a genuine token of A's does anything, and to A's buyer alone."""
    refused, genuine = await unsubscribe_tokens(a, b)
    click = {"List-Unsubscribe": "One-Click"}
    for token in refused:
        await call(a, b, "POST", f"/u/{token}", {404}, data=click)
    assert not await b_unsubscribed(b)
    assert "You are unsubscribed" in (await call(a, b, "POST", f"/u/{genuine}", {200}, data=click)).text
    assert "You are unsubscribed" in (await call(a, b, "GET", f"/u/{genuine}", {200})).text


async def assistant_policy(a: A, b: B) -> None:
    """A's policy is A's: B still reads the defaults afterwards."""
    mine = {"payment_methods": [f"A pays {a.mode}"]}
    await call(a, b, "PUT", "/api/v1/assistant/policy", {200}, json=mine)
    shown = await call(a, b, "GET", "/api/v1/assistant/policy", {200})
    assert shown.json()["payment_methods"] == mine["payment_methods"]
    async with b.tenant.client() as theirs:
        assert (await theirs.get("/api/v1/assistant/policy")).json()["payment_methods"] == []


async def public(a: A, b: B, url: str) -> None:
    await call(a, b, "GET", url, {200})


Probe = Callable[[A, B], Awaitable[None]]


async def widget_script(a: A, b: B) -> None:
    """B's widget script is the same public file for anyone: nothing of B's in it."""
    script = await call(a, b, "GET", f"/widget/{b.widget_public_id}.js", {200})
    assert script.text == (await call(a, b, "GET", "/widget.js", {200})).text


def page(url: str) -> Probe:
    async def probe(a: A, b: B) -> None:
        await public(a, b, url)

    return probe


PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/openapi.json"): page("/openapi.json"),
    ("GET", "/docs"): page("/docs"),
    ("GET", "/docs/oauth2-redirect"): page("/docs/oauth2-redirect"),
    ("GET", "/redoc"): page("/redoc"),
    ("GET", "/healthz"): page("/healthz"),
    ("GET", "/readyz"): page("/readyz"),
    ("GET", "/metrics"): page("/metrics"),
    ("MOUNT", "/static"): page("/static/app.css"),
    ("POST", "/api/v1/auth/login"): api_login,
    ("POST", "/api/v1/auth/logout"): api_logout,
    ("GET", "/api/v1/me"): me,
    ("GET", "/api/v1/workspace"): read_workspace,
    ("PATCH", "/api/v1/workspace"): patch_workspace,
    ("GET", "/api/v1/agents"): list_agents,
    ("POST", "/api/v1/agents"): create_agent,
    ("GET", "/api/v1/tokens"): list_tokens,
    ("POST", "/api/v1/tokens"): create_token,
    ("DELETE", "/api/v1/tokens/{token_id}"): revoke_token,
    ("GET", "/api/v1/conversations"): list_conversations,
    ("GET", "/api/v1/conversations/{conversation_id}"): read_conversation,
    ("POST", "/api/v1/conversations/{conversation_id}/messages"): reply,
    ("POST", "/api/v1/conversations/{conversation_id}/notes"): note,
    ("PATCH", "/api/v1/conversations/{conversation_id}"): patch_conversation,
    ("POST", "/api/v1/conversations/{conversation_id}/typing"): typing,
    ("GET", "/api/v1/customers"): search_customers,
    ("GET", "/api/v1/customers/{customer_id}"): read_customer,
    ("GET", "/api/v1/products"): list_products,
    ("POST", "/api/v1/import/{kind}"): import_rows,
    ("GET", "/api/v1/channels"): list_channels,
    ("POST", "/api/v1/channels/{kind}"): create_channel,
    ("PATCH", "/api/v1/channels/{account_id}"): patch_channel,
    ("POST", "/api/v1/channels/api/{public_id}/messages"): channel_inbound,
    ("POST", "/hooks/{kind}/{public_id}"): webhook,
    ("GET", "/hooks/{kind}/{public_id}"): webhook_handshake,
    ("GET", "/api/v1/events"): read_events,
    ("WS", "/api/v1/ws"): socket,
    ("GET", "/login"): web_login_form,
    ("POST", "/login"): web_login_submit,
    ("POST", "/logout"): web_logout,
    ("GET", "/"): web_home,
    ("GET", "/settings/channels"): channel_settings_page,
    ("POST", "/settings/channels/{kind}"): channel_settings_add,
    ("POST", "/settings/channels/{account_id}/update"): channel_settings_update,
    ("GET", "/widget.js"): page("/widget.js"),
    ("GET", "/widget/widget.css"): page("/widget/widget.css"),
    ("GET", "/widget/{public_key}.js"): widget_script,
    ("OPTIONS", "/widget/api/{public_key}/{endpoint}"): widget_preflight,
    ("POST", "/widget/api/{public_key}/session"): widget_session,
    ("POST", "/widget/api/{public_key}/messages"): widget_messages,
    ("WS", "/widget/api/{public_key}/ws"): widget_socket,
    ("GET", "/api/v1/email/attachments/{digest}/{name}"): email_attachment,
    ("GET", "/api/v1/retention/segments"): retention_segments,
    ("GET", "/api/v1/retention/customers"): retention_customers,
    ("PUT", "/api/v1/retention/rules"): retention_rules,
    ("GET", "/api/v1/retention/customers.csv"): retention_export,
    ("GET", "/customers"): web_customers,
    ("GET", "/api/v1/assistant/policy"): assistant_policy,
    ("PUT", "/api/v1/assistant/policy"): assistant_policy,
    ("GET", "/inbox"): web_inbox,
    ("GET", "/inbox/rows/{conversation_id}"): web_inbox_row,
    ("GET", "/inbox/counts"): web_inbox_counts,
    ("POST", "/inbox/bulk"): web_inbox_bulk,
    ("POST", "/api/v1/conversations/bulk"): bulk_conversations,
    ("GET", "/conversations/{conversation_id}"): web_conversation,
    ("GET", "/conversations/{conversation_id}/thread"): web_thread,
    ("GET", "/conversations/{conversation_id}/actions"): web_actions,
    ("POST", "/conversations/{conversation_id}/actions"): web_change,
    ("GET", "/conversations/{conversation_id}/macros"): web_macro_search,
    ("POST", "/conversations/{conversation_id}/macros/{macro_id}"): web_use_macro,
    ("POST", "/conversations/{conversation_id}/messages"): web_reply,
    ("GET", "/conversations/{conversation_id}/sidebar"): web_conversation_sidebar,
    ("GET", "/customers/{customer_id}/sidebar"): web_customer_sidebar,
    ("POST", "/customers/{customer_id}/tags"): web_customer_tag,
    ("POST", "/customers/{customer_id}/tags/remove"): web_customer_untag,
    ("POST", "/customers/{customer_id}/notes"): web_customer_notes,
    ("GET", "/api/v1/customers/{customer_id}/tags"): read_customer_tags,
    ("PUT", "/api/v1/customers/{customer_id}/tags"): replace_customer_tags,
    ("PATCH", "/api/v1/customers/{customer_id}"): patch_customer,
    ("GET", "/api/v1/macros"): list_macros,
    ("POST", "/api/v1/macros"): create_macro,
    ("PATCH", "/api/v1/macros/{macro_id}"): patch_macro,
    ("DELETE", "/api/v1/macros/{macro_id}"): delete_macro,
    ("POST", "/api/v1/macros/{macro_id}/render"): render_macro,
    ("GET", "/settings/macros"): web_macros,
    ("POST", "/settings/macros"): web_macro_create,
    ("POST", "/settings/macros/{macro_id}"): web_macro_update,
    ("POST", "/settings/macros/{macro_id}/delete"): web_macro_delete,
    ("GET", "/settings/team"): web_team,
    ("POST", "/settings/team"): web_team_add,
    ("GET", "/settings/team/{agent_id}"): web_team_agent,
    ("POST", "/settings/team/{agent_id}"): web_team_edit,
    ("GET", "/settings/hours"): web_hours,
    ("POST", "/settings/hours"): web_hours_save,
    ("GET", "/settings/assignment"): web_assignment,
    ("POST", "/settings/assignment"): web_auto_assign,
    ("POST", "/settings/assignment/{agent_id}"): web_shifts,
    ("GET", "/settings/tags"): web_tags,
    ("POST", "/settings/tags/rename"): web_tag_rename,
    ("POST", "/settings/tags/delete"): web_tag_delete,
    ("GET", "/settings/tokens"): web_tokens,
    ("POST", "/settings/tokens"): web_token_create,
    ("POST", "/settings/tokens/{token_id}/revoke"): web_token_revoke,
    ("PATCH", "/api/v1/agents/{agent_id}"): patch_agent,
    ("POST", "/api/v1/conversations/{conversation_id}/viewing"): viewing,
    ("POST", "/me/preferences"): web_preferences,
    ("GET", "/api/v1/reports"): read_report,
    ("GET", "/api/v1/reports.csv"): export_report,
    ("GET", "/reports"): web_reports,
    ("GET", "/api/v1/campaigns"): list_campaigns,
    ("POST", "/api/v1/campaigns"): create_campaign,
    ("GET", "/api/v1/campaigns/{campaign_id}"): read_campaign,
    ("PATCH", "/api/v1/campaigns/{campaign_id}"): patch_campaign,
    ("POST", "/api/v1/campaigns/{campaign_id}/launch"): launch_campaign,
    ("POST", "/api/v1/campaigns/{campaign_id}/cancel"): cancel_campaign,
    ("GET", "/api/v1/campaigns/{campaign_id}/results"): campaign_results,
    ("GET", "/u/{token}"): unsubscribe_page,
    ("POST", "/u/{token}"): unsubscribe_now,
    ("GET", "/campaigns"): web_campaigns,
    ("GET", "/campaigns/new"): web_campaign_new,
    ("GET", "/campaigns/{campaign_id}"): web_campaign,
    ("GET", "/campaigns/{campaign_id}/edit"): web_campaign_edit,
    ("POST", "/campaigns"): web_campaign_create,
    ("POST", "/campaigns/{campaign_id}"): web_campaign_update,
    ("POST", "/campaigns/{campaign_id}/launch"): web_campaign_launch,
    ("POST", "/campaigns/{campaign_id}/cancel"): web_campaign_cancel,
}
# These end A's session, so they run after every other probe.
LAST = [("POST", "/api/v1/auth/logout"), ("POST", "/logout")]


def test_every_route_has_a_probe() -> None:
    routes = app_routes()
    assert routes - PROBES.keys() == set(), "new route(s): add a tenant-isolation probe to PROBES"
    assert PROBES.keys() - routes == set(), "route(s) gone: drop their probes"
    assert all(key in PROBES for key in LAST)


@pytest.mark.parametrize("mode", ["bearer", "cookie"])
async def test_agent_of_a_is_refused_everything_of_b(tenant: Tenant, other_tenant: Tenant, mode: str) -> None:
    b = await build_b(other_tenant)
    before = await snapshot(b)
    routes = sorted(app_routes() - set(LAST)) + LAST
    async with logged_in(other_tenant) as (b_session, _), as_a(tenant, mode) as a:
        for route in routes:
            await PROBES[route](a, b)
        assert (await b_session.get("/api/v1/me")).status_code == 200, "A's logout ended B's session"
    assert await snapshot(b) == before


# ---- the socket: live delivery ----


@asynccontextmanager
async def open_socket(
    tenant: Tenant, mode: str, query: str = "", cookie: str | None = None
) -> AsyncIterator[ClientConnection]:
    if mode == "bearer":
        headers = tenant.auth
    else:
        if cookie is None:
            async with logged_in(tenant) as (client, _):
                cookie = client.cookies.get("crossdesk_session")
        headers = {"cookie": f"crossdesk_session={cookie}"}
    async with connect(
        f"{tenant.server.ws_url}/api/v1/ws{query}", additional_headers=headers, proxy=None
    ) as ws:
        yield ws


async def frames_until(ws: ClientConnection, done: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while not frames or not done(frames[-1]):
        frames.append(json.loads(await asyncio.wait_for(ws.recv(), FRAME_WAIT_S)))
    return frames


def mentions(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: text in json.dumps(frame, ensure_ascii=False)


@pytest.mark.parametrize("mode", ["bearer", "cookie"])
async def test_socket_of_a_receives_none_of_b_events(tenant: Tenant, other_tenant: Tenant, mode: str) -> None:
    a, b = tenant, other_tenant
    async with a.client() as ca, b.client() as cb:
        # Both logs get events first, so B's sequence numbers overlap A's (each log counts from 1).
        assert (await inbound.post(ca, a, inbound.message("A before"))).status_code == 201
        world = await build_b(b)
        async with AsyncExitStack() as stack:
            live_a = await stack.enter_async_context(open_socket(a, mode))
            resumed_a = await stack.enter_async_context(open_socket(a, mode, "?last_event_id=0"))
            ahead_a = await stack.enter_async_context(open_socket(a, mode, "?last_event_id=1000000"))
            live_b = await stack.enter_async_context(open_socket(b, "bearer"))
            for ws in (live_a, live_b):
                assert json.loads(await asyncio.wait_for(ws.recv(), FRAME_WAIT_S))["type"] == "hello"
            for i in range(3):
                body = inbound.message(f"{world.marker} live {i}", sender={"email": world.customer_email})
                assert (await inbound.post(cb, b, body)).status_code == 201
            conv = f"/api/v1/conversations/{world.conversation_id}"
            assert (await cb.post(f"{conv}/typing", json={"is_typing": True})).status_code == 202
            assert (await cb.patch(conv, json={"priority": "urgent"})).status_code == 200
            assert (
                await cb.post(f"{conv}/messages", json={"text": f"{world.marker} last"})
            ).status_code == 201
            # A's message after all of B's: once A's sockets show it, any of B's would have come before.
            assert (await inbound.post(ca, a, inbound.message("A sentinel"))).status_code == 201
            received = {
                "live": await frames_until(live_a, mentions("A sentinel")),
                "resumed": await frames_until(resumed_a, mentions("A sentinel")),
                "ahead": await frames_until(ahead_a, mentions("A sentinel")),
            }
            b_frames = await frames_until(live_b, mentions(f"{world.marker} last"))
    for name, frames in received.items():
        assert_no_leak(world, f"A's {name} socket", json.dumps(frames, ensure_ascii=False))
        assert world.conversation_id not in conversation_ids([f for f in frames if "data" in f]), name
    assert any(mentions("A before")(f) for f in received["resumed"]), "the resumed socket replays A's backlog"
    assert received["ahead"][0]["type"] == "reload"  # an id past A's log is not B's stream
    assert sum(mentions(f"{world.marker} live")(f) for f in b_frames) == 3  # B does get its own events


async def test_new_order_with_customer_links_within_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    b = await build_b(other_tenant)
    async with tenant.client() as a:
        report = await a.post("/api/v1/import/orders", files=json_file([a_order(b)]))
        assert report.status_code == 200, report.text
        assert report.json()["created"] == 1
        found = (await a.get("/api/v1/customers", params={"q": b.customer_email})).json()
    assert len(found) == 1 and found[0]["id"] != b.customer_id


# ---- the storage scope itself ----


class Rollback(Exception):
    pass


async def count_messages(db: Database, workspace_id: int) -> int:
    async with db.transaction(workspace_id) as session:
        return int(await session.scalar(select(func.count()).select_from(Message)) or 0)


async def test_scoped_session_cannot_reach_other_workspace(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    a, b = tenant, other_tenant
    async with a.client() as ca, b.client() as cb:
        a_conv = (await inbound.post(ca, a, inbound.message("A's"))).json()["conversation_id"]
        b_conv = (await inbound.post(cb, b, inbound.message("B's"))).json()["conversation_id"]
    b_messages = await count_messages(db, b.workspace_id)
    async with db.transaction(a.workspace_id) as session:
        assert await session.get(Conversation, b_conv) is None
        assert (await session.scalars(select(Conversation.id))).all() == [a_conv]
        result = await session.execute(update(Conversation).values(priority="urgent", subject="bulk"))
        assert result.rowcount == 1  # type: ignore[attr-defined]
    with pytest.raises(Rollback):
        async with db.transaction(a.workspace_id) as session:
            await session.execute(delete(Message))
            raise Rollback
    async with db.transaction(b.workspace_id) as session:
        theirs = await session.get(Conversation, b_conv)
        assert theirs is not None and (theirs.priority, theirs.subject) == ("normal", None)
        assert await session.get(Conversation, a_conv) is None
    async with db.transaction(a.workspace_id) as session:
        ours = await session.get(Conversation, a_conv)
        assert ours is not None and ours.priority == "urgent"  # the bulk update did run, on A only
    assert await count_messages(db, b.workspace_id) == b_messages
    # A row stamped for B cannot be written from A's session.
    with pytest.raises(ScopeError):
        async with db.transaction(a.workspace_id) as session:
            session.add(ConversationTag(workspace_id=b.workspace_id, conversation_id=b_conv, tag="planted"))
            await session.flush()
    # A session with neither a workspace nor system=True touches nothing.
    with pytest.raises(ScopeError):
        async with db.transaction():
            pass
    async with db.sessions() as bare:
        with pytest.raises(ScopeError):
            await bare.execute(select(Conversation))
        with pytest.raises(ScopeError):
            await bare.execute(update(Conversation).values(priority="low"))
        bare.add(ConversationTag(conversation_id=b_conv, tag="orphan"))
        with pytest.raises(ScopeError):
            await bare.flush()
        await bare.rollback()
    async with db.transaction(b.workspace_id) as session:
        tags = (await session.scalars(select(ConversationTag.tag))).all()
        assert tags == []
