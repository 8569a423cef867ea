"""The customer beside a conversation (an htmx fragment): who the buyer is on every channel, what they
bought and where it is, what they asked before, the seller's tags and notes, and how much they are worth
(RFM segment, lifetime value, churn risk, recommended products).

Loaded by the conversation page into ``<aside id="customer-sidebar">`` and by the customers page; tags
and notes are edited in place (htmx posts answered with the part that changed).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from babel.numbers import format_currency
from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.commerce import fx
from crossdesk.commerce import service as commerce
from crossdesk.commerce.tracking import tracking_link
from crossdesk.conversations import service as conversations
from crossdesk.customers import service as customers
from crossdesk.customers import tags as customer_tags
from crossdesk.customers.models import Customer
from crossdesk.db import utcnow
from crossdesk.retention.recommend import RecommendationCache
from crossdesk.retention.segments import CustomerRFM, Scored, SegmentCache
from crossdesk.retention.standing import standing
from crossdesk.web import i18n
from crossdesk.web.i18n import N_
from crossdesk.web.routes import back_to_referer
from crossdesk.web.shell import CurrentPage, Page, PageWrite, render
from crossdesk.workspaces.deps import DB, RowId

router = APIRouter(include_in_schema=False)
ORDERS_SHOWN = 10
PAST_SHOWN = 10
PICKS = 3
KIND_LABELS = {
    "email": N_("E-mail"),
    "phone": N_("Phone"),
    "webchat_visitor": N_("Web chat visitor"),
    "whatsapp_id": N_("WhatsApp"),
    "messenger_psid": N_("Messenger"),
    "instagram_igsid": N_("Instagram"),
    "shopify_customer": N_("Shopify customer"),
    "ebay_user": N_("eBay user"),
    "tiktok_buyer": N_("TikTok Shop buyer"),
    "amazon_buyer": N_("Amazon buyer"),
}
# Data values the fragment shows translated (order, shipment and conversation states).
SHOWN_STATES = (
    *(N_("pending"), N_("paid"), N_("fulfilled"), N_("partially_fulfilled"), N_("cancelled")),
    *(N_("refunded"), N_("label_created"), N_("in_transit"), N_("out_for_delivery"), N_("delivered")),
    *(N_("exception"), N_("returned"), N_("open"), N_("snoozed"), N_("resolved")),
)


@dataclass(frozen=True)
class Lifetime:
    orders: int
    spend: list[commerce.Spend]
    currency: str  # the workspace's
    total: Decimal  # spend in ``currency``, at today's ECB rates
    unconverted: list[str]  # currencies the ECB has no rate for: not in ``total``


@dataclass(frozen=True)
class Retention:
    scores: CustomerRFM | None  # None: no purchase yet
    currency: str
    high_value: bool
    at_risk: bool
    value_note: str | None
    picks: list[tuple[str, str]]  # (SKU, title)


def lifetime(spend: list[commerce.Spend], currency: str) -> Lifetime:
    total, unconverted = Decimal(0), []
    for row in spend:
        converted = fx.convert(row.total, row.currency, currency)
        if converted is None:
            unconverted.append(row.currency)
        else:
            total += converted
    return Lifetime(sum(s.orders for s in spend), spend, currency, total, unconverted)


def retention(scored: Scored, customer_id: int, picks: list[tuple[str, str]]) -> Retention:
    judged = standing(scored, customer_id)
    return Retention(
        scores=scored.customers.get(customer_id),
        currency=scored.currency,
        high_value=judged.high_value,
        at_risk=judged.at_risk,
        value_note=scored.value_note,
        picks=picks,
    )


def flag(country: str | None) -> str:
    """The flag emoji of a two-letter country code ("" for anything else)."""
    if not country or len(country) != 2 or not country.isascii() or not country.isalpha():
        return ""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in country.upper())


def money(amount: Decimal, currency: str) -> str:
    """An amount as the viewer writes money ("€1,234.50", "US$12.00")."""
    return format_currency(amount, currency, locale=i18n.current().locale)


async def _customer(session: AsyncSession, customer_id: int) -> Customer:
    """The customer, or the profile it was merged into (identity resolution found them the same)."""
    customer = await customers.get(session, customer_id)
    for _ in range(5):  # merges chain rarely, and never in a loop; the bound is a guard
        if customer is None or customer.merged_into_id is None:
            break
        customer = await customers.get(session, customer.merged_into_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"customer {customer_id} not found")
    return customer


async def _sidebar(
    request: Request, page: Page, session: AsyncSession, customer: Customer, current: int | None
) -> dict[str, Any]:
    """Everything the fragment shows: a fixed handful of queries, none per order or conversation."""
    workspace = page.workspace
    segments: SegmentCache = request.app.state.segments
    scored = await segments.get(session, workspace, utcnow())
    recommendations: RecommendationCache = request.app.state.recommendations
    fitted = await recommendations.get(session, workspace.id)
    spend = await commerce.spend_of(session, customer.id)
    past, past_total = await conversations.conversations_of(
        session, customer.id, besides=current, limit=PAST_SHOWN
    )
    return {
        "customer": customer,
        "current_conversation": current,
        "identities": await customers.identities_of(session, customer.id),
        "tags": await customer_tags.tags_of(session, customer.id),
        "lifetime": lifetime(spend, workspace.base_currency),
        "orders": await commerce.orders_of_customer(session, customer.id, limit=ORDERS_SHOWN),
        "past": past,
        "past_more": past_total - len(past),
        "retention": retention(scored, customer.id, fitted.top(customer.id, PICKS, customer.country)),
    }


def _show(request: Request, page: Page, context: dict[str, Any]) -> Response:
    locale = page.viewer.locale
    customer: Customer = context["customer"]
    context |= {
        "kind_labels": KIND_LABELS,
        "tracking_url": tracking_link,
        "money": money,
        "flag": flag(customer.country),
        "country_name": locale.territories.get(customer.country or "", ""),
        "language_name": locale.languages.get((customer.language or "").replace("-", "_"), ""),
        "shown_orders": ORDERS_SHOWN,
        "limits": {"tag": customer_tags.MAX_TAG, "tags": customer_tags.MAX_TAGS},
        "max_notes": customers.MAX_NOTES,
        "notes_value": customer.notes or "",
    }
    return render(request, page, "sidebar.html", context)


@router.get("/conversations/{conversation_id}/sidebar", response_class=HTMLResponse)
async def conversation_sidebar(
    conversation_id: RowId, request: Request, page: CurrentPage, db: DB
) -> Response:
    """The customer of one conversation, with their other conversations."""
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        try:
            conversation = await conversations.get_conversation(session, conversation_id)
        except conversations.NotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        customer = await _customer(session, conversation.customer_id)
        context = await _sidebar(request, page, session, customer, conversation.id)
    return _show(request, page, context)


@router.get("/customers/{customer_id}/sidebar", response_class=HTMLResponse)
async def customer_sidebar(customer_id: RowId, request: Request, page: CurrentPage, db: DB) -> Response:
    """The same profile for a customer directly (from the customers page)."""
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        customer = await _customer(session, customer_id)
        context = await _sidebar(request, page, session, customer, None)
    return _show(request, page, context)


def _part(request: Request, page: Page, template: str, context: dict[str, Any]) -> Response:
    if not request.headers.get("hx-request"):
        return back_to_referer(request)
    return render(request, page, template, context)


async def _edit_tags(
    request: Request, page: Page, db: DB, customer_id: int, tag: str, adding: bool
) -> Response:
    error = None
    async with db.transaction(page.principal.workspace_id) as session:
        customer = await _customer(session, customer_id)
        try:
            if adding:
                tags = await customer_tags.add(session, customer.id, tag)
            else:
                tags = await customer_tags.remove(session, customer.id, tag)
        except customer_tags.TagError as exc:
            error, tags = exc.code, await customer_tags.tags_of(session, customer.id)
    context = {
        "customer": customer,
        "tags": tags,
        "tag_error": error,
        "tag_value": tag if error else "",
        "limits": {"tag": customer_tags.MAX_TAG, "tags": customer_tags.MAX_TAGS},
    }
    return _part(request, page, "sidebar_tags.html", context)


@router.post("/customers/{customer_id}/tags", response_class=HTMLResponse)
async def add_tag(
    customer_id: RowId,
    request: Request,
    page: PageWrite,
    db: DB,
    tag: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Add a tag (the tags part comes back, with the error beside the field if the tag was refused)."""
    return await _edit_tags(request, page, db, customer_id, tag, adding=True)


@router.post("/customers/{customer_id}/tags/remove", response_class=HTMLResponse)
async def remove_tag(
    customer_id: RowId, request: Request, page: PageWrite, db: DB, tag: Annotated[str, Form(max_length=1000)]
) -> Response:
    return await _edit_tags(request, page, db, customer_id, tag, adding=False)


@router.post("/customers/{customer_id}/notes", response_class=HTMLResponse)
async def save_notes(
    customer_id: RowId,
    request: Request,
    page: PageWrite,
    db: DB,
    notes: Annotated[str, Form(max_length=4 * customers.MAX_NOTES)] = "",
) -> Response:
    """Replace the notes (too long: refused, with the error beside the field and the text kept)."""
    error = None
    async with db.transaction(page.principal.workspace_id) as session:
        customer = await _customer(session, customer_id)
        if len(notes) > customers.MAX_NOTES:
            error = "too_long"
        else:
            await customers.set_notes(session, customer.id, notes)
    context = {
        "customer": customer,
        "notes_value": notes if error else customer.notes or "",
        "notes_error": error,
        "notes_saved": error is None,
        "max_notes": customers.MAX_NOTES,
    }
    return _part(request, page, "sidebar_notes.html", context)
