"""The campaigns API: checked input, admins write, any agent reads, nothing crosses workspaces."""

from __future__ import annotations

from typing import Any

import httpx

from crossdesk.db import Database
from crossdesk.workspaces import service as workspaces
from tests.campaigns.conftest import add_account, add_customer
from tests.conftest import Tenant


def _body(account_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Win back",
        "kind": "win_back",
        "channel_account_id": account_id,
        "templates": {"en": {"subject": "We miss you", "body": "Hi {{ customer.first_name }}"}},
        "send_from_hour": 0,
        "send_until_hour": 24,
        **fields,
    }


async def _agent_client(db: Database, tenant: Tenant) -> httpx.AsyncClient:
    async with db.transaction(system=True) as session:
        _, token = await workspaces.create_api_token(session, tenant.workspace_id, "agent", "agent", None)
    return httpx.AsyncClient(base_url=tenant.server.url, headers={"authorization": f"Bearer {token}"})


async def test_input_is_checked(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    account = await add_account(db, tenant)
    foreign = await add_account(db, other_tenant)
    whatsapp = await add_account(db, tenant, "whatsapp")
    bad: list[tuple[dict[str, Any], str]] = [
        (_body(account, segments=["Champions", "Nope"]), "segments"),
        (_body(foreign), "channel_account_id"),
        (_body(999_999), "channel_account_id"),
        (_body(whatsapp), "templates.en.whatsapp"),
        (
            _body(account, templates={"en": {"body": "{{ customer.password }} {{ secret }}"}}),
            "templates.en.body",
        ),
        (
            _body(account, templates={"en": {"body": "{% for p in recommendations %}{{ p }}{% endfor %}"}}),
            "templates.en.body",
        ),
        (_body(account, templates={"en": {"body": "ok", "subject": "{{ unclosed"}}), "templates.en.subject"),
    ]
    async with tenant.client() as client:
        for body, field in bad:
            response = await client.post("/api/v1/campaigns", json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["detail"]["field"] == field, response.text
        for body in (
            _body(account, send_from_hour=19, send_until_hour=10),
            _body(account, default_language="de"),
            _body(account, control_share="0.6"),
            _body(account, attribution_days=0),
            _body(account, kind="blast"),
            _body(account, starts_at="2030-01-01T10:00:00"),  # no zone
        ):
            response = await client.post("/api/v1/campaigns", json=body)
            assert response.status_code == 422, (body, response.text)
        response = await client.post("/api/v1/campaigns", json=_body(account, segments=["Champions"]))
        assert response.status_code == 201, response.text
        created = response.json()
    assert created["state"] == "draft" and created["segments"] == ["Champions"]
    assert created["templates"]["en"] == {
        "subject": "We miss you",
        "body": "Hi {{ customer.first_name }}",
        "whatsapp": None,
    }
    assert created["created_by_id"] is None  # an API token is no agent


async def test_admins_write_agents_read_and_drafts_only_change(db: Database, tenant: Tenant) -> None:
    account = await add_account(db, tenant)
    customer = await add_customer(db, tenant)
    agent = await _agent_client(db, tenant)
    async with tenant.client() as admin, agent:
        assert (await agent.post("/api/v1/campaigns", json=_body(account))).status_code == 403
        response = await admin.post("/api/v1/campaigns", json=_body(account))
        campaign_id = response.json()["id"]
        url = f"/api/v1/campaigns/{campaign_id}"
        for method, path in (("PATCH", url), ("POST", f"{url}/launch"), ("POST", f"{url}/cancel")):
            assert (await agent.request(method, path, json={})).status_code == 403
        assert (await agent.get("/api/v1/campaigns")).json()[0]["id"] == campaign_id
        assert (await agent.get(url)).status_code == 200

        response = await admin.patch(url, json={"discount_code": "HELLO5", "control_share": "0"})
        assert response.status_code == 200 and response.json()["discount_code"] == "HELLO5", response.text
        response = await admin.patch(url, json={"send_from_hour": 23, "send_until_hour": 5})
        assert response.status_code == 422, response.text
        response = await admin.patch(url, json={"segments": ["Nope"]})
        assert response.status_code == 422 and response.json()["detail"]["field"] == "segments"

        response = await admin.post(f"{url}/launch")
        assert response.status_code == 200, response.text
        launched = response.json()
        assert launched["recipients"] == 1 and launched["campaign"]["state"] == "sending"
        assert (await admin.post(f"{url}/launch")).status_code == 409
        assert (await admin.patch(url, json={"name": "Changed"})).status_code == 409

        response = await admin.post(f"{url}/cancel")
        assert response.status_code == 200 and response.json()["state"] == "cancelled"
        assert (await admin.post(f"{url}/cancel")).status_code == 409
        results = (await agent.get(f"{url}/results")).json()
        assert results["skipped"] == {"cancelled": 1} and results["pending"] == 0
    assert customer


async def test_launch_needs_an_account_that_can_send(db: Database, tenant: Tenant) -> None:
    account = await add_account(db, tenant, smtp_host=None)
    async with tenant.client() as client:
        campaign_id = (await client.post("/api/v1/campaigns", json=_body(account))).json()["id"]
        response = await client.post(f"/api/v1/campaigns/{campaign_id}/launch")
    assert response.status_code == 422 and response.json()["detail"]["field"] == "channel_account_id"


async def test_another_workspaces_campaign_is_not_found(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    account = await add_account(db, other_tenant)
    async with other_tenant.client() as other:
        campaign_id = (await other.post("/api/v1/campaigns", json=_body(account))).json()["id"]
    url = f"/api/v1/campaigns/{campaign_id}"
    async with tenant.client() as client:
        assert (await client.get(url)).status_code == 404
        assert (await client.get(f"{url}/results")).status_code == 404
        assert (await client.patch(url, json={"name": "Mine"})).status_code == 404
        assert (await client.post(f"{url}/launch")).status_code == 404
        assert (await client.post(f"{url}/cancel")).status_code == 404
        assert (await client.get("/api/v1/campaigns")).json() == []
    async with other_tenant.client() as other:
        unchanged = (await other.get(url)).json()
    assert unchanged["name"] == "Win back" and unchanged["state"] == "draft"
