"""The seller's assistant policy: defaults, validation, admin-only changes, per-workspace, and a broken stored
policy that falls back to the defaults instead of breaking the assistant."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import pytest

from crossdesk.assistant.policy import DEFAULT_POLICY, Policy, policy_of
from crossdesk.db import Database
from crossdesk.workspaces import service as workspaces
from tests.conftest import Tenant

URL = "/api/v1/assistant/policy"


def changed_policy() -> dict[str, Any]:
    policy = DEFAULT_POLICY.model_dump(mode="json")
    policy["returns"].update(window_days=14, return_shipping_paid_by="seller", non_returnable_skus=["GIFT-1"])
    policy["shipping_times"] = [
        {"countries": ["de", "AT"], "method": "express", "min_days": 3, "max_days": 5}
    ]
    policy["payment_methods"] = ["PayPal", "Visa"]
    policy["actions"]["cancel_unfulfilled"] = True
    policy["offers"] = {"recommend_products": True, "win_back_code": " COME-BACK_10 "}
    policy["modes"] = {"email": "confident", "webchat": "after_hours"}
    return policy


async def test_defaults_until_changed_then_the_change_only_in_its_workspace(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    async with tenant.client() as client:
        before = await client.get(URL)
        put = await client.put(URL, json=changed_policy())
        after = await client.get(URL)
    async with other_tenant.client() as other:
        theirs = await other.get(URL)
    assert before.status_code == 200 and before.json() == DEFAULT_POLICY.model_dump(mode="json")
    assert before.json()["default_mode"] == "off" and before.json()["confidence_threshold"] == 0.8
    assert not any(before.json()["actions"].values()), "the assistant may do nothing until the seller says so"
    assert before.json()["offers"] == {"recommend_products": False, "win_back_code": None}, "nor offer"
    assert put.status_code == 200, put.text
    assert after.json()["shipping_times"][0]["countries"] == ["DE", "AT"], "country codes are normalised"
    assert after.json()["returns"]["window_days"] == 14 and after.json()["modes"]["email"] == "confident"
    assert after.json()["offers"] == {"recommend_products": True, "win_back_code": "COME-BACK_10"}
    assert theirs.json() == DEFAULT_POLICY.model_dump(mode="json"), "another workspace never sees the change"


@pytest.mark.parametrize(
    "change",
    [
        {"returns": {"window_days": -1}},
        {"returns": {"return_shipping_paid_by": "nobody"}},
        {"shipping_times": [{"countries": ["USA"], "min_days": 1, "max_days": 2}]},
        {"shipping_times": [{"countries": ["US"], "min_days": 9, "max_days": 2}]},
        {"shipping_times": [{"countries": [], "min_days": 1, "max_days": 2}]},
        {"modes": {"email": "always"}},
        {"modes": {"Not A Kind": "off"}},
        {"confidence_threshold": 1.5},
        {"actions": {"refund_everything": True}},
        {"payment_methods": [""]},
        {"offers": {"win_back_code": "TEN OFF"}},
        {"offers": {"win_back_code": "<b>10</b>"}},
        {"offers": {"win_back_code": "X" * 65}},
        {"offers": {"win_back_code": ""}},
        {"offers": {"free_gift": True}},
    ],
)
async def test_bad_values_are_refused_and_change_nothing(tenant: Tenant, change: dict[str, Any]) -> None:
    async with tenant.client() as client:
        refused = await client.put(URL, json={**DEFAULT_POLICY.model_dump(mode="json"), **change})
        after = await client.get(URL)
    assert refused.status_code == 422, refused.text
    assert after.json() == DEFAULT_POLICY.model_dump(mode="json")


async def test_agents_read_the_policy_and_only_admins_change_it(tenant: Tenant) -> None:
    person = {"email": f"agent-{uuid.uuid4().hex[:8]}@example.com", "password": "long enough pass"}
    async with tenant.client() as client:
        assert (await client.post("/api/v1/agents", json={**person, "name": "A", "role": "agent"})).is_success
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as agent:
        login = (await agent.post("/api/v1/auth/login", json=person)).json()
        headers = {"x-csrf-token": login["csrf_token"]}
        forbidden = await agent.put(URL, json=changed_policy(), headers=headers)
        readable = await agent.get(URL)
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as anonymous:
        unknown = await anonymous.get(URL)
    assert forbidden.status_code == 403 and readable.status_code == 200
    assert readable.json() == DEFAULT_POLICY.model_dump(mode="json")
    assert unknown.status_code == 401


async def test_a_broken_stored_policy_falls_back_to_the_defaults(
    db: Database, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        workspace = await workspaces.get_workspace(session, tenant.workspace_id)
        workspace.assistant_policy = {"returns": {"window_days": "a month"}, "retired_field": 1}
    with caplog.at_level(logging.WARNING, logger="crossdesk.assistant.policy"):
        async with db.transaction(tenant.workspace_id, readonly=True) as session:
            policy = policy_of(await workspaces.get_workspace(session, tenant.workspace_id))
    assert policy == DEFAULT_POLICY
    assert "invalid" in caplog.text and str(tenant.workspace_id) in caplog.text
    async with tenant.client() as client:
        shown = await client.get(URL)
    assert shown.status_code == 200 and shown.json() == DEFAULT_POLICY.model_dump(mode="json")


def test_modes_per_channel_kind_with_a_default() -> None:
    policy = Policy.model_validate({"default_mode": "off", "modes": {"webchat": "confident"}})
    assert policy.mode_for("webchat") == "confident"
    assert policy.mode_for("email") == "off"
    assert DEFAULT_POLICY.mode_for("whatsapp") == "off"
