"""The settings pages over HTTP: agents get 403 everywhere, errors sit next to their fields, another
workspace's agent is a 404, a new token is shown once."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.conftest import PASSWORD, Tenant
from tests.e2e.conftest import add_agent

PAGES = [
    "/settings/team",
    "/settings/hours",
    "/settings/assignment",
    "/settings/tags",
    "/settings/tokens",
    "/settings/channels",
]


@asynccontextmanager
async def browser(tenant: Tenant, email: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A logged-in cookie client and its CSRF token (for the forms' hidden field)."""
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as client:
        answer = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        yield client, answer.json()["csrf_token"]


def error_of(html: str, field_id: str) -> str:
    """The error shown next to a field, which must point at it (aria-describedby) and be marked invalid."""
    tag = re.search(rf'<(?:input|select)[^>]*id="{field_id}"[^>]*>', html)
    assert tag is not None, field_id
    assert 'aria-invalid="true"' in tag.group(0) and f"{field_id}-error" in tag.group(0)
    found = re.search(rf'<span id="{field_id}-error" class="field-error">([^<]*)</span>', html)
    assert found is not None
    return found.group(1)


async def test_an_agent_gets_403_on_every_settings_page_and_write(tenant: Tenant) -> None:
    agent = await add_agent(tenant, "Plain")
    async with browser(tenant, agent["email"]) as (client, csrf):
        for path in PAGES:
            assert (await client.get(path)).status_code == 403, path
        writes = [
            "/settings/team",
            f"/settings/team/{agent['id']}",
            "/settings/hours",
            "/settings/assignment",
            f"/settings/assignment/{agent['id']}",
            "/settings/tags/rename",
            "/settings/tags/delete",
            "/settings/tokens",
            "/settings/tokens/1/revoke",
            "/settings/channels/api",
        ]
        for path in writes:
            answer = await client.post(path, data={"csrf_token": csrf, "role": "owner", "is_active": "on"})
            assert answer.status_code == 403, path
        assert (await client.get("/inbox")).status_code != 403


async def test_add_agent_errors_sit_next_to_their_fields(tenant: Tenant) -> None:
    async with browser(tenant, tenant.owner_email) as (client, csrf):
        page = await client.get("/settings/team")
        assert page.status_code == 200 and tenant.owner_email in page.text
        body = {
            "csrf_token": csrf,
            "name": "Mia",
            "email": tenant.owner_email,
            "password": PASSWORD,
            "role": "agent",
            "languages": "de",
            "timezone": "Europe/Berlin",
        }
        duplicate = await client.post("/settings/team", data=body)
        assert duplicate.status_code == 422
        assert "exists already" in error_of(duplicate.text, "add-email")
        weak = await client.post(
            "/settings/team",
            data={**body, "email": "mia@example.com", "password": "short", "timezone": "Mars/Olympus"},
        )
        assert "8 characters" in error_of(weak.text, "add-password")
        assert "time zone" in error_of(weak.text, "add-timezone")
        assert 'value="Mia"' in weak.text, "what was typed stays"
        email = f"mia-{uuid.uuid4().hex[:8]}@example.com"
        added = await client.post(
            "/settings/team", data={**body, "email": email, "languages": "de, ja-JP"}, follow_redirects=True
        )
        assert added.status_code == 200 and email in added.text and "de, ja" in added.text


async def test_the_last_owner_cannot_be_demoted_from_the_page(tenant: Tenant) -> None:
    async with browser(tenant, tenant.owner_email) as (client, csrf):
        form = {
            "csrf_token": csrf,
            "role": "admin",
            "timezone": "UTC",
            "availability": "online",
            "languages": "",
            "is_active": "on",
        }
        refused = await client.post(f"/settings/team/{tenant.owner_id}", data=form)
        assert refused.status_code == 422
        assert "active owner" in error_of(refused.text, "role")
        off = await client.post(
            f"/settings/team/{tenant.owner_id}", data={**form, "role": "owner", "is_active": ""}
        )
        assert "active owner" in refused.text and off.status_code == 422
        assert "is_active-error" in off.text


async def test_another_workspaces_agent_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    async with browser(tenant, tenant.owner_email) as (client, csrf):
        assert (await client.get(f"/settings/team/{other_tenant.owner_id}")).status_code == 404
        form = {
            "csrf_token": csrf,
            "role": "agent",
            "timezone": "UTC",
            "availability": "away",
            "languages": "",
        }
        assert (await client.post(f"/settings/team/{other_tenant.owner_id}", data=form)).status_code == 404
        shifts = {"csrf_token": csrf, "languages": "de", "shift-mon": "09:00-17:00"}
        assert (
            await client.post(f"/settings/assignment/{other_tenant.owner_id}", data=shifts)
        ).status_code == 404


async def test_hours_errors_and_saving(tenant: Tenant) -> None:
    async with browser(tenant, tenant.owner_email) as (client, csrf):
        form = {
            "csrf_token": csrf,
            "timezone": "Europe/Berlin",
            "sla_first_response_minutes": "30",
            "sla_next_response_minutes": "120",
            "day-mon": "09:00-12:00, 13:00-18:00",
            "day-tue": "25:00-26:00",
            "day-wed": "10:00-12:00, 11:00-13:00",
        }
        bad = await client.post("/settings/hours", data=form)
        assert bad.status_code == 422
        assert "25:00" in error_of(bad.text, "day-tue")
        assert "overlap" in error_of(bad.text, "day-wed")
        assert 'value="25:00-26:00"' in bad.text
        good = await client.post("/settings/hours", data={**form, "day-tue": "", "day-wed": "9:00-17:00"})
        assert good.status_code == 303
    async with tenant.client() as api:
        ws = (await api.get("/api/v1/workspace")).json()
    assert ws["business_hours"]["mon"] == [["09:00", "12:00"], ["13:00", "18:00"]]
    assert ws["business_hours"]["wed"] == [["09:00", "17:00"]] and ws["business_hours"]["tue"] == []
    assert (ws["timezone"], ws["sla_first_response_minutes"]) == ("Europe/Berlin", 30)


async def test_assignment_page_sets_shifts_and_auto_assign(tenant: Tenant) -> None:
    agent = await add_agent(tenant, "Shifty")
    async with browser(tenant, tenant.owner_email) as (client, csrf):
        bad = await client.post(
            f"/settings/assignment/{agent['id']}", data={"csrf_token": csrf, "shift-fri": "18:00-09:00"}
        )
        assert bad.status_code == 422 and "ends before" in error_of(bad.text, f"a{agent['id']}-shift-fri")
        ok = await client.post(
            f"/settings/assignment/{agent['id']}",
            data={"csrf_token": csrf, "languages": "fr", "shift-fri": "08:00-16:00"},
        )
        assert ok.status_code == 303
        assert (
            await client.post("/settings/assignment", data={"csrf_token": csrf, "auto_assign": "on"})
        ).status_code == 303
    async with tenant.client() as api:
        agents = {a["id"]: a for a in (await api.get("/api/v1/agents")).json()}
        assert (await api.get("/api/v1/workspace")).json()["auto_assign"] is True
    assert agents[agent["id"]]["shifts"]["fri"] == [["08:00", "16:00"]]
    assert agents[agent["id"]]["languages"] == ["fr"]


async def test_a_new_token_is_shown_once_then_only_its_prefix(tenant: Tenant) -> None:
    async with browser(tenant, tenant.owner_email) as (client, csrf):
        created = await client.post(
            "/settings/tokens", data={"csrf_token": csrf, "name": "ERP", "role": "agent"}
        )
        assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
        token = re.search(r'<code class="secret">(cdk_[^<]+)</code>', created.text)
        assert token is not None
        listing = await client.get("/settings/tokens")
        assert token.group(1) not in listing.text and token.group(1)[:10] in listing.text
        async with httpx.AsyncClient(
            base_url=tenant.server.url, headers={"authorization": f"Bearer {token.group(1)}"}
        ) as api:
            assert (await api.get("/api/v1/me")).status_code == 200
            token_id = re.search(r'<tr data-token="(\d+)">\s*<td>ERP</td>', listing.text)
            assert token_id is not None
            revoked = await client.post(
                f"/settings/tokens/{token_id.group(1)}/revoke", data={"csrf_token": csrf}
            )
            assert revoked.status_code == 303
            assert (await api.get("/api/v1/me")).status_code == 401
        empty = await client.post("/settings/tokens", data={"csrf_token": csrf, "name": "", "role": "agent"})
        assert empty.status_code == 422 and error_of(empty.text, "name")
