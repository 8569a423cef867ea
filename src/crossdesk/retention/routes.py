"""RFM segments of a workspace's customers, and the rules that name them (editable by admins)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from crossdesk.db import utcnow
from crossdesk.retention.rfm import DEFAULT_RULES, Rules
from crossdesk.retention.segments import Scored, SegmentCache, summary
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, AdminPrincipal, CurrentPrincipal

router = APIRouter(prefix="/api/v1/retention", tags=["retention"])


class SegmentOut(BaseModel):
    segment: str
    customers: int
    share: float
    spend: Decimal


class SegmentsOut(BaseModel):
    currency: str
    computed_at: dt.datetime
    customers: int
    segments: list[SegmentOut]
    rules: Rules
    grid: list[list[str]]
    unconverted_currencies: list[str]


class CustomerScoreOut(BaseModel):
    customer_id: int
    segment: str
    r: int
    f: int
    m: int
    fm: int
    orders: int
    spend: Decimal
    last_order_at: dt.datetime


async def _scored(request: Request, db: DB, workspace_id: int) -> Scored:
    cache: SegmentCache = request.app.state.segments
    async with db.transaction(workspace_id, readonly=True) as session:
        workspace = await workspaces.get_workspace(session, workspace_id)
        return await cache.get(session, workspace, utcnow())


def _segments_out(scored: Scored) -> dict[str, Any]:
    return {
        "currency": scored.currency,
        "computed_at": scored.computed_at,
        "customers": len(scored.customers),
        "segments": summary(scored),
        "rules": scored.rules,
        "grid": scored.rules.grid(),
        "unconverted_currencies": scored.unconverted,
    }


@router.get("/segments", response_model=SegmentsOut)
async def read_segments(principal: CurrentPrincipal, db: DB, request: Request) -> dict[str, Any]:
    """How many customers are in each segment and what they spent (in the workspace's currency)."""
    return _segments_out(await _scored(request, db, principal.workspace_id))


@router.get("/customers", response_model=list[CustomerScoreOut])
async def read_customer_scores(
    principal: CurrentPrincipal,
    db: DB,
    request: Request,
    segment: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[Any]:
    """Customers with their scores, biggest spenders first; ``segment`` filters."""
    scored = await _scored(request, db, principal.workspace_id)
    rows = [c for c in scored.customers.values() if segment is None or c.segment == segment]
    rows.sort(key=lambda c: (-c.spend, c.customer_id))
    return rows[offset : offset + limit]


@router.put("/rules", response_model=SegmentsOut)
async def replace_rules(body: Rules, principal: AdminPrincipal, db: DB, request: Request) -> dict[str, Any]:
    """Replace the rules (they must name every cell of the grid; the first matching rule wins). Send the
    defaults (``GET /segments`` of a new workspace shows them) to go back to them."""
    async with db.transaction(principal.workspace_id) as session:
        workspace = await workspaces.get_workspace(session, principal.workspace_id)
        workspace.rfm_rules = None if body == DEFAULT_RULES else body.model_dump(mode="json")
    return _segments_out(await _scored(request, db, principal.workspace_id))
