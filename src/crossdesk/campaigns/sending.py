"""Sending campaign messages when they fall due, through the inbox's own outbound path.

Each message becomes an agent reply in a conversation of the buyer on the campaign's channel account, so
the outbox sends it (retries, delivery states and read receipts, threading of the buyer's answer all work
as for any reply). A new conversation is opened already resolved, so campaigns do not flood the inbox; a
buyer who answers reopens it. Messenger has no such first message: there the campaign goes into the
buyer's conversation of the last 24 hours (the audience left out everyone else).

One process of a deployment runs the sender: the holder of the lease ``campaigns`` (``ops.leases``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.campaigns import audience, unsubscribe
from crossdesk.campaigns.models import Campaign, CampaignRecipient
from crossdesk.campaigns.schemas import MessageTemplate
from crossdesk.campaigns.service import variables_in
from crossdesk.channels import outbox
from crossdesk.channels import service as channels
from crossdesk.channels.adapter import ReplyRefused
from crossdesk.channels.models import ChannelAccount
from crossdesk.config import Settings
from crossdesk.conversations import service as conversations
from crossdesk.conversations.macros import MacroError, first_name, render_text
from crossdesk.conversations.models import Conversation
from crossdesk.conversations.schemas import TemplateIn
from crossdesk.customers import service as customers
from crossdesk.customers.identities import PHONE
from crossdesk.customers.models import Customer
from crossdesk.db import Database, utcnow
from crossdesk.retention.recommend import RecommendationCache

log = logging.getLogger(__name__)
LEASE = "campaigns"
BATCH = 100  # recipients per workspace per round: one workspace's big campaign does not starve the others
RECOMMENDED = 3


class Skip(Exception):
    """The recipient is not sent to; the message is the reason recorded."""


def _uses(texts: list[str], variable: str) -> bool:
    return any(variable in variables_in(t) for t in texts)


class CampaignSender:
    """Every few seconds, sends each workspace's due campaign messages."""

    def __init__(
        self, db: Database, settings: Settings, recommendations: RecommendationCache, interval_s: float = 2.0
    ) -> None:
        self.db, self.settings, self.recommendations = db, settings, recommendations
        self.interval_s = interval_s

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # the database away for a moment: try again next round
                log.exception("campaign sending round failed")
            await asyncio.sleep(self.interval_s)

    async def run_once(self, now: dt.datetime | None = None) -> int:
        """Send what is due at ``now``; returns how many recipients were handled."""
        now = now or utcnow()
        async with self.db.transaction(system=True, readonly=True) as session:
            workspace_ids = list(
                await session.scalars(_due(now).with_only_columns(CampaignRecipient.workspace_id).distinct())
            )
        handled = 0
        for workspace_id in workspace_ids:
            async with self.db.transaction(workspace_id, readonly=True) as session:
                ids = list(
                    await session.scalars(
                        _due(now)
                        .with_only_columns(CampaignRecipient.id)
                        .order_by(CampaignRecipient.send_after, CampaignRecipient.id)
                        .limit(BATCH)
                    )
                )
            for recipient_id in ids:  # each in its own transaction: one failure stops no other message
                try:
                    async with self.db.transaction(workspace_id) as session:
                        await self.send_one(session, recipient_id, now)
                except Exception:
                    log.exception("campaign recipient %s failed", recipient_id)
                    async with self.db.transaction(workspace_id) as session:
                        await _mark(session, recipient_id, "failed", "error")
                handled += 1
            async with self.db.transaction(workspace_id) as session:
                await finish_done(session)
        return handled

    async def send_one(self, session: AsyncSession, recipient_id: int, now: dt.datetime) -> None:
        # Locked: a round of another process (the lease changing hands) waits, then finds it handled.
        recipient = await session.scalar(
            select(CampaignRecipient).where(CampaignRecipient.id == recipient_id).with_for_update()
        )
        if recipient is None or recipient.state != "pending":
            return
        campaign = await session.get_one(Campaign, recipient.campaign_id)
        try:
            account, customer = await self._checked(session, campaign, recipient, now)
            message = await self._send(session, campaign, recipient, account, customer, now)
        except Skip as exc:
            recipient.state, recipient.skip_reason = "skipped", str(exc)
            return
        except MacroError:
            recipient.state, recipient.skip_reason = "failed", "template_error"
            return
        recipient.state, recipient.message_id, recipient.sent_at = "queued", message, now

    async def _checked(
        self, session: AsyncSession, campaign: Campaign, recipient: CampaignRecipient, now: dt.datetime
    ) -> tuple[ChannelAccount, Customer]:
        """The account and the customer, once sending is still allowed (things change after launch)."""
        account = await channels.get_account(session, campaign.channel_account_id or 0)
        customer = await customers.get(session, recipient.customer_id)
        if account is None or await outbox.sender_of(session, account.id) is None:
            raise Skip("channel_unavailable")  # switched off, or its settings were emptied
        if customer is None or customer.merged_into_id is not None:
            raise Skip("merged")
        if customer.marketing_consent is False:
            raise Skip("no_consent")
        if await unsubscribe.is_unsubscribed(session, customer.id, account.kind):
            raise Skip("unsubscribed")
        if await audience.recently_messaged(session, [customer.id], campaign.frequency_cap_days, now):
            raise Skip("frequency_cap")
        return account, customer

    async def _variables(
        self, session: AsyncSession, customer: Customer, campaign: Campaign, texts: list[str], link: str
    ) -> dict[str, Any]:
        titles: list[str] = []
        if _uses(texts, "recommendations"):
            fitted = await self.recommendations.get(session, customer.workspace_id)
            titles = [title for _sku, title in fitted.top(customer.id, RECOMMENDED, customer.country)]
        name = customer.name or ""
        return {
            "customer": {"name": name, "first_name": first_name(name)},
            "recommendations": titles,
            "discount_code": campaign.discount_code or "",
            "unsubscribe_url": link,
        }

    async def _send(
        self,
        session: AsyncSession,
        campaign: Campaign,
        recipient: CampaignRecipient,
        account: ChannelAccount,
        customer: Customer,
        now: dt.datetime,
    ) -> int:
        """Render the buyer's message and hand it to the outbox; returns the message's id."""
        language = (
            recipient.language if recipient.language in campaign.templates else campaign.default_language
        )
        template = MessageTemplate.model_validate(campaign.templates[language])
        parameters = template.whatsapp.parameters if template.whatsapp else []
        texts = [template.body, template.subject or "", *parameters]
        claims = unsubscribe.Claims(account.kind, account.public_id, customer.id, campaign.id)
        link = unsubscribe.link(self.settings.public_url, unsubscribe.issue(account.secret, claims))
        variables = await self._variables(session, customer, campaign, texts, link)
        text = render_text(template.body, variables).strip()
        if account.kind == "email" and not _uses([template.body], "unsubscribe_url"):
            text += f"\n\n--\nUnsubscribe: {link}"  # every marketing e-mail shows the way out
        whatsapp = None
        if template.whatsapp is not None:
            rendered = [render_text(p, variables) for p in parameters]
            whatsapp = TemplateIn(
                name=template.whatsapp.name, language=template.whatsapp.language, parameters=rendered
            )
        subject = render_text(template.subject or campaign.name, variables).strip()[:500]
        try:
            async with session.begin_nested():  # a refused message leaves no empty conversation behind
                conversation = await _conversation(session, account, customer, subject, language, now)
                out = await conversations.add_agent_message(
                    session,
                    conversation,
                    campaign.created_by_id,
                    text,
                    private=False,
                    template=whatsapp,
                    meta={"campaign_id": campaign.id, "unsubscribe_url": link},
                )
        except ReplyRefused as exc:
            raise Skip("outside_window" if "window" in str(exc) else "refused") from exc
        return int(out["id"])


async def _conversation(
    session: AsyncSession,
    account: ChannelAccount,
    customer: Customer,
    subject: str,
    language: str,
    now: dt.datetime,
) -> int:
    """The conversation the message goes into: the buyer's latest on Messenger (the only one that may
    take it), else a new one, resolved."""
    if account.kind == "messenger":
        found = await session.scalar(
            select(Conversation.id)
            .where(Conversation.customer_id == customer.id, Conversation.channel_account_id == account.id)
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            .limit(1)
        )
        if found is None:
            raise Skip("no_address")
        return int(found)
    thread_key = None
    if account.kind == "whatsapp":
        thread_key = f"{account.config.get('phone_number_id', '')}:{await _whatsapp_id(session, customer.id)}"
    conversation = Conversation(
        customer_id=customer.id,
        channel=account.kind,
        channel_account_id=account.id,
        thread_key=thread_key,
        subject=subject if account.kind == "email" else None,
        language=language,
        status="resolved",
        priority="normal",
        created_at=now,
        updated_at=now,
        last_message_at=now,
        resolved_at=now,
    )
    session.add(conversation)
    await session.flush()
    return conversation.id


async def _whatsapp_id(session: AsyncSession, customer_id: int) -> str:
    """The buyer's WhatsApp id: the one WhatsApp gave, else their phone number's digits (E.164)."""
    found = {i.kind: i.value for i in await customers.identities_of(session, customer_id)}
    wa_id = found.get("whatsapp_id") or found.get(PHONE, "").lstrip("+")
    if not wa_id.isdigit():
        raise Skip("no_address")
    return wa_id


def _due(now: dt.datetime) -> Any:
    return (
        select(CampaignRecipient)
        .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
        .where(
            CampaignRecipient.state == "pending",
            CampaignRecipient.send_after <= now,
            Campaign.state == "sending",
        )
    )


async def _mark(session: AsyncSession, recipient_id: int, state: str, reason: str) -> None:
    await session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.id == recipient_id, CampaignRecipient.state == "pending")
        .values(state=state, skip_reason=reason)
    )


async def finish_done(session: AsyncSession) -> None:
    """Campaigns with nothing left to send are done."""
    pending = exists().where(
        CampaignRecipient.campaign_id == Campaign.id, CampaignRecipient.state == "pending"
    )
    await session.execute(update(Campaign).where(Campaign.state == "sending", ~pending).values(state="done"))
