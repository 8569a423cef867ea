"""The inbox service: threading, reopening, the SLA clock, updates and the keyset-paged list."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from crossdesk.conversations import service
from crossdesk.conversations.ingest import ingest
from crossdesk.conversations.models import Conversation
from crossdesk.conversations.schemas import ConversationPatch, InboundMessage
from crossdesk.db import Database
from crossdesk.workspaces import service as workspaces
from tests.conftest import PASSWORD, Tenant

UTC = dt.UTC


def inbound(email: str, text: str = "Hello", channel: str = "api", **fields: Any) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        platform_message_id=uuid.uuid4().hex,
        text=text,
        sender={"name": "Buyer", "email": email},
        **fields,
    )


def buyer() -> str:
    return f"buyer-{uuid.uuid4().hex[:10]}@example.com"


async def receive(db: Database, workspace_id: int, email: str, **fields: Any) -> int:
    """Ingest one buyer message; returns its conversation id."""
    return (await ingest(db, workspace_id, inbound(email, **fields))).conversation_id


async def load(db: Database, workspace_id: int, conversation_id: int) -> Conversation:
    async with db.transaction(workspace_id) as session:
        return await service.get_conversation(session, conversation_id)


async def patch(db: Database, workspace_id: int, conversation_id: int, **changes: Any) -> dict[str, Any]:
    async with db.transaction(workspace_id) as session:
        return await service.update_conversation(session, conversation_id, ConversationPatch(**changes))


async def agent_message(db: Database, tenant: Tenant, conversation_id: int, *, private: bool) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        await service.add_agent_message(session, conversation_id, tenant.owner_id, "On it", private=private)


# --- threading ---------------------------------------------------------------------------------------


async def test_same_customer_and_channel_share_the_open_conversation(db: Database, tenant: Tenant) -> None:
    email = buyer()
    first = await receive(db, tenant.workspace_id, email)
    assert await receive(db, tenant.workspace_id, email.upper()) == first
    assert await receive(db, tenant.workspace_id, email, channel="email") != first
    assert await receive(db, tenant.workspace_id, buyer()) != first


async def test_a_resolved_conversation_is_not_reused(db: Database, tenant: Tenant) -> None:
    email = buyer()
    first = await receive(db, tenant.workspace_id, email)
    resolved = await patch(db, tenant.workspace_id, first, status="resolved")
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    second = await receive(db, tenant.workspace_id, email)
    assert second != first
    assert (await load(db, tenant.workspace_id, first)).status == "resolved"
    assert await receive(db, tenant.workspace_id, email) == second


async def test_thread_key_wins_over_the_customer_open_conversation(db: Database, tenant: Tenant) -> None:
    email = buyer()
    order_a = await receive(db, tenant.workspace_id, email, channel="email", thread_key="order-A")
    order_b = await receive(db, tenant.workspace_id, email, channel="email", thread_key="order-B")
    assert order_b != order_a
    # Back in thread A, although B is the customer's newest open conversation on this channel.
    assert await receive(db, tenant.workspace_id, email, channel="email", thread_key="order-A") == order_a


@pytest.mark.parametrize(
    "state", [{"status": "pending"}, {"status": "snoozed", "snoozed_until": "2099-01-01T00:00:00Z"}]
)
async def test_a_buyer_message_reopens_pending_and_snoozed(
    db: Database, tenant: Tenant, state: dict[str, Any]
) -> None:
    email = buyer()
    conversation_id = await receive(db, tenant.workspace_id, email)
    assert (await patch(db, tenant.workspace_id, conversation_id, **state))["status"] == state["status"]
    assert await receive(db, tenant.workspace_id, email) == conversation_id
    conversation = await load(db, tenant.workspace_id, conversation_id)
    assert (conversation.status, conversation.snoozed_until) == ("open", None)


# --- SLA clock ---------------------------------------------------------------------------------------


async def test_first_response_due_follows_the_workspace_business_hours(db: Database) -> None:
    today = dt.datetime.now(UTC).date()
    weekday = (today + dt.timedelta(days=2)).weekday()
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[weekday]
    async with db.transaction(system=True) as session:
        ws = await workspaces.create_workspace(
            session,
            f"Hours {uuid.uuid4().hex[:6]}",
            timezone="UTC",
            business_hours={day: [["10:00", "11:00"]]},
            sla_first_response_minutes=30,
        )
    conversation = await load(db, ws.id, await receive(db, ws.id, buyer()))
    created = conversation.created_at
    # Open one hour a week, on a day at least a day away: due 30 minutes into the next such window.
    opening = next(
        moment
        for offset in range(9)
        if (moment := dt.datetime.combine(created.date() + dt.timedelta(days=offset), dt.time(10), UTC))
        > created
        and moment.weekday() == weekday
    )
    assert conversation.first_response_due_at == opening + dt.timedelta(minutes=30)


async def test_response_clock_starts_stops_and_ignores_private_notes(db: Database, tenant: Tenant) -> None:
    email = buyer()
    conversation_id = await receive(db, tenant.workspace_id, email)
    conversation = await load(db, tenant.workspace_id, conversation_id)
    # The tenant workspace is 24/7 with the default 60-minute first-response target.
    assert conversation.first_response_due_at == conversation.created_at + dt.timedelta(minutes=60)
    assert conversation.next_response_due_at is None

    await agent_message(db, tenant, conversation_id, private=True)
    await receive(db, tenant.workspace_id, email)
    conversation = await load(db, tenant.workspace_id, conversation_id)
    assert conversation.first_response_at is None, "a private note is not a response"
    assert conversation.next_response_due_at is None, "the first response is still owed"

    await agent_message(db, tenant, conversation_id, private=False)
    replied = await load(db, tenant.workspace_id, conversation_id)
    assert replied.first_response_at is not None and replied.next_response_due_at is None

    await receive(db, tenant.workspace_id, email)
    waiting = await load(db, tenant.workspace_id, conversation_id)
    assert waiting.next_response_due_at == waiting.last_message_at + dt.timedelta(minutes=240)

    await receive(db, tenant.workspace_id, email)  # a second nudge does not move the clock
    await agent_message(db, tenant, conversation_id, private=True)
    still = await load(db, tenant.workspace_id, conversation_id)
    assert still.next_response_due_at == waiting.next_response_due_at

    await agent_message(db, tenant, conversation_id, private=False)
    answered = await load(db, tenant.workspace_id, conversation_id)
    assert answered.next_response_due_at is None
    assert answered.first_response_at == replied.first_response_at


# --- update_conversation -------------------------------------------------------------------------------


async def test_status_priority_assignee_and_tags(db: Database, tenant: Tenant) -> None:
    conversation_id = await receive(db, tenant.workspace_id, buyer())
    out = await patch(
        db,
        tenant.workspace_id,
        conversation_id,
        priority="urgent",
        assignee_id=tenant.owner_id,
        tags=["vip", "refund", "vip"],
    )
    assert (out["priority"], out["assignee_id"], out["tags"]) == (
        "urgent",
        tenant.owner_id,
        ["refund", "vip"],
    )
    out = await patch(db, tenant.workspace_id, conversation_id, tags=["late"], assignee_id=None)
    assert (out["tags"], out["assignee_id"], out["priority"]) == (["late"], None, "urgent")
    assert (await patch(db, tenant.workspace_id, conversation_id, tags=[]))["tags"] == []
    resolved = await patch(db, tenant.workspace_id, conversation_id, status="resolved")
    assert resolved["resolved_at"] is not None
    reopened = await patch(db, tenant.workspace_id, conversation_id, status="open")
    assert reopened["resolved_at"] is None


async def test_snooze_needs_a_time_and_is_cleared_by_another_status(db: Database, tenant: Tenant) -> None:
    conversation_id = await receive(db, tenant.workspace_id, buyer())
    with pytest.raises(ValueError, match="snoozed_until"):
        await patch(db, tenant.workspace_id, conversation_id, status="snoozed")
    assert (await load(db, tenant.workspace_id, conversation_id)).status == "open"
    until = dt.datetime(2099, 1, 1, tzinfo=UTC)
    snoozed = await patch(db, tenant.workspace_id, conversation_id, status="snoozed", snoozed_until=until)
    assert snoozed["status"] == "snoozed"
    assert dt.datetime.fromisoformat(snoozed["snoozed_until"]) == until
    assert (await patch(db, tenant.workspace_id, conversation_id, status="pending"))["snoozed_until"] is None


async def test_assigning_an_agent_of_another_workspace_is_not_found(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    conversation_id = await receive(db, tenant.workspace_id, buyer())
    with pytest.raises(service.NotFound):
        await patch(db, tenant.workspace_id, conversation_id, assignee_id=other_tenant.owner_id)
    assert (await load(db, tenant.workspace_id, conversation_id)).assignee_id is None


async def test_a_conversation_of_another_workspace_is_not_found(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await receive(db, other_tenant.workspace_id, buyer())
    with pytest.raises(service.NotFound):
        await load(db, tenant.workspace_id, theirs)
    with pytest.raises(service.NotFound):
        await patch(db, tenant.workspace_id, theirs, status="resolved")
    assert (await load(db, other_tenant.workspace_id, theirs)).status == "open"


# --- list_conversations ----------------------------------------------------------------------------------


async def listing(db: Database, workspace_id: int, **flt: Any) -> list[int]:
    async with db.transaction(workspace_id) as session:
        items, _ = await service.list_conversations(session, service.ConversationFilter(**flt), None, 200)
    return [item["id"] for item in items]


async def test_filters(db: Database, tenant: Tenant) -> None:
    ws = tenant.workspace_id
    email = buyer()
    german = await receive(db, ws, email, language="de")
    shop = await receive(db, ws, email, channel="shopify", language="en")
    other = await receive(db, ws, buyer(), channel="email", language="ja")
    await patch(db, ws, german, assignee_id=tenant.owner_id, tags=["refund"])
    await patch(db, ws, shop, status="pending", tags=["refund", "vip"])
    async with db.transaction(ws) as session:
        customer_id = (await service.get_conversation(session, german)).customer_id

    assert await listing(db, ws) == [other, shop, german]  # newest activity first
    assert await listing(db, ws, status=["pending"]) == [shop]
    assert await listing(db, ws, status=["open", "pending"]) == [other, shop, german]
    assert await listing(db, ws, assignee_id=tenant.owner_id) == [german]
    assert await listing(db, ws, unassigned=True) == [other, shop]
    assert await listing(db, ws, channel="email") == [other]
    assert await listing(db, ws, language="de") == [german]
    assert await listing(db, ws, tag="refund") == [shop, german]
    assert await listing(db, ws, tag="vip") == [shop]
    assert await listing(db, ws, customer_id=customer_id) == [shop, german]
    assert await listing(db, ws, tag="refund", status=["open"]) == [german]


async def test_assignee_me_and_none_over_http(db: Database, tenant: Tenant) -> None:
    mine = await receive(db, tenant.workspace_id, buyer())
    unassigned = await receive(db, tenant.workspace_id, buyer())
    await patch(db, tenant.workspace_id, mine, assignee_id=tenant.owner_id)
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as browser:
        login = await browser.post(
            "/api/v1/auth/login", json={"email": tenant.owner_email, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        me = await browser.get("/api/v1/conversations", params={"assignee": "me"})
        assert [c["id"] for c in me.json()["items"]] == [mine]
        none = await browser.get("/api/v1/conversations", params={"assignee": "none"})
        assert [c["id"] for c in none.json()["items"]] == [unassigned]
        by_id = await browser.get("/api/v1/conversations", params={"assignee": str(tenant.owner_id)})
        assert [c["id"] for c in by_id.json()["items"]] == [mine]
    async with tenant.client() as api:  # a token is nobody: "me" makes no sense
        assert (await api.get("/api/v1/conversations", params={"assignee": "me"})).status_code == 400


async def test_keyset_pages_stay_stable_while_messages_arrive(db: Database, tenant: Tenant) -> None:
    ws = tenant.workspace_id
    emails = [buyer() for _ in range(7)]
    for email in emails:
        await receive(db, ws, email)
    before = await listing(db, ws)
    assert len(before) == 7

    async def page(cursor: str | None) -> tuple[list[int], str | None]:
        async with db.transaction(ws) as session:
            items, next_cursor = await service.list_conversations(
                session, service.ConversationFilter(), cursor, 3
            )
        return [item["id"] for item in items], next_cursor

    seen, cursor = await page(None)
    # Between pages: a new conversation appears and an already seen one gets a message; with
    # OFFSET paging both would shift the rest down and repeat an item.
    await receive(db, ws, buyer())
    await receive(db, ws, emails[-1])  # before[0], the newest, seen on page one
    assert cursor is not None
    second, cursor = await page(cursor)
    seen += second
    await receive(db, ws, emails[-4])  # before[3], seen on page two
    assert cursor is not None
    third, cursor = await page(cursor)
    seen += third
    assert cursor is None
    assert seen == before


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        "bm90aGluZw==",  # "nothing": no separator
        "MjAyNC0wMS0wMVQwMDowMDowMHw1",  # "2024-01-01T00:00:00|5": naive time
        "MjAyNC0wMS0wMVQwMDowMDowMCswMDowMHx4",  # "...+00:00|x": id not a number
        "__8=",  # not UTF-8
    ],
)
async def test_a_bad_cursor_is_a_value_error(db: Database, tenant: Tenant, cursor: str) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        with pytest.raises(ValueError):
            await service.list_conversations(session, service.ConversationFilter(), cursor, 10)
