"""Product recommendations from purchase history: "bought together" (SKU -> SKUs) and "for this customer"
(customer -> SKUs), with popularity fall-backs for cold starts.

Collaborative filtering on implicit feedback with the ``implicit`` package (item-item cosine, ALS after Hu,
Koren and Volinsky 2008, BPR after Rendle et al. 2009) over a customer x SKU matrix built from order lines.
Input is one row per order line, as the ``orders`` / ``order_items`` tables give it: ``customer_id`` and
``sku`` (required), ``quantity``, ``order_id``, ``placed_at`` and ``country`` (optional). Lines without a
customer or SKU and lines with a quantity that is not positive (returns, cancellations) are not purchases.

- A customer-SKU cell weighs ``log1p`` of the number of distinct orders that contained the SKU (a repeat
  buyer likes it more; quantities are not used by default, as one wholesale order of 1,000 would drown
  everything else).
- "For this customer" leaves out what the customer already bought, except SKUs of a repeat-purchase kind:
  bought again by at least ``repeat_share`` of their buyers (with at least ``repeat_min_buyers`` buyers),
  or named by the caller in ``repeat_items``.
- Cold starts: an unknown customer, or one whose recommendations run short, gets the popular SKUs (most
  distinct buyers) of their country, then overall; an unknown SKU or one never bought with anything else
  gets the popular SKUs of its category (``categories``: a mapping or a callable SKU -> category), then
  overall. Unknown ids never raise.
"""

from __future__ import annotations

import os

# implicit runs its own threads; OpenBLAS's thread pool under them oversubscribes the cores and makes ALS
# several times slower (implicit warns about it). The variable only counts if set before numpy loads
# OpenBLAS, hence before these imports; when a server imported numpy earlier, fit() limits the loaded
# library with threadpoolctl instead.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import asyncio
import time
import warnings
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
import scipy.sparse as sp
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from crossdesk.commerce.models import NOT_SOLD, Order, OrderItem
from crossdesk.retention.segments import orders_version

Method = Literal["cosine", "als", "bpr", "popular"]
Weighting = Literal["purchases", "quantity", "binary"]
Categories = Mapping[str, str] | Callable[[str], str | None]
Interactions = pl.DataFrame | Mapping[str, Sequence[Any]]
Source = Literal["collaborative", "bought_together", "popular_in_country", "popular_in_category", "popular"]

ITERATIONS = {"als": 15, "bpr": 100}


@dataclass(frozen=True)
class Recommendation:
    """A recommended SKU. ``score`` is the model's score for ``collaborative`` and ``bought_together``, the
    number of distinct buyers for the ``popular*`` sources: comparable only within one source."""

    sku: str
    score: float
    source: Source


@dataclass(frozen=True)
class Recommender:
    """How to fit a :class:`RecommendationModel`. ``method="popular"`` fits no collaborative model."""

    method: Method = "cosine"
    weighting: Weighting = "purchases"
    neighbours: int = 20  # item-item: similar items kept per item
    factors: int = 64  # ALS, BPR
    iterations: int | None = None  # ALS, BPR; None: ITERATIONS[method]
    regularization: float = 0.01  # ALS, BPR
    alpha: float = 1.0  # ALS: confidence given to the weight of an observed purchase
    learning_rate: float = 0.01  # BPR
    repeat_share: float | None = 0.2  # None: no SKU is a repeat-purchase kind unless named
    repeat_min_buyers: int = 5
    seed: int = 0  # ALS, BPR; BPR is also reproducible only with num_threads=1 (its SGD is lock-free)
    num_threads: int = 0  # implicit's threads; 0: one per core

    def fit(
        self,
        interactions: Interactions,
        *,
        categories: Categories | None = None,
        repeat_items: Iterable[str] = (),
    ) -> RecommendationModel:
        lines = _purchase_lines(_frame(interactions))
        pairs = _pairs(lines)
        skus = pairs.get_column("sku").unique().sort().to_list()
        customers = pairs.get_column("customer_id").unique().sort().to_list()
        pairs = pairs.with_columns(
            (pl.col("customer_id").rank("dense").cast(pl.Int64) - 1).alias("row"),
            (pl.col("sku").rank("dense").cast(pl.Int64) - 1).alias("item"),
        )
        matrix = self._matrix(pairs, len(customers), len(skus))
        popular = _Ranking.overall(pairs, len(skus))
        named = set(repeat_items)
        started = time.perf_counter()
        cf = self._train(matrix)
        return RecommendationModel(
            method=self.method,
            skus=skus,
            item_index={sku: i for i, sku in enumerate(skus)},
            customers={customer: i for i, customer in enumerate(customers)},
            matrix=matrix,
            cf=cf,
            train_seconds=time.perf_counter() - started,
            overall=popular,
            by_country=_Ranking.by_country(lines, skus, popular),
            customer_country=_customer_countries(lines, pairs),
            repeat=self._repeat_kinds(pairs, len(skus), {i for i, sku in enumerate(skus) if sku in named}),
            copurchased=_copurchased(matrix),
            categories=categories,
            by_category=_Ranking.by_category(skus, categories, popular),
        )

    def _matrix(self, pairs: pl.DataFrame, rows: int, items: int) -> Any:
        weight = {
            "purchases": pl.col("purchases").log1p(),
            "quantity": pl.col("quantity").log1p(),
            "binary": pl.col("purchases") > 0,
        }[self.weighting]
        values = pairs.select(weight.cast(pl.Float32)).to_series().to_numpy()
        coords = (pairs.get_column("row").to_numpy(), pairs.get_column("item").to_numpy())
        return sp.csr_matrix((values, coords), shape=(rows, items), dtype=np.float32)

    def _train(self, matrix: Any) -> Any:
        if self.method == "popular" or matrix.nnz == 0:
            return None
        # Also where OPENBLAS_NUM_THREADS came too late (numpy loaded first): one BLAS thread while fitting.
        with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
            # implicit's own CosineRecommender hands its kernel a COO matrix, which then warns and converts.
            warnings.filterwarnings("ignore", "Method expects CSR input", category=Warning)
            cf = self._implicit_model()
            cf.fit(matrix, show_progress=False)
        return cf

    def _implicit_model(self) -> Any:
        from implicit.als import AlternatingLeastSquares  # type: ignore[import-untyped]
        from implicit.bpr import BayesianPersonalizedRanking  # type: ignore[import-untyped]
        from implicit.nearest_neighbours import CosineRecommender  # type: ignore[import-untyped]

        iterations = self.iterations or ITERATIONS.get(self.method, 0)
        common = {"factors": self.factors, "regularization": self.regularization, "iterations": iterations}
        seeded = {"random_state": self.seed, "num_threads": self.num_threads}
        if self.method == "als":
            return AlternatingLeastSquares(alpha=self.alpha, **common, **seeded)
        if self.method == "bpr":
            return BayesianPersonalizedRanking(learning_rate=self.learning_rate, **common, **seeded)
        return CosineRecommender(K=self.neighbours, num_threads=self.num_threads)

    def _repeat_kinds(self, pairs: pl.DataFrame, items: int, named: set[int]) -> NDArray[np.bool_]:
        item = pairs.get_column("item").to_numpy()
        buyers = np.bincount(item, minlength=items)
        again = np.bincount(item, weights=pairs.get_column("purchases").to_numpy() >= 2, minlength=items)
        repeat = np.zeros(items, dtype=bool)
        if self.repeat_share is not None:
            repeat = (buyers >= self.repeat_min_buyers) & (again >= self.repeat_share * buyers)
        repeat[list(named)] = True
        return repeat


@dataclass(eq=False)
class RecommendationModel:
    """A fitted model: ask it :meth:`for_customer`, :meth:`bought_together` or :meth:`popular`."""

    method: Method
    skus: list[str]
    item_index: dict[str, int]
    customers: dict[Hashable, int]
    matrix: Any  # scipy.sparse.csr_matrix, customers x SKUs, the weights the model was fitted on
    cf: Any  # the fitted implicit model; None for method="popular" or an empty history
    train_seconds: float
    overall: _Ranking
    by_country: dict[str, _Ranking]
    customer_country: dict[int, str]
    repeat: NDArray[np.bool_]
    copurchased: NDArray[np.bool_]
    categories: Categories | None
    by_category: dict[str, _Ranking]

    def for_customer(
        self, customer_id: Hashable, n: int = 10, country: str | None = None
    ) -> list[Recommendation]:
        """Up to ``n`` SKUs for this customer: collaborative picks, then popular in ``country`` (default:
        the country of the customer's last order), then popular overall."""
        row = _lookup(self.customers, customer_id)
        excluded = self._excluded(row)
        picks = _Picks(self.skus, n, excluded)
        if row is not None and n > 0:
            picks.offer(self._collaborative(row, n + len(excluded)), "collaborative")
        if country is None and row is not None:
            country = self.customer_country.get(row)
        return self._fill(picks, country=country)

    def bought_together(self, sku: str, n: int = 10) -> list[Recommendation]:
        """Up to ``n`` SKUs bought by the buyers of ``sku``, then popular in its category, then overall."""
        item = _lookup(self.item_index, sku)
        picks = _Picks(self.skus, n, set() if item is None else {item})
        if item is not None and self.cf is not None and self.copurchased[item] and n > 0:
            ids, scores = self.cf.similar_items(item, N=min(n + 1, len(self.skus)))
            picks.offer(_positive(ids, scores), "bought_together")
        return self._fill(picks, category=_category(self.categories, sku))

    def popular(
        self,
        n: int = 10,
        *,
        country: str | None = None,
        category: str | None = None,
        exclude: Iterable[str] = (),
    ) -> list[Recommendation]:
        """The ``n`` SKUs with most distinct buyers, in ``category`` and ``country`` first when given."""
        skipped = {i for i in (_lookup(self.item_index, sku) for sku in exclude) if i is not None}
        return self._fill(_Picks(self.skus, n, skipped), country=country, category=category)

    def excluded_for(self, customer_id: Hashable) -> frozenset[str]:
        """What :meth:`for_customer` leaves out: the SKUs the customer bought, bar repeat-purchase kinds."""
        return frozenset(self.skus[i] for i in self._excluded(_lookup(self.customers, customer_id)))

    def _excluded(self, row: int | None) -> set[int]:
        if row is None:
            return set()
        bought = self.matrix.indices[self.matrix.indptr[row] : self.matrix.indptr[row + 1]]
        return {int(i) for i in bought if not self.repeat[i]}

    def _collaborative(self, row: int, n: int) -> Iterator[tuple[int, float]]:
        if self.cf is None:
            return iter(())
        # Already bought SKUs stay in the ranking (repeat kinds may be recommended); _Picks drops the rest.
        ids, scores = self.cf.recommend(
            row, self.matrix[row], N=min(n, len(self.skus)), filter_already_liked_items=False
        )
        return _positive(ids, scores)

    def _fill(
        self, picks: _Picks, *, country: str | None = None, category: str | None = None
    ) -> list[Recommendation]:
        if category is not None and category in self.by_category:
            picks.offer(self.by_category[category].candidates(), "popular_in_category")
        if country is not None and (ranking := self.by_country.get(_country_key(country))) is not None:
            picks.offer(ranking.candidates(), "popular_in_country")
        picks.offer(self.overall.candidates(), "popular")
        return picks.chosen


@dataclass(frozen=True)
class _Ranking:
    """SKUs (item indices) from most to least distinct buyers, with their buyer counts."""

    items: NDArray[np.int64]
    buyers: NDArray[np.int64]

    def candidates(self) -> Iterator[tuple[int, float]]:
        return ((int(i), float(b)) for i, b in zip(self.items, self.buyers, strict=True))

    @classmethod
    def overall(cls, pairs: pl.DataFrame, items: int) -> _Ranking:
        item = pairs.get_column("item").to_numpy()
        buyers = np.bincount(item, minlength=items)
        purchases = np.bincount(item, weights=pairs.get_column("purchases").to_numpy(), minlength=items)
        order = np.lexsort((np.arange(items), -purchases, -buyers))  # ties: more orders, then by SKU
        return cls(order.astype(np.int64), buyers[order].astype(np.int64))

    @classmethod
    def by_country(cls, lines: pl.DataFrame, skus: list[str], overall: _Ranking) -> dict[str, _Ranking]:
        rank = np.empty(len(skus), dtype=np.int64)
        rank[overall.items] = np.arange(len(skus))  # ties within a country: the overall order
        items = pl.DataFrame(
            {"sku": pl.Series(skus, dtype=pl.String), "item": np.arange(len(skus)), "rank": rank}
        )
        counts = (
            lines.drop_nulls("country")
            .group_by("country", "sku")
            .agg(pl.col("customer_id").n_unique().alias("buyers"))
            .join(items, on="sku")
            .sort("country", "buyers", "rank", descending=[False, True, False])
            .group_by("country", maintain_order=True)
            .agg("item", "buyers")
        )
        return {
            country: cls(np.asarray(item, dtype=np.int64), np.asarray(buyers, dtype=np.int64))
            for country, item, buyers in counts.iter_rows()
        }

    @classmethod
    def by_category(
        cls, skus: list[str], categories: Categories | None, overall: _Ranking
    ) -> dict[str, _Ranking]:
        members: dict[str, list[int]] = {}
        for item in overall.items if categories is not None else ():
            category = _category(categories, skus[item])
            if category is not None:
                members.setdefault(category, []).append(int(item))
        buyers = np.zeros(len(overall.items), dtype=np.int64)
        buyers[overall.items] = overall.buyers
        return {c: cls(np.asarray(m, dtype=np.int64), buyers[m]) for c, m in members.items()}


class _Picks:
    """Up to ``n`` recommendations, each SKU once and none of the excluded ones, in the order offered."""

    def __init__(self, skus: list[str], n: int, excluded: set[int]) -> None:
        self.skus, self.n, self.seen = skus, n, set(excluded)
        self.chosen: list[Recommendation] = []

    def offer(self, candidates: Iterable[tuple[int, float]], source: Source) -> None:
        for item, score in candidates:
            if len(self.chosen) >= self.n:
                return
            if item not in self.seen:
                self.seen.add(item)
                self.chosen.append(Recommendation(self.skus[item], score, source))


def _frame(interactions: Interactions) -> pl.DataFrame:
    frame = (
        interactions
        if isinstance(interactions, pl.DataFrame)
        else pl.DataFrame(dict(interactions), strict=False)
    )
    if frame.height == 0:
        return pl.DataFrame(schema={"customer_id": pl.Int64, "sku": pl.String})
    if missing := {"customer_id", "sku"} - set(frame.columns):
        raise ValueError(f"interactions need the columns {sorted(missing)}")
    return frame


def _purchase_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """The lines that are purchases: a customer, a SKU and a positive quantity (returns are negative)."""
    present = set(frame.columns)

    def column(name: str, default: pl.Expr) -> pl.Expr:
        return (pl.col(name) if name in present else default).alias(name)

    row = pl.int_range(pl.len())
    # One purchase: an order; without order ids, an order time; without either, a line.
    purchase = pl.col("order_id") if "order_id" in present else column("placed_at", row)
    return frame.select(
        pl.col("customer_id"),
        pl.col("sku").cast(pl.String).str.strip_chars(),
        column("quantity", pl.lit(1)).cast(pl.Float64, strict=False),
        purchase.alias("purchase"),
        column("placed_at", row).alias("at"),
        column("country", pl.lit(None)).cast(pl.String).str.strip_chars().str.to_uppercase(),
    ).filter(
        pl.col("customer_id").is_not_null()
        & (pl.col("sku").str.len_chars() > 0)
        & pl.col("quantity").is_finite()
        & (pl.col("quantity") > 0)
    )


def _pairs(lines: pl.DataFrame) -> pl.DataFrame:
    return lines.group_by("customer_id", "sku").agg(
        pl.col("purchase").n_unique().alias("purchases"), pl.col("quantity").sum()
    )


def _customer_countries(lines: pl.DataFrame, pairs: pl.DataFrame) -> dict[int, str]:
    """Each customer's country: the one on their latest order that has one."""
    rows = pairs.select("customer_id", "row").unique()
    latest = (
        lines.drop_nulls("country")
        .sort("at")
        .group_by("customer_id")
        .agg(pl.col("country").last())
        .join(rows, on="customer_id")
    )
    return dict(zip(latest.get_column("row").to_list(), latest.get_column("country").to_list(), strict=True))


def _copurchased(matrix: Any) -> NDArray[np.bool_]:
    """Items with at least one buyer who also bought something else."""
    bought = (matrix > 0).astype(np.float32)
    others = np.asarray(bought.sum(axis=1)).ravel() - 1
    return np.asarray(bought.T @ others).ravel() > 0


def _category(categories: Categories | None, sku: str) -> str | None:
    if categories is None:
        return None
    try:
        return categories.get(sku) if isinstance(categories, Mapping) else categories(sku)
    except LookupError:  # a callable that raises for SKUs it does not know
        return None


def _positive(ids: NDArray[Any], scores: NDArray[Any]) -> Iterator[tuple[int, float]]:
    # Scores of 0 and below are no evidence: SKUs without a neighbour in common (item-item), a factor
    # model's guesses against; popularity is the better fall-back for them.
    return ((int(i), float(s)) for i, s in zip(ids, scores, strict=True) if s > 0)


def _lookup(index: Mapping[Any, int], key: Any) -> int | None:
    try:
        return index.get(key)
    except TypeError:  # unhashable: no such id
        return None


def _country_key(country: str) -> str:
    return country.strip().upper()


@dataclass(frozen=True)
class Fitted:
    """A workspace's model, and each SKU's title as its latest order line names it."""

    model: RecommendationModel
    titles: dict[str, str]

    def top(self, customer_id: int, n: int = 3, country: str | None = None) -> list[tuple[str, str]]:
        """(SKU, title) of the customer's ``n`` best picks; popular ones for a customer with no order."""
        picks = self.model.for_customer(customer_id, n, country)
        return [(r.sku, self.titles.get(r.sku, r.sku)) for r in picks]


class RecommendationCache:
    """Each workspace's fitted model, kept (one per app) while its orders stay the same, as the segments
    are (``SegmentCache``)."""

    def __init__(self, recommender: Recommender | None = None) -> None:
        self.recommender = recommender or Recommender()
        self._fitted: dict[int, tuple[tuple[Any, ...], Fitted]] = {}

    async def get(self, session: AsyncSession, workspace_id: int) -> Fitted:
        version = await orders_version(session)
        cached = self._fitted.get(workspace_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        lines, titles = await _order_lines(session)
        # Fitting is CPU work: off the event loop, so the other requests go on meanwhile.
        fitted = Fitted(await asyncio.to_thread(self.recommender.fit, lines), titles)
        self._fitted[workspace_id] = (version, fitted)
        return fitted

    def peek(self, workspace_id: int) -> Fitted | None:
        """The workspace's last fitted model, however old (None if none yet): for paths that must never
        pay for fitting, such as the assistant's answers."""
        cached = self._fitted.get(workspace_id)
        return cached[1] if cached is not None else None


async def _order_lines(session: AsyncSession) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """The workspace's sold order lines as ``fit`` takes them, and each SKU's latest title."""
    rows = await session.execute(
        select(Order.customer_id, OrderItem.sku, OrderItem.title, OrderItem.quantity, Order.id,
               Order.placed_at, Order.country)
        .join(Order, OrderItem.order_id == Order.id)
        .where(Order.customer_id.is_not(None), Order.status.not_in(NOT_SOLD))
        .order_by(Order.placed_at, OrderItem.id)
    )  # fmt: skip
    names = ("customer_id", "sku", "title", "quantity", "order_id", "placed_at", "country")
    lines: dict[str, list[Any]] = {name: [] for name in names}
    for row in rows:
        for name, value in zip(names, row, strict=True):
            lines[name].append(value)
    return lines, dict(zip(lines["sku"], lines.pop("title"), strict=True))  # the latest title wins
