"""Synthetic purchase records drawn from the BG/NBD and Gamma-Gamma models themselves, so that the
parameters a fit should recover are known (for the benchmark and the parameter-recovery test).

Per customer, as the models say: a first purchase at a uniform time in the acquisition window; a
purchase rate lambda ~ Gamma(r, alpha) per week and a dropout probability p ~ Beta(a, b); while active,
repeat purchases as a Poisson process, with dropout right after each repeat purchase; each purchase's
value ~ Gamma(p, nu) with nu ~ Gamma(q, gamma) per customer. Everything is drawn in vectorised numpy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

WEEK_SECONDS = 7 * 86_400


@dataclass(frozen=True)
class TrueParams:
    """BG/NBD (r, alpha per week, a, b) and Gamma-Gamma (p, q, gamma) parameters."""

    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    gamma: float


# The published CDNOW fits (Fader, Hardie & Lee 2005a, 2005b): a realistic mix of one-off and repeat buyers.
CDNOW = TrueParams(r=0.243, alpha=4.414, a=0.793, b=2.426, p=6.25, q=3.74, gamma=15.44)


def purchase_records(
    customers: int,
    start: dt.date,
    acquisition_days: int,
    end: dt.date,
    params: TrueParams = CDNOW,
    seed: int = 0,
) -> pl.DataFrame:
    """Records ``customer_id, at, amount, currency`` (USD) of ``customers`` acquired in the
    ``acquisition_days`` from ``start``, observed to the end of the day ``end``."""
    rng = np.random.default_rng(seed)
    origin = dt.datetime.combine(start, dt.time(), dt.UTC)
    horizon = (dt.datetime.combine(end, dt.time(), dt.UTC) - origin).total_seconds() / WEEK_SECONDS + 1 / 7
    first = rng.uniform(0, acquisition_days / 7, customers)  # weeks after ``start``
    repeat_owner, repeat_at = _repeat_purchases(rng, params, horizon - first)
    owner = np.concatenate([np.arange(customers), repeat_owner])
    weeks = np.concatenate([first, first[repeat_owner] + repeat_at])
    nu = rng.gamma(params.q, 1 / params.gamma, customers)
    value = np.maximum(rng.gamma(params.p, 1 / nu[owner]), 0.01)
    micros = (origin.timestamp() + np.round(weeks * WEEK_SECONDS)).astype(np.int64) * 1_000_000
    return pl.DataFrame(
        {
            "customer_id": owner,
            "at": pl.Series(micros).cast(pl.Datetime("us", "UTC")),
            "amount": pl.Series(value).round(2).cast(pl.Decimal(12, 2)),
            "currency": pl.repeat("USD", len(owner), eager=True),
        }
    )


def _repeat_purchases(
    rng: np.random.Generator, params: TrueParams, age: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(customer, weeks after their first purchase) of every repeat purchase before ``age``.

    A Poisson process on (0, age] has K ~ Poisson(lambda age) points placed uniformly; the customer makes
    the first min(K, N) of them, N ~ Geometric(p) being the repeat purchase after which they drop out.
    """
    n = len(age)
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    points = rng.poisson(rate * age)
    made = np.minimum(points, rng.geometric(dropout))
    owner = np.repeat(np.arange(n), points)
    at = rng.uniform(0, 1, len(owner)) * age[owner]
    order = np.lexsort((at, owner))  # each customer's points in time order
    owner, at = owner[order], at[order]
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(points) - points, points)
    kept = rank < made[owner]
    return owner[kept], at[kept]
