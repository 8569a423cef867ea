"""Launching snapshots who gets the message: the segments' buyers, less each customer the campaign must
not reach (with the reason), a stable held-out control group, each in their language and daytime."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from crossdesk.campaigns import service
from crossdesk.campaigns.audience import in_control, language_for
from crossdesk.campaigns.models import CampaignRecipient, Unsubscribe
from crossdesk.conversations.models import Conversation, Message
from crossdesk.db import Database, utcnow
from crossdesk.retention.segments import score_workspace
from crossdesk.workspaces import service as workspaces
from tests.campaigns.conftest import (
    add_account,
    add_customer,
    campaign_in,
    create_and_launch,
    recipients,
)
from tests.conftest import Tenant


async def _unsubscribe(db: Database, tenant: Tenant, customer_id: int, channel: str) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        session.add(Unsubscribe(customer_id=customer_id, channel=channel))


async def _messaged(db: Database, tenant: Tenant, customer_id: int, days_ago: float, account_id: int) -> None:
    """A message of an earlier campaign sent to the customer ``days_ago`` days ago."""
    async with db.transaction(tenant.workspace_id) as session:
        workspace = await workspaces.get_workspace(session, tenant.workspace_id)
        earlier = await service.create_campaign(session, workspace, campaign_in(account_id), None)
        session.add(
            CampaignRecipient(
                campaign_id=earlier.id,
                customer_id=customer_id,
                state="sent",
                sent_at=utcnow() - dt.timedelta(days=days_ago),
            )
        )


async def test_launch_skips_with_reasons_and_schedules_the_rest(db: Database, tenant: Tenant) -> None:
    account = await add_account(db, tenant)
    included = {
        "opted_in": await add_customer(db, tenant, consent=True),
        "soft_opt_in": await add_customer(db, tenant, consent=None, last_order_days_ago=100),
        "unsubscribed_elsewhere": await add_customer(db, tenant),
        "capped_long_ago": await add_customer(db, tenant),
    }
    skipped = {
        await add_customer(db, tenant, consent=False): "no_consent",
        await add_customer(db, tenant, consent=None, last_order_days_ago=800): "no_consent",
        await add_customer(db, tenant): "unsubscribed",
        await add_customer(db, tenant): "unsubscribed",
        await add_customer(db, tenant, identities=(("phone", "+4915112345678"),)): "no_address",
        await add_customer(db, tenant): "frequency_cap",
    }
    by_reason = list(skipped)
    await _unsubscribe(db, tenant, by_reason[2], "email")
    await _unsubscribe(db, tenant, by_reason[3], "*")
    await _unsubscribe(db, tenant, included["unsubscribed_elsewhere"], "whatsapp")
    await _messaged(db, tenant, by_reason[5], 2, account)
    await _messaged(db, tenant, included["capped_long_ago"], 10, account)

    data = campaign_in(account, frequency_cap_days=7)
    campaign_id, launched = await create_and_launch(db, tenant, data)

    assert launched.recipients == len(included) and launched.control == 0
    assert launched.skipped == {"no_consent": 2, "unsubscribed": 2, "no_address": 1, "frequency_cap": 1}
    assert launched.campaign.state == "sending"
    found = await recipients(db, tenant, campaign_id)
    assert {c: r.skip_reason for c, r in found.items() if r.state == "skipped"} == skipped
    for customer_id in included.values():
        row = found[customer_id]
        assert row.state == "pending" and not row.is_control and row.language == "en"
        assert row.send_after is not None and row.send_after >= data.starts_at  # type: ignore[operator]


async def test_language_and_local_daytime_of_each_buyer(db: Database, tenant: Tenant) -> None:
    account = await add_account(db, tenant)
    austrian = await add_customer(db, tenant, language="de-AT", timezone="Asia/Tokyo")
    french = await add_customer(db, tenant, language="fr", timezone="Not/AZone")
    templates = {"en": {"body": "Hello"}, "de": {"body": "Hallo"}}
    data = campaign_in(account, templates=templates, send_from_hour=10, send_until_hour=12)
    campaign_id, _ = await create_and_launch(db, tenant, data)
    found = await recipients(db, tenant, campaign_id)
    assert found[austrian].language == "de" and found[french].language == "en"
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        zone = (await workspaces.get_workspace(session, tenant.workspace_id)).timezone
    for customer_id, tz in ((austrian, "Asia/Tokyo"), (french, zone)):  # an unknown zone: the workspace's
        send_after = found[customer_id].send_after
        assert send_after is not None and send_after >= data.starts_at  # type: ignore[operator]
        assert 10 <= send_after.astimezone(ZoneInfo(tz)).hour < 12
        assert send_after - data.starts_at <= dt.timedelta(hours=24)  # type: ignore[operator]
    assert language_for("PT-br", ["pt"], "en") == "pt"
    assert language_for("es", ["pt"], "en") == "en"
    assert language_for(None, ["pt"], "en") == "en"


async def test_control_group_is_stable_and_about_the_share(db: Database, tenant: Tenant) -> None:
    share = Decimal("0.2")
    drawn = [in_control(7, customer, share) for customer in range(20_000)]
    assert 0.19 < sum(drawn) / len(drawn) < 0.21
    assert drawn == [in_control(7, customer, share) for customer in range(20_000)]
    assert drawn != [in_control(8, customer, share) for customer in range(20_000)]
    assert not any(in_control(7, customer, Decimal(0)) for customer in range(1000))

    account = await add_account(db, tenant)
    customers = [await add_customer(db, tenant) for _ in range(24)]
    campaign_id, launched = await create_and_launch(db, tenant, campaign_in(account, control_share="0.5"))
    found = await recipients(db, tenant, campaign_id)
    control = {c for c in customers if found[c].is_control}
    assert control == {c for c in customers if in_control(campaign_id, c, Decimal("0.5"))}
    assert 0 < len(control) < len(customers) and launched.control == len(control)
    assert all(found[c].state == "control" and found[c].send_after is None for c in control)
    assert all(found[c].state == "pending" for c in set(customers) - control)


async def test_only_the_chosen_segments(db: Database, tenant: Tenant) -> None:
    account = await add_account(db, tenant)
    for days in (2, 5, 40, 90, 200, 300, 400, 500, 600, 700):
        await add_customer(db, tenant, last_order_days_ago=days)
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        workspace = await workspaces.get_workspace(session, tenant.workspace_id)
        scored = await score_workspace(session, workspace, utcnow())
    segment = scored.customers[max(scored.customers)].segment  # the longest-ago buyer's
    members = {c for c, s in scored.customers.items() if s.segment == segment}
    campaign_id, launched = await create_and_launch(db, tenant, campaign_in(account, segments=[segment]))
    assert set(await recipients(db, tenant, campaign_id)) == members
    assert launched.recipients == len(members) < len(scored.customers)


async def test_messenger_only_within_24_hours_and_whatsapp_by_phone(db: Database, tenant: Tenant) -> None:
    messenger = await add_account(db, tenant, "messenger")
    recent = await add_customer(db, tenant, identities=(("messenger_psid", "psid-recent"),))
    stale = await add_customer(db, tenant, identities=(("messenger_psid", "psid-stale"),))
    unknown = await add_customer(db, tenant)
    async with db.transaction(tenant.workspace_id) as session:
        for customer_id, hours in ((recent, 2), (stale, 72)):
            at = utcnow() - dt.timedelta(hours=hours)
            conversation = Conversation(
                customer_id=customer_id, channel="messenger", channel_account_id=messenger, status="resolved"
            )
            session.add(conversation)
            await session.flush()
            session.add(
                Message(
                    conversation_id=conversation.id,
                    channel="messenger",
                    direction="inbound",
                    author_kind="customer",
                    text="hi",
                    created_at=at,
                    sent_at=at,
                )
            )
    _, launched = await create_and_launch(db, tenant, campaign_in(messenger))
    assert launched.recipients == 1
    assert launched.skipped == {"outside_window": 1, "no_address": 1}
    assert unknown  # the e-mail-only buyer: no address on Messenger

    whatsapp = await add_account(db, tenant, "whatsapp")
    await add_customer(db, tenant, identities=(("phone", "+4915112345678"),))
    templates = {"en": {"body": "Hi", "whatsapp": {"name": "winback", "language": "en"}}}
    _, launched = await create_and_launch(db, tenant, campaign_in(whatsapp, templates=templates))
    # Only the phone buyer has a WhatsApp address (the Messenger and e-mail ones have none).
    assert launched.recipients == 1 and launched.skipped == {"no_address": 3}
