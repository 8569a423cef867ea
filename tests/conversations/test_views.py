"""The inbox's views, counters and search: each view holds what it says, counters agree with the views,
search matches literally, and another workspace's conversations are never shown or counted."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from crossdesk.conversations import service, views
from crossdesk.conversations.ingest import ingest
from crossdesk.conversations.schemas import ConversationPatch, InboundMessage
from crossdesk.customers.models import CustomerTag
from crossdesk.db import Database, utcnow
from tests.conftest import Tenant


def inbound(
    text: str = "Hello", name: str = "Buyer", email: str | None = None, **fields: Any
) -> InboundMessage:
    return InboundMessage(
        channel=fields.pop("channel", "api"),
        platform_message_id=uuid.uuid4().hex,
        text=text,
        sender={"name": name, "email": email or f"buyer-{uuid.uuid4().hex[:10]}@example.com"},
        **fields,
    )


async def receive(db: Database, tenant: Tenant, text: str = "Hello", **fields: Any) -> tuple[int, int]:
    """One buyer message; its (conversation id, customer id)."""
    result = await ingest(db, tenant.workspace_id, inbound(text, **fields))
    return result.conversation_id, result.customer_id


async def change(db: Database, tenant: Tenant, conversation_id: int, **fields: Any) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        await service.update_conversation(session, conversation_id, ConversationPatch(**fields))


async def set_due(db: Database, tenant: Tenant, conversation_id: int, first: dt.timedelta) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        conversation = await service.get_conversation(session, conversation_id)
        conversation.first_response_due_at = utcnow() + first


async def tag_customer(db: Database, tenant: Tenant, customer_id: int, tag: str) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        session.add(CustomerTag(customer_id=customer_id, tag=tag))


async def ids_in(db: Database, tenant: Tenant, view: views.View) -> set[int]:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        rows, _ = await views.page_of(session, view, tenant.owner_id, utcnow(), None, 200)
    return {r.conversation["id"] for r in rows}


async def counts_of(db: Database, tenant: Tenant) -> views.Counts:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        return await views.counts(session, tenant.owner_id, utcnow())


async def populate(db: Database, tenant: Tenant) -> dict[str, int]:
    """One conversation for each interesting case; SLA clocks far away unless a case sets one."""
    names = ["mine", "plain", "pending", "snoozed", "resolved", "vip", "overdue", "soon"]
    made = {}
    for name in names:
        made[name], customer = await receive(db, tenant, language="de" if name == "plain" else "en")
        await set_due(db, tenant, made[name], dt.timedelta(hours=5))
        made[f"customer-{name}"] = customer
    await change(db, tenant, made["mine"], assignee_id=tenant.owner_id)
    await change(db, tenant, made["plain"], tags=["refund"])
    await change(db, tenant, made["pending"], status="pending")
    await change(db, tenant, made["snoozed"], status="snoozed", snoozed_until=utcnow() + dt.timedelta(days=1))
    await change(db, tenant, made["resolved"], status="resolved")
    await tag_customer(db, tenant, made["customer-vip"], "Vip")  # the VIP tag in any case
    await set_due(db, tenant, made["overdue"], -dt.timedelta(minutes=5))
    await set_due(db, tenant, made["soon"], dt.timedelta(minutes=20))
    return made


async def test_each_view_holds_its_conversations_and_counts_agree(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    made = await populate(db, tenant)
    await populate(db, other_tenant)  # the same shapes next door: never shown, never counted
    open_ = {made[n] for n in ("mine", "plain", "vip", "overdue", "soon")}
    expected = {
        "mine": {made["mine"]},
        "unassigned": open_ - {made["mine"]},
        "open": open_,
        "pending": {made["pending"]},
        "snoozed": {made["snoozed"]},
        "resolved": {made["resolved"]},
        "vip": {made["vip"]},
        "sla": {made["overdue"], made["soon"]},
    }
    for name, ids in expected.items():
        assert await ids_in(db, tenant, views.View(name)) == ids, name
    counts = await counts_of(db, tenant)
    assert counts.views == {name: len(ids) for name, ids in expected.items()}
    active = open_ | {made["pending"]}
    assert counts.channels == {"api": len(active)}
    assert counts.languages == {"de": 1, "en": len(active) - 1}
    assert counts.tags == {"refund": 1}
    assert await ids_in(db, tenant, views.View("channel", channel="api")) == active
    assert await ids_in(db, tenant, views.View("language", language="de")) == {made["plain"]}
    assert await ids_in(db, tenant, views.View("tag", tag="refund")) == {made["plain"]}
    # Answering stops the first-response clock: the conversation leaves "SLA breaching soon".
    async with db.transaction(tenant.workspace_id) as session:
        await service.add_agent_message(session, made["overdue"], tenant.owner_id, "On it", private=False)
    assert await ids_in(db, tenant, views.View("sla")) == {made["soon"]}


async def test_row_in_view_answers_only_rows_that_belong(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine, _ = await receive(db, tenant, "Where is <b>my</b> parcel?")
    theirs, _ = await receive(db, other_tenant)
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        now = utcnow()
        row = await views.row_in_view(session, views.View("open"), tenant.owner_id, now, mine)
        assert row is not None and row.last_message is not None
        assert row.last_message.text == "Where is <b>my</b> parcel?" and row.customer is not None
        assert await views.row_in_view(session, views.View("resolved"), tenant.owner_id, now, mine) is None
        assert await views.row_in_view(session, views.View("open"), tenant.owner_id, now, theirs) is None


async def test_search_matches_text_and_customers_literally(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    word = uuid.uuid4().hex[:8]
    percent, _ = await receive(db, tenant, f"{word} is 100% cotton")
    plain, _ = await receive(db, tenant, f"{word} is 1000 cotton")
    underscore, _ = await receive(db, tenant, f"ref {word}_a1")
    other, _ = await receive(db, tenant, f"ref {word}xa1")
    by_name, _ = await receive(db, tenant, "hi", name=f"Zoë {word} Weber")
    by_mail, _ = await receive(db, tenant, "hi", email=f"{word}@shop.example")
    elsewhere, _ = await receive(db, other_tenant, f"{word} is 100% cotton")

    async def search(text: str) -> set[int]:
        return await ids_in(db, tenant, views.make_view({"q": text}))

    assert await search(f"{word} is 100%") == {percent}
    assert await search(f"{word}_a") == {underscore}
    assert await search(f"{word}") == {percent, plain, underscore, other, by_name, by_mail}
    assert await search(f"zoë {word.upper()}") == {by_name}
    assert await search(f"{word}@shop") == {by_mail}
    assert await search("%") >= {percent} and elsewhere not in await search("%")
    assert await search("'; drop table messages; --") == set()
    await change(db, tenant, percent, status="resolved")  # a search looks at every status
    assert await search(f"{word} is 100%") == {percent}


def test_make_view_refuses_malformed_parameters() -> None:
    assert views.make_view({}) == views.View("open")
    assert views.make_view({"q": " x "}) == views.View("all", query="x")
    assert views.make_view({"view": "mine", "channel": "email"}) == views.View("mine")
    assert views.make_view({"view": "tag", "tag": " vip "}).tag == "vip"
    for bad in (
        {"view": "everything"},
        {"view": "channel", "channel": "E MAIL"},
        {"view": "language", "language": "german!"},
        {"view": "tag", "tag": " "},
        {"q": "x" * 201},
        {"q": "a\x00b"},
    ):
        try:
            views.make_view(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")
