"""RFM segments of a workspace's customers, and the rules that name them (editable by admins)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from crossdesk.customers import service as customers
from crossdesk.db import utcnow
from crossdesk.ops.spreadsheets import formula_safe
from crossdesk.retention.rfm import DEFAULT_RULES, Rules
from crossdesk.retention.segments import CustomerRFM, Scored, SegmentCache, churn_counts, summary
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
    churn_risk: dict[str, int] = Field(description="Customers by churn-risk band (empty without a fit).")
    value_note: str | None = Field(description="Why there is no lifetime value yet, if there is none.")


class ValueOut(BaseModel):
    p_alive: float = Field(description="Probability the customer still buys from the seller.")
    churn_risk: str = Field(description="low, medium or high; unknown after a single order.")
    expected_purchases: float = Field(description="Over the next year.")
    clv: Decimal = Field(description="The next year's expected spend, discounted, in the workspace currency.")
    next_purchase: dt.date | None


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
    value: ValueOut | None
    currency: str | None = Field(description="The currency the customer buys in (of their latest order).")
    clv_own_currency: Decimal | None = Field(
        description="The predicted value in the customer's own currency, at today's ECB rate."
    )


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
        "churn_risk": churn_counts(scored),
        "value_note": scored.value_note,
    }


@router.get("/segments", response_model=SegmentsOut)
async def read_segments(principal: CurrentPrincipal, db: DB, request: Request) -> dict[str, Any]:
    """How many customers are in each segment and what they spent (in the workspace's currency)."""
    return _segments_out(await _scored(request, db, principal.workspace_id))


def ranked(scored: Scored, segment: str | None) -> list[CustomerRFM]:
    """The customers (of one segment), biggest spenders first."""
    rows = [c for c in scored.customers.values() if segment is None or c.segment == segment]
    rows.sort(key=lambda c: (-c.spend, c.customer_id))
    return rows


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
    return [
        {**vars(c), "clv_own_currency": c.clv_in_own_currency()}
        for c in ranked(scored, segment)[offset : offset + limit]
    ]


@router.get("/customers.csv", response_class=Response)
async def export_customer_scores(
    principal: CurrentPrincipal,
    db: DB,
    request: Request,
    segment: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Every (filtered) customer with scores, name, e-mail and country, as CSV for a spreadsheet."""
    scored = await _scored(request, db, principal.workspace_id)
    rows = ranked(scored, segment)
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        people = await customers.get_many(session, [r.customer_id for r in rows])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["customer_id", "name", "email", "country", "segment", "r", "f", "m", "orders",
                     f"spend_{scored.currency}", "last_order_at", "p_alive", "churn_risk",
                     f"clv_{scored.currency}", "next_purchase", "currency", "clv_own_currency"])  # fmt: skip
    for r in rows:
        person = people.get(r.customer_id)
        name, email, country = (person.name, person.email, person.country) if person else (None, None, None)
        v = r.value
        value = [f"{v.p_alive:.3f}", v.churn_risk, v.clv, v.next_purchase or ""] if v else ["", "", "", ""]
        own = r.clv_in_own_currency()
        writer.writerow(
            [r.customer_id, *map(formula_safe, (name, email, country, r.segment)), r.r, r.f, r.m, r.orders,
             r.spend, r.last_order_at.isoformat(), *value, r.currency or "", "" if own is None else own]
        )  # fmt: skip
    headers = {"content-disposition": 'attachment; filename="customers.csv"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


@router.put("/rules", response_model=SegmentsOut)
async def replace_rules(body: Rules, principal: AdminPrincipal, db: DB, request: Request) -> dict[str, Any]:
    """Replace the rules (they must name every cell of the grid; the first matching rule wins). Send the
    defaults (``GET /segments`` of a new workspace shows them) to go back to them."""
    async with db.transaction(principal.workspace_id) as session:
        workspace = await workspaces.get_workspace(session, principal.workspace_id)
        workspace.rfm_rules = None if body == DEFAULT_RULES else body.model_dump(mode="json")
    return _segments_out(await _scored(request, db, principal.workspace_id))
