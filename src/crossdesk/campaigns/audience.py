"""Who a launched campaign reaches: the customers of its segments, less those it must not message, with a
held-out control group, snapshotted into ``campaign_recipients``.

Consent: a customer who opted out (``marketing_consent`` False) is never messaged; one who opted in
(True) is. Where consent is unknown (None) the customer counts as allowed only after a sale within the last
two years: the "soft opt-in" for a seller's own past buyers and similar products that EU ePrivacy
(Directive 2002/58/EC, art. 13(2)) permits, as long as every message offers a way out (the unsubscribe
link). Sellers who need stricter rules set consent explicitly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.campaigns import unsubscribe
from crossdesk.campaigns.models import Campaign, CampaignRecipient
from crossdesk.campaigns.schedule import next_send_time, zone_of
from crossdesk.channels.kinds.meta import REPLY_WINDOW
from crossdesk.conversations.models import Conversation, Message
from crossdesk.customers import service as customers
from crossdesk.customers.identities import EMAIL, PHONE
from crossdesk.customers.models import Customer, CustomerIdentity
from crossdesk.retention.segments import Scored
from crossdesk.workspaces.models import Workspace

SOFT_OPT_IN = dt.timedelta(days=730)
# The buyer identities a channel can address a first message to.
ADDRESSES = {"email": (EMAIL,), "whatsapp": ("whatsapp_id", PHONE), "messenger": ("messenger_psid",)}
CHUNK = 5_000  # ids per IN (...) list: well under SQLite's and asyncpg's bound-parameter limits


@dataclass
class Audience:
    recipients: int = 0
    control: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


def in_control(campaign_id: int, customer_id: int, share: Decimal) -> bool:
    """A stable draw: the same campaign and customer always land in the same group."""
    digest = hashlib.sha256(f"campaign:{campaign_id}:customer:{customer_id}".encode()).digest()
    return Decimal(int.from_bytes(digest[:8], "big")) / Decimal(2**64) < share


def language_for(customer_language: str | None, available: Sequence[str], default: str) -> str:
    """The buyer's language where the campaign speaks it (exactly, else its base: de-AT → de)."""
    wanted = (customer_language or "").strip()
    for candidate in (wanted, wanted.split("-")[0].lower()):
        if candidate in available:
            return candidate
    return default


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


async def _with_address(session: AsyncSession, ids: Sequence[int], kinds: Sequence[str]) -> set[int]:
    found: set[int] = set()
    for part in _chunks(ids):
        stmt = select(CustomerIdentity.customer_id).where(
            CustomerIdentity.customer_id.in_(part), CustomerIdentity.kind.in_(kinds)
        )
        found.update((await session.scalars(stmt)).all())
    return found


async def last_inbound_at(
    session: AsyncSession, ids: Sequence[int], account_id: int
) -> dict[int, dt.datetime]:
    """Each customer's latest message to this channel account."""
    found: dict[int, dt.datetime] = {}
    for part in _chunks(ids):
        rows = await session.execute(
            select(Conversation.customer_id, func.max(Message.created_at))
            .join(Message, Message.conversation_id == Conversation.id)
            .where(
                Conversation.customer_id.in_(part),
                Conversation.channel_account_id == account_id,
                Message.direction == "inbound",
            )
            .group_by(Conversation.customer_id)
        )
        found.update({customer_id: at for customer_id, at in rows})
    return found


async def recently_messaged(
    session: AsyncSession, ids: Sequence[int], days: int, now: dt.datetime
) -> set[int]:
    """Customers sent a campaign message (any campaign) within the last ``days`` days."""
    if days <= 0:
        return set()
    found: set[int] = set()
    for part in _chunks(ids):
        stmt = select(CampaignRecipient.customer_id).where(
            CampaignRecipient.customer_id.in_(part),
            CampaignRecipient.sent_at >= now - dt.timedelta(days=days),
        )
        found.update((await session.scalars(stmt)).all())
    return found


def consents(customer: Customer, last_order_at: dt.datetime, now: dt.datetime) -> bool:
    if customer.marketing_consent is None:
        return now - last_order_at <= SOFT_OPT_IN
    return customer.marketing_consent


async def skip_reasons(
    session: AsyncSession, campaign: Campaign, channel: str, scored: Scored, ids: list[int], now: dt.datetime
) -> tuple[dict[int, str], dict[int, Customer]]:
    """Why each customer who must not be messaged is left out (first reason found), and every profile."""
    profiles = await customers.get_many(session, ids)
    unsubscribed: set[int] = set()
    for part in _chunks(ids):
        unsubscribed |= await unsubscribe.unsubscribed_ids(session, list(part), channel)
    addressed = await _with_address(session, ids, ADDRESSES[channel])
    inbound = await last_inbound_at(session, ids, campaign.channel_account_id or 0)
    capped = await recently_messaged(session, ids, campaign.frequency_cap_days, now)
    reasons: dict[int, str] = {}
    for customer_id in ids:
        customer = profiles.get(customer_id)
        last_message = inbound.get(customer_id)
        if customer is None or customer.merged_into_id is not None:
            reasons[customer_id] = "merged"
        elif customer_id in unsubscribed:
            reasons[customer_id] = "unsubscribed"
        elif not consents(customer, scored.customers[customer_id].last_order_at, now):
            reasons[customer_id] = "no_consent"
        elif customer_id not in addressed and not (channel == "messenger" and last_message):
            reasons[customer_id] = "no_address"
        elif channel == "messenger" and (last_message is None or now - last_message > REPLY_WINDOW):
            # Meta allows marketing on Messenger only within 24 hours of the buyer's last message.
            reasons[customer_id] = "outside_window"
        elif customer_id in capped:
            reasons[customer_id] = "frequency_cap"
    return reasons, profiles


async def build(
    session: AsyncSession,
    campaign: Campaign,
    workspace: Workspace,
    channel: str,
    scored: Scored,
    now: dt.datetime,
) -> Audience:
    """Snapshot the campaign's audience into its recipients (pending, control or skipped)."""
    wanted = set(campaign.segments)
    ids = sorted(i for i, c in scored.customers.items() if not wanted or c.segment in wanted)
    reasons, profiles = await skip_reasons(session, campaign, channel, scored, ids, now)
    start = max(campaign.starts_at or now, now)
    audience = Audience()
    rows = []
    for customer_id in ids:
        row: dict[str, Any] = {
            "workspace_id": workspace.id,  # a bulk insert is not stamped by the session: say it here
            "campaign_id": campaign.id,
            "customer_id": customer_id,
            "is_control": False,
            "skip_reason": reasons.get(customer_id),
            "send_after": None,
            "language": None,
        }
        if row["skip_reason"] is not None:
            row["state"] = "skipped"
            audience.skipped[reasons[customer_id]] += 1
        elif in_control(campaign.id, customer_id, campaign.control_share):
            row.update(state="control", is_control=True)
            audience.control += 1
        else:
            customer = profiles[customer_id]
            zone = zone_of(customer.timezone, workspace.timezone)
            row.update(
                state="pending",
                language=language_for(customer.language, list(campaign.templates), campaign.default_language),
                send_after=next_send_time(start, zone, campaign.send_from_hour, campaign.send_until_hour),
            )
            audience.recipients += 1
        rows.append(row)
    for part in range(0, len(rows), CHUNK // 10):
        await session.execute(insert(CampaignRecipient), rows[part : part + CHUNK // 10])
    return audience
