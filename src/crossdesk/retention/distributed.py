"""Lifetime value on a Dask cluster, for order histories too big for one machine: the same fits and scores
as ``clv`` (the same parameters to the optimiser's tolerance, the same per-customer scores), with the data
left where it lives.

Three things grow with the customers, and each runs on the workers, partition by partition:

1. the per-customer summary (``transactions.summarise`` on each partition of purchase records, which must
   hold all of a customer's records: ``partition_by_customer`` splits a frame so, and an export by
   ``customer_id % k`` does too);
2. the log-likelihoods: a sum over customers, so each worker keeps its partition's ``BgData`` / ``GgData``
   in memory and, at each step of the optimiser, returns its partial sum and gradient
   (``clv.bgnbd_nll`` / ``clv.gamma_gamma_nll``); the driver adds them up and runs the very L-BFGS-B of
   the local fit (``clv._fit``), so the optimiser sees the same function, only summed in another order;
3. the scores: ``clv.score`` with the fitted parameters on each partition (it is per customer).

Only a few numbers per partition cross the network at each step (a value and a gradient), and the scores
at the end. Dask is an optional dependency (the ``scale`` extra): this module imports without it, and
asks for it when called.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple, Protocol

import polars as pl

from crossdesk.retention import clv
from crossdesk.retention.clv import BetaGeo, BgData, ChurnBands, GammaGamma, GgData, Gradient, Horizon
from crossdesk.retention.transactions import Converter, MixedCurrencies, Period, Report, Summary, Unit
from crossdesk.retention.transactions import summarise as summarise_records

Partition = pl.DataFrame | str | os.PathLike[str]  # purchase records, or a Parquet file of them
MISSING_DASK = 'distributed lifetime value needs Dask: pip install "crossdesk[scale]"'
Future = Any  # a ``distributed.Future``: a value held on a worker


class Client(Protocol):
    """What is used of a ``distributed.Client``, typed (its own methods are not)."""

    def scatter(self, data: list[Any]) -> list[Future]: ...

    def map(self, func: Callable[..., Any], *iterables: Iterable[Any], pure: bool = ...) -> list[Future]: ...

    def gather(self, futures: list[Future]) -> list[Any]: ...

    def cancel(self, futures: list[Future]) -> None: ...


@dataclass(frozen=True)
class Partitions:
    """Per-customer summaries held on the workers, one future per partition of the records."""

    summaries: list[Future]
    currency: str
    report: Report  # the partitions' reports added up


@dataclass(frozen=True)
class Fitted:
    """What the local path gives (``clv.fit_bgnbd``, ``clv.fit_gamma_gamma``, ``clv.score``), from a
    cluster: ``scores`` has every customer, sorted by id as a single summary's are."""

    bg: BetaGeo
    gg: GammaGamma
    scores: pl.DataFrame
    currency: str
    report: Report  # the partitions' reports added up
    partitions: int


class _Totals(NamedTuple):
    """What the driver needs of a partition besides its likelihood: its customers and the sums that the
    local fit's start values read."""

    customers: int
    purchases: float  # summed frequency (BG/NBD) or summed mean value m (Gamma-Gamma)
    age: float  # summed T (BG/NBD only)


def require_dask() -> Any:
    """The ``distributed`` module, or an ``ImportError`` saying how to install it (imported by name: this
    module and its type checks do without it)."""
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise ImportError(MISSING_DASK) from exc


def partition_by_customer(records: pl.DataFrame, partitions: int) -> list[pl.DataFrame]:
    """``records`` in ``partitions`` frames, each customer's records all in one (customers dealt out in
    turn by id, so the partitions hold nearly equal numbers of customers)."""
    if partitions < 1:
        raise ValueError("at least one partition")
    turn = (pl.col("customer_id").rank("dense") - 1) % partitions
    dealt = records.with_columns(_partition=turn).partition_by("_partition", as_dict=True, include_key=False)
    return [dealt.get((k,), records.clear()) for k in range(partitions)]


def fit_distributed(
    partitions: Sequence[Partition],
    client: Client | None,
    observation_end: dt.date,
    unit: Unit = "weeks",
    currency: str | None = None,
    convert: Converter | None = None,
    period: Period = "day",
    horizon: Horizon = Horizon(),
    bands: ChurnBands = ChurnBands(),
) -> Fitted:
    """Summarise each partition of purchase records on the cluster, fit BG/NBD and Gamma-Gamma over all of
    them, and score every customer: ``transactions.summarise``, the two fits and ``clv.score`` as on one
    machine. ``client``: a ``distributed.Client`` (e.g. ``Client("tcp://scheduler:8786")``); None takes the
    current one. A Parquet path is read by the worker that summarises it, so it must be readable there."""
    client = _client(client)
    held = summarise_partitions(partitions, client, observation_end, unit, currency, convert, period)
    try:
        bg, gg = fit_partitions(held.summaries, client)
        scores = score_partitions(held.summaries, client, bg, gg, horizon, bands)
    finally:
        client.cancel(held.summaries)  # free the workers' copies, also when a fit is refused
    return Fitted(bg, gg, scores, held.currency, held.report, len(held.summaries))


def summarise_partitions(
    partitions: Sequence[Partition],
    client: Client,
    observation_end: dt.date,
    unit: Unit = "weeks",
    currency: str | None = None,
    convert: Converter | None = None,
    period: Period = "day",
) -> Partitions:
    """Each partition's ``Summary``, made and kept on a worker; checked to be in one currency with no
    customer in two partitions (the ids are gathered for that: 8 bytes a customer)."""
    frames = [p for p in partitions if isinstance(p, pl.DataFrame)]
    scattered = iter(client.scatter(frames) if frames else [])
    # Frames go to the workers once; paths are opened there.
    sources = [next(scattered) if isinstance(p, pl.DataFrame) else os.fspath(p) for p in partitions]
    work = partial(
        _summarise,
        observation_end=observation_end,
        unit=unit,
        currency=currency,
        convert=convert,
        period=period,
    )
    summaries: list[Future] = client.map(work, sources, pure=False)
    meta = client.gather(client.map(_meta, summaries))
    ids = client.gather(client.map(_customer_ids, summaries))
    if pl.concat(ids).is_duplicated().any():
        raise ValueError("a customer's records are in more than one partition: partition by customer")
    reports = [report for _, _, report in meta]
    added = Report(**{f.name: sum(getattr(r, f.name) for r in reports) for f in dataclasses.fields(Report)})
    return Partitions(summaries, _one_currency(meta), added)


def fit_partitions(summaries: Sequence[Future], client: Client) -> tuple[BetaGeo, GammaGamma]:
    """BG/NBD and Gamma-Gamma fitted on every customer of the summary futures, each partition's
    likelihood evaluated on the worker that holds it."""
    bg_parts = client.map(_bg_part, summaries)
    totals = client.gather(client.map(_bg_totals, bg_parts))
    customers = sum(t.customers for t in totals)
    clv._check(customers > 0, "BG/NBD")
    start = clv.bgnbd_start(sum(t.purchases for t in totals), sum(t.age for t in totals))
    (r, alpha, a, b), bg_info = clv._fit(clv.bgnbd_nll, bg_parts, start, _mapper(client), customers)

    gg_parts = client.map(_gg_part, summaries)
    totals = client.gather(client.map(_gg_totals, gg_parts))
    repeaters = sum(t.customers for t in totals)
    clv._check(repeaters > 0, clv.GG_NEEDS)
    start = clv.gamma_gamma_start(sum(t.purchases for t in totals) / repeaters)
    (p, q, gamma), gg_info = clv._fit(clv.gamma_gamma_nll, gg_parts, start, _mapper(client), repeaters)
    client.cancel(bg_parts + gg_parts)  # the fits are done: free the workers' copies
    return BetaGeo(r, alpha, a, b, bg_info), GammaGamma(p, q, gamma, gg_info)


def score_partitions(
    summaries: Sequence[Future],
    client: Client,
    bg: BetaGeo,
    gg: GammaGamma,
    horizon: Horizon = Horizon(),
    bands: ChurnBands = ChurnBands(),
) -> pl.DataFrame:
    """``clv.score`` on each partition where it lives, gathered and sorted by customer id."""
    scored = client.gather(client.map(partial(clv.score, bg, gg, horizon=horizon, bands=bands), summaries))
    frame: pl.DataFrame = pl.concat(scored).sort("customer_id")
    return frame


def _client(client: Client | None) -> Client:
    current: Client = client if client is not None else require_dask().get_client()
    return current


def _mapper(client: Client) -> Callable[[Callable[[Any], Gradient], Iterable[Any]], list[Gradient]]:
    """A ``map`` for ``clv._fit`` over futures: each call runs where its partition is, and the results
    come back in order (one round trip per evaluation of the likelihood)."""

    def mapped(function: Callable[[Any], Gradient], parts: Iterable[Any]) -> list[Gradient]:
        results: list[Gradient] = client.gather(client.map(function, list(parts), pure=False))
        return results

    return mapped


# --- run on the workers ---------------------------------------------------------------------------------


def _summarise(
    source: pl.DataFrame | str,
    observation_end: dt.date,
    unit: Unit,
    currency: str | None,
    convert: Converter | None,
    period: Period,
) -> Summary:
    records = pl.read_parquet(source) if isinstance(source, str) else source
    return summarise_records(records, observation_end, unit, currency, convert, period)


def _meta(summary: Summary) -> tuple[int, str, Report]:
    return summary.frame.height, summary.currency, summary.report


def _customer_ids(summary: Summary) -> pl.Series:
    return summary.frame.get_column("customer_id")


def _bg_part(summary: Summary) -> BgData:
    return BgData.of(*clv.bgnbd_input(*(summary.column(c) for c in ("frequency", "recency", "T"))))


def _gg_part(summary: Summary) -> GgData:
    return GgData.of(*clv.gamma_gamma_input(summary.column("frequency"), summary.column("monetary_value")))


def _bg_totals(part: BgData) -> _Totals:
    return _Totals(len(part.x), float(part.x.sum()), float(part.T.sum()))


def _gg_totals(part: GgData) -> _Totals:
    return _Totals(len(part.x), float(part.m.sum()), 0.0)


def _one_currency(meta: Sequence[tuple[int, str, Report]]) -> str:
    """The partitions' one currency (partitions without customers have none to say)."""
    found = sorted({currency for customers, currency, _ in meta if customers})
    if len(found) > 1:
        raise MixedCurrencies(
            f"the partitions are in {', '.join(found)}; give one target currency and a converter"
        )
    return found[0] if found else next((c for _, c, _ in meta), "XXX")
