"""Macros: rendering in the sandbox (escape attempts refused, missing values empty) and the API on both
backends, each workspace seeing its own macros only."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid

import pytest

from crossdesk.commerce import service as commerce
from crossdesk.commerce.schemas import OrderIn
from crossdesk.commerce.tracking import tracking_link
from crossdesk.conversations.macros import MacroError, render_text
from crossdesk.db import Database
from tests.conftest import Tenant
from tests.support import inbound

VARIABLES = {"customer": {"name": "Hans Müller", "first_name": "Hans"}, "order": {"number": ""}}


def test_variables_render_and_missing_values_are_empty() -> None:
    text = render_text(
        "Hi {{ customer.first_name }}, order {{ order.number }}{{ nope.deeper.still }}!", VARIABLES
    )
    assert text == "Hi Hans, order !"


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ customer.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ 9 ** 9 ** 9 }}",
        "{{ 'x' * 100000000 }}",
    ],
)
def test_sandbox_escapes_reach_nothing(body: str) -> None:
    """Each attempt is refused or renders as nothing: never Python's internals, never a command's output."""
    with contextlib.suppress(MacroError):
        assert render_text(body, VARIABLES) == ""


def test_calls_on_internals_and_huge_results_are_refused() -> None:
    with pytest.raises(MacroError):
        render_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", VARIABLES)
    with pytest.raises(MacroError):
        render_text("{{ 9 ** 9 ** 9 }}", VARIABLES)
    with pytest.raises(MacroError):
        render_text("{{ 'x' * 100000000 }}", VARIABLES)
    assert render_text("a{{ ''.__class__ }}b", VARIABLES) == "ab"


@pytest.mark.parametrize("body", ["{% for i in range(9) %}x{% endfor %}", "{% include 'x' %}", "{{ x"])
def test_loops_includes_and_broken_templates_are_refused(body: str) -> None:
    with pytest.raises(MacroError):
        render_text(body, VARIABLES)


def test_tracking_links() -> None:
    assert tracking_link("UPS", "1Z 99") == "https://www.ups.com/track?tracknum=1Z%2099"
    assert tracking_link("Some Post", "AB1").startswith("https://t.17track.net/")


async def _conversation(tenant: Tenant, email: str = "") -> int:
    async with tenant.client() as client:
        sender = {"name": "Hans Müller", "email": email or f"h-{uuid.uuid4().hex[:8]}@example.de"}
        response = await inbound.post(client, tenant, inbound.message("Where?", sender=sender))
    assert response.status_code == 201, response.text
    return int(response.json()["conversation_id"])


async def test_macros_api_renders_for_a_conversation(db: Database, tenant: Tenant) -> None:
    email = f"h-{uuid.uuid4().hex[:8]}@example.de"
    conversation_id = await _conversation(tenant, email)
    number = f"A-{uuid.uuid4().hex[:6]}"
    order = OrderIn.model_validate(
        {
            "external_id": number,
            "customer": {"email": email},
            "currency": "EUR",
            "items": [{"sku": "S1", "quantity": 1, "unit_price": "10.00"}],
            "placed_at": dt.datetime.now(dt.UTC).isoformat(),
            "shipments": [{"carrier": "DHL", "tracking_number": "JD0001"}],
        }
    )
    async with db.transaction(tenant.workspace_id) as session:
        await commerce.upsert_orders(session, [order])
    body = "Hallo {{ customer.first_name }}, {{ order.number }}: {{ order.tracking_url }} — {{ agent.name }}"
    async with tenant.client() as client:
        created = await client.post(
            "/api/v1/macros",
            json={"name": "Where", "body": body, "add_tags": ["wismo"], "set_status": "pending"},
        )
        assert created.status_code == 201, created.text
        macro_id = created.json()["id"]
        rendered = await client.post(
            f"/api/v1/macros/{macro_id}/render", json={"conversation_id": conversation_id}
        )
        assert rendered.status_code == 200, rendered.text
        assert rendered.json() == {
            "text": f"Hallo Hans, {number}: {tracking_link('DHL', 'JD0001')} — ",  # a token has no agent
            "add_tags": ["wismo"],
            "set_status": "pending",
        }
        duplicate = await client.post("/api/v1/macros", json={"name": "Where", "body": "x"})
        assert duplicate.status_code == 422 and duplicate.json()["detail"]["field"] == "name"
        bad = await client.post(
            "/api/v1/macros", json={"name": "Bad", "body": "{% for x in y %}{% endfor %}"}
        )
        assert bad.status_code == 422 and bad.json()["detail"]["field"] == "body"
        patched = await client.patch(f"/api/v1/macros/{macro_id}", json={"body": "Hi {{ customer.name }}"})
        assert patched.status_code == 200 and patched.json()["body"] == "Hi {{ customer.name }}"
        listed = await client.get("/api/v1/macros", params={"q": "where"})
        assert [m["id"] for m in listed.json()] == [macro_id]
        assert (await client.delete(f"/api/v1/macros/{macro_id}")).status_code == 204
        assert (await client.get("/api/v1/macros")).json() == []


async def test_another_workspaces_macro_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    conversation_id = await _conversation(tenant)
    async with other_tenant.client() as client:
        created = await client.post(
            "/api/v1/macros", json={"name": "Theirs", "body": "secret {{ customer.name }}"}
        )
        theirs = created.json()["id"]
    async with tenant.client() as client:
        assert (await client.get("/api/v1/macros")).json() == []
        render = await client.post(
            f"/api/v1/macros/{theirs}/render", json={"conversation_id": conversation_id}
        )
        assert render.status_code == 404
        assert (await client.patch(f"/api/v1/macros/{theirs}", json={"name": "Mine"})).status_code == 404
        assert (await client.delete(f"/api/v1/macros/{theirs}")).status_code == 404
    async with other_tenant.client() as client:
        # Their macro cannot read our conversation either.
        render = await client.post(
            f"/api/v1/macros/{theirs}/render", json={"conversation_id": conversation_id}
        )
        assert render.status_code == 404
