"""POST /api/v1/conversations/bulk: the same change to many conversations, all or nothing, only within
the caller's workspace, through the one update path (events included)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Tenant
from tests.support import inbound


async def new_conversations(client: httpx.AsyncClient, tenant: Tenant, n: int) -> list[int]:
    ids = []
    for i in range(n):
        response = await inbound.post(client, tenant, inbound.message(f"question {i}"))
        assert response.status_code == 201, response.text
        ids.append(response.json()["conversation_id"])
    return ids


async def read(client: httpx.AsyncClient, conversation_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/conversations/{conversation_id}")
    assert response.status_code == 200, response.text
    return dict(response.json()["conversation"])


async def test_bulk_assigns_closes_and_adds_tags(tenant: Tenant) -> None:
    async with tenant.client() as client:
        ids = await new_conversations(client, tenant, 3)
        await client.patch(f"/api/v1/conversations/{ids[0]}", json={"tags": ["refund"]})
        before = (await client.get("/api/v1/events", params={"limit": 1000})).json()["last_id"]
        body = {
            "ids": ids[:2],
            "assignee_id": tenant.owner_id,
            "status": "resolved",
            "add_tags": ["vip", "refund"],
        }
        response = await client.post("/api/v1/conversations/bulk", json=body)
        assert response.status_code == 200, response.text
        assert [c["id"] for c in response.json()["items"]] == ids[:2]
        first, second, untouched = [await read(client, i) for i in ids]
        assert first["tags"] == ["refund", "vip"] and second["tags"] == ["refund", "vip"]
        assert first["status"] == second["status"] == "resolved" and first["resolved_at"]
        assert first["assignee_id"] == second["assignee_id"] == tenant.owner_id
        assert untouched["status"] == "open" and untouched["assignee_id"] is None and untouched["tags"] == []
        # Unassigning: an explicit null; an absent field leaves the assignee alone.
        response = await client.post("/api/v1/conversations/bulk", json={"ids": ids[:1], "status": "open"})
        assert response.status_code == 200 and (await read(client, ids[0]))["assignee_id"] == tenant.owner_id
        response = await client.post("/api/v1/conversations/bulk", json={"ids": ids[:1], "assignee_id": None})
        assert response.status_code == 200 and (await read(client, ids[0]))["assignee_id"] is None
        events = (await client.get("/api/v1/events", params={"after": before})).json()["events"]
    updated = [e["data"]["conversation"]["id"] for e in events if e["type"] == "conversation.updated"]
    assert updated[:2] == ids[:2]  # one event each, from the one update path


async def test_an_id_of_another_workspace_changes_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    async with tenant.client() as client, other_tenant.client() as other:
        ours = await new_conversations(client, tenant, 2)
        theirs = await new_conversations(other, other_tenant, 1)
        response = await client.post(
            "/api/v1/conversations/bulk", json={"ids": [*ours, *theirs], "status": "resolved"}
        )
        assert response.status_code == 404
        assert [(await read(client, i))["status"] for i in ours] == ["open", "open"]
        assert (await read(other, theirs[0]))["status"] == "open"
        # An unknown agent is refused the same way, before or after some conversations were changed.
        response = await client.post(
            "/api/v1/conversations/bulk", json={"ids": ours, "assignee_id": 2**31 - 1}
        )
        assert response.status_code == 404
        assert [(await read(client, i))["assignee_id"] for i in ours] == [None, None]


async def test_malformed_requests_are_refused(tenant: Tenant) -> None:
    async with tenant.client() as client:
        ours = await new_conversations(client, tenant, 1)
        for body in (
            {"ids": list(range(1, 502)), "status": "resolved"},  # more than 500
            {"ids": [], "status": "resolved"},
            {"ids": ours},  # nothing to change
            {"ids": ours, "status": None},
            {"ids": ours, "status": "deleted"},
            {"ids": ours, "status": "snoozed"},  # snoozing needs a time
            {"ids": ours, "add_tags": ["x" * 65]},
            {"ids": [0], "status": "open"},
        ):
            response = await client.post("/api/v1/conversations/bulk", json=body)
            assert response.status_code == 422, (body, response.text)
        assert (await read(client, ours[0]))["status"] == "open"
    async with httpx.AsyncClient(base_url=tenant.server.url) as anonymous:
        response = await anonymous.post(
            "/api/v1/conversations/bulk", json={"ids": ours, "status": "resolved"}
        )
        assert response.status_code == 401
