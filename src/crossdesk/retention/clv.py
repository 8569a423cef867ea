"""Lifetime value and churn: BG/NBD and Gamma-Gamma fitted by maximum likelihood, then every customer scored.

Models, as published:

- BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way", Marketing Science 24(2)):
  while alive a customer buys as a Poisson process of rate lambda ~ Gamma(r, alpha); after each repeat
  purchase they drop out with probability p ~ Beta(a, b). Likelihood: their eq. 6; P(alive): Fader &
  Hardie's note "Computing P(alive) using the BG/NBD model"; expected purchases in (T, T + t]: eq. 10.
- Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV", JMR 42(4); Fader & Hardie's note "The
  Gamma-Gamma model of monetary value"): a purchase's value ~ Gamma(p, nu), nu ~ Gamma(q, gamma); fitted
  on each repeat customer's mean repeat-purchase value m and count x; expected spend per purchase:
  (p gamma + p x m) / (p x + q - 1).

Numerics: the log-likelihoods are vectorised numpy/scipy in log space (``gammaln``, ``betaln``,
``logaddexp``), with analytic gradients, parameters optimised as logarithms with L-BFGS-B. The special
functions of the integer x are evaluated once per distinct x, so the per-customer work is a few logs and
exps. The log-likelihood is a sum over customers, so it shards: ``fit_*(..., shards=k, map=pool.map)``
evaluates each shard's part through any ``map`` (a thread or process pool here; Dask's or Ray's map on a
cluster) and adds them up.

Floats are used throughout the numerics (they are estimates, not amounts); money leaves ``score`` as
Decimal rounded to the currency's minor unit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from crossdesk.retention.money import to_money
from crossdesk.retention.transactions import UNIT_DAYS, Summary

Array = npt.NDArray[np.float64]
Gradient = tuple[float, Array]  # (negative log-likelihood, its gradient in log-parameters)
Mapper = Callable[[Callable[[Any], Gradient], Iterable[Any]], Iterable[Gradient]]

# Log-parameters are bounded so that no step of the optimiser overflows exp(): e^-20 .. e^20.
LOG_BOUNDS = (-20.0, 20.0)
# No next purchase date when the median wait for it is longer than this: "not expected".
NEXT_PURCHASE_CAP_DAYS = 3650


@dataclass(frozen=True)
class FitInfo:
    """How a fit went: the maximised log-likelihood, customers used, standard errors (from the
    observed information; NaN where it is not positive definite), optimiser iterations and message."""

    log_likelihood: float
    customers: int
    std_errors: tuple[float, ...]
    iterations: int
    converged: bool
    message: str


@dataclass(frozen=True)
class BetaGeo:
    """Fitted BG/NBD. Times are in the unit of the summary it was fitted on."""

    r: float
    alpha: float
    a: float
    b: float
    info: FitInfo

    def p_alive(self, x: Array, t_x: Array, T: Array) -> Array:
        """P(still active at T | x repeat purchases, the last at t_x); 1 when x = 0 (no dropout before
        the first repeat purchase in the BG/NBD)."""
        log_odds = _dropout_log_odds(self.r, self.alpha, self.a, self.b, x, t_x, T)
        return np.where(x > 0, expit(-log_odds), 1.0)

    def expected_purchases(self, t: float, x: Array, t_x: Array, T: Array) -> Array:
        """E[purchases in (T, T + t] | x, t_x, T] (eq. 10)."""
        pairs = _Pairs.of(x, T)
        return self.p_alive(x, t_x, T) * self._growth(pairs.x, pairs.T, t)[pairs.index]

    def expected_purchases_new(self, t: float) -> float:
        """E[repeat purchases in (0, t]] for a customer just acquired (eq. 7)."""
        return float(self._growth(np.zeros(1), np.zeros(1), t)[0])

    def median_wait(self, x: Array, T: Array) -> Array:
        """Median time from T to the next purchase of a customer still active: lambda's posterior is
        Gamma(r + x, alpha + T), so P(none within s) = ((alpha + T) / (alpha + T + s))^(r + x)."""
        return (self.alpha + T) * np.expm1(math.log(2.0) / (self.r + x))

    def _growth(self, x: Array, T: Array, t: float) -> Array:
        """E[purchases in (T, T + t]] of an active customer (eq. 10 without its P(alive) factor), with
        Euler's transformation of the 2F1, which keeps its arguments small for large x:
        (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        tail = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        growth: Array = (a + b + x - 1) / (a - 1) * (1 - tail)
        return growth


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma spend model, in the summary's currency."""

    p: float
    q: float
    gamma: float
    info: FitInfo

    def expected_spend(self, x: Array, m: Array) -> Array:
        """E[value of a purchase | x repeat purchases of mean value m]: a weighted mean of the population
        mean p gamma / (q - 1) and the customer's own m (the population mean when x = 0)."""
        if self.q <= 1:
            raise ValueError(f"Gamma-Gamma q = {self.q:.3g} <= 1: the mean purchase value is infinite")
        spend: Array = self.p * (self.gamma + x * m) / (self.p * x + self.q - 1)
        return spend


@dataclass(frozen=True)
class Horizon:
    """CLV over ``periods`` periods of ``period_days``, discounted by ``discount_rate`` per period."""

    periods: int = 12
    period_days: float = 30.0
    discount_rate: float = 0.01

    def __post_init__(self) -> None:
        if self.periods < 1 or self.period_days < 1 or self.discount_rate <= -1:
            raise ValueError("a horizon needs at least one period of at least a day, and a rate above -100%")


@dataclass(frozen=True)
class ChurnBands:
    """Churn risk from P(alive): high below ``high_below``, medium below ``medium_below``, else low."""

    high_below: float = 0.3
    medium_below: float = 0.7

    def __post_init__(self) -> None:
        if not 0 <= self.high_below <= self.medium_below <= 1:
            raise ValueError("churn bands need 0 <= high_below <= medium_below <= 1")


CHURN_RISK = pl.Enum(["low", "medium", "high"])


# --- log-likelihoods ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counts:
    """Distinct values of an integer count, how many customers have each, and each customer's position."""

    values: Array
    weights: Array
    index: npt.NDArray[np.intp]

    @classmethod
    def of(cls, x: Array) -> _Counts:
        values, index, weights = np.unique(x, return_inverse=True, return_counts=True)
        return cls(values.astype(np.float64), weights.astype(np.float64), index)


@dataclass(frozen=True)
class BgData:
    """One shard of BG/NBD input; the repeat customers (x > 0) kept apart, as only they can drop out."""

    x: Array
    T: Array
    counts: _Counts
    rx: Array  # the repeat customers' x, t_x and T
    rt_x: Array
    rT: Array
    r_index: npt.NDArray[np.intp]  # their x's position in counts.values

    @classmethod
    def of(cls, x: Array, t_x: Array, T: Array) -> BgData:
        counts = _Counts.of(x)
        repeat = x > 0
        return cls(x, T, counts, x[repeat], t_x[repeat], T[repeat], counts.index[repeat])


def bgnbd_nll(log_params: Array, data: BgData) -> Gradient:
    """Negative BG/NBD log-likelihood summed over ``data``'s customers, and its gradient.

    Per customer (eq. 6, the second term's ratio simplified with B(a+1, b+x-1)/B(a, b+x) = a/(b+x-1)):
    ln L = ln G(r+x) - ln G(r) + r ln alpha - (r+x) ln(alpha+T) + ln B(a, b+x) - ln B(a, b)
           + [x > 0] ln(1 + exp(D)),   D = ln(a/(b+x-1)) + (r+x) ln((alpha+T)/(alpha+t_x)).
    """
    r, alpha, a, b = np.exp(log_params)
    u, w = data.counts.values, data.counts.weights
    n = w.sum()
    # Terms of x alone, once per distinct x.
    ll = w @ (gammaln(r + u) - gammaln(r) + betaln(a, b + u) - betaln(a, b)) + n * r * math.log(alpha)
    d_r = w @ (digamma(r + u) - digamma(r)) + n * math.log(alpha)
    d_alpha = n * r / alpha
    d_a = w @ (digamma(a + b) - digamma(a + b + u))
    d_b = w @ (digamma(b + u) - digamma(a + b + u) - digamma(b) + digamma(a + b))
    # Everyone's -(r+x) ln(alpha+T).
    log_T = np.log(alpha + data.T)
    ll -= r * log_T.sum() + data.x @ log_T
    d_r -= log_T.sum()
    inv_T = 1.0 / (alpha + data.T)
    d_alpha -= r * inv_T.sum() + data.x @ inv_T
    # The repeat customers' ln(1 + e^D): dropped out right after their last purchase, or still active.
    rx, r_log_T = data.rx, np.log(alpha + data.rT)
    gap = r_log_T - np.log(alpha + data.rt_x)
    log_b = np.log(b + u - 1, where=u > 0, out=np.zeros_like(u))
    drop = math.log(a) - log_b[data.r_index] + (r + rx) * gap
    ll += np.logaddexp(0.0, drop).sum()
    s = expit(drop)  # the weight of "dropped out" in each repeat customer's likelihood
    d_r += s @ gap
    d_alpha += (s * (r + rx)) @ (1.0 / (alpha + data.rT) - 1.0 / (alpha + data.rt_x))
    d_a += s.sum() / a
    per_x = np.bincount(data.r_index, weights=s, minlength=len(u))
    d_b -= per_x @ np.divide(1.0, b + u - 1, where=u > 0, out=np.zeros_like(u))
    grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])  # chain rule: d/d ln(theta)
    return -float(ll), -grad


@dataclass(frozen=True)
class GgData:
    """One shard of Gamma-Gamma input: repeat customers with a positive mean repeat value."""

    x: Array
    m: Array
    counts: _Counts
    sum_log_m: float
    sum_x_log_xm: float  # sum of x (ln x + ln m)

    @classmethod
    def of(cls, x: Array, m: Array) -> GgData:
        return cls(
            x,
            m,
            _Counts.of(x),
            float(np.log(m).sum()),
            float(x @ (np.log(x) + np.log(m))),
        )


def gamma_gamma_nll(log_params: Array, data: GgData) -> Gradient:
    """Negative Gamma-Gamma log-likelihood of the customers' mean repeat values, and its gradient.

    Per customer: ln G(px+q) - ln G(px) - ln G(q) + q ln gamma + (px-1) ln m + px ln x - (px+q) ln(gamma+mx).
    """
    p, q, gamma = np.exp(log_params)
    u, w = data.counts.values, data.counts.weights
    n = w.sum()
    log_gm = np.log(gamma + data.m * data.x)
    sum_log_gm, x_log_gm = log_gm.sum(), data.x @ log_gm
    ll = (
        w @ (gammaln(p * u + q) - gammaln(p * u))
        - n * gammaln(q)
        + n * q * math.log(gamma)
        + p * data.sum_x_log_xm
        - data.sum_log_m
        - p * x_log_gm
        - q * sum_log_gm
    )
    inv_gm = 1.0 / (gamma + data.m * data.x)
    d_p = w @ (u * (digamma(p * u + q) - digamma(p * u))) + data.sum_x_log_xm - x_log_gm
    d_q = w @ digamma(p * u + q) - n * digamma(q) + n * math.log(gamma) - sum_log_gm
    d_gamma = n * q / gamma - p * (data.x @ inv_gm) - q * inv_gm.sum()
    return -float(ll), -np.array([d_p * p, d_q * q, d_gamma * gamma])


# --- fitting --------------------------------------------------------------------------------------------


def fit_bgnbd(frequency: Array, recency: Array, T: Array, *, shards: int = 1, map: Mapper = map) -> BetaGeo:
    """Maximum-likelihood BG/NBD on every customer (one-purchase customers included)."""
    x, t_x, T = bgnbd_input(frequency, recency, T)
    _check(len(x) > 0, "BG/NBD")
    parts = [
        BgData.of(*chunk) for chunk in zip(*(np.array_split(v, shards) for v in (x, t_x, T)), strict=True)
    ]
    start = bgnbd_start(float(x.sum()), float(T.sum()))
    (r, alpha, a, b), info = _fit(bgnbd_nll, parts, start, map, len(x))
    return BetaGeo(r, alpha, a, b, info)


def fit_gamma_gamma(
    frequency: Array, monetary_value: Array, *, shards: int = 1, map: Mapper = map
) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma on the customers with repeat purchases of positive mean value."""
    x, m = gamma_gamma_input(frequency, monetary_value)
    _check(len(x) > 0, GG_NEEDS)
    parts = [
        GgData.of(*chunk) for chunk in zip(np.array_split(x, shards), np.array_split(m, shards), strict=True)
    ]
    (p, q, gamma), info = _fit(gamma_gamma_nll, parts, gamma_gamma_start(float(m.mean())), map, len(x))
    return GammaGamma(p, q, gamma, info)


# The pieces of a fit that a distributed run (``retention.distributed``) shares with the local one.
GG_NEEDS = "Gamma-Gamma (it needs customers with repeat purchases)"


def bgnbd_input(frequency: Array, recency: Array, T: Array) -> tuple[Array, Array, Array]:
    """BG/NBD's input as floats, checked: every customer, one-purchase customers included."""
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    _check(bool(np.all((x >= 0) & (t_x >= 0) & (t_x <= T))), "BG/NBD")
    return x, t_x, T


def gamma_gamma_input(frequency: Array, monetary_value: Array) -> tuple[Array, Array]:
    """Gamma-Gamma's input as floats: the customers with repeat purchases of positive mean value."""
    x, m = (np.asarray(v, dtype=np.float64) for v in (frequency, monetary_value))
    keep = (x > 0) & (m > 0)
    return x[keep], m[keep]


def bgnbd_start(purchases: float, age: float) -> Array:
    """r = 1 and alpha from the mean purchase rate (kept finite and positive for any data), a = b = 1;
    ``purchases`` is the customers' summed frequency, ``age`` their summed T."""
    rate = (purchases + 1) / (age + 1)
    return np.log([1.0, 1.0 / rate, 1.0, 1.0])


def gamma_gamma_start(mean_value: float) -> Array:
    """p = 1, q = 2, gamma = the mean m, so that the model's mean value p gamma / (q - 1) is the data's."""
    return np.log([1.0, 2.0, mean_value])


def _check(ok: bool, model: str) -> None:
    if not ok:
        raise ValueError(f"cannot fit {model}: no customers, or frequency/recency/T out of range")


def _fit(
    nll: Callable[[Array, Any], Gradient], parts: Sequence[Any], start: Array, map: Mapper, n: int
) -> tuple[tuple[float, ...], FitInfo]:
    """Minimise ``nll`` summed over ``parts`` (of ``n`` customers in all; the parts may be handles of data
    held elsewhere, which only ``map`` opens)."""

    def total(log_params: Array) -> Gradient:
        value, grad = 0.0, np.zeros_like(log_params)
        for v, g in map(partial(nll, log_params), parts):
            value, grad = value + v, grad + g
        return value / n, grad / n  # per customer: the optimiser's tolerances then do not depend on n

    # One BLAS thread: L-BFGS-B's tiny vector operations cost 20 times more when OpenBLAS wakes its
    # threads for each (measured on a busy two-core machine); the big dot products are memory-bound.
    with threadpool_limits(limits=1, user_api="blas"):
        found = minimize(
            total,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=[LOG_BOUNDS] * len(start),
            options={"maxiter": 500, "ftol": 1e-14, "gtol": 1e-9},
        )
        log_params = np.asarray(found.x, dtype=np.float64)
        errors = _std_errors(total, log_params, n)
    info = FitInfo(
        log_likelihood=-float(found.fun) * n,
        customers=n,
        std_errors=errors,
        iterations=int(found.nit),
        converged=bool(found.success),
        message=str(found.message),
    )
    return tuple(float(v) for v in np.exp(log_params)), info


def _std_errors(total: Callable[[Array], Gradient], log_params: Array, n: int) -> tuple[float, ...]:
    """Standard errors of the parameters: the Hessian of the log-parameters by central differences of
    the analytic gradient, inverted, then the delta method (se(theta) = theta se(ln theta))."""
    h = 1e-5
    steps = np.eye(len(log_params)) * h
    hessian = np.array([(total(log_params + e)[1] - total(log_params - e)[1]) / (2 * h) for e in steps]) * n
    hessian = (hessian + hessian.T) / 2
    try:
        variances = np.diag(np.linalg.inv(hessian))
    except np.linalg.LinAlgError:
        variances = np.full(len(log_params), np.nan)
    with np.errstate(invalid="ignore"):
        errors = np.exp(log_params) * np.sqrt(np.where(variances > 0, variances, np.nan))
    return tuple(float(e) for e in errors)


# --- scoring --------------------------------------------------------------------------------------------


def _dropout_log_odds(r: float, alpha: float, a: float, b: float, x: Array, t_x: Array, T: Array) -> Array:
    """ln[P(dropped out at t_x) / P(active)] of repeat customers: D of ``bgnbd_nll``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        odds: Array = np.log(a / (b + x - 1)) + (r + x) * np.log((alpha + T) / (alpha + t_x))
    return odds


@dataclass(frozen=True)
class _Pairs:
    """Distinct (x, T) pairs: the hypergeometric terms depend on nothing else, and daily data have few."""

    x: Array
    T: Array
    index: npt.NDArray[np.intp]

    @classmethod
    def of(cls, x: Array, T: Array) -> _Pairs:
        # A complex number sorts by real then imaginary part: one exact sort of both columns at once.
        keys, index = np.unique(x + 1j * T, return_inverse=True)
        return cls(keys.real.copy(), keys.imag.copy(), index)

    @classmethod
    def each(cls, x: Array, T: Array) -> _Pairs:
        """Every customer apart: for exact times, where nearly every pair is distinct and sorting is waste."""
        return cls(x, T, np.arange(len(x)))


def clv(
    bg: BetaGeo, gg: GammaGamma, summary: Summary, horizon: Horizon = Horizon()
) -> tuple[Array, Array, Array]:
    """(expected purchases over the horizon, expected spend per purchase, CLV) per customer, floats.

    CLV is the discrete sum used in the field (``lifetimes``' ``customer_lifetime_value``): for each
    period i of the horizon, the expected purchases in period i times the expected spend, discounted by
    (1 + discount_rate)^i.
    """
    x, t_x, T, m = (summary.column(c) for c in ("frequency", "recency", "T", "monetary_value"))
    step = horizon.period_days / UNIT_DAYS[summary.unit]
    pairs = _Pairs.of(x, T) if summary.period == "day" else _Pairs.each(x, T)
    growth = [np.zeros(len(pairs.x))] + [
        bg._growth(pairs.x, pairs.T, i * step) for i in range(1, horizon.periods + 1)
    ]
    discounted = sum(
        (growth[i] - growth[i - 1]) / (1 + horizon.discount_rate) ** i for i in range(1, horizon.periods + 1)
    )
    alive = bg.p_alive(x, t_x, T)
    spend = gg.expected_spend(x, m)
    purchases = alive * growth[-1][pairs.index]
    value = alive * np.asarray(discounted)[pairs.index] * spend
    return purchases, spend, value


def churn_risk(p_alive: Array, bands: ChurnBands = ChurnBands()) -> pl.Series:
    """Each P(alive)'s band, gathered from the enum's values by code (0 low, 1 medium, 2 high): a string
    built per customer would cost more than the model."""
    band = (p_alive < bands.medium_below).astype(np.int64) + (p_alive < bands.high_below)
    return pl.Series("churn_risk", CHURN_RISK.categories, dtype=CHURN_RISK).gather(band)


def score(
    bg: BetaGeo,
    gg: GammaGamma,
    summary: Summary,
    horizon: Horizon = Horizon(),
    bands: ChurnBands = ChurnBands(),
) -> pl.DataFrame:
    """Per customer: ``customer_id, p_alive, churn_risk, expected_purchases`` (over the horizon),
    ``expected_spend`` (per purchase) and ``clv`` (Decimal, the summary's currency, rounded to its minor
    unit), ``next_purchase`` (the date by which a still-active customer buys again with probability 1/2;
    null when that is more than ten years away) and ``currency``."""
    x, t_x, T = (summary.column(c) for c in ("frequency", "recency", "T"))
    alive = bg.p_alive(x, t_x, T)
    purchases, spend, value = clv(bg, gg, summary, horizon)
    wait_days = bg.median_wait(x, T) * UNIT_DAYS[summary.unit]
    return pl.DataFrame(
        [
            summary.frame.get_column("customer_id"),
            pl.Series("p_alive", alive),
            churn_risk(alive, bands),
            pl.Series("expected_purchases", purchases),
            to_money(spend, summary.currency, "expected_spend"),
            to_money(value, summary.currency, "clv"),
            _next_purchase(summary.observation_end, wait_days),
        ]
    ).with_columns(currency=pl.lit(summary.currency))


def _next_purchase(end: dt.date, wait_days: Array) -> pl.Series:
    days = np.where(wait_days <= NEXT_PURCHASE_CAP_DAYS, np.round(wait_days), np.nan)
    offsets = pl.Series(days).fill_nan(None).cast(pl.Int64)
    return pl.select((pl.lit(end) + pl.duration(days=pl.lit(offsets))).alias("next_purchase")).to_series()
