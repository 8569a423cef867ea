"""The customers page: how the workspace's customers split into RFM segments (a chart and the grid), and
each segment's customers, biggest spenders first, with a CSV export."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crossdesk.customers import service as customers
from crossdesk.db import utcnow
from crossdesk.retention.routes import ranked
from crossdesk.retention.segments import SegmentCache, churn_counts, summary
from crossdesk.web.shell import templates
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, principal_of

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


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
    db: DB,
    segment: Annotated[str | None, Query(max_length=40)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    principal = await principal_of(request)
    if principal is None or principal.agent_id is None:
        return RedirectResponse("/login", status_code=303)
    cache: SegmentCache = request.app.state.segments
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        workspace = await workspaces.get_workspace(session, principal.workspace_id)
        agent = await workspaces.get_agent(session, principal.agent_id)
        scored = await cache.get(session, workspace, utcnow())
        rows = ranked(scored, segment)
        shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        people = await customers.get_many(session, [r.customer_id for r in shown])
    segments = summary(scored)
    values = [float(c.value.clv) for c in scored.customers.values() if c.value is not None]
    context: dict[str, Any] = {
        "workspace": workspace,
        "agent": agent,
        "scored": scored,
        "segments": segments,
        "chart": {
            "labels": [s["segment"] for s in segments],
            "customers": [s["customers"] for s in segments],
            "spend": [float(s["spend"]) for s in segments],  # drawing only
            "currency": scored.currency,
            # Lists, not an object: the page's JSON is written with sorted keys.
            "churn": list(churn_counts(scored).items()),
            "clv": clv_histogram(values),
        },
        "segment": segment,
        "rows": [(r, people.get(r.customer_id)) for r in shown],
        "page": page,
        "pages": max(1, -(-len(rows) // PAGE_SIZE)),
        "matching": len(rows),
    }
    return templates.TemplateResponse(request, "customers.html", context)
