"""The customers page: how the workspace's customers split into RFM segments (a chart and the grid), and
each segment's customers, biggest spenders first, with a CSV export."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from crossdesk.customers import service as customers
from crossdesk.db import utcnow
from crossdesk.retention.routes import ranked
from crossdesk.retention.segments import Scored, SegmentCache, churn_counts, summary
from crossdesk.web.i18n import N_, gettext, translated, viewing
from crossdesk.web.shell import CurrentPage, render
from crossdesk.workspaces.deps import DB

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
# The default segments' and bands' names, for the catalogs: the page shows them translated (a name the
# seller gave a segment shows as written).
SHOWN_NAMES = (
    N_("Champions"),
    N_("Loyal"),
    N_("New"),
    N_("Promising"),
    N_("Potential loyalists"),
    N_("Need attention"),
    N_("Can't lose them"),
    N_("At risk"),
    N_("Hibernating"),
    N_("Lost"),
    N_("low"),
    N_("medium"),
    N_("high"),
    N_("unknown"),
)


def clv_histogram(values: list[float], bins: int = 10) -> dict[str, list[Any]]:
    """Customers by predicted lifetime value: equal bins up to the 99th percentile, the rest in the last
    (one whale must not squash the chart)."""
    if not values:
        return {"labels": [], "customers": []}
    top = float(np.percentile(values, 99)) or max(values) or 1.0
    counts, edges = np.histogram(np.minimum(values, top), bins=bins, range=(0.0, top))
    labels = [f"{edges[i]:,.0f}–{edges[i + 1]:,.0f}" for i in range(bins - 1)] + [f"≥ {edges[-2]:,.0f}"]
    return {"labels": labels, "customers": counts.tolist()}


@router.get("/customers", response_class=HTMLResponse)
async def customers_page(
    request: Request,
    page_: CurrentPage,
    db: DB,
    segment: Annotated[str | None, Query(max_length=40)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    cache: SegmentCache = request.app.state.segments
    async with db.transaction(page_.workspace.id, readonly=True) as session:
        scored = await cache.get(session, page_.workspace, utcnow())
        rows = ranked(scored, segment)
        shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        people = await customers.get_many(session, [r.customer_id for r in shown])
    segments = summary(scored)
    with viewing(page_.viewer):
        chart = _chart(scored, segments)
    context: dict[str, Any] = {
        "nav": "customers",
        "scored": scored,
        "segments": segments,
        "chart": chart,
        "segment": segment,
        "rows": [(r, people.get(r.customer_id)) for r in shown],
        "page_number": page,
        "pages": max(1, -(-len(rows) // PAGE_SIZE)),
        "matching": len(rows),
    }
    return render(request, page_, "customers.html", context)


def _chart(scored: Scored, segments: list[dict[str, Any]]) -> dict[str, Any]:
    """The charts' data and their texts in the viewer's language."""
    values = [float(c.value.clv) for c in scored.customers.values() if c.value is not None]
    currency = scored.currency
    return {
        "labels": [translated(s["segment"]) for s in segments],
        "customers": [s["customers"] for s in segments],
        "spend": [float(s["spend"]) for s in segments],  # drawing only
        "currency": currency,
        # Lists, not an object: the page's JSON is written with sorted keys.
        "churn": [[translated(band), n] for band, n in churn_counts(scored).items()],
        "clv": clv_histogram(values),
        "text": {
            "customers": gettext("customers"),
            "spend": gettext("spend (%(currency)s)", currency=currency),
            "clv": gettext(
                "Customers by predicted value over the next year (%(currency)s)", currency=currency
            ),
            "churn": gettext("Customers by churn risk (unknown: one order so far)"),
        },
    }
