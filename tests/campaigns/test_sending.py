"""The sender: due messages become replies in resolved conversations, handed to the outbox, with what
changed since launch (unsubscribes, other campaigns' messages) checked again at send time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crossdesk.campaigns import unsubscribe
from crossdesk.campaigns.models import Unsubscribe
from crossdesk.campaigns.sending import CampaignSender
from crossdesk.config import Settings
from crossdesk.conversations.models import Conversation, Message
from crossdesk.db import Database
from crossdesk.retention.recommend import RecommendationCache
from tests.campaigns.conftest import add_account, add_customer, campaign_in, create_and_launch, recipients
from tests.conftest import Tenant

PUBLIC = "https://help.shop.example"


def _sender(db: Database) -> CampaignSender:
    return CampaignSender(db, Settings(public_url=PUBLIC), RecommendationCache())


async def _message(db: Database, tenant: Tenant, message_id: int | None) -> tuple[Message, Conversation]:
    assert message_id is not None
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        message = await session.get_one(Message, message_id)
        return message, await session.get_one(Conversation, message.conversation_id)


async def test_sends_into_a_resolved_conversation_with_an_unsubscribe_link(
    db: Database, tenant: Tenant
) -> None:
    account = await add_account(db, tenant)
    customer = await add_customer(db, tenant, name="Ana Lima")
    data = campaign_in(account)
    campaign_id, _ = await create_and_launch(db, tenant, data)
    assert data.starts_at is not None
    sender = _sender(db)
    assert await sender.run_once(data.starts_at - dt.timedelta(minutes=1)) == 0  # not due yet
    assert (await recipients(db, tenant, campaign_id))[customer].state == "pending"

    at = data.starts_at + dt.timedelta(minutes=1)
    assert await sender.run_once(at) >= 1
    row = (await recipients(db, tenant, campaign_id))[customer]
    assert row.state == "queued" and row.sent_at == at
    message, conversation = await _message(db, tenant, row.message_id)
    assert conversation.status == "resolved" and conversation.subject == "Hi Ana"
    assert conversation.customer_id == customer and conversation.channel_account_id == account
    assert message.direction == "outbound" and message.delivery_state is not None  # handed to the outbox
    assert message.author_agent_id == tenant.owner_id
    link = (message.meta or {})["unsubscribe_url"]
    assert (message.meta or {})["campaign_id"] == campaign_id
    assert link.startswith(f"{PUBLIC}/u/") and message.text == f"Code BACK10\n\n--\nUnsubscribe: {link}"
    claims = unsubscribe.read(link.rpartition("/")[2])
    assert (claims.customer_id, claims.kind, claims.campaign_id) == (customer, "email", campaign_id)
    await sender.run_once(at + dt.timedelta(minutes=1))
    assert (await recipients(db, tenant, campaign_id))[customer].message_id == message.id  # sent once


async def test_frequency_cap_across_campaigns_and_unsubscribe_since_launch(
    db: Database, tenant: Tenant
) -> None:
    account = await add_account(db, tenant)
    both = await add_customer(db, tenant)
    leaving = await add_customer(db, tenant)
    first = campaign_in(account, frequency_cap_days=7)
    second = campaign_in(account, frequency_cap_days=7, starts_at=first.starts_at + dt.timedelta(hours=1))  # type: ignore[operator]
    first_id, _ = await create_and_launch(db, tenant, first)
    second_id, launched = await create_and_launch(db, tenant, second)
    assert launched.recipients == 2  # nothing sent yet: both campaigns take both customers
    async with db.transaction(tenant.workspace_id) as session:
        session.add(Unsubscribe(customer_id=leaving, channel="email", source="agent"))

    sender = _sender(db)
    assert first.starts_at is not None and second.starts_at is not None
    await sender.run_once(first.starts_at + dt.timedelta(minutes=5))
    await sender.run_once(second.starts_at + dt.timedelta(minutes=5))
    one, two = await recipients(db, tenant, first_id), await recipients(db, tenant, second_id)
    assert one[both].state == "queued"
    assert (two[both].state, two[both].skip_reason) == ("skipped", "frequency_cap")
    assert {(r.state, r.skip_reason) for r in (one[leaving], two[leaving])} == {("skipped", "unsubscribed")}

    # A third campaign launched after the first message leaves the customer out from the start.
    third = campaign_in(account, frequency_cap_days=7)
    _, launched = await create_and_launch(db, tenant, third, now=first.starts_at + dt.timedelta(days=3))
    assert launched.skipped == {"frequency_cap": 1, "unsubscribed": 1}
    # Without a cap (0 days) the recent message does not matter.
    _, launched = await create_and_launch(
        db, tenant, campaign_in(account, frequency_cap_days=0), now=first.starts_at + dt.timedelta(days=3)
    )
    assert launched.recipients == 1


async def test_whatsapp_sends_the_approved_template_with_rendered_parameters(
    db: Database, tenant: Tenant
) -> None:
    account = await add_account(db, tenant, "whatsapp")
    customer = await add_customer(db, tenant, name="Bea Souza", identities=(("phone", "+5511987654321"),))
    templates = {
        "en": {
            "body": "Hi {{ customer.first_name }}, use {{ discount_code }}",
            "whatsapp": {
                "name": "win_back_offer",
                "language": "en_US",
                "parameters": ["{{ customer.first_name }}", "{{ discount_code }}"],
            },
        }
    }
    data = campaign_in(account, templates=templates)
    campaign_id, _ = await create_and_launch(db, tenant, data)
    assert data.starts_at is not None
    await _sender(db).run_once(data.starts_at + dt.timedelta(minutes=1))
    row = (await recipients(db, tenant, campaign_id))[customer]
    message, conversation = await _message(db, tenant, row.message_id)
    assert message.text == "Hi Bea, use BACK10"  # no e-mail footer on WhatsApp
    assert (message.meta or {})["template"] == {
        "name": "win_back_offer",
        "language": "en_US",
        "parameters": ["Bea", "BACK10"],
    }
    assert conversation.thread_key == "5550001:5511987654321" and conversation.status == "resolved"


async def test_a_broken_template_fails_the_recipient_not_the_round(db: Database, tenant: Tenant) -> None:
    account = await add_account(db, tenant)
    customer = await add_customer(db, tenant)
    # Valid when saved, fails when rendered: a string cannot be divided.
    data = campaign_in(account, templates={"en": {"body": "{{ discount_code / 2 }}"}})
    campaign_id, _ = await create_and_launch(db, tenant, data)
    assert data.starts_at is not None
    await _sender(db).run_once(data.starts_at + dt.timedelta(minutes=1))
    row = (await recipients(db, tenant, campaign_id))[customer]
    assert (row.state, row.skip_reason, row.message_id) == ("failed", "error", None)
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        assert (
            await session.scalar(select(Conversation.id).where(Conversation.customer_id == customer)) is None
        )
