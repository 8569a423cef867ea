"""What every channel shares: reply rules (length, reply window), delivery receipts, threading by
reference, and webhook deliveries taken once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from crossdesk.channels import service as channels
from crossdesk.channels.adapter import (
    Account,
    Adapter,
    Limits,
    Outbound,
    PermanentError,
    Receipt,
    ReplyRefused,
)
from crossdesk.channels.models import OutboxItem
from crossdesk.channels.outbox import OutboxWorker
from crossdesk.channels.registry import ADAPTERS
from crossdesk.channels.rules import check_reply
from crossdesk.conversations import service
from crossdesk.conversations.ingest import ingest
from crossdesk.conversations.models import Conversation, Message
from crossdesk.conversations.schemas import InboundMessage, TemplateIn
from crossdesk.db import Database, utcnow
from tests.conftest import Tenant

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
DAY = Limits(max_text=100, reply_window=dt.timedelta(hours=24), outside_window="approved templates")


# --- rules -----------------------------------------------------------------------------------------


def test_reply_inside_the_window_passes() -> None:
    check_reply(DAY, "ok", NOW - dt.timedelta(hours=23, minutes=59), NOW, templated=False)


def test_reply_outside_the_window_is_refused_with_what_is_still_allowed() -> None:
    with pytest.raises(ReplyRefused, match=r"24-hour reply window.*only approved templates"):
        check_reply(DAY, "ok", NOW - dt.timedelta(hours=24, seconds=1), NOW, templated=False)
    with pytest.raises(ReplyRefused, match="reply window"):
        check_reply(DAY, "ok", None, NOW, templated=False)  # the buyer never wrote here
    check_reply(DAY, "ok", None, NOW, templated=True)


def test_templates_only_where_the_channel_has_them() -> None:
    with pytest.raises(ReplyRefused, match="no message templates"):
        check_reply(Limits(), "ok", NOW, NOW, templated=True)


@given(st.text(max_size=300))
def test_length_limit_holds_for_any_text(text: str) -> None:
    if len(text) > DAY.max_text:
        with pytest.raises(ReplyRefused, match="at most 100 characters"):
            check_reply(DAY, text, NOW, NOW, templated=True)
    else:
        check_reply(DAY, text, NOW, NOW, templated=False)


# --- a channel with a window, through the inbox service ---------------------------------------------


class Windowed(Adapter):
    kind = channel = "windowed"
    limits = DAY

    async def send(self, client: Any, account: Account, outbound: Outbound, idempotency_key: str) -> str:
        return f"sent-{outbound.message_id}"


@pytest.fixture
def windowed() -> Iterator[None]:
    ADAPTERS["windowed"] = Windowed()
    yield
    del ADAPTERS["windowed"]


def message(email: str, channel: str = "windowed", **fields: Any) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        platform_message_id=uuid.uuid4().hex,
        text="Hello",
        sender={"email": email},
        **fields,
    )


async def windowed_conversation(db: Database, tenant: Tenant) -> tuple[int, int]:
    async with db.transaction(tenant.workspace_id) as session:
        account, _ = await channels.create_account(session, "windowed", "Windowed")
    email = f"w-{uuid.uuid4().hex[:8]}@example.com"
    stored = await ingest(db, tenant.workspace_id, message(email), account.id)
    return stored.conversation_id, stored.message_id


async def reply(db: Database, tenant: Tenant, conversation_id: int, **extra: Any) -> dict[str, Any]:
    async with db.transaction(tenant.workspace_id) as session:
        return await service.add_agent_message(
            session, conversation_id, tenant.owner_id, "Your parcel left today", private=False, **extra
        )


async def test_window_is_enforced_on_replies_not_notes(db: Database, tenant: Tenant, windowed: None) -> None:
    conversation_id, message_id = await windowed_conversation(db, tenant)
    assert (await reply(db, tenant, conversation_id))["delivery_state"] == "queued"
    async with db.transaction(tenant.workspace_id) as session:
        old = utcnow() - dt.timedelta(hours=25)
        await session.execute(update(Message).where(Message.id == message_id).values(created_at=old))
    with pytest.raises(ReplyRefused, match="reply window"):
        await reply(db, tenant, conversation_id)
    template = TemplateIn(name="order_update", language="en_US", parameters=["A-1"])
    sent = await reply(db, tenant, conversation_id, template=template)
    assert sent["meta"]["template"]["name"] == "order_update"
    async with db.transaction(tenant.workspace_id) as session:
        note = await service.add_agent_message(session, conversation_id, None, "x" * 500, private=True)
    assert note["delivery_state"] is None


async def test_receipts_move_replies_forward_only(db: Database, tenant: Tenant, windowed: None) -> None:
    conversation_id, _ = await windowed_conversation(db, tenant)
    first, second = (
        (await reply(db, tenant, conversation_id))["id"],
        (await reply(db, tenant, conversation_id))["id"],
    )
    async with db.transaction(tenant.workspace_id) as session:
        for ident in (first, second):
            await service.set_delivery_state(session, ident, "sent", f"p-{ident}", None)
    async with db.transaction(tenant.workspace_id) as session:
        await service.apply_receipts(session, "windowed", [Receipt("read", platform_message_id=f"p-{first}")])
        await service.apply_receipts(
            session, "windowed", [Receipt("delivered", platform_message_id=f"p-{first}")]
        )
        await service.apply_receipts(
            session,
            "windowed",
            [Receipt("failed", platform_message_id=f"p-{second}", error="blocked by user")],
        )
        await service.apply_receipts(session, "other", [Receipt("read", platform_message_id=f"p-{second}")])
        rows = {m.id: m for m in await service.messages_of(session, conversation_id)}
    assert rows[first].delivery_state == "read", "a late 'delivered' does not undo 'read'"
    assert rows[second].delivery_state == "failed"
    assert rows[second].meta == {"delivery_error": "blocked by user"}


async def test_watermark_receipts_cover_a_thread_up_to_a_time(
    db: Database, tenant: Tenant, windowed: None
) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        account, _ = await channels.create_account(session, "windowed", "Windowed")
    thread = f"page:{uuid.uuid4().hex[:6]}"
    stored = await ingest(db, tenant.workspace_id, message("t@example.com", thread_key=thread), account.id)
    ids = [(await reply(db, tenant, stored.conversation_id))["id"] for _ in range(2)]
    async with db.transaction(tenant.workspace_id) as session:
        for ident in ids:
            await service.set_delivery_state(session, ident, "sent", f"w-{ident}", None)
        await session.execute(
            update(Message).where(Message.id == ids[1]).values(sent_at=utcnow() + dt.timedelta(hours=1))
        )
    async with db.transaction(tenant.workspace_id) as session:
        await service.apply_receipts(
            session, "windowed", [Receipt("read", thread_key=thread, before=utcnow())]
        )
        rows = {m.id: m.delivery_state for m in await service.messages_of(session, stored.conversation_id)}
    assert [rows[i] for i in ids] == ["read", "sent"], "only replies sent before the watermark"


# --- threading by reference ------------------------------------------------------------------------


async def test_a_reply_by_reference_joins_and_reopens_its_conversation(db: Database, tenant: Tenant) -> None:
    first = message("ref@example.com", channel="email", subject="Broken lamp")
    stored = await ingest(db, tenant.workspace_id, first)
    async with db.transaction(tenant.workspace_id) as session:
        await session.execute(
            update(Conversation).where(Conversation.id == stored.conversation_id).values(status="resolved")
        )
    # From another address (forwarded by a colleague), but answering the first message.
    answer = message(
        "colleague@example.com", channel="email", references=["unknown-id", first.platform_message_id]
    )
    joined = await ingest(db, tenant.workspace_id, answer)
    unrelated = await ingest(db, tenant.workspace_id, message("colleague@example.com", channel="email"))
    assert joined.conversation_id == stored.conversation_id
    assert unrelated.conversation_id != stored.conversation_id
    async with db.transaction(tenant.workspace_id) as session:
        conversation = await service.get_conversation(session, stored.conversation_id)
    assert conversation.status == "open" and conversation.resolved_at is None


# --- webhook deliveries ----------------------------------------------------------------------------


async def test_a_delivery_id_is_taken_once_per_account(db: Database, tenant: Tenant) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        one, _ = await channels.create_account(session, "api", "One")
        two, _ = await channels.create_account(session, "api", "Two")
    async with db.transaction(tenant.workspace_id) as session:
        assert not await channels.delivery_seen(session, one.id, "d-1")
        assert await channels.first_delivery(session, one.id, "d-1")
        assert not await channels.first_delivery(session, one.id, "d-1"), "the same delivery again"
        assert await channels.first_delivery(session, two.id, "d-1"), "another account's delivery"
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        assert await channels.delivery_seen(session, one.id, "d-1")


# --- the outbox keeps secrets out of what agents see ------------------------------------------------


class Leaky(Windowed):
    kind = channel = "leaky"
    limits = Limits()
    credential_names = ("access_token",)

    async def send(self, client: Any, account: Account, outbound: Outbound, idempotency_key: str) -> str:
        token = account.credentials["access_token"]
        raise PermanentError(f"400 for https://graph.example/v1/me/messages?access_token={token}")


async def test_a_send_error_never_shows_the_platform_secret(db: Database, tenant: Tenant) -> None:
    ADAPTERS["leaky"] = Leaky()
    try:
        async with db.transaction(tenant.workspace_id) as session:
            account, _ = await channels.create_account(
                session, "leaky", "Leaky", credentials={"access_token": "EAAGtoken123"}
            )
        stored = await ingest(db, tenant.workspace_id, message("l@example.com", channel="leaky"), account.id)
        sent = await reply(db, tenant, stored.conversation_id)
        # This worker, or the server's own (same process, same database), sends it: either will do.
        worker = OutboxWorker(db, service.outbound_payload, service.set_delivery_state)
        try:
            for _ in range(50):
                await worker.run_once()
                async with db.transaction(tenant.workspace_id) as session:
                    row = await session.get_one(Message, sent["id"])
                if row.delivery_state == "dead":
                    break
                await asyncio.sleep(0.1)
        finally:
            await worker.close()
    finally:
        del ADAPTERS["leaky"]
    assert row.delivery_state == "dead"
    assert row.meta is not None and "access_token=[secret]" in row.meta["delivery_error"]
    assert "EAAGtoken123" not in str(row.meta)


# --- a slow platform holds up only its own conversations ---------------------------------------------


class Slow(Windowed):
    kind = channel = "slowpoke"
    limits = Limits()

    async def send(self, client: Any, account: Account, outbound: Outbound, idempotency_key: str) -> str:
        if "slow" in outbound.text:
            await asyncio.sleep(5)
        return f"s-{outbound.message_id}"


async def state_of(db: Database, tenant: Tenant, message_id: int) -> str | None:
    async with db.transaction(tenant.workspace_id) as session:
        return (await session.get_one(Message, message_id)).delivery_state


async def test_a_slow_platform_does_not_hold_up_other_conversations(db: Database, tenant: Tenant) -> None:
    ADAPTERS["slowpoke"] = Slow()
    try:
        async with db.transaction(tenant.workspace_id) as session:
            account, _ = await channels.create_account(session, "slowpoke", "Slow")
        first, second = [
            await ingest(
                db, tenant.workspace_id, message(f"{who}@example.com", channel="slowpoke"), account.id
            )
            for who in ("patient", "hurried")
        ]
        async with db.transaction(tenant.workspace_id) as session:
            slow = await service.add_agent_message(
                session, first.conversation_id, None, "slow reply", private=False
            )
        for _ in range(100):  # the server's worker claims it and starts its 5 s send
            async with db.transaction(tenant.workspace_id) as session:
                claimed = await session.scalar(
                    select(OutboxItem.state).where(OutboxItem.message_id == slow["id"])
                )
            if claimed == "sending":
                break
            await asyncio.sleep(0.05)
        async with db.transaction(tenant.workspace_id) as session:
            fast = await service.add_agent_message(
                session, second.conversation_id, None, "fast reply", private=False
            )
        started = asyncio.get_running_loop().time()
        while await state_of(db, tenant, fast["id"]) != "sent":
            assert asyncio.get_running_loop().time() - started < 4, "waited for the slow platform"
            await asyncio.sleep(0.05)
        assert await state_of(db, tenant, slow["id"]) != "sent"
    finally:
        await asyncio.sleep(5.5)  # let the slow send finish before its adapter goes
        del ADAPTERS["slowpoke"]
