"""The campaigns page: the workspace's repeat-purchase and win-back campaigns, a form for drafts (admins),
and each campaign's settings, Launch / Cancel (admins, confirmed without JS) and results: the messaged
buyers against the control group, as a sentence, a chart and a table.

Built on ``crossdesk.campaigns.service`` and ``results`` directly; errors of the form are shown next to
their field, the form keeping what was typed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale, UnknownLocaleError
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from crossdesk.campaigns import results, service
from crossdesk.campaigns.models import Campaign
from crossdesk.campaigns.schemas import CampaignIn, CampaignPatch, MessageTemplate, ResultsOut
from crossdesk.channels import service as channels
from crossdesk.conversations.macros import MacroError, render_text
from crossdesk.customers import service as customers
from crossdesk.db import utcnow
from crossdesk.retention.segments import Scored, SegmentCache, summary
from crossdesk.web import i18n
from crossdesk.web.i18n import N_, gettext
from crossdesk.web.reports_page import number, percent
from crossdesk.web.shell import AdminWrite, CurrentPage, Page, render
from crossdesk.web.sidebar import money
from crossdesk.workspaces.deps import DB, RowId

router = APIRouter(include_in_schema=False)
LIST_LIMIT = 100  # newest first; each launched one costs a few result queries
MAX_LANGUAGES = 30  # as CampaignIn.templates
# Offered in the language select (with the workspace's own and any a campaign already has).
COMMON_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "fi", "no", "cs", "ro",
                    "hu", "el", "tr", "ru", "uk", "ar", "he", "ja", "ko", "zh", "th", "vi", "id")  # fmt: skip
VARIABLES = (
    "{{ customer.first_name }}",
    "{{ customer.name }}",
    "{{ recommendations | join(', ') }}",
    "{{ discount_code }}",
    "{{ unsubscribe_url }}",
)
SIGNIFICANT = 0.05
# Shown translated (see ``i18n.N_``): the campaigns' states.
SHOWN_NAMES = (N_("draft"), N_("scheduled"), N_("sending"), N_("done"), N_("cancelled"))
# Why a customer was left out (campaigns.audience and .sending), in words.
SKIP_REASONS = {
    "merged": N_("merged into another customer"),
    "unsubscribed": N_("unsubscribed"),
    "no_consent": N_("no marketing consent"),
    "no_address": N_("no address on this channel"),
    "outside_window": N_("outside the channel's messaging window"),
    "frequency_cap": N_("messaged too recently (frequency cap)"),
    "channel_unavailable": N_("channel unavailable"),
    "refused": N_("refused by the channel"),
    "template_error": N_("message template error"),
    "error": N_("sending failed"),
}
ROW_FIELDS = ("language", "subject", "body", "wa_name", "wa_language", "wa_params")


# --- reading ---------------------------------------------------------------------------------------------


async def _accounts(session: AsyncSession) -> list[dict[str, Any]]:
    """The accounts a campaign can go out through: active e-mail, WhatsApp and Messenger ones."""
    return [
        {"id": a.id, "name": a.name, "kind": a.kind}
        for a in await channels.list_accounts(session)
        if a.is_active and a.kind in service.CHANNEL_KINDS
    ]


def _not_admin(page: Page) -> None:
    if not page.can_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "owner or admin role required")


@router.get("/campaigns", response_class=HTMLResponse)
async def campaigns_page(request: Request, page: CurrentPage, db: DB) -> Response:
    async with db.transaction(page.workspace.id, readonly=True) as session:
        rows = (await service.list_campaigns(session))[:LIST_LIMIT]
        accounts = {a.id: a.name for a in await channels.list_accounts(session)}
        found = {c.id: await results.results(session, c, page.workspace) for c in rows if c.state != "draft"}
    listed = [
        {"campaign": c, "account": accounts.get(c.channel_account_id or 0, ""), "results": found.get(c.id)}
        for c in rows
    ]
    context = {"nav": "campaigns", "rows": listed, "money": money, "percent": percent}
    return render(request, page, "campaigns.html", context)


def _sample(scored: Scored, segments: list[str]) -> int | None:
    """A customer of the campaign's segments (the first by id): whom the preview is written for."""
    wanted = set(segments)
    return min((i for i, c in scored.customers.items() if not wanted or c.segment in wanted), default=None)


async def _preview(
    request: Request, session: AsyncSession, page: Page, campaign: Campaign
) -> dict[str, str] | None:
    """The default language's message as the sample customer would read it (recommendations aside: they
    are picked per buyer when sending)."""
    cache: SegmentCache = request.app.state.segments
    sample = _sample(await cache.get(session, page.workspace, utcnow()), campaign.segments)
    customer = await customers.get(session, sample) if sample is not None else None
    if customer is None:
        return None
    name = customer.name or ""
    variables = {
        "customer": {"name": name, "first_name": name.split()[0] if name.strip() else ""},
        "recommendations": [],
        "discount_code": campaign.discount_code or "",
        "unsubscribe_url": gettext("(the buyer's own unsubscribe link)"),
    }
    template = MessageTemplate.model_validate(campaign.templates[campaign.default_language])
    try:
        subject = render_text(template.subject or campaign.name, variables)
        return {"customer": name, "subject": subject, "body": render_text(template.body, variables)}
    except MacroError:
        return None


def explain(found: ResultsOut) -> str:
    """The uplift in one plain sentence, with whether chance explains it."""
    if found.uplift is None:
        return gettext("Not enough customers in both groups yet to compare them.")
    points = number(round(abs(found.uplift) * 100, 1))
    if found.uplift >= 0:
        head = gettext("%(points)s points more buyers ordered than in the control group", points=points)
    else:
        head = gettext("%(points)s points fewer buyers ordered than in the control group", points=points)
    if found.p_value is None:
        return gettext("%(head)s; there is no spread yet to judge chance by.", head=head)
    p = number(round(found.p_value, 3))
    if found.p_value < SIGNIFICANT:
        return gettext("%(head)s; this is unlikely to be chance (p = %(p)s).", head=head, p=p)
    return gettext("%(head)s; not yet distinguishable from chance (p = %(p)s).", head=head, p=p)


def _chart(found: ResultsOut) -> dict[str, Any]:
    """The chart's data and texts in the viewer's language: conversion in percent, per group."""
    return {
        "labels": [gettext("Messaged"), gettext("Control group")],
        "values": [
            round(found.treatment.conversion_rate * 100, 2),
            round(found.control.conversion_rate * 100, 2),
        ],
        "text": {"title": gettext("Customers who ordered (%)"), "label": gettext("Conversion (%)")},
    }


async def _campaign_page(
    request: Request, page: Page, db: DB, campaign_id: int, error: str | None = None, code: int = 200
) -> Response:
    with i18n.viewing(page.viewer):  # the sentence, the chart's texts and the preview's link text
        async with db.transaction(page.workspace.id, readonly=True) as session:
            campaign = await service.get_campaign(session, campaign_id)
            account = await channels.get_account(session, campaign.channel_account_id or 0)
            found = await results.results(session, campaign, page.workspace)
            preview = await _preview(request, session, page, campaign)
        sentence, chart = explain(found), _chart(found)
    context: dict[str, Any] = {
        "nav": "campaigns",
        "campaign": campaign,
        "account": account,
        "results": found,
        "sentence": sentence,
        "chart": chart,
        "preview": preview,
        "error": error,
        "money": money,
        "percent": percent,
        "skip_reasons": SKIP_REASONS,
    }
    return render(request, page, "campaigns_detail.html", context, status_code=code)


@router.get("/campaigns/new", response_class=HTMLResponse)
async def new_campaign(request: Request, page: CurrentPage, db: DB) -> Response:
    _not_admin(page)
    defaults = CampaignIn.model_fields
    form: dict[str, Any] = {
        name: str(defaults[name].default)
        for name in ("kind", "send_from_hour", "send_until_hour", "frequency_cap_days", "attribution_days")
    }
    form["control_share"] = _as_percent(defaults["control_share"].default)
    form["t0_language"] = page.workspace.default_language
    return await _form_page(request, page, db, None, form, {})


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(campaign_id: RowId, request: Request, page: CurrentPage, db: DB) -> Response:
    return await _campaign_page(request, page, db, campaign_id)


@router.get("/campaigns/{campaign_id}/edit", response_class=HTMLResponse)
async def edit_campaign(campaign_id: RowId, request: Request, page: CurrentPage, db: DB) -> Response:
    _not_admin(page)
    async with db.transaction(page.workspace.id, readonly=True) as session:
        campaign = await service.get_campaign(session, campaign_id)
    if campaign.state != "draft":
        return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
    return await _form_page(request, page, db, campaign_id, _as_form(campaign, page.viewer), {})


# --- the form --------------------------------------------------------------------------------------------


def _local(moment: dt.datetime | None, viewer: i18n.Viewer) -> str:
    """A stored UTC time as a ``datetime-local`` value in the agent's zone."""
    return moment.astimezone(viewer.tz).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _as_percent(share: Decimal) -> str:
    """A share as the form's percent ("0.125" → "12.5", "0.1" → "10")."""
    return f"{(share * 100).normalize():f}"


def _as_form(campaign: Campaign, viewer: i18n.Viewer) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": campaign.name,
        "kind": campaign.kind,
        "segments": list(campaign.segments),
        "channel_account_id": str(campaign.channel_account_id or ""),
        "discount_code": campaign.discount_code or "",
        "send_from_hour": str(campaign.send_from_hour),
        "send_until_hour": str(campaign.send_until_hour),
        "frequency_cap_days": str(campaign.frequency_cap_days),
        "control_share": _as_percent(campaign.control_share),
        "attribution_days": str(campaign.attribution_days),
        "starts_at": _local(campaign.starts_at, viewer),
    }
    # The default language first: the form's first message is the default.
    languages = sorted(campaign.templates, key=lambda code: code != campaign.default_language)
    for i, language in enumerate(languages):
        template = MessageTemplate.model_validate(campaign.templates[language])
        whatsapp = template.whatsapp
        form |= {
            f"t{i}_language": language,
            f"t{i}_subject": template.subject or "",
            f"t{i}_body": template.body,
            f"t{i}_wa_name": whatsapp.name if whatsapp else "",
            f"t{i}_wa_language": whatsapp.language if whatsapp else "",
            f"t{i}_wa_params": "\n".join(whatsapp.parameters) if whatsapp else "",
        }
    return form


def _read_form(data: FormData) -> dict[str, Any]:
    """What was typed, as strings (segments: a list), for parsing and for showing the form again."""
    form: dict[str, Any] = {k: str(v) for k, v in data.items() if k != "segments" and isinstance(v, str)}
    form["segments"] = [str(s) for s in data.getlist("segments")]
    return form


def _rows(form: dict[str, Any]) -> list[int]:
    """The indexes of the message rows with something typed in them."""
    return [i for i in range(MAX_LANGUAGES) if any(form.get(f"t{i}_{f}", "").strip() for f in ROW_FIELDS[1:])]


def _template(form: dict[str, Any], i: int) -> dict[str, Any]:
    subject = form.get(f"t{i}_subject", "").strip()
    template: dict[str, Any] = {"subject": subject or None, "body": form.get(f"t{i}_body", "")}
    if form.get(f"t{i}_wa_name", "").strip():
        template["whatsapp"] = {
            "name": form[f"t{i}_wa_name"].strip(),
            "language": form.get(f"t{i}_wa_language", "").strip() or form.get(f"t{i}_language", ""),
            "parameters": [p.strip() for p in form.get(f"t{i}_wa_params", "").splitlines() if p.strip()],
        }
    return template


def _starts_at(text: str, viewer: i18n.Viewer, errors: dict[str, str]) -> dt.datetime | None:
    """A ``datetime-local`` value, read in the agent's zone, as UTC."""
    if not text.strip():
        return None
    try:
        return dt.datetime.fromisoformat(text.strip()).replace(tzinfo=viewer.tz).astimezone(dt.UTC)
    except ValueError:
        errors["starts_at"] = gettext("Give a date and time.")
        return None


def _control_share(text: str, errors: dict[str, str]) -> Decimal | None:
    """The control group as typed, in percent, as a share (10 → 0.1)."""
    try:
        share = Decimal(text.strip() or "0") / 100
    except InvalidOperation:
        share = None
    if share is None or not 0 <= share <= Decimal("0.5") or share != share.quantize(Decimal("0.001")):
        errors["control_share"] = gettext("Between 0 and 50 percent, with at most one decimal.")
        return None
    return share


def _parse(form: dict[str, Any], viewer: i18n.Viewer) -> tuple[CampaignIn | None, dict[str, str]]:
    """The campaign the form describes, or the errors by form field (the first row's language is the
    campaign's default)."""
    errors: dict[str, str] = {}
    rows = _rows(form)
    languages = [form.get(f"t{i}_language", "") for i in rows]
    for i, language in zip(rows, languages, strict=True):
        if languages.count(language) > 1:
            errors[f"t{i}_language"] = gettext("Each language has one message.")
    if not rows:
        errors["t0_body"] = gettext("Write the message.")
    values: dict[str, Any] = {
        "name": form.get("name", ""),
        "kind": form.get("kind", ""),
        "segments": form.get("segments", []),
        "channel_account_id": form.get("channel_account_id") or None,
        "templates": {form.get(f"t{i}_language", ""): _template(form, i) for i in rows},
        "default_language": languages[0] if languages else "",
        "discount_code": form.get("discount_code", "").strip() or None,
        "send_from_hour": form.get("send_from_hour", ""),
        "send_until_hour": form.get("send_until_hour", ""),
        "frequency_cap_days": form.get("frequency_cap_days", ""),
        "control_share": _control_share(form.get("control_share", ""), errors),
        "attribution_days": form.get("attribution_days", ""),
        "starts_at": _starts_at(form.get("starts_at", ""), viewer, errors),
    }
    try:
        data = CampaignIn.model_validate(values)
    except ValidationError as exc:
        for e in exc.errors():
            errors.setdefault(_field(".".join(str(p) for p in e["loc"]), form, rows), e["msg"])
        return None, errors
    return (None, errors) if errors else (data, errors)


def _field(path: str, form: dict[str, Any], rows: list[int]) -> str:
    """The form field an error of the service or the schema is about ("templates.de.body" → "t1_body")."""
    if not path:  # the schema's checks across fields: the send hours (the default language is the first row)
        return "send_until_hour"
    head, _, rest = path.partition(".")
    if head != "templates":
        return head
    language, _, part = rest.partition(".")
    row = next((i for i in rows if form.get(f"t{i}_language") == language), rows[0] if rows else 0)
    if not part:
        return f"t{row}_language" if language else f"t{row}_body"
    name = {"whatsapp.name": "wa_name", "whatsapp.language": "wa_language"}.get(part)
    if name is None and part.startswith("whatsapp"):
        name = "wa_params" if "parameters" in part else "wa_name"
    return f"t{row}_{name or part.split('.')[0]}"


def _language_options(form: dict[str, Any], page: Page) -> list[tuple[str, str]]:
    """(code, name in the agent's language) for the language select."""
    codes = dict.fromkeys((page.workspace.default_language, *COMMON_LANGUAGES))
    codes |= dict.fromkeys(form.get(f"t{i}_language", "") for i in range(MAX_LANGUAGES))
    options = []
    for code in (c for c in codes if c):
        try:
            name = Locale.parse(code, sep="-").get_display_name(page.viewer.locale) or code
        except (ValueError, UnknownLocaleError):
            name = code
        options.append((code, f"{name} ({code})"))
    return options


async def _form_page(
    request: Request,
    page: Page,
    db: DB,
    campaign_id: int | None,
    form: dict[str, Any],
    errors: dict[str, str],
    code: int = 200,
) -> Response:
    cache: SegmentCache = request.app.state.segments
    async with db.transaction(page.workspace.id, readonly=True) as session:
        segments = summary(await cache.get(session, page.workspace, utcnow()))
        accounts = await _accounts(session)
    filled = _rows(form) or [0]
    rows = (
        [*filled, max(filled) + 1] if len(filled) < MAX_LANGUAGES else filled
    )  # one blank: "add a language"
    context: dict[str, Any] = {
        "nav": "campaigns",
        "campaign_id": campaign_id,
        "form": form,
        "errors": errors,
        "segments": segments,
        "accounts": accounts,
        "rows": rows,
        "open_extra": any(k.startswith(f"t{rows[-1]}_") for k in errors),
        "languages": _language_options(form, page),
        "variables": VARIABLES,
        "zone": page.viewer.timezone,
    }
    return render(request, page, "campaigns_form.html", context, status_code=code)


async def _save(request: Request, page: Page, db: DB, campaign_id: int | None) -> Response:
    form = _read_form(await request.form())
    with i18n.viewing(page.viewer):
        data, errors = _parse(form, page.viewer)
    if data is not None:
        try:
            async with db.transaction(page.workspace.id) as session:
                if campaign_id is None:
                    saved = await service.create_campaign(session, page.workspace, data, page.agent.id)
                else:
                    patch = CampaignPatch.model_validate(data.model_dump())
                    saved = await service.update_campaign(session, page.workspace, campaign_id, patch)
                campaign_id = saved.id
        except service.CampaignError as exc:
            errors[_field(exc.field, form, _rows(form))] = str(exc)
        except service.NotDraft:
            return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
    if errors:
        return await _form_page(request, page, db, campaign_id, form, errors, code=422)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns", response_class=HTMLResponse)
async def create_campaign(request: Request, page: AdminWrite, db: DB) -> Response:
    return await _save(request, page, db, None)


@router.post("/campaigns/{campaign_id}", response_class=HTMLResponse)
async def update_campaign(campaign_id: RowId, request: Request, page: AdminWrite, db: DB) -> Response:
    return await _save(request, page, db, campaign_id)


# --- launching and cancelling ------------------------------------------------------------------------------


@router.post("/campaigns/{campaign_id}/launch", response_class=HTMLResponse)
async def launch_campaign(campaign_id: RowId, request: Request, page: AdminWrite, db: DB) -> Response:
    cache: SegmentCache = request.app.state.segments
    now = utcnow()
    try:
        async with db.transaction(page.workspace.id) as session:
            scored = await cache.get(session, page.workspace, now)
            await service.launch(session, page.workspace, campaign_id, scored, now)
    except service.CampaignError as exc:
        return await _campaign_page(request, page, db, campaign_id, str(exc), code=422)
    except service.NotDraft:
        return await _campaign_page(request, page, db, campaign_id, N_("Only a draft can be launched."), 409)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/cancel", response_class=HTMLResponse)
async def cancel_campaign(campaign_id: RowId, request: Request, page: AdminWrite, db: DB) -> Response:
    try:
        async with db.transaction(page.workspace.id) as session:
            await service.cancel(session, campaign_id)
    except service.NotDraft:
        return await _campaign_page(
            request, page, db, campaign_id, N_("This campaign has ended already."), 409
        )
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
