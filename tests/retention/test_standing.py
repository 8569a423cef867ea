"""A customer's standing (retention.standing): high value (top segment, or lifetime value in the top
tenth), at risk (an at-risk segment, or churn risk high), one rule for the sidebar, the inbox and ingest,
and judged once per set of scores."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from crossdesk.customers import service as customers
from crossdesk.db import Database, utcnow
from crossdesk.retention import standing as rules
from crossdesk.retention.rfm import DEFAULT_RULES
from crossdesk.retention.segments import CustomerRFM, Scored, SegmentCache, Value
from crossdesk.workspaces import service as workspaces
from tests.conftest import Tenant
from tests.retention.test_segments_api import import_orders, order

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Shop:
    """Customers (by e-mail) whose standing the orders settle."""

    star: str  # Champions, the biggest spender: high value
    lapsed: str  # bought often, long ago: at risk
    plain: list[str]  # one recent small order each: neither
    others: list[str]


def email(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}@example.com"


async def build_shop(tenant: Tenant) -> Shop:
    """Regular, lapsed and one-time buyers (enough repeat buyers for lifetime values), one star."""
    regulars = [email("regular") for _ in range(25)]
    lapsed = [email("lapsed") for _ in range(10)]
    once = [email("once") for _ in range(15)]
    star, plain = email("star"), [email("plain") for _ in range(2)]
    rows = [order(e, d, "60.00") for i, e in enumerate(regulars) for d in range(2 + i % 5, 400, 30)]
    rows += [order(e, d, "60.00") for e in lapsed for d in (600, 570, 540, 510, 480)]
    rows += [order(e, 10 + 20 * i, "30.00") for i, e in enumerate(once)]
    rows += [order(star, d, "240.00") for d in range(1, 400, 20)]
    rows += [order(e, 3, "9.00") for e in plain]
    async with tenant.client() as client:
        await import_orders(client, rows)
    return Shop(star, lapsed[0], plain, regulars + lapsed[1:] + once)


async def scored_of(db: Database, tenant: Tenant, cache: SegmentCache | None = None) -> Scored:
    """The workspace's scores through a SegmentCache (a fresh one unless given: it then keeps them)."""
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        workspace = await workspaces.get_workspace(session, tenant.workspace_id)
        return await (cache or SegmentCache()).get(session, workspace, utcnow())


async def customer_id(db: Database, tenant: Tenant, address: str) -> int:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        (found,) = await customers.search(session, address)
    return found.id


def customer(
    customer_id: int, segment: str = "Need attention", clv: str | None = None, churn: str = "low"
) -> CustomerRFM:
    value = None
    if clv is not None:
        value = Value(
            p_alive=0.5, churn_risk=churn, expected_purchases=1.0, clv=Decimal(clv), next_purchase=None
        )
    return CustomerRFM(customer_id, NOW, 2, Decimal("10.00"), 3, 3, 3, 3, segment, value)


def scored(*rows: CustomerRFM) -> Scored:
    return Scored("EUR", NOW, {c.customer_id: c for c in rows}, DEFAULT_RULES, [], None)


def test_high_value_is_the_top_segment_or_the_top_tenth_by_lifetime_value() -> None:
    # Ten customers with a value: 100, 200 ... 1000; the top tenth starts at the 90th percentile (910).
    ranked = [customer(i, clv=str(100 * i)) for i in range(1, 11)]
    scores = scored(*ranked, customer(11, "Champions"), customer(12, "Loyal"))
    assert rules.standing(scores, 10).high_value_why == ("top_value",)
    assert not rules.standing(scores, 9).high_value, "900 is below the top tenth"
    assert rules.standing(scores, 11).high_value_why == ("segment",), "Champions, even without a value"
    assert not rules.standing(scores, 12).high_value
    assert rules.standing(scores, 999) == rules.NO_STANDING, "no purchase yet"
    # Fewer than ten values: a tenth of them says nothing, only the segment counts.
    few = scored(*ranked[:9])
    assert not any(rules.standing(few, i).high_value for i in range(1, 10))
    assert rules.standings(few).clv_floor is None


def test_at_risk_is_an_at_risk_segment_or_churn_risk_high() -> None:
    scores = scored(
        customer(1, "At risk"),
        customer(2, "Can't lose them", clv="10", churn="high"),
        customer(3, "Lost", clv="10", churn="high"),
        customer(4, "Lost", clv="10", churn="medium"),
        customer(5, "Hibernating", clv="10", churn="unknown"),
        customer(6, "Champions", clv="10"),
    )
    why = {i: rules.standing(scores, i).at_risk_why for i in range(1, 7)}
    assert why == {1: ("segment",), 2: ("segment", "churn"), 3: ("churn",), 4: (), 5: (), 6: ()}
    marked = rules.standings(scores)
    assert marked.at_risk == {1, 2, 3} and marked.high_value == {6} and marked.marked == {1, 2, 3, 6}


def test_the_sets_are_judged_once_per_set_of_scores() -> None:
    scores = scored(customer(1, "Champions"), customer(2, "At risk"))
    first = rules.standings(scores)
    assert rules.standings(scores) is first
    assert [rules.standing(scores, i).high_value for i in (1, 2)] == [True, False]
    # New scores (the orders changed) are judged afresh, not answered from the old ones.
    changed = scored(customer(1, "At risk"), customer(2, "Champions"))
    assert rules.standings(changed) == rules.Standings(frozenset({2}), frozenset({1}), None)


async def test_standing_from_a_shops_orders(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    shop = await build_shop(tenant)
    cache = SegmentCache()
    assert cache.peek(tenant.workspace_id) is None, "nothing computed yet"
    scores = await scored_of(db, tenant, cache)
    assert cache.peek(tenant.workspace_id) is scores and cache.peek(other_tenant.workspace_id) is None
    star, lapsed, plain = [await customer_id(db, tenant, e) for e in (shop.star, shop.lapsed, shop.plain[0])]
    assert scores.value_note is None, "enough repeat buyers for lifetime values"
    assert rules.standing(scores, star).high_value_why == ("segment", "top_value")
    assert not rules.standing(scores, star).at_risk
    assert rules.standing(scores, lapsed).at_risk and not rules.standing(scores, lapsed).high_value
    assert not rules.standing(scores, plain).high_value and not rules.standing(scores, plain).at_risk
    marked = rules.standings(scores)
    assert star in marked.high_value and lapsed in marked.at_risk and plain not in marked.marked
    assert marked.high_value == {i for i in scores.customers if rules.standing(scores, i).high_value}
    assert marked.at_risk == {i for i in scores.customers if rules.standing(scores, i).at_risk}
