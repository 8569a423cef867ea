"""Every customer's RFM scores and segment in a workspace, from its orders, recomputed as orders arrive.

The scores are relative (quintiles within the workspace), so one new order can move other customers:
the whole workspace is scored at once, and the result is kept until the orders change (a cheap check of
the orders' count and newest id and update time on every read).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.commerce import fx
from crossdesk.commerce.models import Order
from crossdesk.retention.rfm import DEFAULT_RULES, Rules, scores, segments
from crossdesk.workspaces.models import Workspace

# Orders that did not end in a sale are no purchase.
NOT_SOLD = ("cancelled", "refunded")


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


@dataclass(frozen=True)
class Scored:
    currency: str
    computed_at: dt.datetime
    customers: dict[int, CustomerRFM]
    rules: Rules
    unconverted: list[str]  # currencies without an ECB rate: their orders count, their money does not


def rules_of(workspace: Workspace) -> Rules:
    return Rules.model_validate(workspace.rfm_rules) if workspace.rfm_rules else DEFAULT_RULES


async def _orders_version(session: AsyncSession) -> tuple[Any, ...]:
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
        orders = await _orders_version(session)
        key = (*orders, workspace.base_currency, repr(workspace.rfm_rules), now.date())
        cached = self._scored.get(workspace.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        scored = await score_workspace(session, workspace, now)
        self._scored[workspace.id] = (key, scored)
        return scored


async def score_workspace(session: AsyncSession, workspace: Workspace, now: dt.datetime) -> Scored:
    """Score every customer with a sale up to ``now``."""
    rows = await session.execute(
        select(
            Order.customer_id,
            Order.currency,
            func.max(Order.placed_at),
            func.count(Order.id),
            func.sum(Order.total),
        )
        .where(Order.customer_id.is_not(None), Order.status.not_in(NOT_SOLD), Order.placed_at <= now)
        .group_by(Order.customer_id, Order.currency)
    )
    last: dict[int, dt.datetime] = {}
    count: dict[int, int] = defaultdict(int)
    spend: dict[int, Decimal] = defaultdict(Decimal)
    unconverted: set[str] = set()
    for customer_id, currency, latest, placed, total in rows:
        assert customer_id is not None  # filtered above
        last[customer_id] = max(latest, last.get(customer_id, latest))
        count[customer_id] += placed
        # Today's rate: the scores compare customers, so one rate for all of them is what matters.
        converted = fx.convert(Decimal(total), currency, workspace.base_currency)
        if converted is None:
            unconverted.add(currency)
        else:
            spend[customer_id] += converted
    ids = sorted(last)
    days = np.array([(now - last[i]).total_seconds() / 86_400 for i in ids], dtype=np.float64)
    orders = np.array([count[i] for i in ids], dtype=np.float64)
    money = np.array([float(spend[i]) for i in ids], dtype=np.float64)  # ranks only: float is exact enough
    r, f, m, fm = scores(days, orders, money)
    rules = rules_of(workspace)
    named = segments(r, fm, rules)
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
        )
        for n, i in enumerate(ids)
    }
    return Scored(workspace.base_currency, now, customers, rules, sorted(unconverted))


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
