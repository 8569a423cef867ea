"""PATCH /api/v1/agents/{id} and the workspace's auto_assign: the rules of roles and the last owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from crossdesk.db import Database
from crossdesk.workspaces import service
from tests.conftest import PASSWORD, Tenant
from tests.e2e.conftest import add_agent


@asynccontextmanager
async def logged_in(tenant: Tenant, email: str) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie client for one agent, sending its CSRF header."""
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as client:
        answer = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        client.headers["x-csrf-token"] = answer.json()["csrf_token"]
        yield client


async def test_admin_edits_an_agent(tenant: Tenant) -> None:
    agent = await add_agent(tenant, "Ines", languages=["de-DE", "ja"])
    assert agent["languages"] == ["de", "ja"]
    change = {
        "languages": ["zh", "en"],
        "timezone": "Asia/Shanghai",
        "availability": "away",
        "shifts": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]]},
        "role": "admin",
    }
    async with tenant.client() as client:
        answer = await client.patch(f"/api/v1/agents/{agent['id']}", json=change)
        assert answer.status_code == 200, answer.text
        assert {k: answer.json()[k] for k in change} == change
        cleared = await client.patch(
            f"/api/v1/agents/{agent['id']}", json={"shifts": None, "is_active": False}
        )
        assert cleared.json()["shifts"] is None and cleared.json()["is_active"] is False
        for bad in (
            {"timezone": "Mars/Olympus"},
            {"shifts": {"mon": [["25:00", "26:00"]]}},
            {"languages": ["not a language"]},
            {"availability": "asleep"},
            {"role": None},
            {"password_hash": "x"},
        ):
            refused = await client.patch(f"/api/v1/agents/{agent['id']}", json=bad)
            assert refused.status_code == 422, (bad, refused.text)


async def test_workspace_auto_assign(tenant: Tenant) -> None:
    async with tenant.client() as client:
        assert (await client.get("/api/v1/workspace")).json()["auto_assign"] is False
        answer = await client.patch("/api/v1/workspace", json={"auto_assign": True})
        assert answer.status_code == 200 and answer.json()["auto_assign"] is True


async def test_only_an_owner_makes_or_changes_an_owner(tenant: Tenant) -> None:
    admin = await add_agent(tenant, "Admin", role="admin")
    other = await add_agent(tenant, "Other")
    async with logged_in(tenant, admin["email"]) as client:
        promote = await client.patch(f"/api/v1/agents/{other['id']}", json={"role": "owner"})
        assert promote.status_code == 403
        demote = await client.patch(f"/api/v1/agents/{tenant.owner_id}", json={"role": "agent"})
        assert demote.status_code == 403
        deactivate = await client.patch(f"/api/v1/agents/{tenant.owner_id}", json={"is_active": False})
        assert deactivate.status_code == 403
        # An admin may still set an owner's languages (not their role).
        languages = await client.patch(f"/api/v1/agents/{tenant.owner_id}", json={"languages": ["en"]})
        assert languages.status_code == 200, languages.text
    async with logged_in(tenant, tenant.owner_email) as owner:
        promoted = await owner.patch(f"/api/v1/agents/{other['id']}", json={"role": "owner"})
        assert promoted.status_code == 200 and promoted.json()["role"] == "owner"


async def test_the_last_owner_stays(db: Database, tenant: Tenant) -> None:
    async with logged_in(tenant, tenant.owner_email) as owner:
        for change in ({"role": "admin"}, {"is_active": False}):
            refused = await owner.patch(f"/api/v1/agents/{tenant.owner_id}", json=change)
            assert refused.status_code == 409, (change, refused.text)
        second = await add_agent(tenant, "Second owner")
        assert (
            await owner.patch(f"/api/v1/agents/{second['id']}", json={"role": "owner"})
        ).status_code == 200
        demoted = await owner.patch(f"/api/v1/agents/{tenant.owner_id}", json={"role": "admin"})
        assert demoted.status_code == 200
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        roles = {a.id: (a.role, a.is_active) for a in await service.list_agents(session)}
    assert roles[tenant.owner_id] == ("admin", True)
    assert roles[second["id"]] == ("owner", True)


async def test_agents_may_not_and_other_workspaces_agents_are_not_found(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    agent = await add_agent(tenant, "Plain agent")
    async with logged_in(tenant, agent["email"]) as client:
        refused = await client.patch(f"/api/v1/agents/{agent['id']}", json={"availability": "away"})
        assert refused.status_code == 403
    async with tenant.client() as client:
        foreign = await client.patch(f"/api/v1/agents/{other_tenant.owner_id}", json={"is_active": False})
        assert foreign.status_code == 404
    async with db.transaction(other_tenant.workspace_id, readonly=True) as session:
        theirs = await service.get_agent(session, other_tenant.owner_id)
        assert theirs is not None and theirs.is_active
