"""What came of a campaign: the messaged buyers (treatment) against the held-out control group.

Treatment is every customer a message was handed to the channel for (``sent_at`` set); control is the
held-out group. An order counts for a customer placed within ``attribution_days`` after their message
(control: after the campaign's start), unless cancelled or refunded; revenue is those orders' totals in
the workspace's currency at each order day's ECB rate. Delivered and read come from the messages'
delivery states ("read" only where the channel reports it: WhatsApp, Messenger); replied is a buyer
message in the campaign's conversation after it was sent.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from decimal import Decimal

from scipy.stats import norm
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crossdesk.campaigns.models import Campaign, CampaignRecipient
from crossdesk.campaigns.schemas import GroupResults, ResultsOut
from crossdesk.commerce import fx
from crossdesk.commerce.models import NOT_SOLD, Order
from crossdesk.conversations.models import Message
from crossdesk.workspaces.models import Workspace

SENT = ("sent", "delivered", "read")
DELIVERED = ("delivered", "read")
FAILED = ("failed", "dead")
CENT = Decimal("0.01")


def two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None when it is undefined."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    return float(2 * norm.sf(abs((x1 / n1 - x2 / n2) / se)))


def _messaged() -> ColumnElement[bool]:
    return or_(CampaignRecipient.is_control.is_(True), CampaignRecipient.sent_at.is_not(None))


async def _deliveries(session: AsyncSession, campaign_id: int) -> Counter[str]:
    rows = await session.execute(
        select(Message.delivery_state, func.count())
        .join(CampaignRecipient, CampaignRecipient.message_id == Message.id)
        .where(CampaignRecipient.campaign_id == campaign_id)
        .group_by(Message.delivery_state)
    )
    return Counter({state or "": int(n) for state, n in rows})


async def _replied(session: AsyncSession, campaign_id: int) -> int:
    sent, reply = aliased(Message), aliased(Message)
    stmt = (
        select(func.count(func.distinct(CampaignRecipient.id)))
        .join(sent, sent.id == CampaignRecipient.message_id)
        .join(
            reply,
            and_(
                reply.conversation_id == sent.conversation_id,
                reply.direction == "inbound",
                reply.created_at > CampaignRecipient.sent_at,
            ),
        )
        .where(CampaignRecipient.campaign_id == campaign_id)
    )
    return int(await session.scalar(stmt) or 0)


async def _orders(
    session: AsyncSession, campaign: Campaign, currency: str
) -> tuple[dict[bool, set[int]], dict[bool, Decimal], set[str]]:
    """Per group (is_control): the customers who ordered in their window, the revenue, and the currencies
    without a rate. One query for the candidate orders; each one's window is checked here."""
    start = campaign.starts_at or campaign.created_at
    rows = await session.execute(
        select(
            CampaignRecipient.is_control,
            CampaignRecipient.customer_id,
            CampaignRecipient.sent_at,
            Order.placed_at,
            Order.total,
            Order.currency,
        )
        .join(Order, Order.customer_id == CampaignRecipient.customer_id)
        .where(
            CampaignRecipient.campaign_id == campaign.id,
            _messaged(),
            Order.status.not_in(NOT_SOLD),
            Order.placed_at > start,
            Order.placed_at <= start + dt.timedelta(days=campaign.attribution_days + 366),
        )
    )
    window = dt.timedelta(days=campaign.attribution_days)
    buyers: dict[bool, set[int]] = defaultdict(set)
    revenue: dict[bool, Decimal] = defaultdict(Decimal)
    unconverted: set[str] = set()
    for is_control, customer_id, sent_at, placed_at, total, order_currency in rows:
        anchor = start if is_control or sent_at is None else sent_at
        if not anchor < placed_at <= anchor + window:
            continue
        buyers[is_control].add(customer_id)
        converted = fx.convert(Decimal(total), order_currency, currency, placed_at.date())
        if converted is None:
            unconverted.add(order_currency)
        else:
            revenue[is_control] += converted
    return buyers, revenue, unconverted


async def results(session: AsyncSession, campaign: Campaign, workspace: Workspace) -> ResultsOut:
    counts = await session.execute(
        select(
            CampaignRecipient.is_control,
            CampaignRecipient.state,
            CampaignRecipient.skip_reason,
            CampaignRecipient.sent_at.is_not(None),
            func.count(),
        )
        .where(CampaignRecipient.campaign_id == campaign.id)
        .group_by(
            CampaignRecipient.is_control,
            CampaignRecipient.state,
            CampaignRecipient.skip_reason,
            CampaignRecipient.sent_at.is_not(None),
        )
    )
    size = {True: 0, False: 0}
    skipped: Counter[str] = Counter()
    pending = 0
    for is_control, state, reason, was_sent, n in counts:
        if is_control or was_sent:
            size[bool(is_control)] += int(n)
        elif state == "pending":
            pending += int(n)
        else:
            skipped[reason or state] += int(n)
    states = await _deliveries(session, campaign.id)
    buyers, revenue, unconverted = await _orders(session, campaign, workspace.base_currency)
    replied = await _replied(session, campaign.id)

    def group(is_control: bool) -> GroupResults:
        n, ordered = size[is_control], len(buyers[is_control])
        treated = not is_control
        return GroupResults(
            recipients=n,
            sent=sum(states[s] for s in SENT) if treated else 0,
            delivered=sum(states[s] for s in DELIVERED) if treated else 0,
            read=states["read"] if treated else 0,
            failed=sum(states[s] for s in FAILED) if treated else 0,
            replied=replied if treated else 0,
            ordered=ordered,
            revenue=revenue[is_control].quantize(CENT),
            conversion_rate=ordered / n if n else 0.0,
        )

    treatment, control = group(False), group(True)
    both = treatment.recipients and control.recipients
    return ResultsOut(
        campaign_id=campaign.id,
        state=campaign.state,
        currency=workspace.base_currency,
        attribution_days=campaign.attribution_days,
        treatment=treatment,
        control=control,
        skipped=dict(skipped),
        pending=pending,
        uplift=treatment.conversion_rate - control.conversion_rate if both else None,
        p_value=two_proportion_p(
            treatment.ordered, treatment.recipients, control.ordered, control.recipients
        ),
        unconverted_currencies=sorted(unconverted),
    )
