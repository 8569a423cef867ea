"""Recommendations: the right answers on a small history whose answer is known, cold starts by country and
category, bad input, determinism, and collaborative filtering beating popularity (synthetic data, and UCI
Online Retail when it is on disk)."""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Sequence
from dataclasses import replace
from itertools import combinations
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from crossdesk.retention.recommend import Method, Recommendation, Recommender
from crossdesk.retention.recs_eval import (
    UCI_CUT,
    evaluate,
    hold_out_one,
    load_uci,
    split,
    synthetic,
    uci_path,
)

CF: tuple[Method, ...] = ("cosine", "als", "bpr")
UCI = uci_path(Path(__file__).resolve().parents[2])
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

# Two tastes that never mix: customers 1-8 buy A SKUs in Britain, customers 11-18 B SKUs in Germany. Each
# buys three consecutive SKUs of their five (customer c: indices c, c+1, c+2 mod 5), so customer 1 has A2,
# A3, A4 and lacks A1, A5. Buyers per SKU, the same in both clusters: A4 6; A3, A5 5; A1, A2 4.
A = ["A1", "A2", "A3", "A4", "A5"]
B = ["B1", "B2", "B3", "B4", "B5"]
Row = tuple[Any, str, Any, str, str | None]  # customer, sku, quantity, order id, country
POPULAR = ["A4", "B4", "A3", "A5", "B3", "B5", "A1", "A2", "B1", "B2"]  # ties: A before B


def lines(rows: Sequence[Row]) -> pl.DataFrame:
    """(customer, sku, quantity, order id, country) order lines, placed an hour apart in this order."""
    customers, skus, quantities, orders, countries = zip(*rows, strict=True)
    at = [T0 + dt.timedelta(hours=i) for i in range(len(rows))]
    columns = {"customer_id": customers, "sku": skus, "quantity": quantities, "order_id": orders}
    return pl.DataFrame({**columns, "placed_at": at, "country": countries}, strict=False)


def two_clusters(*extra: Row) -> pl.DataFrame:
    rows = [
        (c, skus[(c + k) % 5], 1, f"o{c}", country)
        for skus, country, first in ((A, "GB", 1), (B, "DE", 11))
        for c in range(first, first + 8)
        for k in range(3)
    ]
    return lines([*rows, *extra])


def trios() -> pl.DataFrame:
    """The same two tastes, richer: each customer buys one trio of their five SKUs, every trio once (10
    customers a cluster), so every pair of a cluster's SKUs is bought together by three customers."""
    trios = [trio for cluster in (A, B) for trio in combinations(cluster, 3)]
    return lines(
        [(c, sku, 1, f"o{c}", "GB" if sku in A else "DE") for c, trio in enumerate(trios) for sku in trio]
    )


def recommender(method: Method) -> Recommender:
    # Small, well-regularised factor models for a ten-SKU catalogue; one thread so that BPR is reproducible.
    base = Recommender(method=method, num_threads=1)
    if method == "als":
        return replace(base, factors=8, regularization=1.0)
    if method == "bpr":
        return replace(base, factors=4, regularization=0.1, iterations=1000, learning_rate=0.05)
    return base


def skus(picks: list[Recommendation]) -> list[str]:
    return [r.sku for r in picks]


def sources(picks: list[Recommendation]) -> list[str]:
    return [r.source for r in picks]


# --- the known answers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", CF)
def test_bought_together_stays_in_the_cluster(method: Method) -> None:
    model = recommender(method).fit(trios())
    for sku in A + B:
        together = model.bought_together(sku, 4)
        assert sorted(skus(together)) == sorted(set(A if sku in A else B) - {sku})
        assert set(sources(together)) == {"bought_together"}


@pytest.mark.parametrize("method", CF)
def test_for_customer_leaves_out_what_they_bought_and_stays_in_their_cluster(method: Method) -> None:
    history = trios()
    model = recommender(method).fit(history)
    for customer, bought in history.group_by("customer_id").agg("sku").iter_rows():
        picks = model.for_customer(customer, 2)
        assert set(skus(picks)) == set(A if bought[0] in A else B) - set(bought)
        assert sources(picks) == ["collaborative", "collaborative"]
        assert model.excluded_for(customer) == set(bought)


@pytest.mark.parametrize("method", CF)
def test_a_short_list_is_topped_up_with_popular_skus(method: Method) -> None:
    model = recommender(method).fit(trios())
    picks = model.for_customer(0, 10)  # they bought A1, A2, A3
    assert sorted(skus(picks)[:2]) == ["A4", "A5"]
    assert sorted(skus(picks)[2:]) == B, "all there is left"
    # No below-zero guesses of a factor model: what the model has no evidence for comes from popularity.
    assert all(r.score > 0 for r in picks if r.source == "collaborative")
    if method == "cosine":  # Britain's popular SKUs are A SKUs, bought or picked already: popular overall
        assert skus(picks)[2:] == B
        assert sources(picks) == ["collaborative"] * 2 + ["popular"] * 5


# --- cold starts ------------------------------------------------------------------------------------------


def test_unknown_customer_gets_their_countrys_popular_skus_then_popular_overall() -> None:
    model = Recommender().fit(two_clusters((21, "A1", 1, "o21", "DE"), (22, "A1", 1, "o22", "DE")))
    german = model.for_customer("someone new", 7, country=" de ")
    assert skus(german) == ["B4", "B3", "B5", "B1", "B2", "A1", "A4"]
    assert sources(german) == ["popular_in_country"] * 6 + ["popular"]
    assert german[0].score == 6.0, "the popular sources' score is the number of buyers"


def test_unknown_customer_without_a_country_gets_popular_overall() -> None:
    model = Recommender().fit(two_clusters())
    picks = model.for_customer(999, 10)
    assert skus(picks) == POPULAR
    assert set(sources(picks)) == {"popular"}


def test_a_customers_country_is_the_one_of_their_latest_order_unless_told() -> None:
    moved = two_clusters((30, "A1", 1, "o30a", "GB"), (30, "B1", 1, "o30b", "DE"))
    model = Recommender(method="popular").fit(moved)
    assert skus(model.for_customer(30, 3)) == ["B4", "B3", "B5"]  # DE, less B1 which they bought
    assert skus(model.for_customer(30, 3, country="GB")) == ["A4", "A3", "A5"]
    assert set(sources(model.for_customer(30, 3))) == {"popular_in_country"}


@pytest.mark.parametrize("method", CF)
def test_sku_without_co_purchases_gets_popular_skus_of_its_category(method: Method) -> None:
    # C1's only buyer bought nothing else: no co-purchase to learn from (a factor model would still guess).
    history = two_clusters((40, "C1", 1, "o40", "GB"))
    categories = {"C1": "candles", "A1": "candles", "A2": "candles", "B1": "books"}
    model = recommender(method).fit(history, categories=categories)
    together = model.bought_together("C1", 3)
    assert skus(together) == ["A1", "A2", "A4"]
    assert sources(together) == ["popular_in_category", "popular_in_category", "popular"]
    assert skus(Recommender().fit(history).bought_together("C1", 3)) == POPULAR[:3], "no categories"


def test_unknown_sku_gets_its_category_from_a_callable() -> None:
    model = Recommender().fit(two_clusters(), categories=lambda sku: sku[0])
    assert skus(model.bought_together("B9", 3)) == ["B4", "B3", "B5"]
    assert set(sources(model.bought_together("B9", 3))) == {"popular_in_category"}
    assert skus(model.bought_together("Z9", 2)) == POPULAR[:2], "a category nobody bought from"


def test_a_category_lookup_that_raises_for_unknown_skus_is_no_category() -> None:
    known = {"A1": "candles", "A2": "candles"}
    model = Recommender().fit(two_clusters(), categories=known.__getitem__)
    assert skus(model.bought_together("nope", 2)) == POPULAR[:2]
    assert skus(model.popular(2, category="candles")) == ["A1", "A2"]


# --- repeat purchases ------------------------------------------------------------------------------------


def repeat_history(second_order: str) -> pl.DataFrame:
    """Customers 60-64 buy tea twice (their own orders "a" and ``second_order``) and a mug once."""
    rows = [(c, "TEA", 1, f"{c}a", "GB") for c in range(60, 65)]
    rows += [(c, "TEA", 1, f"{c}{second_order}", "GB") for c in range(60, 65)]
    rows += [(c, "MUG", 1, f"{c}a", "GB") for c in range(60, 65)]
    return lines(rows)


def test_a_repeat_purchase_kind_is_recommended_again_and_the_rest_is_not() -> None:
    model = Recommender(method="popular").fit(repeat_history("b"))
    assert skus(model.for_customer(60, 5)) == ["TEA"]
    assert model.excluded_for(60) == {"MUG"}


def test_two_lines_of_one_order_are_one_purchase() -> None:
    model = Recommender(method="popular").fit(repeat_history("a"))
    assert model.for_customer(60, 5) == []


def test_the_caller_can_name_repeat_purchase_kinds_and_switch_the_rule_off() -> None:
    named = Recommender(method="popular").fit(repeat_history("b"), repeat_items=["MUG"])
    assert sorted(skus(named.for_customer(60, 5))) == ["MUG", "TEA"]
    strict = Recommender(method="popular", repeat_share=None).fit(repeat_history("b"))
    assert strict.for_customer(60, 5) == []


# --- bad input ------------------------------------------------------------------------------------------


def test_returns_and_lines_that_are_not_purchases_are_ignored() -> None:
    history = two_clusters(
        (50, "A1", -2, "C50", "FR"),  # a return: customer 50 has bought nothing
        (1, "A2", -1, "C1", "GB"),
        (51, "RETURNED", -1, "C51", "FR"),  # a SKU only ever returned
        (52, "FREE", 0, "o52", "FR"),
        (53, "NAN", float("nan"), "o53", "FR"),
        (None, "A1", 1, "o54", "FR"),
        (55, "", 1, "o55", "FR"),
        (56, "   ", 1, "o56", "FR"),
    )
    model = Recommender().fit(history)
    assert sorted(model.skus) == sorted(A + B)
    assert 50 not in model.customers and 55 not in model.customers
    assert sources(model.for_customer(50, 3)) == ["popular"] * 3
    assert "FR" not in model.by_country
    assert model.excluded_for(1) == {"A2", "A3", "A4"}, "a return does not undo the purchase"


def test_unknown_and_odd_ids_are_cold_started_never_an_error() -> None:
    model = Recommender().fit(two_clusters())
    assert skus(model.for_customer(["unhashable"], 2)) == POPULAR[:2]  # type: ignore[arg-type]
    assert skus(model.for_customer(1.0, 2)) == skus(model.for_customer(1, 2)), "1.0 == 1"
    assert skus(model.bought_together("NOT-A-SKU", 2)) == POPULAR[:2]
    assert skus(model.for_customer(1, 2, country="Atlantis")) == skus(model.for_customer(1, 2))
    assert model.for_customer(1, 0) == [] and model.bought_together("A1", -3) == []


@pytest.mark.parametrize("method", [*CF, "popular"])
def test_empty_and_tiny_histories(method: Method) -> None:
    fit = recommender(method).fit
    empties: list[Any] = [pl.DataFrame(), {"customer_id": [], "sku": []}, {}]
    for empty in empties:
        model = fit(empty)
        assert model.for_customer(1) == model.bought_together("A1") == model.popular() == []
    one = fit({"customer_id": [1, 2], "sku": ["A1", "A1"]})
    assert one.for_customer(1) == [], "their one SKU is bought and not a repeat kind"
    assert skus(one.for_customer(3)) == ["A1"]
    assert skus(one.bought_together("A1")) == []


def test_plain_columns_are_accepted_and_required_ones_checked() -> None:
    model = Recommender().fit({"customer_id": [1, 1, 2, 2, 3], "sku": ["x", "y", "x", "y", "x"]})
    assert skus(model.bought_together("y", 1)) == ["x"]
    assert skus(model.for_customer(3, 1)) == ["y"]
    with pytest.raises(ValueError, match="sku"):
        Recommender().fit({"customer_id": [1], "product": ["x"]})


# --- reproducible, and single-threaded BLAS -----------------------------------------------------------------


@pytest.mark.parametrize("method", CF)
def test_fits_are_reproducible(method: Method) -> None:
    history = synthetic(customers=300, items=60, interactions=3_000, clusters=4, seed=1)
    first, second = recommender(method).fit(history), recommender(method).fit(history)
    for customer in range(0, 300, 15):
        assert first.for_customer(customer, 5) == second.for_customer(customer, 5)
    for sku in first.skus[:10]:
        assert first.bought_together(sku, 5) == second.bought_together(sku, 5)


def test_fitting_als_runs_blas_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import implicit.utils  # type: ignore[import-untyped]

    # implicit warns once per process when OpenBLAS has a thread pool; make it look again.
    monkeypatch.setattr(implicit.utils, "_checked_blas_config", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        Recommender(method="als", factors=4).fit(two_clusters())
    assert "OPENBLAS_NUM_THREADS" in os.environ


# --- better than popularity ------------------------------------------------------------------------------


def test_cosine_beats_popularity_on_synthetic_tastes() -> None:
    train, test = hold_out_one(synthetic(customers=2_000, items=300, interactions=30_000, clusters=10))
    scores = {s.method: s for s in evaluate(train, test, {"cosine": Recommender()}, new_only=True)}
    assert scores["cosine"].customers > 1_500  # those with a held-out line
    assert scores["cosine"].precision > 1.5 * scores["popular_overall"].precision


@pytest.mark.skipif(not UCI.exists(), reason=f"UCI Online Retail is not at {UCI} (the shared data folder)")
def test_on_uci_online_retail_the_best_cf_method_beats_popularity() -> None:
    history = load_uci(UCI)
    assert not history.filter(pl.col("order_id").str.starts_with("C")).height, "no cancellations"
    assert history.get_column("customer_id").null_count() == 0
    assert "POST" not in set(history.get_column("sku").to_list()), "postage is not a product"
    train, test = split(history, UCI_CUT)
    methods = {"cosine": Recommender(), "als": Recommender(method="als")}
    scores = {s.method: s for s in evaluate(train, test, methods, sample=400)}
    assert {s.customers for s in scores.values()} == {400}
    best_cf = max(scores["cosine"].precision, scores["als"].precision)
    best_popular = max(scores["popular_overall"].precision, scores["popular_in_country"].precision)
    assert best_cf > 1.5 * best_popular
