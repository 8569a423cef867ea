"""Tenant isolation: an agent of workspace A, by API token and by cookie session, against every id of B.

The route table below is checked against the app's own routes, so a route added later either gets a
probe here or makes ``test_every_route_has_a_probe`` fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIWebSocketRoute
from sqlalchemy import delete, func, select, update
from starlette.routing import Mount, WebSocketRoute
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from crossdesk.app import create_app
from crossdesk.channels.kinds.email import attachments
from crossdesk.config import Settings
from crossdesk.conversations.models import Conversation, ConversationTag, Message
from crossdesk.db import Database, ScopeError
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
        ],
    )


async def snapshot(b: B) -> dict[str, Any]:
    """Everything of B that A might try to read or change, as B sees it."""
    urls = [
        f"/api/v1/conversations/{b.conversation_id}",
        "/api/v1/conversations?limit=200",
        f"/api/v1/customers/{b.customer_id}",
        "/api/v1/products?limit=500",
        "/api/v1/agents",
        "/api/v1/tokens",
        "/api/v1/channels",
        "/api/v1/events?limit=1000",
    ]
    state: dict[str, Any] = {}
    async with b.tenant.client() as c:
        for url in urls:
            response = await c.get(url)
            assert response.status_code == 200, (url, response.text)
            state[url] = response.json()
    for token in state["/api/v1/tokens"]:
        token.pop("last_used_at")  # B's own reads above touch it
    return state


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
    home = await call(a, b, "GET", "/", {200, 303}, follow_redirects=False)
    assert home.status_code == (200 if a.mode == "cookie" else 303)  # a token is no agent with a page
    if a.mode == "cookie":
        assert f'data-id="{a.conversation_id}"' in home.text
        assert f'data-id="{b.conversation_id}"' not in home.text


async def web_login_form(a: A, b: B) -> None:
    await call(a, b, "GET", "/login", {200})


async def web_login_submit(a: A, b: B) -> None:
    async with httpx.AsyncClient(base_url=a.tenant.server.url, timeout=30) as fresh:
        form = await fresh.get("/login")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        data = {"email": a.tenant.owner_email, "password": PASSWORD, "csrf_token": token}
        await call(a, b, "POST", "/login", {303}, client=fresh, data=data)
        await call(a, b, "GET", "/", {200}, client=fresh)


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
    form = {"csrf_token": a.csrf or "none"}  # no is_active: would switch B's channel off
    await call(a, b, "POST", f"/settings/channels/{b.channel_id}/update", REFUSED, data=form)


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
