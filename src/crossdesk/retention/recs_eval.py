"""Offline evaluation of the recommendations: a time-based split of a purchase history, precision@k and
recall@k of each method for the customers who bought in both periods, against popularity baselines fitted
on the same training data in the same run.

The reference data set is UCI Online Retail (Chen, Sain and Guo 2012: a UK online gift wholesaler's
transactions from 2010-12-01 to 2011-12-09, https://archive.ics.uci.edu/dataset/352/online+retail).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from crossdesk.retention.recommend import Recommender

# Train on the nine months before, test on the three peak-season months after (Sep 1 to Dec 9, 2011):
# each period holds about 2,000 of the same customers, and the test window is long enough for most of
# them to order again.
UCI_CUT = dt.datetime(2011, 9, 1, tzinfo=dt.UTC)
# Tuning (method knobs, the repeat-purchase rule) used only the data before UCI_CUT, split at this date.
UCI_TUNING_CUT = dt.datetime(2011, 6, 1, tzinfo=dt.UTC)
# Stock codes of products start with five digits; the rest are postage, fees, discounts and manual lines.
PRODUCT_CODE = r"^\d{5}"


def uci_path(repo_root: Path) -> Path:
    """Where the shared data directory keeps the UCI Online Retail file, next to the repository."""
    return repo_root.parent / "shared" / "data" / "online_retail" / "online_retail.parquet"


def load_uci(path: Path) -> pl.DataFrame:
    """UCI Online Retail as order lines: purchases only (no cancellations, whose invoice numbers start with
    "C"), with a customer, of products (no postage or fees); invoice dates read as UTC."""
    return (
        pl.read_parquet(path)
        .filter(
            ~pl.col("InvoiceNo").str.starts_with("C")
            & pl.col("CustomerID").is_not_null()
            & pl.col("StockCode").str.contains(PRODUCT_CODE)
        )
        .select(
            pl.col("CustomerID").cast(pl.Int64).alias("customer_id"),
            pl.col("StockCode").str.to_uppercase().alias("sku"),
            pl.col("Quantity").alias("quantity"),
            pl.col("InvoiceNo").alias("order_id"),
            pl.col("InvoiceDate").dt.replace_time_zone("UTC").alias("placed_at"),
            pl.col("Country").alias("country"),
        )
    )


def split(lines: pl.DataFrame, cut: dt.datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Order lines placed before ``cut`` (training) and from ``cut`` on (test)."""
    before = pl.col("placed_at") < cut
    return lines.filter(before), lines.filter(~before)


@dataclass(frozen=True)
class Score:
    method: str
    precision: float
    recall: float
    customers: int
    fit_seconds: float  # whole fit (data preparation included); 0 for the overall-popularity baseline
    train_seconds: float  # the implicit model's own training


def evaluate(
    train: pl.DataFrame,
    test: pl.DataFrame,
    methods: Mapping[str, Recommender],
    k: int = 10,
    new_only: bool = False,
    sample: int | None = None,
) -> list[Score]:
    """Precision@k and recall@k of each method and of two popularity baselines (popular in the customer's
    country, then overall; popular overall), over the customers with purchases in both periods.

    As served (``new_only=False``): the truth is every SKU the customer bought in the test period, and each
    method recommends as the product does (already bought SKUs only when of a repeat-purchase kind); the
    baselines follow the first method's repeat-purchase rule. New items only: the truth leaves out what the
    customer bought in training, and no method may recommend it again. ``sample``: score only that many of
    the customers, drawn at random (seed 0)."""
    bought = _bought(train)
    truth = {c: skus - bought.get(c, set()) if new_only else skus for c, skus in _bought(test).items()}
    customers = sorted(c for c in bought if truth.get(c))
    if sample is not None and sample < len(customers):
        chosen = np.random.default_rng(0).choice(len(customers), size=sample, replace=False)
        customers = [customers[i] for i in sorted(chosen)]
    if new_only:
        methods = {name: replace(r, repeat_share=None) for name, r in methods.items()}
    first = next(iter(methods.values()), Recommender())
    scores, baseline = [], None
    for name, recommender in {"popular_in_country": replace(first, method="popular"), **methods}.items():
        started = time.perf_counter()
        model = recommender.fit(train)
        fit_seconds = time.perf_counter() - started
        picks = {c: [r.sku for r in model.for_customer(c, k)] for c in customers}
        scores.append(_score(name, picks, truth, k, fit_seconds, model.train_seconds))
        baseline = baseline or model
    assert baseline is not None
    overall = {c: [r.sku for r in baseline.popular(k, exclude=baseline.excluded_for(c))] for c in customers}
    scores.insert(0, _score("popular_overall", overall, truth, k, 0.0, 0.0))
    return scores


def _bought(lines: pl.DataFrame) -> dict[Any, set[str]]:
    bought = lines.filter(pl.col("quantity") > 0).group_by("customer_id").agg(pl.col("sku").unique())
    return {customer: set(skus) for customer, skus in bought.iter_rows()}


def _score(
    name: str,
    picks: Mapping[Any, list[str]],
    truth: Mapping[Any, set[str]],
    k: int,
    fit_seconds: float,
    train_seconds: float,
) -> Score:
    hits = [len(set(skus) & truth[c]) for c, skus in picks.items()]
    sizes = [len(truth[c]) for c in picks]
    n = max(1, len(hits))
    return Score(
        method=name,
        precision=sum(h / k for h in hits) / n,
        recall=sum(h / s for h, s in zip(hits, sizes, strict=True)) / n,
        customers=len(hits),
        fit_seconds=fit_seconds,
        train_seconds=train_seconds,
    )


def synthetic(
    customers: int = 50_000,
    items: int = 5_000,
    interactions: int = 1_000_000,
    clusters: int = 20,
    seed: int = 0,
) -> pl.DataFrame:
    """A purchase history with something to learn: each SKU belongs to one of ``clusters`` tastes and each
    customer has one; 80% of a customer's purchases are drawn from their taste's SKUs, 20% from all SKUs,
    both with Zipf popularity (the r-th most popular SKU drawn in proportion to 1/r). Purchases per
    customer are geometric (mean interactions/customers). Exactly ``interactions`` distinct
    customer-SKU pairs, one order line each."""
    rng = np.random.default_rng(seed)
    taste = rng.permutation(items) % clusters  # SKU -> its cluster
    zipf = 1 / np.arange(1, items + 1)
    weight = zipf[rng.permutation(items)]  # SKU -> popularity overall
    members = [np.flatnonzero(taste == c) for c in range(clusters)]
    home = rng.integers(clusters, size=customers)
    pairs = np.empty((0, 2), dtype=np.int64)
    while len(pairs) < interactions:
        count = rng.geometric(customers / interactions, size=customers)
        who = np.repeat(np.arange(customers), count)
        in_taste = rng.random(len(who)) < 0.8
        what = rng.choice(items, size=len(who), p=weight / weight.sum())
        for c in range(clusters):
            mask = in_taste & (home[who] == c)
            inside = weight[members[c]]
            what[mask] = rng.choice(members[c], size=int(mask.sum()), p=inside / inside.sum())
        pairs = np.concatenate([pairs, np.column_stack([who, what])])
        _, first = np.unique(pairs, axis=0, return_index=True)
        pairs = pairs[np.sort(first)]  # distinct pairs, in the order drawn
    pairs = pairs[:interactions]
    return pl.DataFrame(
        {
            "customer_id": pairs[:, 0],
            "sku": pl.Series(pairs[:, 1]).cast(pl.String).str.zfill(5),
            "quantity": np.ones(len(pairs), dtype=np.int64),
        }
    )


def hold_out_one(lines: pl.DataFrame, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One random line per customer with at least two lines as the test set, the rest as training."""
    shuffled = lines.with_columns(pl.Series("r", np.random.default_rng(seed).random(lines.height)))
    rank = pl.col("r").rank("ordinal").over("customer_id")
    held = (rank == 1) & (pl.len().over("customer_id") >= 2)
    return shuffled.filter(~held).drop("r"), shuffled.filter(held).drop("r")
