"""A customer's standing with the seller: high value, at risk of leaving, or both, from the workspace's
scores (``retention.segments``). The one place these rules live: the customer sidebar shows them, the
inbox marks, filters and sorts by them, and ingest routes a new conversation of such a customer first.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from crossdesk.retention.segments import CustomerRFM, Scored

HIGH_VALUE_SEGMENTS = ("Champions",)
AT_RISK_SEGMENTS = ("At risk", "Can't lose them")
# The top tenth by lifetime value is high value; below this many values a tenth means too little.
TOP_SHARE = 0.1
MIN_VALUES = 10


@dataclass(frozen=True)
class Standing:
    """One customer's standing, with why (for a title the agents can read): high value for "segment"
    and/or "top_value" (lifetime value among the workspace's top tenth); at risk for "segment" and/or
    "churn" (churn risk high)."""

    segment: str | None = None  # None: no purchase yet
    churn_risk: str | None = None  # low, medium, high or unknown; None without a lifetime value
    high_value_why: tuple[str, ...] = ()
    at_risk_why: tuple[str, ...] = ()

    @property
    def high_value(self) -> bool:
        return bool(self.high_value_why)

    @property
    def at_risk(self) -> bool:
        return bool(self.at_risk_why)


NO_STANDING = Standing()


@dataclass(frozen=True)
class Standings:
    """Every high-value and at-risk customer of a workspace (ids), and the lifetime value a customer needs
    to count among the top tenth (None: too few values to tell)."""

    high_value: frozenset[int] = frozenset()
    at_risk: frozenset[int] = frozenset()
    clv_floor: float | None = None

    @property
    def marked(self) -> frozenset[int]:
        return self.high_value | self.at_risk


NO_STANDINGS = Standings()


def _judge(scores: CustomerRFM, clv_floor: float | None) -> Standing:
    value = scores.value
    top = value is not None and clv_floor is not None and float(value.clv) >= clv_floor
    churn = value.churn_risk if value is not None else None
    return Standing(
        segment=scores.segment,
        churn_risk=churn,
        high_value_why=_reasons(segment=scores.segment in HIGH_VALUE_SEGMENTS, top_value=top),
        at_risk_why=_reasons(segment=scores.segment in AT_RISK_SEGMENTS, churn=churn == "high"),
    )


def _reasons(**holding: bool) -> tuple[str, ...]:
    return tuple(name for name, holds in holding.items() if holds)


def _clv_floor(scored: Scored) -> float | None:
    values = [float(c.value.clv) for c in scored.customers.values() if c.value is not None]
    return float(np.quantile(values, 1 - TOP_SHARE)) if len(values) >= MIN_VALUES else None


def _compute(scored: Scored) -> Standings:
    floor = _clv_floor(scored)
    judged = {i: _judge(scores, floor) for i, scores in scored.customers.items()}
    return Standings(
        high_value=frozenset(i for i, s in judged.items() if s.high_value),
        at_risk=frozenset(i for i, s in judged.items() if s.at_risk),
        clv_floor=floor,
    )


# Per Scored object, while it lives (a Scored holds a dict, so it cannot be a weak dictionary's key): the
# SegmentCache keeps one Scored per workspace until the orders change, so each is judged once.
_judged: dict[int, tuple[weakref.ref[Scored], Standings]] = {}


def standings(scored: Scored) -> Standings:
    """The workspace's high-value and at-risk customers, computed once per ``Scored``."""
    key = id(scored)
    kept = _judged.get(key)
    if kept is not None and kept[0]() is scored:
        return kept[1]
    found = _compute(scored)
    # The callback runs before the object's id can be reused, so it never drops a newer entry.
    _judged[key] = (weakref.ref(scored, lambda _: _judged.pop(key, None)), found)
    return found


def standing(scored: Scored, customer_id: int) -> Standing:
    """The customer's standing (no purchase yet: neither high value nor at risk)."""
    scores = scored.customers.get(customer_id)
    if scores is None:
        return NO_STANDING
    return _judge(scores, standings(scored).clv_floor)
