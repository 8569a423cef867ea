"""Auto-assignment: round robin over the agents who are active, online, on shift and speak the buyer's
language; nobody available leaves a conversation unassigned; two ingests at once pick different agents."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from crossdesk.conversations import assignment
from crossdesk.conversations.ingest import ingest
from crossdesk.conversations.models import Conversation
from crossdesk.conversations.schemas import InboundMessage
from crossdesk.db import Database
from crossdesk.realtime.service import events_after
from crossdesk.workspaces import service as workspaces
from tests.conftest import PASSWORD, Tenant

# Monday 23 November 2026, 08:30 UTC: 09:30 in Berlin, 17:30 in Tokyo.
MONDAY_MORNING = dt.datetime(2026, 11, 23, 8, 30, tzinfo=dt.UTC)
# Three hours later: 12:30 in Berlin, 20:30 in Tokyo.
MONDAY_NOON = MONDAY_MORNING + dt.timedelta(hours=3)


async def add(db: Database, tenant: Tenant, name: str, **changes: Any) -> int:
    async with db.transaction(tenant.workspace_id) as session:
        agent = await workspaces.create_agent(
            session,
            tenant.workspace_id,
            email=f"{uuid.uuid4().hex[:10]}@example.com",
            name=name,
            password=PASSWORD,
        )
        await workspaces.update_agent(session, agent.id, changes, "owner")
        return agent.id


async def setup(db: Database, tenant: Tenant, auto_assign: bool = True) -> None:
    """Auto-assignment on; the owner offline, so that only the test's agents take conversations."""
    async with db.transaction(tenant.workspace_id) as session:
        await workspaces.update_workspace(session, tenant.workspace_id, {"auto_assign": auto_assign})
        await workspaces.update_agent(session, tenant.owner_id, {"availability": "offline"}, "owner")


async def assign(
    db: Database, tenant: Tenant, languages: list[str | None], now: dt.datetime
) -> list[int | None]:
    """Run the assignment over new (unsaved) conversations in these languages; their assignees."""
    conversations = [Conversation(language=language) for language in languages]
    async with db.transaction(tenant.workspace_id) as session:
        ws = await workspaces.get_workspace(session, tenant.workspace_id)
        await assignment.assign_new(session, ws, conversations, now)
    return [c.assignee_id for c in conversations]


async def test_round_robin_by_language_and_shift(db: Database, tenant: Tenant) -> None:
    await setup(db, tenant)
    anna = await add(db, tenant, "Anna", languages=["de", "en"])
    bo = await add(
        db, tenant, "Bo", languages=["de"], timezone="Asia/Tokyo", shifts={"mon": [["09:00", "18:00"]]}
    )
    chen = await add(
        db, tenant, "Chen", languages=[], timezone="Europe/Berlin", shifts={"mon": [["09:00", "12:00"]]}
    )

    assert await assign(db, tenant, ["de", "de-AT", "de", "de"], MONDAY_MORNING) == [anna, bo, chen, anna]
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        for agent_id in (anna, bo, chen):
            agent = await workspaces.get_agent(session, agent_id)
            assert agent is not None and agent.last_assigned_at == MONDAY_MORNING
    later = MONDAY_MORNING + dt.timedelta(minutes=1)
    # Only Chen lists no languages: Chinese and Japanese go to Chen. Then English: Anna (Bo has none, and
    # Chen was assigned since); a conversation of unknown language: Bo, whose turn is oldest now.
    assert await assign(db, tenant, ["zh-CN", "ja"], later) == [chen, chen]
    assert await assign(db, tenant, ["en", None], later + dt.timedelta(minutes=1)) == [anna, bo]

    # At noon Chen's shift (Berlin) and Bo's (Tokyo) are over: German goes to Anna, Japanese to nobody.
    assert await assign(db, tenant, ["de", "ja", "de"], MONDAY_NOON) == [anna, None, anna]


async def test_away_and_deactivated_agents_are_skipped_and_nobody_means_unassigned(
    db: Database, tenant: Tenant
) -> None:
    await setup(db, tenant)
    await add(db, tenant, "Away", availability="away")
    await add(db, tenant, "Gone", is_active=False)
    online = await add(db, tenant, "Online")
    assert await assign(db, tenant, ["de", "fr", None], MONDAY_MORNING) == [online] * 3
    async with db.transaction(tenant.workspace_id) as session:
        await workspaces.update_agent(session, online, {"availability": "offline"}, "owner")
    assert await assign(db, tenant, ["de"], MONDAY_MORNING) == [None]


def message(language: str | None = "de") -> InboundMessage:
    return InboundMessage(
        channel="api",
        platform_message_id=uuid.uuid4().hex,
        text="Hallo",
        language=language,
        sender={"name": "Buyer", "email": f"buyer-{uuid.uuid4().hex[:10]}@example.com"},
    )


async def test_ingest_assigns_new_conversations_and_the_event_shows_it(db: Database, tenant: Tenant) -> None:
    await setup(db, tenant)
    first, second = await add(db, tenant, "First"), await add(db, tenant, "Second")
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        seq = await workspaces.current_event_seq(session, tenant.workspace_id)
    messages = [message() for _ in range(3)]
    results = [await ingest(db, tenant.workspace_id, m) for m in messages]
    # A buyer's follow-up is no new conversation: it spends nobody's turn.
    followup = message()
    followup.sender.email = messages[0].sender.email
    assert (await ingest(db, tenant.workspace_id, followup)).conversation_id == results[0].conversation_id
    results.append(await ingest(db, tenant.workspace_id, message()))
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        conversations = [await session.get_one(Conversation, r.conversation_id) for r in results]
        events = await events_after(session, seq, 100)
    assert [c.assignee_id for c in conversations] == [first, second, first, second]
    created = [e["data"] for e in events if e["type"] == "conversation.created"]
    assert [c["assignee_id"] for c in created] == [first, second, first, second]

    async with db.transaction(tenant.workspace_id) as session:
        await workspaces.update_workspace(session, tenant.workspace_id, {"auto_assign": False})
    off = await ingest(db, tenant.workspace_id, message())
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        assert (await session.get_one(Conversation, off.conversation_id)).assignee_id is None


@pytest.mark.postgres_only
async def test_two_ingests_at_once_pick_different_agents(db: Database, tenant: Tenant) -> None:
    await setup(db, tenant)
    first, second = await add(db, tenant, "First"), await add(db, tenant, "Second")
    held = Conversation(language="de")
    async with db.transaction(tenant.workspace_id) as session:
        ws = await workspaces.get_workspace(session, tenant.workspace_id)
        await assignment.assign_new(session, ws, [held], dt.datetime.now(dt.UTC))
        assert held.assignee_id == first
        # Another ingest starts while this transaction still holds its pick uncommitted.
        other = asyncio.create_task(ingest(db, tenant.workspace_id, message()))
        await wait_for_a_lock_wait(db)
    result = await other
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        assert (await session.get_one(Conversation, result.conversation_id)).assignee_id == second


async def wait_for_a_lock_wait(db: Database) -> None:
    """Until another connection of this database waits for a row lock (the other ingest, blocked)."""
    deadline = time.monotonic() + 10
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while time.monotonic() < deadline:
        async with db.transaction(system=True, readonly=True) as session:
            if await session.scalar(query):
                return
        await asyncio.sleep(0.05)  # polling a server-side state; the wait itself is the lock
    raise AssertionError("the second ingest never waited for the first one's lock")
