"""Workspace settings: business hours and SLA targets drive the due times of new conversations."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from crossdesk.conversations.sla import add_business_minutes
from tests.support import inbound


async def test_admin_sets_hours_and_sla_and_new_conversations_follow(tenant) -> None:
    hours = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    async with tenant.client() as client:
        patched = await client.patch(
            "/api/v1/workspace",
            json={"business_hours": hours, "timezone": "Europe/Berlin", "sla_first_response_minutes": 30},
        )
        assert patched.status_code == 200, patched.text
        assert (await client.get("/api/v1/workspace")).json()["business_hours"] == hours
        posted = await inbound.post(client, tenant, inbound.message("Hallo?"))
        detail = (await client.get(f"/api/v1/conversations/{posted.json()['conversation_id']}")).json()
    created = dt.datetime.fromisoformat(detail["conversation"]["created_at"])
    due = dt.datetime.fromisoformat(detail["conversation"]["first_response_due_at"])
    assert due == add_business_minutes(created, 30, hours, "Europe/Berlin")
    local_due = due.astimezone(ZoneInfo("Europe/Berlin"))
    assert local_due.weekday() < 5
    assert dt.time(9, 0) < local_due.time() <= dt.time(17, 0)  # inside opening hours


async def test_bad_settings_are_refused(tenant) -> None:
    async with tenant.client() as client:
        for body in (
            {"business_hours": {"mon": [["18:00", "09:00"]]}},
            {"business_hours": {"someday": [["09:00", "17:00"]]}},
            {"business_hours": {"mon": [["09:00"]]}},
            {"timezone": "Mars/Olympus"},
            {"sla_first_response_minutes": 0},
            {"name": None},
            {"unknown": 1},
        ):
            response = await client.patch("/api/v1/workspace", json=body)
            assert response.status_code == 422, (body, response.text)
        assert (await client.get("/api/v1/workspace")).json()["business_hours"] == {}


async def test_agents_cannot_change_settings(tenant, db) -> None:
    from crossdesk.workspaces import service

    async with db.transaction(tenant.workspace_id) as session:
        _, token = await service.create_api_token(session, tenant.workspace_id, "agent", "agent", None)
    async with tenant.client() as client:
        refused = await client.patch(
            "/api/v1/workspace", json={"name": "x"}, headers={"authorization": f"Bearer {token}"}
        )
    assert refused.status_code == 403
