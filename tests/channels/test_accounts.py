"""Channel accounts through the API: any registered kind, settings validated by its adapter, platform
secrets write-only (never in any answer), and unknown kinds, secrets and settings refused."""

from __future__ import annotations

import json
import uuid

import httpx

from crossdesk.channels.registry import ADAPTERS
from tests.conftest import Tenant

SECRET = "s3cr3t-value-never-shown"


async def test_every_registered_kind_lists_its_settings() -> None:
    assert "api" in ADAPTERS
    for kind, adapter in ADAPTERS.items():
        assert adapter.kind == kind
        assert adapter.limits.max_text > 0
        assert adapter.Config.model_json_schema()["type"] == "object"


async def test_create_validates_settings_and_keeps_secrets_write_only(tenant: Tenant) -> None:
    async with tenant.client() as client:
        created = await client.post(
            "/api/v1/channels/api",
            json={"name": "ERP", "config": {"webhook_url": "https://erp.example.com/hook"}},
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["secret"] and body["ready"] is True
        assert body["inbound_url"].endswith(f"/hooks/api/{body['public_id']}")
        assert body["config"] == {"webhook_url": "https://erp.example.com/hook"}
        listed = (await client.get("/api/v1/channels")).json()
    mine = next(a for a in listed if a["id"] == body["id"])
    assert "secret" not in mine and mine["credentials_set"] == []


async def test_refuses_unknown_kinds_settings_and_secrets(tenant: Tenant) -> None:
    async with tenant.client() as client:
        unknown_kind = await client.post("/api/v1/channels/carrier-pigeon", json={"name": "x"})
        bad_url = await client.post(
            "/api/v1/channels/api", json={"name": "x", "config": {"webhook_url": "not a url"}}
        )
        extra_setting = await client.post("/api/v1/channels/api", json={"name": "x", "config": {"colour": 1}})
        extra_secret = await client.post(
            "/api/v1/channels/api", json={"name": "x", "credentials": {"password": SECRET}}
        )
    assert unknown_kind.status_code == 404
    for response in (bad_url, extra_setting, extra_secret):
        assert response.status_code == 422, response.text
        assert SECRET not in response.text


async def test_patch_merges_settings_and_secrets_never_echoed(tenant: Tenant) -> None:
    async with tenant.client() as client:
        listed = (await client.get("/api/v1/channels")).json()
        account_id = next(a["id"] for a in listed if a["public_id"] == tenant.channel_public_id)
        url = "https://erp.example.com/replies"
        patched = await client.patch(f"/api/v1/channels/{account_id}", json={"config": {"webhook_url": url}})
        assert patched.status_code == 200, patched.text
        assert patched.json()["config"]["webhook_url"] == url and patched.json()["ready"] is True
        invalid = await client.patch(
            f"/api/v1/channels/{account_id}", json={"config": {"webhook_url": "ftp://nope"}}
        )
        assert invalid.status_code == 422
        after = next(a for a in (await client.get("/api/v1/channels")).json() if a["id"] == account_id)
    assert after["config"]["webhook_url"] == url, "a refused change leaves the account as it was"


async def test_agents_cannot_manage_channels(tenant: Tenant) -> None:
    person = {"email": f"agent-{uuid.uuid4().hex[:8]}@example.com", "password": "long enough pass"}
    async with tenant.client() as client:
        agent = await client.post("/api/v1/agents", json={**person, "name": "Agent", "role": "agent"})
        assert agent.status_code == 201, agent.text
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as fresh:
        login = await fresh.post("/api/v1/auth/login", json=person)
        assert login.status_code == 200, login.text
        headers = {"x-csrf-token": login.json()["csrf_token"]}
        listed = await fresh.get("/api/v1/channels")
        created = await fresh.post("/api/v1/channels/api", json={"name": "mine"}, headers=headers)
    assert listed.status_code == 403 and created.status_code == 403


async def test_webhook_refusals_are_json_and_name_no_secret(tenant: Tenant) -> None:
    raw = json.dumps({"platform_message_id": "1", "text": "hi", "sender": {"email": "a@b.example"}}).encode()
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as client:
        unknown_kind = await client.post(f"/hooks/pigeon/{tenant.channel_public_id}", content=raw)
        unknown_account = await client.post("/hooks/api/not-an-account", content=raw)
        unsigned = await client.post(f"/hooks/api/{tenant.channel_public_id}", content=raw)
        no_handshake = await client.get(f"/hooks/api/{tenant.channel_public_id}")
    assert (unknown_kind.status_code, unknown_account.status_code) == (404, 404)
    assert unsigned.status_code == 401 and no_handshake.status_code == 405
    for response in (unknown_kind, unknown_account, unsigned, no_handshake):
        assert response.json()["detail"]
        assert tenant.channel_secret not in response.text
