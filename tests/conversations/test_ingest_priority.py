"""Routed first: a new conversation of a high-value or at-risk customer is opened with priority high, by
the scores the app already holds (ingest never computes them); with none yet, it opens as normal."""

from __future__ import annotations

import uuid

from crossdesk.conversations import service
from crossdesk.conversations.ingest import Inbound, ingest_many
from crossdesk.conversations.schemas import InboundMessage
from crossdesk.db import Database
from crossdesk.retention.segments import SegmentCache
from tests.conftest import Tenant
from tests.retention.test_standing import build_shop, scored_of
from tests.support import inbound
from tests.test_tenant_isolation import logged_in


def message(address: str, channel: str = "api") -> Inbound:
    return Inbound.prepare(
        InboundMessage(
            channel=channel,
            platform_message_id=uuid.uuid4().hex,
            text="Where is my parcel?",
            sender={"name": "Buyer", "email": address},
        )
    )


async def priority_of(db: Database, tenant: Tenant, conversation_id: int) -> str:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        return (await service.get_conversation(session, conversation_id)).priority


async def open_conversation(db: Database, tenant: Tenant, cache: SegmentCache | None, address: str) -> int:
    (result,) = await ingest_many(db, tenant.workspace_id, [message(address, "email")], cache)
    assert not result.duplicate
    return result.conversation_id


async def resolve(db: Database, tenant: Tenant, conversation_id: int) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        (await service.get_conversation(session, conversation_id)).status = "resolved"


async def test_new_conversations_of_marked_customers_are_high_once_the_scores_are_known(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    shop = await build_shop(tenant)
    cache = SegmentCache()
    cold = await open_conversation(db, tenant, cache, shop.lapsed)
    assert await priority_of(db, tenant, cold) == "normal", "no scores yet: none are computed on ingest"
    assert cache.peek(tenant.workspace_id) is None
    await resolve(db, tenant, cold)

    await scored_of(db, tenant, cache)  # an agent opened the inbox: the scores are now known
    at_risk = await open_conversation(db, tenant, cache, shop.lapsed)
    high_value = await open_conversation(db, tenant, cache, shop.star)
    plain = await open_conversation(db, tenant, cache, shop.plain[0])
    assert at_risk != cold
    assert [await priority_of(db, tenant, c) for c in (at_risk, high_value, plain)] == [
        "high",
        "high",
        "normal",
    ]
    # Only a new conversation is raised: a later message, or a priority an agent set, stays as it is.
    async with db.transaction(tenant.workspace_id) as session:
        (await service.get_conversation(session, plain)).priority = "low"
    (again,) = await ingest_many(db, tenant.workspace_id, [message(shop.plain[0], "email")], cache)
    assert again.conversation_id == plain and await priority_of(db, tenant, plain) == "low"
    # Without the app's cache (imports, the demo), ingest works as before.
    await resolve(db, tenant, at_risk)
    assert await priority_of(db, tenant, await open_conversation(db, tenant, None, shop.lapsed)) == "normal"
    # Another workspace's buyer with the same e-mail is another customer, not scored here.
    (theirs,) = await ingest_many(db, other_tenant.workspace_id, [message(shop.star)], cache)
    assert await priority_of(db, other_tenant, theirs.conversation_id) == "normal"


async def test_the_server_routes_first_after_the_inbox_warmed_the_scores(tenant: Tenant) -> None:
    shop = await build_shop(tenant)

    async def post(address: str) -> str:
        """A buyer's message through the API channel (the app's Ingestor); the new conversation's priority."""
        sender = {"name": "Buyer", "email": address}
        async with tenant.client() as client:
            posted = await inbound.post(client, tenant, inbound.message("Hello?", sender=sender))
            assert posted.status_code == 201, posted.text
            conversation = f"/api/v1/conversations/{posted.json()['conversation_id']}"
            found = (await client.get(conversation)).json()["conversation"]
            await client.patch(conversation, json={"status": "resolved"})
        return str(found["priority"])

    assert await post(shop.lapsed) == "normal", "nobody has looked at the scores yet"
    async with logged_in(tenant) as (agent, _):
        assert (await agent.get("/inbox")).status_code == 200
    assert await post(shop.lapsed) == "high"
    assert await post(shop.plain[0]) == "normal"
