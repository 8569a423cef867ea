"""Every customer's RFM scores and segment in a workspace, from its orders, recomputed as orders arrive.

The scores are relative (quintiles within the workspace), so one new order can move other customers:
the whole workspace is scored at once, and the result is kept until the orders change (a cheap check of
the orders' count and newest id and update time on every read).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
import polars as pl
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.commerce import fx
from crossdesk.commerce.models import NOT_SOLD, Order
from crossdesk.retention import clv, transactions
from crossdesk.retention.rfm import DEFAULT_RULES, Rules, scores, segments
from crossdesk.workspaces.models import Workspace

# Orders that did not end in a sale are no purchase.
CHURN_BANDS = ("low", "medium", "high", "unknown")
# Below this many repeat buyers the models have too little to learn from.
MIN_REPEAT_BUYERS = 20
YEAR = clv.Horizon(periods=12, period_days=365.25 / 12, discount_rate=0.01)


class Sale(NamedTuple):
    customer_id: int
    order_id: int
    currency: str
    placed_at: dt.datetime
    total: Decimal


@dataclass(frozen=True)
class Value:
    """What a customer is likely worth, from the lifetime-value models (``retention.clv``)."""

    p_alive: float  # probability they still buy from the seller
    churn_risk: str  # low, medium or high (from p_alive); unknown after one order
    expected_purchases: float  # over the next year
    clv: Decimal  # the next year's expected spend, discounted, in the workspace's currency
    next_purchase: dt.date | None  # by when they buy again with probability 1/2, if still active


@dataclass(frozen=True)
class CustomerRFM:
    customer_id: int
    last_order_at: dt.datetime
    orders: int
    spend: Decimal  # in the workspace's currency
    r: int
    f: int
    m: int
    fm: int
    segment: str
    value: Value | None
    # The currency the customer buys in (of their latest sale), and the workspace's, which money above is in.
    currency: str | None = None
    value_currency: str = ""

    def clv_in_own_currency(self) -> Decimal | None:
        """The predicted value in the customer's own currency, at today's ECB rate (None: no value yet,
        or no rate)."""
        if self.value is None or self.currency is None:
            return None
        converted = fx.convert(self.value.clv, self.value_currency, self.currency)
        return None if converted is None else converted.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Scored:
    currency: str
    computed_at: dt.datetime
    customers: dict[int, CustomerRFM]
    rules: Rules
    unconverted: list[str]  # currencies without an ECB rate: their orders count, their money does not
    value_note: str | None  # why there is no lifetime value, when there is none


def rules_of(workspace: Workspace) -> Rules:
    return Rules.model_validate(workspace.rfm_rules) if workspace.rfm_rules else DEFAULT_RULES


async def orders_version(session: AsyncSession) -> tuple[Any, ...]:
    row = (
        await session.execute(select(func.count(Order.id), func.max(Order.id), func.max(Order.placed_at)))
    ).one()
    return tuple(row)


class SegmentCache:
    """Each workspace's scores, kept (one per app) while its orders, rules, currency and the day stay the
    same."""

    def __init__(self) -> None:
        self._scored: dict[int, tuple[tuple[Any, ...], Scored]] = {}

    async def get(self, session: AsyncSession, workspace: Workspace, now: dt.datetime) -> Scored:
        orders = await orders_version(session)
        key = (*orders, workspace.base_currency, repr(workspace.rfm_rules), now.date())
        cached = self._scored.get(workspace.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        scored = await score_workspace(session, workspace, now)
        self._scored[workspace.id] = (key, scored)
        return scored

    def peek(self, workspace_id: int) -> Scored | None:
        """The workspace's last computed scores, however old (None if none yet): for paths that must
        never pay for scoring, such as ingest."""
        cached = self._scored.get(workspace_id)
        return cached[1] if cached is not None else None


async def score_workspace(session: AsyncSession, workspace: Workspace, now: dt.datetime) -> Scored:
    """Score every customer with a sale up to ``now``: RFM, and lifetime value and churn."""
    found = await session.execute(
        select(Order.customer_id, Order.id, Order.currency, Order.placed_at, Order.total).where(
            Order.customer_id.is_not(None), Order.status.not_in(NOT_SOLD), Order.placed_at <= now
        )
    )
    sales = [Sale(c, o, cur, at, Decimal(t)) for c, o, cur, at, t in found if c is not None]
    last: dict[int, dt.datetime] = {}
    own: dict[int, str] = {}  # the currency of each customer's latest sale
    count: dict[int, int] = defaultdict(int)
    spend: dict[int, Decimal] = defaultdict(Decimal)
    unconverted: set[str] = set()
    for sale in sales:
        customer = sale.customer_id
        if sale.placed_at >= last.get(customer, sale.placed_at):
            own[customer] = sale.currency
        last[customer] = max(sale.placed_at, last.get(customer, sale.placed_at))
        count[customer] += 1
        # Today's rate: the scores compare customers, so one rate for all of them is what matters.
        converted = fx.convert(sale.total, sale.currency, workspace.base_currency)
        if converted is None:
            unconverted.add(sale.currency)
        else:
            spend[customer] += converted
    ids = sorted(last)
    days = np.array([(now - last[i]).total_seconds() / 86_400 for i in ids], dtype=np.float64)
    orders = np.array([count[i] for i in ids], dtype=np.float64)
    money = np.array([float(spend[i]) for i in ids], dtype=np.float64)  # ranks only: float is exact enough
    r, f, m, fm = scores(days, orders, money)
    rules = rules_of(workspace)
    named = segments(r, fm, rules)
    values, value_note = lifetime_values(
        [sale for sale in sales if sale.currency not in unconverted], workspace.base_currency, now
    )
    customers = {
        i: CustomerRFM(
            customer_id=i,
            last_order_at=last[i],
            orders=count[i],
            spend=spend[i].quantize(Decimal("0.01")),
            r=int(r[n]),
            f=int(f[n]),
            m=int(m[n]),
            fm=int(fm[n]),
            segment=named[n],
            value=values.get(i),
            currency=own[i],
            value_currency=workspace.base_currency,
        )
        for n, i in enumerate(ids)
    }
    return Scored(workspace.base_currency, now, customers, rules, sorted(unconverted), value_note)


def lifetime_values(
    sales: Sequence[Sale], currency: str, now: dt.datetime
) -> tuple[dict[int, Value], str | None]:
    """BG/NBD and Gamma-Gamma fitted on the workspace's own orders (weeks as the unit), each customer
    scored over the next year; or none, and why (too few repeat buyers to learn from)."""
    repeaters = sum(1 for n in Counter(sale.customer_id for sale in sales).values() if n > 1)
    if repeaters < MIN_REPEAT_BUYERS:
        return {}, f"lifetime value needs {MIN_REPEAT_BUYERS} customers who bought twice; {repeaters} have"
    records = transactions.records_frame(
        transactions.Purchase(s.customer_id, s.placed_at, s.total, s.currency, s.order_id) for s in sales
    )
    try:
        summary = transactions.summarise(records, now.date(), "weeks", currency, _rate)
        x, t_x, age, mean = (summary.column(c) for c in ("frequency", "recency", "T", "monetary_value"))
        bg, gg = clv.fit_bgnbd(x, t_x, age), clv.fit_gamma_gamma(x, mean)
        scored = clv.score(bg, gg, summary, YEAR)
    # A model the data cannot carry: e.g. every customer buying at the same pace puts the likelihood's
    # maximum at infinity, and the values come out NaN (refused when made into money).
    except (ValueError, ArithmeticError, pl.exceptions.PolarsError) as exc:
        return {}, f"lifetime value could not be fitted on these orders: {exc}"
    return {
        int(row["customer_id"]): Value(
            p_alive=float(row["p_alive"]),
            # BG/NBD holds a one-order customer alive until a repeat purchase proves otherwise (P = 1):
            # their risk is not known, rather than low.
            churn_risk=str(row["churn_risk"]) if repeats > 0 else "unknown",
            expected_purchases=float(row["expected_purchases"]),
            clv=row["clv"],
            next_purchase=row["next_purchase"],
        )
        for row, repeats in zip(scored.iter_rows(named=True), x, strict=True)
    }, None


def _rate(source: str, target: str, day: dt.date) -> Decimal | None:
    return fx.convert(Decimal(1), source, target, day)


def churn_counts(scored: Scored) -> dict[str, int]:
    bands = Counter(c.value.churn_risk for c in scored.customers.values() if c.value is not None)
    return {band: bands[band] for band in CHURN_BANDS if scored.value_note is None}


def summary(scored: Scored) -> list[dict[str, Any]]:
    """Per segment, in the rules' order: customers, their share, and their spend."""
    by_segment: dict[str, list[CustomerRFM]] = {name: [] for name in scored.rules.names()}
    for customer in scored.customers.values():
        by_segment[customer.segment].append(customer)
    total = max(len(scored.customers), 1)
    return [
        {
            "segment": name,
            "customers": len(members),
            "share": round(len(members) / total, 4),
            "spend": sum((c.spend for c in members), Decimal(0)),
        }
        for name, members in by_segment.items()
    ]
