"""WhatsApp Cloud API against the real app server and a fake Graph API on loopback: the handshake and
signature it shares with Messenger, messages of every kind, statuses (delivered, read, failed with
Meta's reason), free-text replies inside the 24-hour window and approved templates outside it, one
customer across channels by phone number, and hostile payloads."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossdesk.db import Database
from tests.channels.test_api_channel_input import JSON_VALUES, stored
from tests.channels.test_meta import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY_TOKEN,
    VERSION,
    FakeGraph,
    age_inbound,
    assert_4xx_at_worst,
    connect,
    conversation_of,
    fake_graph,  # noqa: F401 - the "graph" fixture
    fixture,
    parse_only_rejects,
    post_hook,
    reply,
    settled,
    sign,
)
from tests.conftest import Tenant
from tests.support import inbound

WA_ID = "16505551234"


async def connect_whatsapp(tenant: Tenant, graph: FakeGraph | None = None) -> str:
    return await connect(tenant, "whatsapp", graph, phone_number_id=PHONE_NUMBER_ID)


def with_status(status: str, message_id: str, name: str = "whatsapp/status.json") -> dict[str, Any]:
    body = fixture(name)
    found = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    found.update(id=message_id, status=status)
    return body


async def test_handshake_and_signature_are_meta_s(tenant: Tenant) -> None:
    public_id = await connect_whatsapp(tenant)
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "987654321"}
    async with httpx.AsyncClient(base_url=tenant.server.url) as client:
        ok = await client.get(f"/hooks/whatsapp/{public_id}", params=query)
        wrong = await client.get(f"/hooks/whatsapp/{public_id}", params={**query, "hub.verify_token": "x"})
    assert (ok.status_code, ok.text) == (200, "987654321")
    assert wrong.status_code == 403
    raw = json.dumps(fixture("whatsapp/text.json")).encode()
    forged = {"content-type": "application/json", "x-hub-signature-256": sign(raw, "other")}
    assert (await post_hook(tenant, "whatsapp", public_id, raw, forged)).status_code == 401
    assert (await post_hook(tenant, "whatsapp", public_id, raw, {})).status_code == 401
    assert await stored(tenant) == (0, 0)


async def test_text_with_contact_is_stored_once_with_name_and_phone(tenant: Tenant) -> None:
    public_id = await connect_whatsapp(tenant)
    body = fixture("whatsapp/text.json")
    first = await post_hook(tenant, "whatsapp", public_id, body)
    again = await post_hook(tenant, "whatsapp", public_id, body)
    assert (first.json(), again.json()) == ({"received": 1, "stored": 1}, {"received": 1, "stored": 0})
    detail = await conversation_of(tenant)
    (message,) = detail["messages"]
    assert message["text"] == "Does it come in another color?"
    assert message["sent_at"].startswith("2025-06-08T20:59:43")
    assert detail["customer"]["name"] == "Sheena Nelson"
    identities = {(i["kind"], i["value"]) for i in detail["customer"]["identities"]}
    assert identities == {("whatsapp_id", WA_ID), ("phone", "+16505551234")}


async def test_media_buttons_and_locations_reactions_skipped(tenant: Tenant) -> None:
    public_id = await connect_whatsapp(tenant)
    response = await post_hook(tenant, "whatsapp", public_id, fixture("whatsapp/media_and_replies.json"))
    assert response.json() == {"received": 4, "stored": 4}
    messages = (await conversation_of(tenant))["messages"]
    assert [m["text"] for m in messages] == [
        "The zipper is broken",
        "Invoice",
        "Exchange it",
        "Location: Packstation 112, Friedrichstraße 68, 10117 Berlin (52.5106, 13.3889)",
    ]
    image, document = messages[0]["attachments"][0], messages[1]["attachments"][0]
    assert (image["name"], image["content_type"]) == ("image", "image/jpeg")
    assert (document["name"], document["content_type"]) == ("invoice-A-1042.pdf", "application/pdf")
    assert messages[0]["meta"] == {"whatsapp_media": [{"type": "image", "id": "1003383421387256"}]}
    assert messages[2]["attachments"] == messages[3]["attachments"] == []


async def test_other_numbers_and_other_fields_are_acknowledged_and_ignored(tenant: Tenant) -> None:
    public_id = await connect_whatsapp(tenant)
    other_number = fixture("whatsapp/text.json")
    other_number["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999999999999999"
    for body in (other_number, fixture("whatsapp/template_status_update.json")):
        response = await post_hook(tenant, "whatsapp", public_id, body)
        assert (response.status_code, response.json()) == (200, {"received": 0, "stored": 0})
    assert await stored(tenant) == (0, 0)


async def test_reply_is_sent_as_text_and_statuses_move_it(tenant: Tenant, graph: FakeGraph) -> None:
    public_id = await connect_whatsapp(tenant, graph)
    await post_hook(tenant, "whatsapp", public_id, fixture("whatsapp/text.json"))
    conversation_id = (await conversation_of(tenant))["conversation"]["id"]
    created = (await reply(tenant, conversation_id, "Yes: navy and olive.")).json()
    sent = await settled(tenant, conversation_id, created["id"], "sent")
    ((path, headers, body),) = graph.sent()
    assert path == f"/{VERSION}/{PHONE_NUMBER_ID}/messages"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "text",
        "text": {"preview_url": False, "body": "Yes: navy and olive."},
    }
    assert sent["platform_message_id"].startswith("wamid.")
    for state in ("delivered", "read"):
        response = await post_hook(
            tenant, "whatsapp", public_id, with_status(state, sent["platform_message_id"])
        )
        assert response.json() == {"received": 0, "stored": 0}
        assert (await settled(tenant, conversation_id, sent["id"], state))["delivery_state"] == state


async def test_failed_status_marks_the_reply_failed_with_metas_reason(
    tenant: Tenant, graph: FakeGraph
) -> None:
    public_id = await connect_whatsapp(tenant, graph)
    await post_hook(tenant, "whatsapp", public_id, fixture("whatsapp/text.json"))
    conversation_id = (await conversation_of(tenant))["conversation"]["id"]
    created = (await reply(tenant, conversation_id, "Here is your tracking link")).json()
    sent = await settled(tenant, conversation_id, created["id"], "sent")
    failed = with_status("failed", sent["platform_message_id"], "whatsapp/status_failed.json")
    assert (await post_hook(tenant, "whatsapp", public_id, failed)).status_code == 200
    message = await settled(tenant, conversation_id, sent["id"], "failed")
    assert message["delivery_state"] == "failed"
    assert message["meta"]["delivery_error"] == (
        "131047 Re-engagement message: Message failed to send because more than 24 hours have passed "
        "since the customer last replied to this number."
    )


async def test_outside_the_window_only_a_template_goes_out(
    tenant: Tenant, graph: FakeGraph, db: Database
) -> None:
    public_id = await connect_whatsapp(tenant, graph)
    await post_hook(tenant, "whatsapp", public_id, fixture("whatsapp/text.json"))
    conversation_id = (await conversation_of(tenant))["conversation"]["id"]
    await age_inbound(db, tenant, conversation_id, hours=25)
    free_text = await reply(tenant, conversation_id, "Your order A-1 has shipped")
    assert free_text.status_code == 422
    assert "outside the 24-hour reply window" in free_text.json()["detail"]
    assert "approved templates" in free_text.json()["detail"]
    template = {"name": "order_update", "language": "en_US", "parameters": ["A-1"]}
    created = await reply(tenant, conversation_id, "Your order A-1 has shipped", template=template)
    assert created.status_code == 201, created.text
    sent = await settled(tenant, conversation_id, created.json()["id"], "sent")
    assert sent["delivery_state"] == "sent"
    ((_, _, body),) = graph.sent()
    assert body["type"] == "template" and "text" not in body
    assert body["template"] == {
        "name": "order_update",
        "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "A-1"}]}],
    }


async def test_graph_refusal_is_final_with_its_message(tenant: Tenant, graph: FakeGraph) -> None:
    public_id = await connect_whatsapp(tenant, graph)
    await post_hook(tenant, "whatsapp", public_id, fixture("whatsapp/text.json"))
    conversation_id = (await conversation_of(tenant))["conversation"]["id"]
    graph.refusals[WA_ID] = (400, fixture("whatsapp/error_not_allowed.json"))
    created = (await reply(tenant, conversation_id, "Hello?")).json()
    dead = await settled(tenant, conversation_id, created["id"], "dead")
    assert dead["delivery_state"] == "dead"
    assert "(#131030) Recipient phone number not in allowed list" in dead["meta"]["delivery_error"]
    assert TOKEN not in json.dumps(dead) and APP_SECRET not in json.dumps(dead)


async def test_the_same_phone_on_whatsapp_and_the_api_channel_is_one_customer(tenant: Tenant) -> None:
    public_id = await connect_whatsapp(tenant)
    body = fixture("whatsapp/text.json")
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = "4915123456789"
    await post_hook(tenant, "whatsapp", public_id, body)
    whatsapp_customer = (await conversation_of(tenant))["customer"]["id"]
    sender = {"name": "Jonas Weber", "phone": "+49 151 23456789"}
    async with tenant.client() as client:
        posted = await inbound.post(client, tenant, inbound.message("Same person, other door", sender=sender))
    assert posted.status_code == 201, posted.text
    assert posted.json()["customer_id"] == whatsapp_customer


# ---- hostile payloads ----

WA_IDS = st.sampled_from([WA_ID, "", "123", "+16505551234", "1" * 21, "00000"]) | JSON_VALUES
MESSAGE_TYPES = ["text", "image", "document", "interactive", "button", "location", "reaction", "unsupported"]
WA_MESSAGES = st.fixed_dictionaries(
    {
        "from": WA_IDS,
        "id": st.text(max_size=30) | JSON_VALUES,
        "type": st.sampled_from(MESSAGE_TYPES) | JSON_VALUES,
    },
    optional={
        "timestamp": st.sampled_from(["1749416383", "-1", "x", "99999999999999"])
        | st.integers()
        | JSON_VALUES,
        "text": st.fixed_dictionaries({"body": st.text(max_size=40) | JSON_VALUES}) | JSON_VALUES,
        "image": st.fixed_dictionaries({}, optional={"id": WA_IDS, "mime_type": JSON_VALUES}) | JSON_VALUES,
        "interactive": st.fixed_dictionaries({"button_reply": JSON_VALUES}) | JSON_VALUES,
        "location": st.fixed_dictionaries({"latitude": JSON_VALUES, "name": JSON_VALUES}) | JSON_VALUES,
        "context": st.fixed_dictionaries({"id": JSON_VALUES}) | JSON_VALUES,
    },
)
STATUSES = st.fixed_dictionaries(
    {
        "id": st.text(max_size=30) | JSON_VALUES,
        "status": st.sampled_from(["sent", "delivered", "read", "failed"]),
    },
    optional={
        "errors": st.lists(st.fixed_dictionaries({"code": JSON_VALUES, "title": JSON_VALUES}), max_size=2)
    },
)
VALUES = st.fixed_dictionaries(
    {"metadata": st.fixed_dictionaries({"phone_number_id": st.just(PHONE_NUMBER_ID) | JSON_VALUES})},
    optional={
        "contacts": st.lists(st.fixed_dictionaries({"wa_id": WA_IDS, "profile": JSON_VALUES}), max_size=2),
        "messages": st.lists(WA_MESSAGES, max_size=3) | JSON_VALUES,
        "statuses": st.lists(STATUSES, max_size=2) | JSON_VALUES,
    },
)
NEAR_DELIVERIES = st.fixed_dictionaries(
    {
        "object": st.just("whatsapp_business_account") | JSON_VALUES,
        "entry": st.lists(
            st.fixed_dictionaries(
                {
                    "changes": st.lists(
                        st.fixed_dictionaries({"field": st.just("messages"), "value": VALUES | JSON_VALUES})
                    )
                }
            ),
            max_size=2,
        )
        | JSON_VALUES,
    }
)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=200) | NEAR_DELIVERIES.map(lambda p: json.dumps(p).encode()))
def test_parse_only_ever_refuses(payload: bytes) -> None:
    parse_only_rejects("whatsapp", payload, {"phone_number_id": PHONE_NUMBER_ID})


@pytest.fixture
async def whatsapp_hook(tenant: Tenant) -> str:
    return f"/hooks/whatsapp/{await connect_whatsapp(tenant)}"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=JSON_VALUES | NEAR_DELIVERIES)
def test_random_signed_payloads_get_2xx_or_4xx(tenant: Tenant, whatsapp_hook: str, payload: Any) -> None:
    assert_4xx_at_worst(tenant, whatsapp_hook, json.dumps(payload).encode())
