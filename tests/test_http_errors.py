"""HTTP errors: unknown ids, missing or bad credentials, CSRF, roles, body size, the login form, logout,
and no secret (password or token hash, channel secret) in any response."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from crossdesk.workspaces.security import token_digest
from tests.conftest import PASSWORD, Tenant
from tests.support import inbound
from tests.test_tenant_isolation import app_routes, json_file, logged_in

UNKNOWN = 999_999_999
# Bodies that pass validation, so that what is checked is the id or the credentials, not the shape.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/conversations/{conversation_id}/messages"): {"json": {"text": "hello"}},
    ("POST", "/api/v1/conversations/{conversation_id}/notes"): {"json": {"text": "note"}},
    ("POST", "/api/v1/conversations/{conversation_id}/typing"): {"json": {"is_typing": True}},
    ("PATCH", "/api/v1/conversations/{conversation_id}"): {"json": {"priority": "high"}},
    ("PATCH", "/api/v1/channels/{account_id}"): {"json": {"name": "renamed"}},
    ("POST", "/api/v1/agents"): {"json": {"email": "x@example.com", "name": "X", "password": PASSWORD}},
    ("POST", "/api/v1/tokens"): {"json": {"name": "t"}},
    ("POST", "/api/v1/channels/api"): {"json": {"name": "c"}},
    ("POST", "/api/v1/auth/logout"): {},
    ("POST", "/api/v1/conversations/{conversation_id}/viewing"): {"json": {"viewing": True}},
    ("POST", "/api/v1/conversations/bulk"): {"json": {"ids": [UNKNOWN], "status": "resolved"}},
    ("PATCH", "/api/v1/customers/{customer_id}"): {"json": {"notes": "x"}},
    ("PUT", "/api/v1/customers/{customer_id}/tags"): {"json": {"tags": ["x"]}},
    ("PATCH", "/api/v1/agents/{agent_id}"): {"json": {"availability": "away"}},
    ("POST", "/api/v1/macros"): {"json": {"name": "m", "body": "Hello"}},
    ("PATCH", "/api/v1/macros/{macro_id}"): {"json": {"name": "renamed"}},
    ("POST", "/api/v1/macros/{macro_id}/render"): {"json": {"conversation_id": UNKNOWN}},
    ("PATCH", "/api/v1/campaigns/{campaign_id}"): {"json": {"name": "renamed"}},
}
# Routes that need no login: the login itself, the signed inbound endpoint, operations and web pages.
PUBLIC = {"/api/v1/auth/login", "/api/v1/channels/api/{public_id}/messages"}


def fill(path: str, value: object) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "products" if m.group(1) == "kind" else str(value), path)


def api_routes() -> list[tuple[str, str]]:
    return sorted(
        (m, p) for m, p in app_routes() if p.startswith("/api/v1/") and m != "WS" and p not in PUBLIC
    )


def request_kwargs(route: tuple[str, str]) -> dict[str, Any]:
    if route[1] == "/api/v1/import/{kind}":
        return {"files": json_file([])}
    return dict(BODIES.get(route, {}))


def assert_json_error(response: httpx.Response, status: int, where: object = "") -> None:
    assert response.status_code == status, (where, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), (where, response.headers)
    assert response.json()["detail"], (where, response.text)


async def first_conversation(tenant: Tenant) -> int:
    async with tenant.client() as client:
        posted = await inbound.post(client, tenant, inbound.message("Where is my order?"))
    assert posted.status_code == 201, posted.text
    return int(posted.json()["conversation_id"])


# ---- unknown ids ----


async def test_unknown_ids_are_404_json_on_every_route_with_an_id(tenant: Tenant) -> None:
    with_ids = [r for r in api_routes() if re.search(r"\{\w+_id\}", r[1])]
    assert len(with_ids) >= 8, with_ids  # conversations (5), customers, tokens, channels
    async with tenant.client() as client:
        for method, path in with_ids:
            response = await client.request(method, fill(path, UNKNOWN), **request_kwargs((method, path)))
            assert_json_error(response, 404, (method, path))
        unknown_channel = await client.post("/api/v1/channels/api/nope/messages", content=b"{}")
        assert_json_error(unknown_channel, 404)
        assert_json_error(await client.get("/api/v1/no-such-thing"), 404)
        assert_json_error(await client.delete("/api/v1/conversations"), 405)
        assert_json_error(await client.get("/api/v1/conversations/abc"), 422)
        assert_json_error(await client.post("/api/v1/import/widgets", files=json_file([])), 422)
        conversation = await first_conversation(tenant)
        assign = await client.patch(f"/api/v1/conversations/{conversation}", json={"assignee_id": UNKNOWN})
        assert_json_error(assign, 404)


async def test_ids_beyond_the_integer_range_are_not_500(tenant: Tenant) -> None:
    """Ids over the database's integer range are simply unknown (404) or invalid (422), never a 500."""
    failures = []
    # No keep-alive: the server drops a connection after a 500, which must not end the survey.
    fresh = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=tenant.server.url, headers=tenant.auth, limits=fresh) as client:
        for big in (2**31, 2**63, 10**30):
            for route in [r for r in api_routes() if re.search(r"\{\w+_id\}", r[1])]:
                response = await client.request(route[0], fill(route[1], big), **request_kwargs(route))
                if response.status_code not in (404, 422):
                    failures.append(f"{route[0]} {fill(route[1], big)}: {response.status_code}")
            for query in (f"customer_id={big}", f"assignee={big}"):
                response = await client.get(f"/api/v1/conversations?{query}")
                if response.status_code not in (200, 422) or response.json().get("items", []) != []:
                    failures.append(f"GET /api/v1/conversations?{query}: {response.status_code}")
    assert not failures, "\n".join(failures)


# ---- authentication ----


async def test_every_api_route_needs_credentials(tenant: Tenant) -> None:
    routes = api_routes()
    assert ("GET", "/api/v1/conversations") in routes and ("POST", "/api/v1/import/{kind}") in routes
    bad_credentials: list[dict[str, str]] = [
        {},
        {"authorization": "Bearer cdk_not-a-real-token"},
        {"authorization": f"Bearer {tenant.token}x"},
        {"authorization": "Bearer"},
        {"authorization": f"Basic {tenant.token}"},
        {"cookie": "crossdesk_session=forged"},
    ]
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as client:
        for headers in bad_credentials:
            for method, path in routes:
                kwargs = request_kwargs((method, path))
                response = await client.request(method, fill(path, 1), headers=headers, **kwargs)
                assert_json_error(response, 401, (method, path, headers))


async def test_revoked_token_is_401(tenant: Tenant) -> None:
    async with tenant.client() as admin:
        created = (await admin.post("/api/v1/tokens", json={"name": "short-lived"})).json()
        headers = {"authorization": f"Bearer {created['token']}"}
        assert (await admin.get("/api/v1/me", headers=headers)).status_code == 200
        assert (await admin.delete(f"/api/v1/tokens/{created['id']}")).status_code == 204
        assert_json_error(await admin.get("/api/v1/me", headers=headers), 401)
        assert_json_error(await admin.get("/api/v1/conversations", headers=headers), 401)
        assert_json_error(await admin.delete(f"/api/v1/tokens/{created['id']}"), 404)  # revoked once
        listed = {t["id"]: t for t in (await admin.get("/api/v1/tokens")).json()}
    assert listed[created["id"]]["revoked_at"] is not None


# ---- CSRF on cookie sessions ----


async def test_cookie_writes_need_the_csrf_header(tenant: Tenant) -> None:
    conversation = await first_conversation(tenant)
    async with tenant.client() as admin:
        channel_id = (await admin.get("/api/v1/channels")).json()[0]["id"]
        spare_id = (await admin.post("/api/v1/tokens", json={"name": "spare"})).json()["id"]

    async def state() -> list[Any]:
        async with tenant.client() as admin:
            urls = [f"/api/v1/conversations/{conversation}", "/api/v1/agents", "/api/v1/channels"]
            urls += ["/api/v1/products", "/api/v1/events?limit=1000"]
            out = [(await admin.get(url)).json() for url in urls]
            out.append([(t["id"], t["revoked_at"]) for t in (await admin.get("/api/v1/tokens")).json()])
            return out

    product = [{"sku": "CSRF-1", "title": "Mug", "price": "9.90", "currency": "EUR"}]
    writes: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", f"/api/v1/conversations/{conversation}/messages", {"json": {"text": "reply"}}, 201),
        ("POST", f"/api/v1/conversations/{conversation}/notes", {"json": {"text": "note"}}, 201),
        ("POST", f"/api/v1/conversations/{conversation}/typing", {"json": {"is_typing": True}}, 202),
        ("PATCH", f"/api/v1/conversations/{conversation}", {"json": {"status": "resolved"}}, 200),
        (
            "POST",
            "/api/v1/agents",
            {"json": {"email": f"{uuid.uuid4().hex}@example.com", "name": "N", "password": PASSWORD}},
            201,
        ),
        ("POST", "/api/v1/tokens", {"json": {"name": "via cookie"}}, 201),
        ("DELETE", f"/api/v1/tokens/{spare_id}", {}, 204),
        ("POST", "/api/v1/channels/api", {"json": {"name": "via cookie"}}, 201),
        ("PATCH", f"/api/v1/channels/{channel_id}", {"json": {"name": "renamed via cookie"}}, 200),
        ("POST", "/api/v1/import/products", {"files": json_file(product)}, 200),
    ]
    before = await state()
    async with logged_in(tenant) as (client, csrf):
        for wrong in (None, "", "wrong", csrf[:-1]):
            if wrong is None:
                client.headers.pop("x-csrf-token")
            else:
                client.headers["x-csrf-token"] = wrong
            for method, url, kwargs, _ in writes:
                assert_json_error(await client.request(method, url, **kwargs), 403, (method, url, wrong))
            assert (await client.get("/api/v1/me")).status_code == 200  # reads need no token
        assert await state() == before
        client.headers["x-csrf-token"] = csrf
        for method, url, kwargs, ok in writes:
            response = await client.request(method, url, **kwargs)
            assert response.status_code == ok, (method, url, response.text)
        # A form may carry the token as a field instead of the header.
        client.headers.pop("x-csrf-token")
        form = await client.post(
            "/api/v1/import/products", files=json_file(product), data={"csrf_token": csrf}
        )
        assert form.status_code == 200, form.text
    assert await state() != before


# ---- roles ----


async def test_agent_role_cannot_administer(tenant: Tenant) -> None:
    async with tenant.client() as admin:
        agent_token = (await admin.post("/api/v1/tokens", json={"name": "agent", "role": "agent"})).json()[
            "token"
        ]
        spare_id = (await admin.post("/api/v1/tokens", json={"name": "spare"})).json()["id"]
        channel_id = (await admin.get("/api/v1/channels")).json()[0]["id"]
        email = f"agent-{uuid.uuid4().hex[:8]}@example.com"
        made = await admin.post(
            "/api/v1/agents", json={"email": email, "name": "Agent", "password": PASSWORD}
        )
        assert made.status_code == 201, made.text
        # An admin may create agents but not owners.
        owner = {
            "email": f"o-{uuid.uuid4().hex[:8]}@example.com",
            "name": "O",
            "password": PASSWORD,
            "role": "owner",
        }
        assert_json_error(await admin.post("/api/v1/agents", json=owner), 403)
    conversation = await first_conversation(tenant)
    forbidden: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/v1/tokens", {"json": {"name": "escalate", "role": "admin"}}),
        ("GET", "/api/v1/tokens", {}),
        ("DELETE", f"/api/v1/tokens/{spare_id}", {}),
        ("POST", "/api/v1/agents", {"json": {"email": "e@example.com", "name": "E", "password": PASSWORD}}),
        ("POST", "/api/v1/channels/api", {"json": {"name": "mine"}}),
        ("GET", "/api/v1/channels", {}),
        ("PATCH", f"/api/v1/channels/{channel_id}", {"json": {"is_active": False}}),
        ("POST", "/api/v1/import/products", {"files": json_file([])}),
    ]
    as_token = httpx.AsyncClient(
        base_url=tenant.server.url, headers={"authorization": f"Bearer {agent_token}"}, timeout=30
    )
    async with as_token as client:
        for method, url, kwargs in forbidden:
            assert_json_error(await client.request(method, url, **kwargs), 403, (method, url))
        assert (await client.get("/api/v1/conversations")).status_code == 200
        reply = await client.post(f"/api/v1/conversations/{conversation}/messages", json={"text": "on it"})
        assert reply.status_code == 201, reply.text
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as client:
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200 and login.json()["role"] == "agent"
        client.headers["x-csrf-token"] = login.json()["csrf_token"]
        for method, url, kwargs in forbidden:
            assert_json_error(await client.request(method, url, **kwargs), 403, ("cookie", method, url))
    async with tenant.client() as admin:
        tokens = (await admin.get("/api/v1/tokens")).json()
        channels = (await admin.get("/api/v1/channels")).json()
    assert [t["name"] for t in tokens] == ["tests", "agent", "spare"]
    assert all(t["revoked_at"] is None for t in tokens)
    assert [(c["name"], c["is_active"]) for c in channels] == [("API", True)]


# ---- body size ----


async def test_oversize_json_on_an_authenticated_route_is_413(tenant: Tenant) -> None:
    conversation = await first_conversation(tenant)
    big = b'{"text": "' + b"x" * 1_000_001 + b'"}'
    async with tenant.client() as client:
        before = (await client.get(f"/api/v1/conversations/{conversation}")).json()
        for method, url in (
            ("POST", f"/api/v1/conversations/{conversation}/messages"),
            ("PATCH", f"/api/v1/conversations/{conversation}"),
            ("POST", "/api/v1/tokens"),
        ):
            response = await client.request(
                method, url, content=big, headers={"content-type": "application/json"}
            )
            assert_json_error(response, 413, (method, url))
        after = (await client.get(f"/api/v1/conversations/{conversation}")).json()
        tokens = (await client.get("/api/v1/tokens")).json()
    assert after == before and len(tokens) == 1


# ---- the web login form and logout ----


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


async def workspace_name(tenant: Tenant) -> str:
    async with tenant.client() as client:
        return str((await client.get("/api/v1/me")).json()["workspace_name"])


async def test_login_form_logs_in_and_shows_the_workspace(tenant: Tenant) -> None:
    name = await workspace_name(tenant)
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as browser:
        assert (await browser.get("/", follow_redirects=False)).headers["location"] == "/login"
        page = await browser.get("/login")
        assert page.status_code == 200 and "crossdesk_login_csrf" in page.headers["set-cookie"]
        fields = {"email": tenant.owner_email, "password": PASSWORD, "csrf_token": form_token(page.text)}
        response = await browser.post("/login", data=fields)
        assert response.status_code == 303 and response.headers["location"] == "/inbox"
        assert browser.cookies.get("crossdesk_session")
        home = await browser.get("/", follow_redirects=True)
    assert home.status_code == 200 and name in home.text and home.url.path == "/inbox"


async def test_login_goes_back_to_the_page_asked_for_and_never_to_another_site(tenant: Tenant) -> None:
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as browser:
        asked = await browser.get("/customers?segment=Lost", follow_redirects=False)
        assert asked.headers["location"] == "/login?next=/customers%3Fsegment%3DLost"
        for target, landing in (
            ("/customers?segment=Lost", "/customers?segment=Lost"),
            ("//evil.example/x", "/inbox"),
            ("https://evil.example/", "/inbox"),
            ("/\\evil.example", "/inbox"),
        ):
            browser.cookies.clear()
            page = await browser.get("/login", params={"next": target})
            fields = {
                "email": tenant.owner_email,
                "password": PASSWORD,
                "csrf_token": form_token(page.text),
                "next": target,
            }
            response = await browser.post("/login", data=fields)
            assert response.status_code == 303 and response.headers["location"] == landing, target


async def test_login_form_without_its_csrf_is_refused(tenant: Tenant) -> None:
    creds = {"email": tenant.owner_email, "password": PASSWORD}
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as browser:
        no_field = await browser.post("/login", data=creds)
        token = form_token((await browser.get("/login")).text)
        wrong_field = await browser.post("/login", data={**creds, "csrf_token": token + "x"})
        no_field_with_cookie = await browser.post("/login", data=creds)
        assert browser.cookies.get("crossdesk_session") is None
        browser.cookies.clear()
        no_cookie = await browser.post("/login", data={**creds, "csrf_token": token})
        assert browser.cookies.get("crossdesk_session") is None
        wrong_password = form_token((await browser.get("/login")).text)
        refused = await browser.post(
            "/login", data={**creds, "password": "nope-nope", "csrf_token": wrong_password}
        )
        assert browser.cookies.get("crossdesk_session") is None
    for response in (no_field, wrong_field, no_field_with_cookie, no_cookie, refused):
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:200])
    assert wrong_field.status_code == no_cookie.status_code == 403
    assert refused.status_code == 401


async def test_logout_ends_the_session(tenant: Tenant) -> None:
    # The API: POST /api/v1/auth/logout (with the CSRF header).
    async with logged_in(tenant) as (client, _):
        cookie = {"cookie": f"crossdesk_session={client.cookies.get('crossdesk_session')}"}
        assert (await client.post("/api/v1/auth/logout")).status_code == 204
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as other:
        assert_json_error(await other.get("/api/v1/me", headers=cookie), 401)
    # The page: POST /logout with the form's token; a forged form (wrong token) logs nobody out.
    async with logged_in(tenant) as (client, csrf):
        cookie = {"cookie": f"crossdesk_session={client.cookies.get('crossdesk_session')}"}
        async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as other:
            forged = await other.post("/logout", headers=cookie, data={"csrf_token": "forged"})
            assert forged.status_code == 303
            assert (await other.get("/api/v1/me", headers=cookie)).status_code == 200
            real = await other.post("/logout", headers=cookie, data={"csrf_token": csrf})
            assert real.status_code == 303 and real.headers["location"] == "/login"
            assert_json_error(await other.get("/api/v1/me", headers=cookie), 401)


# ---- nothing secret in responses ----


async def test_responses_never_include_hashes_or_secrets(tenant: Tenant) -> None:
    await first_conversation(tenant)
    texts: list[str] = []
    async with tenant.client() as client:
        created = await client.post("/api/v1/tokens", json={"name": "new"})
        agent = {"email": f"a-{uuid.uuid4().hex[:8]}@example.com", "name": "A", "password": PASSWORD}
        texts += [created.text, (await client.post("/api/v1/agents", json=agent)).text]
        for url in ("/api/v1/me", "/api/v1/agents", "/api/v1/tokens", "/api/v1/channels", "/api/v1/events"):
            texts.append((await client.get(url)).text)
        conversations = (await client.get("/api/v1/conversations")).json()["items"]
        texts.append((await client.get(f"/api/v1/conversations/{conversations[0]['id']}")).text)
        texts.append((await client.get(f"/api/v1/customers/{conversations[0]['customer_id']}")).text)
        texts.append((await client.get("/openapi.json")).text)
    async with logged_in(tenant) as (browser, _):
        login = await browser.post(
            "/api/v1/auth/login", json={"email": tenant.owner_email, "password": PASSWORD}
        )
        texts += [login.text, (await browser.get("/api/v1/me")).text, (await browser.get("/inbox")).text]
        session = browser.cookies.get("crossdesk_session")
    assert session
    forbidden = [
        "$argon2",
        "password_hash",
        "token_hash",
        tenant.channel_secret,
        token_digest(tenant.token),
        token_digest(created.json()["token"]),
        token_digest(session),
    ]
    for text in texts:
        found = [f for f in forbidden if f in text]
        assert not found, (found, text[:300])
    assert PASSWORD not in "".join(texts)
