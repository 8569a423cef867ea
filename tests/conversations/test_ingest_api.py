"""Inbound through the signed API channel: stored once, threaded, tied to one customer."""

from __future__ import annotations

import asyncio

from tests.support import inbound


async def test_post_is_stored_once_and_threaded(tenant) -> None:
    async with tenant.client() as client:
        body = inbound.message("Where is my order 536365?")
        first = await inbound.post(client, tenant, body)
        assert first.status_code == 201, first.text
        again = [await inbound.post(client, tenant, body) for _ in range(9)]
        assert {r.status_code for r in again} == {200}
        assert {r.json()["message_id"] for r in again} == {first.json()["message_id"]}
        follow_up = inbound.message("Any news?", sender=body["sender"])
        second = await inbound.post(client, tenant, follow_up)
        assert second.json()["conversation_id"] == first.json()["conversation_id"]
        detail = (await client.get(f"/api/v1/conversations/{first.json()['conversation_id']}")).json()
        assert [m["text"] for m in detail["messages"]] == ["Where is my order 536365?", "Any news?"]
        assert detail["customer"]["email"] == body["sender"]["email"]


async def test_concurrent_duplicates_store_one(tenant) -> None:
    async with tenant.client() as client:
        body = inbound.message("Same message, ten retries at once")
        responses = await asyncio.gather(*(inbound.post(client, tenant, body) for _ in range(10)))
        assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
        conversation_id = responses[0].json()["conversation_id"]
        detail = (await client.get(f"/api/v1/conversations/{conversation_id}")).json()
        assert len(detail["messages"]) == 1


async def test_same_email_on_two_channels_is_one_customer(tenant, db) -> None:
    from crossdesk.conversations.ingest import ingest
    from crossdesk.conversations.schemas import InboundMessage

    sender = {"name": "Yuki", "email": "Yuki.Tanaka@Example.JP", "country": "JP"}
    async with tenant.client() as client:
        api = (
            await inbound.post(client, tenant, inbound.message("配送状況を教えてください", sender=sender))
        ).json()
    shop = await ingest(
        db,
        tenant.workspace_id,
        InboundMessage(
            channel="shopify",
            platform_message_id="shop-1",
            text="Is it shipped?",
            sender={
                "email": "yuki.tanaka@example.jp",
                "identities": [{"kind": "shopify_customer", "value": "99"}],
            },
        ),
    )
    assert shop.customer_id == api["customer_id"]
    assert shop.conversation_id != api["conversation_id"]  # one conversation per channel
