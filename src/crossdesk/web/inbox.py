"""The inbox page: the conversation list with its views and counters, search, bulk actions, and the
partials its script fetches when a live event says a conversation changed (a row, the counters).

Rows mark high-value and at-risk customers (``retention.standing``), from the workspace's scores as the
app's SegmentCache keeps them (recomputed only when the orders changed); "Important first" lists the
conversations of those and of VIP customers on top."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.conversations import views
from crossdesk.db import MAX_ID, utcnow
from crossdesk.retention.segments import Scored, SegmentCache
from crossdesk.retention.standing import Standing, standing, standings
from crossdesk.web import i18n
from crossdesk.web.i18n import gettext
from crossdesk.web.shell import CurrentPage, Page, PageWrite, render
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, RowId

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
PREVIEW_CHARS = 160
# Platform names stay as the platforms write them; the generic ones are translated (see _channel_label).
BRANDS = {
    "amazon": "Amazon",
    "ebay": "eBay",
    "shopify": "Shopify",
    "facebook": "Facebook",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "whatsapp": "WhatsApp",
    "tiktok": "TikTok",
    "api": "API",
}


def _view_of(params: dict[str, str]) -> views.View:
    try:
        return views.make_view(params)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


def _channel_label(channel: str) -> str:
    generic = {"email": gettext("E-mail"), "webchat": gettext("Chat")}
    return BRANDS.get(channel) or generic.get(channel) or channel


def _status_label(value: str) -> str:
    labels = {
        "open": gettext("Open"),
        "pending": gettext("Pending"),
        "snoozed": gettext("Snoozed"),
        "resolved": gettext("Resolved"),
    }
    return labels.get(value, value)


def _priority_label(value: str) -> str:
    labels = {
        "low": gettext("Low"),
        "normal": gettext("Normal"),
        "high": gettext("High"),
        "urgent": gettext("Urgent"),
    }
    return labels.get(value, value)


def _view_label(view: views.View) -> str:
    fixed = {
        "mine": gettext("Mine"),
        "unassigned": gettext("Unassigned"),
        "open": gettext("All open"),
        "pending": gettext("Pending"),
        "snoozed": gettext("Snoozed"),
        "resolved": gettext("Resolved"),
        "vip": gettext("VIP"),
        "high_value": gettext("High value"),
        "at_risk": gettext("At risk"),
        "sla": gettext("SLA breaching soon"),
        "all": gettext("All conversations"),
    }
    if view.channel:
        return gettext("Channel: %(name)s", name=_channel_label(view.channel))
    if view.language:
        return gettext("Language: %(name)s", name=view.language)
    if view.tag:
        return gettext("Tag: %(name)s", name=view.tag)
    return fixed.get(view.name, view.name)


def duration_text(delta: dt.timedelta) -> str:
    """A coarse length of time ("5 min", "2 h 10 min", "3 d 4 h"); inbox.js writes it the same way."""
    minutes = max(0, int(delta.total_seconds() // 60))
    hours, days = minutes // 60, minutes // 1440
    if days:
        return gettext("%(d)s d %(h)s h", d=days, h=hours % 24)
    if hours:
        return gettext("%(h)s h %(m)s min", h=hours, m=minutes % 60)
    return gettext("%(m)s min", m=minutes)


SLA_KINDS = (("first", False), ("first", True), ("next", False), ("next", True))


def _sla_text(kind: str, overdue: bool, t: str) -> str:
    if kind == "first":
        if overdue:
            return gettext("first response overdue by %(t)s", t=t)
        return gettext("first response due in %(t)s", t=t)
    if overdue:
        return gettext("next response overdue by %(t)s", t=t)
    return gettext("next response due in %(t)s", t=t)


@dataclass
class Clock:
    kind: str  # "first" or "next"
    due: str  # ISO time, for the script that keeps the clock ticking
    state: str  # "ok", "soon" (within the SLA window) or "overdue"
    text: str


def sla_clock(conversation: dict[str, Any], now: dt.datetime) -> Clock | None:
    """The response clock an open conversation runs against: first response, else next response."""
    if conversation["status"] != "open":
        return None
    if conversation["first_response_at"] is None and conversation["first_response_due_at"]:
        kind, due = "first", conversation["first_response_due_at"]
    elif conversation["next_response_due_at"]:
        kind, due = "next", conversation["next_response_due_at"]
    else:
        return None
    left = dt.datetime.fromisoformat(due) - now
    overdue = left < dt.timedelta(0)
    state = "overdue" if overdue else "soon" if left <= views.SLA_WINDOW else "ok"
    return Clock(kind, due, state, _sla_text(kind, overdue, t=duration_text(abs(left))))


def _why(judged: Standing) -> tuple[str, str]:
    """Why the customer is high value, and why at risk, as the badges' titles say it."""
    segment = gettext("Segment: %(name)s", name=i18n.translated(judged.segment or ""))
    texts = {
        "segment": segment,
        "top_value": gettext("Lifetime value among the top tenth of customers"),
        "churn": gettext("Churn risk high"),
    }
    return (
        " · ".join(texts[why] for why in judged.high_value_why),
        " · ".join(texts[why] for why in judged.at_risk_why),
    )


def _preview(row: views.Row) -> str:
    text = " ".join(row.last_message.text.split()) if row.last_message else ""
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def row_view(row: views.Row, agents: dict[int, str], now: dt.datetime, scored: Scored) -> dict[str, Any]:
    """What the row template shows (buyer text stays text: the template escapes it)."""
    c, customer = row.conversation, row.customer
    name = (customer.name or customer.email) if customer else None
    judged = standing(scored, c["customer_id"])
    high_value_why, at_risk_why = _why(judged)
    return {
        "id": c["id"],
        "name": name or gettext("Customer #%(id)s", id=c["customer_id"]),
        "country": customer.country if customer else None,
        "timezone": customer.timezone if customer else None,
        "vip": customer.vip if customer else False,
        "high_value": judged.high_value,
        "high_value_why": high_value_why,
        "at_risk": judged.at_risk,
        "at_risk_why": at_risk_why,
        "channel": c["channel"],
        "channel_label": _channel_label(c["channel"]),
        "subject": c["subject"],
        "preview": _preview(row),
        "language": c["language"],
        "tags": c["tags"],
        "assignee": agents.get(c["assignee_id"]) if c["assignee_id"] else None,
        "status": c["status"],
        "status_label": _status_label(c["status"]),
        "priority": c["priority"],
        "priority_label": _priority_label(c["priority"]),
        "last_message_at": c["last_message_at"],
        "awaiting": row.last_message is not None and row.last_message.direction == "inbound",
        "sla": sla_clock(c, now),
    }


def _href(**params: str | None) -> str:
    return "/inbox?" + urlencode({k: v for k, v in params.items() if v})


def _element_id(kind: str, value: str) -> str:
    """A stable HTML id for a view's link (htmx keeps the focus on it when the counters refresh)."""
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9_-]", lambda m: f"_{ord(m.group()):x}", value)


def nav_sections(view: views.View, counts: views.Counts) -> list[dict[str, Any]]:
    """The views, each a link with its counter, grouped as the sidebar shows them."""

    def link(key: str, label: str, count: int, **params: str) -> dict[str, Any]:
        params["sort"] = view.params().get("sort", "")  # the chosen order stays from view to view
        current = view.params() == {k: v for k, v in params.items() if v}
        return {"id": key, "label": label, "count": count, "href": _href(**params), "current": current}

    fixed = [
        link(f"v-{name}", _view_label(views.View(name)), counts.views[name], view=name)
        for name in views.FIXED_VIEWS
    ]
    sections = [{"title": gettext("Views"), "links": fixed}]
    for title, kind, values, label in (
        (gettext("Channels"), "channel", counts.channels, _channel_label),
        (gettext("Languages"), "language", counts.languages, str),
        (gettext("Tags"), "tag", counts.tags, str),
    ):
        links = [link(_element_id(kind, v), label(v), n, view=kind, **{kind: v}) for v, n in values.items()]
        if links:
            sections.append({"title": title, "links": links})
    return sections


def js_texts() -> dict[str, str]:
    """The script's own words, with ``{t}``-style holes it fills in."""
    return {
        **{f"{kind}_{'over' if over else 'due'}": _sla_text(kind, over, t="{t}") for kind, over in SLA_KINDS},
        "min": gettext("%(m)s min", m="{m}"),
        "hours": gettext("%(h)s h %(m)s min", h="{h}", m="{m}"),
        "days": gettext("%(d)s d %(h)s h", d="{d}", h="{h}"),
        "selected": gettext("%(n)s selected", n="{n}"),
    }


async def _agents(session: AsyncSession) -> dict[int, str]:
    return {a.id: a.name for a in await workspaces.list_agents(session) if a.is_active}


async def _scores(request: Request, page: Page, session: AsyncSession, now: dt.datetime) -> Scored:
    """The workspace's scores: kept by the app until its orders change, so a page rarely computes them."""
    cache: SegmentCache = request.app.state.segments
    return await cache.get(session, page.workspace, now)


def sort_links(view: views.View) -> list[dict[str, Any]]:
    """The list's orders, each a link to the same view in that order."""
    labels = {"recent": gettext("Newest first"), "important": gettext("Important first")}
    params = view.params()
    return [
        {
            "id": f"sort-{sort}",
            "label": labels[sort],
            "href": _href(**{**params, "sort": sort if sort != "recent" else None}),
            "current": view.sort == sort,
        }
        for sort in views.SORTS
    ]


async def _list_context(
    request: Request,
    session: AsyncSession,
    page: Page,
    view: views.View,
    cursor: str | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """The list part of the page (toolbar, rows, paging), as the page and a bulk action render it."""
    scored = await _scores(request, page, session, now)
    try:
        rows, next_cursor = await views.page_of(
            session, view, page.agent.id, now, cursor, PAGE_SIZE, standings(scored)
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    agents = await _agents(session)
    params = view.params()
    return {
        "view": view,
        "params": urlencode(params),
        "title": gettext("Search: %(q)s", q=view.query) if view.query else _view_label(view),
        "sorts": sort_links(view),
        "rows": [row_view(r, agents, now, scored) for r in rows],
        "agents": agents,
        "first_page": cursor is None,
        "older": _href(**params, cursor=next_cursor) if next_cursor else None,
    }


async def _nav_context(
    request: Request, session: AsyncSession, page: Page, view: views.View, now: dt.datetime
) -> dict[str, Any]:
    scored = await _scores(request, page, session, now)
    counts = await views.counts(session, page.agent.id, now, standings(scored))
    return {"sections": nav_sections(view, counts), "params": urlencode(view.params())}


@router.get("/inbox", response_class=HTMLResponse)
async def inbox_page(request: Request, page: CurrentPage, db: DB) -> Response:
    view = _view_of(dict(request.query_params))
    cursor = request.query_params.get("cursor")
    if cursor is not None and len(cursor) > 200:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "malformed cursor")
    now = utcnow()
    with i18n.viewing(page.viewer):
        async with db.transaction(page.principal.workspace_id, readonly=True) as session:
            context = await _list_context(request, session, page, view, cursor, now)
            context.update(await _nav_context(request, session, page, view, now))
        context.update(nav="inbox", texts=js_texts())
    return render(request, page, "inbox.html", context)


@router.get("/inbox/rows/{conversation_id}", response_class=HTMLResponse)
async def inbox_row(request: Request, conversation_id: RowId, page: CurrentPage, db: DB) -> Response:
    """The conversation's row if it belongs in the view given by the query, else an empty answer."""
    view = _view_of(dict(request.query_params))
    now = utcnow()
    with i18n.viewing(page.viewer):
        async with db.transaction(page.principal.workspace_id, readonly=True) as session:
            scored = await _scores(request, page, session, now)
            marked = standings(scored)
            row = await views.row_in_view(session, view, page.agent.id, now, conversation_id, marked)
            if row is None:
                return HTMLResponse("")
            context = {"row": row_view(row, await _agents(session), now, scored)}
    return render(request, page, "inbox_row.html", context)


@router.get("/inbox/counts", response_class=HTMLResponse)
async def inbox_counts(request: Request, page: CurrentPage, db: DB) -> Response:
    """The views with fresh counters (the page refreshes them on every live conversation event)."""
    view = _view_of(dict(request.query_params))
    now = utcnow()
    with i18n.viewing(page.viewer):
        async with db.transaction(page.principal.workspace_id, readonly=True) as session:
            context = await _nav_context(request, session, page, view, now)
    return render(request, page, "inbox_views.html", context)


def _changes(action: str, assignee: str, tag: str, me: int) -> tuple[dict[str, Any], list[str]]:
    """The bulk form's action as conversation changes (and tags to add); ValueError for a bad one."""
    if action == "close":
        return {"status": "resolved"}, []
    if action == "tag":
        if not tag.strip():
            raise ValueError(gettext("Type a tag to add."))
        return {}, [tag.strip()]
    if assignee == "me":
        return {"assignee_id": me}, []
    if assignee == "none":
        return {"assignee_id": None}, []
    if not re.fullmatch(r"[1-9][0-9]{0,9}", assignee):
        raise ValueError(gettext("Choose whom to assign to."))
    return {"assignee_id": int(assignee)}, []


@router.post("/inbox/bulk", response_class=HTMLResponse)
async def inbox_bulk(
    request: Request,
    page: PageWrite,
    db: DB,
    action: Annotated[Literal["assign", "close", "tag"], Form()],
    ids: Annotated[list[int] | None, Form()] = None,
    assignee: Annotated[str, Form(max_length=12)] = "me",
    tag: Annotated[str, Form(max_length=64)] = "",
    back: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Assign, close or tag the selected conversations; answers the refreshed list to htmx, else goes
    back to the view."""
    view = _view_of(dict(parse_qsl(back)))
    chosen = list(dict.fromkeys(ids or []))
    if len(chosen) > views.MAX_BULK or any(not 1 <= i <= MAX_ID for i in chosen):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at most 500 valid conversation ids")
    now = utcnow()
    with i18n.viewing(page.viewer):
        notice, error = None, None
        try:
            changes, add_tags = _changes(action, assignee, tag, page.agent.id)
            if not chosen:
                raise ValueError(gettext("Select conversations first (x, or the boxes)."))
            async with db.transaction(page.principal.workspace_id) as session:
                await views.bulk_update(session, chosen, changes, add_tags)
            notice = gettext("Conversations updated: %(n)s.", n=len(chosen))
        except ValueError as exc:
            error = str(exc)
        if not request.headers.get("hx-request"):
            return RedirectResponse(_href(**view.params()), status_code=303)
        async with db.transaction(page.principal.workspace_id, readonly=True) as session:
            context = await _list_context(request, session, page, view, None, now)
        context.update(notice=notice, error=error)
    return render(request, page, "inbox_body.html", context)
