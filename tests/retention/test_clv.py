"""BG/NBD and Gamma-Gamma: the likelihoods against the published formulas evaluated slowly, the
predictions against independent integrals, the published CDNOW fit, parameter recovery on data drawn
from the models, the sharded fit, and the per-customer scores."""

from __future__ import annotations

import datetime as dt
import math
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from decimal import Decimal

import numpy as np
import polars as pl
import pytest
from scipy import integrate, stats

from crossdesk.retention import clv, synthetic
from crossdesk.retention.clv import (
    BetaGeo,
    BgData,
    ChurnBands,
    FitInfo,
    GammaGamma,
    GgData,
    Horizon,
    bgnbd_nll,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_nll,
    score,
)
from crossdesk.retention.transactions import Purchase, records_frame, split, summarise
from tests.retention import cdnow

# A few customers: one-off, ordinary repeaters, one who stopped early, and a very heavy buyer.
X = np.array([0.0, 0.0, 1.0, 2.0, 5.0, 7.0, 500.0])
T_X = np.array([0.0, 0.0, 1.7, 30.4, 10.0, 35.0, 38.0])
T = np.array([38.9, 12.0, 38.9, 38.9, 36.0, 35.5, 38.5])
M = np.array([0.0, 0.0, 11.77, 22.35, 40.0, 18.5, 25.0])
NO_INFO = FitInfo(0.0, 0, (), 0, True, "")
CDNOW_BG = BetaGeo(0.243, 4.414, 0.793, 2.426, NO_INFO)
CDNOW_GG = GammaGamma(6.25, 3.74, 15.44, NO_INFO)


def bgnbd_loglik_slow(r: float, alpha: float, a: float, b: float, x: float, t_x: float, T: float) -> float:
    """Fader, Hardie & Lee (2005a), eq. 6, term by term, for one customer."""
    lg, lb = math.lgamma, lambda p, q: math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)
    a1 = lg(r + x) - lg(r) + r * math.log(alpha)
    first = lb(a, b + x) - lb(a, b) + a1 - (r + x) * math.log(alpha + T)
    if x == 0:
        return first
    second = lb(a + 1, b + x - 1) - lb(a, b) + a1 - (r + x) * math.log(alpha + t_x)
    return max(first, second) + math.log(
        math.exp(first - max(first, second)) + math.exp(second - max(first, second))
    )


def gamma_gamma_loglik_slow(p: float, q: float, gamma: float, x: float, m: float) -> float:
    """The density of a customer's mean of x purchase values (Fader, Hardie & Lee 2005b; Colombo & Jiang)."""
    lg = math.lgamma
    return (
        lg(p * x + q)
        - lg(p * x)
        - lg(q)
        + q * math.log(gamma)
        + (p * x - 1) * math.log(m)
        + p * x * math.log(x)
        - (p * x + q) * math.log(gamma + m * x)
    )


@pytest.mark.parametrize(
    "params", [(0.243, 4.414, 0.793, 2.426), (2.0, 0.5, 3.0, 0.7), (0.05, 80.0, 0.2, 9.0)]
)
def test_bgnbd_log_likelihood_is_the_published_one(params: tuple[float, float, float, float]) -> None:
    value, _ = bgnbd_nll(np.log(params), BgData.of(X, T_X, T))
    slow = sum(bgnbd_loglik_slow(*params, x, t_x, t) for x, t_x, t in zip(X, T_X, T, strict=True))
    assert -value == pytest.approx(slow, rel=1e-12)


@pytest.mark.parametrize("params", [(6.25, 3.74, 15.44), (0.8, 1.5, 2.0)])
def test_gamma_gamma_log_likelihood_is_the_published_one(params: tuple[float, float, float]) -> None:
    repeat = X > 0
    value, _ = gamma_gamma_nll(np.log(params), GgData.of(X[repeat], M[repeat]))
    slow = sum(gamma_gamma_loglik_slow(*params, x, m) for x, m in zip(X[repeat], M[repeat], strict=True))
    assert -value == pytest.approx(slow, rel=1e-12)


def finite_difference(f, point: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return np.array([(f(point + e)[0] - f(point - e)[0]) / (2 * h) for e in np.eye(len(point)) * h])


def test_analytic_gradients_match_finite_differences() -> None:
    bg = BgData.of(X, T_X, T)
    point = np.log([0.4, 3.0, 1.2, 2.0])
    assert bgnbd_nll(point, bg)[1] == pytest.approx(
        finite_difference(lambda p: bgnbd_nll(p, bg), point), rel=1e-5
    )
    gg = GgData.of(X[X > 0], M[X > 0])
    point = np.log([5.0, 3.0, 12.0])
    grad = gamma_gamma_nll(point, gg)[1]
    assert grad == pytest.approx(finite_difference(lambda p: gamma_gamma_nll(p, gg), point), rel=1e-5)


def test_large_frequencies_stay_finite() -> None:
    x, t_x, T_ = np.array([5000.0, 20000.0]), np.array([0.5, 100.0]), np.array([300.0, 100.0])
    value, grad = bgnbd_nll(np.log([0.243, 4.414, 0.793, 2.426]), BgData.of(x, t_x, T_))
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert np.all(np.isfinite(CDNOW_BG.expected_purchases(52.0, x, t_x, T_)))
    assert CDNOW_BG.p_alive(x, t_x, T_)[0] == pytest.approx(0.0, abs=1e-300), "5,000 purchases then silence"


def test_p_alive_is_the_published_formula() -> None:
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    expected = [
        1.0 if x == 0 else 1 / (1 + a / (b + x - 1) * ((alpha + t) / (alpha + t_x)) ** (r + x))
        for x, t_x, t in zip(X, T_X, T, strict=True)
    ]
    assert CDNOW_BG.p_alive(X, T_X, T) == pytest.approx(expected, rel=1e-12)


def expected_purchases_by_integration(bg: BetaGeo, t: float, x: float, t_x: float, T_: float) -> float:
    """E[Y(t) | x, t_x, T] straight from the model, without eq. 10: P(alive) times, for an active customer
    with lambda ~ Gamma(r + x, alpha + T) and p ~ Beta(a, b + x) a posteriori, E[(1 - e^(-lambda p t)) / p]
    (the BG purchase count's mean), the lambda part in closed form and the p part integrated numerically."""

    def given_p(p: float) -> float:
        return -math.expm1((bg.r + x) * math.log((bg.alpha + T_) / (bg.alpha + T_ + p * t))) / p

    density = stats.beta(bg.a, bg.b + x).pdf
    value, _ = integrate.quad(lambda p: given_p(p) * density(p), 0, 1, limit=200)
    return float(bg.p_alive(np.array([x]), np.array([t_x]), np.array([T_]))[0] * value)


@pytest.mark.parametrize("t", [1.0, 39.0, 260.0])
def test_expected_purchases_match_the_model_integrated_directly(t: float) -> None:
    got = CDNOW_BG.expected_purchases(t, X[:6], T_X[:6], T[:6])
    direct = [
        expected_purchases_by_integration(CDNOW_BG, t, *c) for c in zip(X[:6], T_X[:6], T[:6], strict=True)
    ]
    assert got == pytest.approx(direct, rel=1e-6)
    # A new customer's (eq. 7) is the same thing with nothing observed yet.
    assert CDNOW_BG.expected_purchases_new(t) == pytest.approx(
        expected_purchases_by_integration(CDNOW_BG, t, 0.0, 0.0, 0.0), rel=1e-6
    )


def test_expected_spend_is_the_weighted_mean_of_population_and_customer() -> None:
    spend = CDNOW_GG.expected_spend(np.array([0.0, 2.0]), np.array([0.0, 22.345]))
    population = 6.25 * 15.44 / (3.74 - 1)
    assert spend[0] == pytest.approx(population)
    weight = 6.25 * 2 / (6.25 * 2 + 3.74 - 1)
    assert spend[1] == pytest.approx((1 - weight) * population + weight * 22.345)
    with pytest.raises(ValueError, match=r"q = 0\.9 <= 1"):
        GammaGamma(1.0, 0.9, 1.0, NO_INFO).expected_spend(np.ones(1), np.ones(1))


# --- the published CDNOW fit ---------------------------------------------------------------------------

PUBLISHED_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@pytest.mark.skipif(not cdnow.SAMPLE.exists(), reason=cdnow.MISSING)
def test_cdnow_fit_reproduces_the_published_parameters_and_forecast() -> None:
    data = split(cdnow.records(), dt.date(1997, 9, 30), dt.date(1998, 6, 30), unit="weeks")
    summary = data.calibration
    x, t_x, T_, m = (summary.column(c) for c in ("frequency", "recency", "T", "monetary_value"))
    bg = fit_bgnbd(x, t_x, T_)
    gg = fit_gamma_gamma(x, m)  # the 946 customers with repeat purchases, mean repeat value
    for name, published in PUBLISHED_BG.items():
        assert getattr(bg, name) == pytest.approx(published, rel=0.01), name
    for name, published in PUBLISHED_GG.items():
        assert getattr(gg, name) == pytest.approx(published, rel=0.01), name
    assert bg.info.converged and bg.info.log_likelihood == pytest.approx(-9582.43, abs=0.01)
    assert gg.info.customers == 946
    # The 39-week holdout (weeks 40-78): 1,653 repeat purchases forecast for the 2,357, 1,882 made.
    assert data.holdout_length == 39
    forecast = bg.expected_purchases(data.holdout_length, x, t_x, T_).sum()
    assert forecast == pytest.approx(1653.4, abs=0.5)
    assert data.holdout["holdout_purchases"].sum() == 1882


# --- recovery on data drawn from the models ---------------------------------------------------------


def test_parameters_drawn_from_the_models_are_recovered() -> None:
    """20,000 customers drawn with the CDNOW parameters (continuous time, so ``period="exact"``). Each
    estimate must be within 4 of its own standard errors of the truth (from the observed information):
    a wrong likelihood or generator misses by many, a right one fails this by chance about once in
    16,000 per parameter. The standard errors are ~2-10% here, so 4 of them is a real bound."""
    truth = synthetic.CDNOW
    records = synthetic.purchase_records(20_000, dt.date(2024, 1, 1), 84, dt.date(2024, 9, 29), seed=7)
    summary = summarise(records, dt.date(2024, 9, 29), unit="weeks", period="exact")
    x, t_x, T_, m = (summary.column(c) for c in ("frequency", "recency", "T", "monetary_value"))
    bg, gg = fit_bgnbd(x, t_x, T_), fit_gamma_gamma(x, m)
    fitted = [bg.r, bg.alpha, bg.a, bg.b, gg.p, gg.q, gg.gamma]
    errors = [*bg.info.std_errors, *gg.info.std_errors]
    names = ["r", "alpha", "a", "b", "p", "q", "gamma"]
    for name, got, se, want in zip(names, fitted, errors, [getattr(truth, n) for n in names], strict=True):
        assert 0 < se < 0.15 * want, f"{name}: standard error {se:.3g} is not informative"
        assert abs(got - want) < 4 * se, f"{name}: {got:.4g} vs true {want}, se {se:.3g}"


# --- the sharded fit (the scale-out path) ---------------------------------------------------------------


def test_a_fit_over_shards_through_a_pool_gives_the_same_parameters() -> None:
    records = synthetic.purchase_records(6000, dt.date(2024, 1, 1), 84, dt.date(2024, 9, 29), seed=3)
    summary = summarise(records, dt.date(2024, 9, 29), period="exact")
    x, t_x, T_, m = (summary.column(c) for c in ("frequency", "recency", "T", "monetary_value"))
    whole = fit_bgnbd(x, t_x, T_)
    whole_gg = fit_gamma_gamma(x, m)
    with ThreadPoolExecutor(2) as threads:
        sharded = fit_bgnbd(x, t_x, T_, shards=4, map=threads.map)
    with ProcessPoolExecutor(2) as processes:
        sharded_gg = fit_gamma_gamma(x, m, shards=3, map=processes.map)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(sharded, name) == pytest.approx(getattr(whole, name), rel=1e-6)
    for name in ("p", "q", "gamma"):
        assert getattr(sharded_gg, name) == pytest.approx(getattr(whole_gg, name), rel=1e-6)
    assert sharded.info.customers == whole.info.customers == summary.frame.height


def test_nothing_to_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot fit BG/NBD"):
        fit_bgnbd(np.zeros(0), np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="recency/T out of range"):
        fit_bgnbd(np.ones(2), np.array([5.0, 1.0]), np.array([4.0, 4.0]))
    with pytest.raises(ValueError, match="needs customers with repeat purchases"):
        fit_gamma_gamma(np.zeros(3), np.zeros(3))


# --- scores ----------------------------------------------------------------------------------------------


def small_summary(currency: str = "USD"):
    day = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
    purchases = [
        Purchase("once", day, Decimal("40"), currency),
        Purchase("long ago", day - dt.timedelta(weeks=100), Decimal("40"), currency),
        Purchase("loyal", day, Decimal("20"), currency),
        *(
            Purchase("loyal", day + dt.timedelta(weeks=w), Decimal("30"), currency)
            for w in (4, 9, 15, 21, 25)
        ),
        Purchase("lapsed", day, Decimal("25"), currency),
        *(Purchase("lapsed", day + dt.timedelta(days=d), Decimal("25"), currency) for d in (3, 6, 9)),
    ]
    return summarise(records_frame(purchases), dt.date(2024, 6, 30), unit="weeks")


def test_scores_per_customer() -> None:
    summary = small_summary()
    scored = {row["customer_id"]: row for row in score(CDNOW_BG, CDNOW_GG, summary).iter_rows(named=True)}
    x, t_x, T_ = (summary.column(c) for c in ("frequency", "recency", "T"))
    order = summary.frame["customer_id"].to_list()
    alive = dict(zip(order, CDNOW_BG.p_alive(x, t_x, T_), strict=True))
    assert scored["once"]["p_alive"] == 1.0 and scored["once"]["churn_risk"] == "low"
    assert (
        scored["loyal"]["p_alive"] == pytest.approx(alive["loyal"]) and scored["loyal"]["churn_risk"] == "low"
    )
    assert scored["lapsed"]["p_alive"] < 0.3 and scored["lapsed"]["churn_risk"] == "high"
    assert scored["loyal"]["clv"] > scored["once"]["clv"] > scored["lapsed"]["clv"] > 0
    # p (gamma + x m) / (p x + q - 1) = 6.25 (15.44 + 5 * 30) / (6.25 * 5 + 2.74) = 30.4177..., in cents:
    assert scored["loyal"]["expected_spend"] == Decimal("30.42")
    assert all(isinstance(row["clv"], Decimal) and row["currency"] == "USD" for row in scored.values())
    # Next purchase: the median wait of an active customer, (alpha + T)(2^(1/(r+x)) - 1) weeks.
    loyal_T = T_[order.index("loyal")]
    wait = (4.414 + loyal_T) * (2 ** (1 / (0.243 + 5)) - 1) * 7
    assert scored["loyal"]["next_purchase"] == dt.date(2024, 6, 30) + dt.timedelta(days=round(wait))
    assert scored["once"]["next_purchase"] > dt.date(2032, 1, 1), "a one-off buyer: years away"
    assert scored["long ago"]["next_purchase"] is None, "bought once two years ago: over ten years away"


def test_clv_is_the_discounted_sum_of_each_periods_expected_purchases() -> None:
    summary = small_summary()
    x, t_x, T_, m = (summary.column(c) for c in ("frequency", "recency", "T", "monetary_value"))
    horizon = Horizon(periods=6, period_days=30, discount_rate=0.02)
    purchases, spend, value = clv.clv(CDNOW_BG, CDNOW_GG, summary, horizon)
    step = 30 / 7
    by_period = [
        CDNOW_BG.expected_purchases(i * step, x, t_x, T_)
        - CDNOW_BG.expected_purchases((i - 1) * step, x, t_x, T_)
        for i in range(1, 7)
    ]
    slow = sum(p * spend / 1.02**i for i, p in enumerate(by_period, start=1))
    assert value == pytest.approx(slow, rel=1e-9)
    assert purchases == pytest.approx(CDNOW_BG.expected_purchases(6 * step, x, t_x, T_), rel=1e-12)
    assert spend == pytest.approx(CDNOW_GG.expected_spend(x, m))


def test_money_is_rounded_to_the_currencys_minor_unit() -> None:
    scored = score(CDNOW_BG, CDNOW_GG, small_summary("JPY"))
    assert scored.schema["clv"] == pl.Decimal(38, 0) and scored.schema["expected_spend"] == pl.Decimal(38, 0)
    assert scored.schema["churn_risk"] == clv.CHURN_RISK


def test_churn_bands_follow_their_thresholds() -> None:
    p_alive = np.array([0.05, 0.3, 0.5, 0.69, 0.7, 1.0])
    assert clv.churn_risk(p_alive).to_list() == ["high", "medium", "medium", "medium", "low", "low"]
    strict = ChurnBands(high_below=0.6, medium_below=0.9)
    assert clv.churn_risk(p_alive, strict).to_list() == ["high", "high", "high", "medium", "medium", "low"]
    with pytest.raises(ValueError, match="0 <= high_below <= medium_below <= 1"):
        ChurnBands(high_below=0.8, medium_below=0.5)
    with pytest.raises(ValueError, match="at least one period"):
        Horizon(periods=0)
