"""Customer tags and notes: normalized (trimmed, at most 64 characters, unique regardless of case), through
the API for integrations, and scoped to the workspace."""

from __future__ import annotations

import uuid

import pytest

from crossdesk.customers import tags
from tests.conftest import Tenant
from tests.support import inbound


def test_tags_are_trimmed_and_refused_when_empty_too_long_or_with_control_characters() -> None:
    assert tags.normalize("  Wholesale \t buyer ") == "Wholesale buyer"
    assert tags.normalize("x" * 64) == "x" * 64
    for bad, code in (
        ("   ", "empty"),
        ("x" * 65, "too_long"),
        ("a\x07b", "control"),
        ("a\u200eb", "control"),
    ):
        with pytest.raises(tags.TagError) as refused:
            tags.normalize(bad)
        assert refused.value.code == code
    assert tags.normalize_all(["VIP", "vip", " Vip ", "Über", "über"]) == ["VIP", "Über"]
    with pytest.raises(tags.TagError):
        tags.normalize_all([f"t{i}" for i in range(tags.MAX_TAGS + 1)])


async def customer_of(tenant: Tenant) -> int:
    async with tenant.client() as client:
        posted = await inbound.post(client, tenant, inbound.message("Hi"))
    assert posted.status_code == 201, posted.text
    return int(posted.json()["customer_id"])


async def test_tags_through_the_api(tenant: Tenant) -> None:
    customer = await customer_of(tenant)
    url = f"/api/v1/customers/{customer}/tags"
    async with tenant.client() as client:
        assert (await client.get(url)).json() == {"tags": []}
        put = await client.put(url, json={"tags": [" VIP ", "vip", "Über", "wholesale"]})
        assert put.status_code == 200 and put.json() == {"tags": ["VIP", "wholesale", "Über"]}
        kept = await client.put(url, json={"tags": ["über", "Fraud risk"]})
        assert kept.json() == {"tags": ["Fraud risk", "Über"]}, "a kept tag keeps its spelling"
        refused = await client.put(url, json={"tags": ["ok", "x" * 65]})
        assert refused.status_code == 422 and "64" in refused.json()["detail"]
        too_many = await client.put(url, json={"tags": [f"t{i}" for i in range(51)]})
        assert too_many.status_code == 422
        extra = await client.put(url, json={"tags": ["a"], "colour": "red"})
        assert extra.status_code == 422
        after = (await client.get(url)).json()
        profile = (await client.get(f"/api/v1/customers/{customer}")).json()["customer"]
    assert after == {"tags": ["Fraud risk", "Über"]}, "a refused change changes nothing"
    assert profile["tags"] == ["Fraud risk", "Über"]


async def test_notes_through_the_api(tenant: Tenant) -> None:
    customer = await customer_of(tenant)
    url = f"/api/v1/customers/{customer}"
    async with tenant.client() as client:
        written = await client.patch(url, json={"notes": "  Ships to a forwarder <b>x</b>  "})
        untouched = await client.patch(url, json={})
        too_long = await client.patch(url, json={"notes": "n" * 10_001})
        stored = (await client.get(url)).json()["customer"]["notes"]
        cleared = await client.patch(url, json={"notes": "   "})
    assert written.status_code == 200 and written.json()["notes"] == "Ships to a forwarder <b>x</b>"
    assert untouched.json()["notes"] == "Ships to a forwarder <b>x</b>", "notes not sent: left as they are"
    assert too_long.status_code == 422 and stored == "Ships to a forwarder <b>x</b>"
    assert cleared.json()["notes"] is None


async def test_another_workspaces_customer_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = await customer_of(other_tenant)
    marker = f"m-{uuid.uuid4().hex[:8]}"
    async with tenant.client() as client:
        answers = [
            await client.get(f"/api/v1/customers/{theirs}/tags"),
            await client.put(f"/api/v1/customers/{theirs}/tags", json={"tags": [marker]}),
            await client.patch(f"/api/v1/customers/{theirs}", json={"notes": marker}),
        ]
    assert [a.status_code for a in answers] == [404, 404, 404]
    async with other_tenant.client() as client:
        profile = (await client.get(f"/api/v1/customers/{theirs}")).json()["customer"]
    assert profile["tags"] == [] and profile["notes"] is None
