"""The customers page: how the workspace's customers split into RFM segments (a chart and the grid), and
each segment's customers, biggest spenders first, with a CSV export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crossdesk.customers import service as customers
from crossdesk.db import utcnow
from crossdesk.retention.routes import ranked
from crossdesk.retention.segments import SegmentCache, summary
from crossdesk.web.routes import templates
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, principal_of

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


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
        },
        "segment": segment,
        "rows": [(r, people.get(r.customer_id)) for r in shown],
        "page": page,
        "pages": max(1, -(-len(rows) // PAGE_SIZE)),
        "matching": len(rows),
    }
    return templates.TemplateResponse(request, "customers.html", context)
