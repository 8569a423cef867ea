"""Workspace tags: counts, renaming (merging into an existing tag), deleting; other workspaces untouched."""

from __future__ import annotations

import uuid

from crossdesk.conversations import service, tags
from crossdesk.conversations.ingest import ingest
from crossdesk.conversations.schemas import ConversationPatch, InboundMessage
from crossdesk.db import Database
from tests.conftest import Tenant


async def tagged(db: Database, tenant: Tenant, *labels: str) -> int:
    message = InboundMessage(
        channel="api",
        platform_message_id=uuid.uuid4().hex,
        text="Hi",
        sender={"email": f"b-{uuid.uuid4().hex[:10]}@example.com"},
    )
    conversation_id = (await ingest(db, tenant.workspace_id, message)).conversation_id
    async with db.transaction(tenant.workspace_id) as session:
        await service.update_conversation(session, conversation_id, ConversationPatch(tags=list(labels)))
    return conversation_id


async def in_use(db: Database, tenant: Tenant) -> list[tuple[str, int]]:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        # Sorted here: the order of equally used tags follows the database's collation.
        return sorted((t.tag, t.conversations) for t in await tags.tags_in_use(session))


async def tags_of(db: Database, tenant: Tenant, conversation_id: int) -> list[str]:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        return (await service.tags_of(session, [conversation_id])).get(conversation_id, [])


async def test_rename_merge_and_delete(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    both = await tagged(db, tenant, "refund", "Refunds")
    only_old = await tagged(db, tenant, "refund", "vip")
    await tagged(db, tenant, "Refunds")
    theirs = await tagged(db, other_tenant, "refund")
    assert await in_use(db, tenant) == [("Refunds", 2), ("refund", 2), ("vip", 1)]

    async with db.transaction(tenant.workspace_id) as session:
        assert await tags.rename_tag(session, "refund", "  Refunds ") == 2
    assert await in_use(db, tenant) == [("Refunds", 3), ("vip", 1)]
    assert await tags_of(db, tenant, both) == ["Refunds"]
    assert await tags_of(db, tenant, only_old) == ["Refunds", "vip"]

    async with db.transaction(tenant.workspace_id) as session:
        assert await tags.rename_tag(session, "vip", "VIP buyer") == 1
        assert await tags.delete_tag(session, "Refunds") == 3
    assert await in_use(db, tenant) == [("VIP buyer", 1)]
    assert await tags_of(db, tenant, only_old) == ["VIP buyer"]
    assert await in_use(db, other_tenant) == [("refund", 1)], "another workspace keeps its tags"
    assert await tags_of(db, other_tenant, theirs) == ["refund"]


async def test_a_blank_or_long_name_is_refused(db: Database, tenant: Tenant) -> None:
    await tagged(db, tenant, "late")
    for bad in ("", "   ", "x" * 65):
        try:
            async with db.transaction(tenant.workspace_id) as session:
                await tags.rename_tag(session, "late", bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
    assert await in_use(db, tenant) == [("late", 1)]
