"""The conversation page renders hostile buyer text inert, and the page's composer stores mentions."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import httpx

from tests.conftest import PASSWORD, Tenant
from tests.support import inbound

HOSTILE = (
    '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> '
    '<a href="javascript:window.__pwned=1">x</a> see https://shop.example/t?a=1&b=2.'
)


@contextlib.asynccontextmanager
async def logged_in(tenant: Tenant) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A browser-like client logged in as the owner, and its CSRF token."""
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as client:
        yield client, await _log_in(client, tenant)


async def _log_in(client: httpx.AsyncClient, tenant: Tenant) -> str:
    form = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    data = {"email": tenant.owner_email, "password": PASSWORD, "csrf_token": token.group(1)}
    assert (await client.post("/login", data=data)).status_code == 303
    page = await client.get("/inbox")
    csrf = re.search(r'"x-csrf-token": "([^"]+)"', page.text)
    assert csrf is not None
    return csrf.group(1)


async def test_hostile_buyer_text_is_shown_as_text(tenant: Tenant) -> None:
    async with tenant.client() as api:
        posted = await inbound.post(api, tenant, inbound.message(HOSTILE))
    conversation_id = posted.json()["conversation_id"]
    async with logged_in(tenant) as (client, _):
        page = await client.get(f"/conversations/{conversation_id}")
    assert page.status_code == 200
    assert "<script>window.__pwned" not in page.text
    assert "<img src=x" not in page.text
    assert 'href="javascript:' not in page.text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page.text
    # The web link is clickable (escaped, without the sentence's full stop), and cannot reach back.
    link = 'href="https://shop.example/t?a=1&amp;b=2" rel="noopener noreferrer nofollow"'
    assert link in page.text


async def test_a_note_stores_its_mentions_and_a_refusal_keeps_the_text(tenant: Tenant) -> None:
    async with tenant.client() as api:
        posted = await inbound.post(api, tenant, inbound.message("Hello"))
        conversation_id = posted.json()["conversation_id"]
        emma = await api.post(
            "/api/v1/agents",
            json={"email": f"emma-{conversation_id}@example.com", "name": "Emma Stone", "password": PASSWORD},
        )
    async with logged_in(tenant) as (client, csrf):
        headers = {"x-csrf-token": csrf, "hx-request": "true"}
        note = await client.post(
            f"/conversations/{conversation_id}/messages",
            data={"kind": "note", "text": "@Emma Stone can you check?"},
            headers=headers,
        )
        assert note.status_code == 200 and note.headers["hx-trigger"] == "thread-changed"
        empty = await client.post(
            f"/conversations/{conversation_id}/messages",
            data={"kind": "reply", "text": "  "},
            headers=headers,
        )
        assert 'aria-invalid="true"' in empty.text and "field-error" in empty.text
        forged = await client.post(f"/conversations/{conversation_id}/messages", data={"text": "hi"})
        assert forged.status_code == 403  # no CSRF token
    async with tenant.client() as api:
        detail = (await api.get(f"/api/v1/conversations/{conversation_id}")).json()
    assert detail["messages"][-1]["meta"] == {"mentions": [emma.json()["id"]]}
    assert detail["messages"][-1]["is_private"] is True


async def test_viewing_is_told_to_the_other_agents(tenant: Tenant) -> None:
    async with tenant.client() as api:
        posted = await inbound.post(api, tenant, inbound.message("Hello"))
        conversation_id = posted.json()["conversation_id"]
    async with logged_in(tenant) as (client, csrf):
        seen = await client.post(
            f"/api/v1/conversations/{conversation_id}/viewing",
            json={"viewing": True},
            headers={"x-csrf-token": csrf},
        )
        assert seen.status_code == 202
        missing = await client.post(
            "/api/v1/conversations/999999999/viewing", json={"viewing": True}, headers={"x-csrf-token": csrf}
        )
        assert missing.status_code == 404
    async with tenant.client() as api:
        events = await api.get("/api/v1/events")
    presence = [e["data"] for e in events.json()["events"] if e["type"] == "presence"]
    assert {"agent_id": tenant.owner_id, "conversation_id": conversation_id, "viewing": True} in presence
