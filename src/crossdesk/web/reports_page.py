"""The reports page: a period picker (a plain GET form and preset links), KPI tiles, and charts each with a
table of the same numbers, in the agent's language and zone; each table downloads as CSV."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal, format_percent
from babel.units import format_unit
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from crossdesk.db import utcnow
from crossdesk.reports import service
from crossdesk.reports.schemas import ReportOut
from crossdesk.web import i18n
from crossdesk.web.i18n import gettext as _
from crossdesk.web.shell import CurrentPage, render
from crossdesk.workspaces.deps import DB

router = APIRouter(include_in_schema=False)
VOLUME = ("conversations", "inbound", "replies")


def number(value: float | None) -> str:
    return "–" if value is None else format_decimal(value, locale=i18n.current().locale)


def percent(share: float | None) -> str:
    return "–" if share is None else format_percent(share, "#,##0.0%", locale=i18n.current().locale)


def duration(seconds: float | None) -> str:
    """A compact duration in the viewer's language: "45 sec", "12 min", "3 hr 5 min", "2 days 4 hr"."""
    if seconds is None:
        return "–"
    locale = i18n.current().locale
    s = round(seconds)
    if s < 60:
        return format_unit(s, "duration-second", length="short", locale=locale)
    parts = (
        [(s // 86400, "duration-day"), (s % 86400 // 3600, "duration-hour")]
        if s >= 86400
        else [(s // 3600, "duration-hour"), (s % 3600 // 60, "duration-minute")]
    )
    return " ".join(format_unit(v, unit, length="short", locale=locale) for v, unit in parts if v)


def day(value: dt.date, style: str = "medium") -> str:
    return format_date(value, style, locale=i18n.current().locale)


def _parse_day(text: str | None, errors: dict[str, str], field: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[field] = _("Enter a date as YYYY-MM-DD.")
        return None


def _period(
    first_text: str | None, last_text: str | None, timezone: str, now: dt.datetime
) -> tuple[service.Period | None, dict[str, str]]:
    """The period asked for, or the errors to show next to the fields."""
    errors: dict[str, str] = {}
    first, last = _parse_day(first_text, errors, "from"), _parse_day(last_text, errors, "to")
    if errors:
        return None, errors
    try:
        return service.requested_period(first, last, timezone, now), {}
    except ValueError:
        # The service's reason names the API's fields; the page says it in the agent's language.
        if first and last and first > last:
            return None, {"to": _("The end must be on or after the start.")}
        return None, {"from": _("A period is at most %(days)s days long.", days=service.MAX_DAYS)}


def _columns(rows: Sequence[BaseModel], keys: Iterable[str]) -> dict[str, list[Any]]:
    return {k: [getattr(r, k) for r in rows] for k in keys}


def _chart_data(report: ReportOut) -> dict[str, Any]:
    """What the charts draw, with their translated series names (the tables show the same numbers)."""
    return {
        "series": {
            "conversations": _("Conversations"),
            "inbound": _("Buyer messages"),
            "replies": _("Replies"),
            "resolved": _("Resolved"),
            "backlog": _("Open at day's end"),
        },
        "days": [format_skeleton("MMMd", r.date, locale=i18n.current().locale) for r in report.by_day],
        "by_day": _columns(report.by_day, service.COLUMNS["by_day"][1:]),
        "hours": [f"{r.hour:02d}" for r in report.by_hour],
        "by_hour": _columns(report.by_hour, VOLUME),
        "channels": [r.channel for r in report.by_channel],
        "by_channel": _columns(report.by_channel, VOLUME),
        "languages": [r.language or _("Unknown") for r in report.by_language],
        "by_language": _columns(report.by_language, VOLUME),
    }


def _presets(today: dt.date, period: service.Period | None) -> list[dict[str, Any]]:
    links = []
    for days, label in ((1, _("Today")), (7, _("7 days")), (30, _("30 days")), (90, _("90 days"))):
        first = today - dt.timedelta(days=days - 1)
        current = period is not None and (period.first, period.last) == (first, today)
        query = urlencode({"from": first.isoformat(), "to": today.isoformat()})
        links.append({"label": label, "href": f"/reports?{query}", "current": current})
    return links


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    page: CurrentPage,
    db: DB,
    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    now = utcnow()
    zone = page.viewer.tz
    with i18n.viewing(page.viewer):  # the error messages and chart labels are built here, not in the template
        period, errors = _period(first, last, zone.key, now)
        report = None
        if period is not None:
            async with db.transaction(page.principal.workspace_id, readonly=True) as session:
                report = await service.build_report(session, period, now, page.workspace)
        context: dict[str, Any] = {
            "nav": "reports",
            "report": report,
            "errors": errors,
            "form": {
                "from": first or (period.first.isoformat() if period else ""),
                "to": last or (period.last.isoformat() if period else ""),
            },
            "presets": _presets(now.astimezone(zone).date(), period),
            "chart": _chart_data(report) if report else None,
            "csv": (
                urlencode({"from": period.first.isoformat(), "to": period.last.isoformat(), "tz": zone.key})
                if period
                else ""
            ),
            "number": number,
            "percent": percent,
            "duration": duration,
            "day": day,
        }
    return render(request, page, "reports.html", context, status_code=422 if errors else 200)
