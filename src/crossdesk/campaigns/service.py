"""Campaigns: drafts an admin writes and checks, launching one (its audience snapshotted, each message
scheduled) and cancelling it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from jinja2 import Environment, meta
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.campaigns import audience
from crossdesk.campaigns.models import Campaign, CampaignRecipient
from crossdesk.campaigns.schemas import CampaignIn, CampaignPatch, LaunchOut
from crossdesk.channels import outbox
from crossdesk.channels import service as channels
from crossdesk.channels.models import ChannelAccount
from crossdesk.conversations.macros import MacroError, check_template
from crossdesk.conversations.service import NotFound
from crossdesk.retention.segments import Scored, rules_of
from crossdesk.workspaces.models import Workspace

CHANNEL_KINDS = ("email", "whatsapp", "messenger")
VARIABLES = frozenset({"customer", "recommendations", "discount_code", "unsubscribe_url"})
_PARSER = Environment(autoescape=True)  # parsing only (rendering is the sandbox's)


class CampaignError(ValueError):
    """Input a campaign cannot have; ``field`` names it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class NotDraft(Exception):
    """The campaign has been launched or cancelled: it no longer changes."""


def variables_in(text: str) -> set[str]:
    """The variables a (checked) template uses."""
    return set(meta.find_undeclared_variables(_PARSER.parse(text)))


def _check_text(text: str, field: str) -> None:
    try:
        check_template(text)
    except MacroError as exc:
        raise CampaignError(str(exc), field) from exc
    unknown = variables_in(text) - VARIABLES
    if unknown:
        raise CampaignError(f"unknown variable: {', '.join(sorted(unknown))}", field)


def _check_templates(data: CampaignIn, kind: str) -> None:
    for language, template in data.templates.items():
        where = f"templates.{language}"
        _check_text(template.body, f"{where}.body")
        if template.subject is not None:
            _check_text(template.subject, f"{where}.subject")
        if kind == "whatsapp" and template.whatsapp is None:
            raise CampaignError("WhatsApp sends approved templates only: name one", f"{where}.whatsapp")
        for n, parameter in enumerate(template.whatsapp.parameters if template.whatsapp else []):
            _check_text(parameter, f"{where}.whatsapp.parameters.{n}")


async def channel_account(session: AsyncSession, account_id: int | None) -> ChannelAccount:
    """The workspace's active e-mail, WhatsApp or Messenger account of that id."""
    account = await channels.get_account(session, account_id) if account_id else None
    if account is None or not account.is_active or account.kind not in CHANNEL_KINDS:
        raise CampaignError(
            "not an active e-mail, WhatsApp or Messenger account of this workspace", "channel_account_id"
        )
    return account


async def _checked(session: AsyncSession, workspace: Workspace, data: CampaignIn) -> dict[str, Any]:
    known = set(rules_of(workspace).names())
    unknown = [s for s in data.segments if s not in known]
    if unknown:
        raise CampaignError(f"unknown segment: {', '.join(unknown)}", "segments")
    account = await channel_account(session, data.channel_account_id)
    _check_templates(data, account.kind)
    values = data.model_dump(mode="python", exclude={"templates"})
    values["segments"] = list(dict.fromkeys(data.segments))
    values["templates"] = {
        language: t.model_dump(mode="json", exclude_none=True) for language, t in data.templates.items()
    }
    return values


async def get_campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return campaign


async def list_campaigns(session: AsyncSession) -> list[Campaign]:
    return list((await session.scalars(select(Campaign).order_by(Campaign.id.desc()))).all())


async def create_campaign(
    session: AsyncSession, workspace: Workspace, data: CampaignIn, agent_id: int | None
) -> Campaign:
    campaign = Campaign(**await _checked(session, workspace, data), state="draft", created_by_id=agent_id)
    session.add(campaign)
    await session.flush()
    return campaign


async def update_campaign(
    session: AsyncSession, workspace: Workspace, campaign_id: int, patch: CampaignPatch
) -> Campaign:
    campaign = await get_campaign(session, campaign_id)
    if campaign.state != "draft":
        raise NotDraft(f"campaign {campaign_id} is {campaign.state}: only drafts change")
    current = {name: getattr(campaign, name) for name in CampaignIn.model_fields}
    try:
        merged = CampaignIn.model_validate({**current, **patch.model_dump(exclude_unset=True)})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CampaignError(first["msg"], ".".join(str(p) for p in first["loc"])) from exc
    for name, value in (await _checked(session, workspace, merged)).items():
        setattr(campaign, name, value)
    await session.flush()
    return campaign


async def launch(
    session: AsyncSession, workspace: Workspace, campaign_id: int, scored: Scored, now: dt.datetime
) -> LaunchOut:
    """Snapshot the audience and start sending (each message at its buyer's own daytime)."""
    campaign = await session.scalar(select(Campaign).where(Campaign.id == campaign_id).with_for_update())
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    if campaign.state != "draft":
        raise NotDraft(f"campaign {campaign_id} is {campaign.state}: only a draft is launched")
    account = await channel_account(session, campaign.channel_account_id)
    if await outbox.sender_of(session, account.id) is None:
        raise CampaignError("the account cannot send yet: complete its settings first", "channel_account_id")
    campaign.starts_at = max(campaign.starts_at or now, now)
    found = await audience.build(session, campaign, workspace, account.kind, scored, now)
    campaign.state = "sending" if found.recipients else "done"  # nobody to send to: nothing will be
    await session.flush()
    return LaunchOut.model_validate(
        {
            "campaign": campaign,
            "recipients": found.recipients,
            "control": found.control,
            "skipped": dict(found.skipped),
        }
    )


async def cancel(session: AsyncSession, campaign_id: int) -> Campaign:
    """Stop a campaign: what is not sent yet never will be (already queued messages still go)."""
    campaign = await get_campaign(session, campaign_id)
    if campaign.state in ("done", "cancelled"):
        raise NotDraft(f"campaign {campaign_id} is {campaign.state} already")
    campaign.state = "cancelled"
    await session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.state == "pending")
        .values(state="skipped", skip_reason="cancelled")
    )
    await session.flush()
    return campaign
