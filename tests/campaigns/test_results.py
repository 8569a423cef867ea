"""Results: the messaged buyers against the control group, from known deliveries, replies and orders."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from decimal import Decimal

import pytest
from sqlalchemy import select

from crossdesk.campaigns.results import two_proportion_p
from crossdesk.campaigns.sending import CampaignSender
from crossdesk.commerce import fx
from crossdesk.config import Settings
from crossdesk.conversations import service as conversations
from crossdesk.conversations.models import Message
from crossdesk.db import Database
from crossdesk.retention.recommend import RecommendationCache
from tests.campaigns.conftest import (
    add_account,
    add_customer,
    add_order,
    campaign_in,
    create_and_launch,
    recipients,
)
from tests.channels.email.conftest import Outgoing, smtp_config
from tests.conftest import Tenant

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


async def _settled(db: Database, tenant: Tenant, message_ids: list[int]) -> None:
    """Wait until the server's outbox has sent every message (so nothing changes them after)."""
    for _ in range(400):
        async with db.transaction(tenant.workspace_id, readonly=True) as session:
            states = set(
                await session.scalars(select(Message.delivery_state).where(Message.id.in_(message_ids)))
            )
        if states == {"sent"}:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"messages still {states}")


async def test_results_compare_treatment_with_control(
    db: Database, tenant: Tenant, outgoing: Outgoing
) -> None:
    account = await add_account(db, tenant, **smtp_config(outgoing))
    customers = [await add_customer(db, tenant) for _ in range(30)]
    data = campaign_in(account, control_share="0.5", attribution_days=14)
    campaign_id, _ = await create_and_launch(db, tenant, data)
    start = data.starts_at
    assert start is not None
    sent_at = start + dt.timedelta(hours=1)
    await CampaignSender(db, Settings(), RecommendationCache()).run_once(sent_at)
    found = await recipients(db, tenant, campaign_id)
    treated = [c for c in customers if not found[c].is_control]
    control = [c for c in customers if found[c].is_control]
    assert len(treated) >= 4 and len(control) >= 3
    messages = {c: found[c].message_id for c in treated}
    await _settled(db, tenant, [m for m in messages.values() if m is not None])

    async with db.transaction(tenant.workspace_id) as session:
        for customer, state in zip(treated, ("delivered", "read", "failed"), strict=False):
            await conversations.set_delivery_state(session, messages[customer] or 0, state, None, None)
        for customer, minutes in ((treated[0], 60), (treated[1], -1)):  # a reply; and a message before it
            sent = await session.get_one(Message, messages[customer])
            at = sent_at + dt.timedelta(minutes=minutes)
            session.add(
                Message(
                    conversation_id=sent.conversation_id,
                    channel="email",
                    direction="inbound",
                    author_kind="customer",
                    text="Thanks!",
                    created_at=at,
                    sent_at=at,
                )
            )
        days = dt.timedelta(days=1)
        await add_order(session, treated[0], sent_at + 2 * days, "100.00")
        await add_order(session, treated[0], sent_at + 3 * days, "20.00")  # the same buyer: counted once
        await add_order(session, treated[1], sent_at + 13 * days, "80.00", currency="EUR")
        await add_order(session, treated[2], sent_at + 15 * days, "999.00")  # after the window
        await add_order(session, treated[3], sent_at + 1 * days, "999.00", status="cancelled")
        await add_order(session, control[0], start + 5 * days, "40.00")  # control: from the start
        await add_order(session, control[1], start - days / 24, "999.00")  # before the campaign
        await add_order(session, control[2], start + 14 * days + dt.timedelta(minutes=1), "999.00")

    async with tenant.client() as client:
        response = await client.get(f"/api/v1/campaigns/{campaign_id}/results")
    assert response.status_code == 200, response.text
    got = response.json()
    euros = fx.convert(Decimal("80.00"), "EUR", "USD", (sent_at + 13 * days).date())
    assert euros is not None
    nt, nc = len(treated), len(control)
    assert got["currency"] == "USD" and got["pending"] == 0 and got["skipped"] == {}
    treatment = got["treatment"]
    assert {
        k: treatment[k] for k in ("recipients", "sent", "delivered", "read", "failed", "replied", "ordered")
    } == {
        "recipients": nt,
        "sent": nt - 1,
        "delivered": 2,
        "read": 1,
        "failed": 1,
        "replied": 1,
        "ordered": 2,
    }
    assert Decimal(treatment["revenue"]) == (Decimal("120.00") + euros).quantize(Decimal("0.01"))
    assert treatment["conversion_rate"] == pytest.approx(2 / nt)
    assert got["control"]["recipients"] == nc and got["control"]["ordered"] == 1
    assert got["control"]["sent"] == 0 and Decimal(got["control"]["revenue"]) == Decimal("40.00")
    assert got["control"]["conversion_rate"] == pytest.approx(1 / nc)
    assert got["uplift"] == pytest.approx(2 / nt - 1 / nc)
    pooled = 3 / (nt + nc)
    z = (2 / nt - 1 / nc) / math.sqrt(pooled * (1 - pooled) * (1 / nt + 1 / nc))
    assert got["p_value"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))


def test_two_proportion_p_value() -> None:
    assert two_proportion_p(50, 100, 50, 100) == pytest.approx(1.0)
    assert two_proportion_p(60, 100, 40, 100) == pytest.approx(0.004677734981047)  # z = 2.828
    assert two_proportion_p(0, 10, 0, 10) is None and two_proportion_p(1, 0, 1, 10) is None
