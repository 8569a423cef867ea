"""The Dask path of lifetime value gives the local fit's parameters and scores: on CDNOW and on synthetic
data (from frames and from Parquet files), on threads and once on worker processes; bad partitions are
refused; the module imports without Dask."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from crossdesk.retention import clv, synthetic
from crossdesk.retention.distributed import MISSING_DASK, Fitted, fit_distributed, partition_by_customer
from crossdesk.retention.transactions import MixedCurrencies, Summary, summarise
from tests.retention import cdnow

CDNOW_END = dt.date(1997, 9, 30)
START, END = dt.date(2024, 1, 1), dt.date(2024, 9, 29)
# The BG/NBD fits agree to 1e-14; Gamma-Gamma's likelihood is flat, and the optimiser stops within ~1e-6.
SAME = 1e-5


@contextmanager
def cluster(processes: bool) -> Iterator[Any]:
    """A client of two single-threaded local workers (no fixed dashboard port: it may be taken)."""
    distributed = pytest.importorskip("distributed", reason=MISSING_DASK)
    local = distributed.LocalCluster(
        processes=processes, n_workers=2, threads_per_worker=1, dashboard_address=":0"
    )
    with local, distributed.Client(local) as client:
        yield client


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two in-process workers: the scheduling, the serialisation of tasks and the sums as on a cluster."""
    with cluster(processes=False) as client:
        yield client


def local(summary: Summary) -> tuple[clv.BetaGeo, clv.GammaGamma]:
    x, t_x, T, m = (summary.column(c) for c in ("frequency", "recency", "T", "monetary_value"))
    return clv.fit_bgnbd(x, t_x, T), clv.fit_gamma_gamma(x, m)


def assert_same_as_local(found: Fitted, summary: Summary) -> None:
    bg, gg = local(summary)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(found.bg, name) == pytest.approx(getattr(bg, name), rel=SAME), name
    for name in ("p", "q", "gamma"):
        assert getattr(found.gg, name) == pytest.approx(getattr(gg, name), rel=SAME), name
    assert (found.bg.info.customers, found.gg.info.customers) == (bg.info.customers, gg.info.customers)
    assert found.bg.info.log_likelihood == pytest.approx(bg.info.log_likelihood, rel=1e-12)
    # Every customer, in the local order, scored exactly as the local path scores them with these parameters.
    assert found.scores.equals(clv.score(found.bg, found.gg, summary))
    theirs = clv.score(bg, gg, summary)
    for column in ("p_alive", "expected_purchases"):
        assert np.allclose(found.scores[column].to_numpy(), theirs[column].to_numpy(), rtol=SAME)
    assert found.report == summary.report
    assert found.currency == summary.currency


@pytest.mark.skipif(not cdnow.SAMPLE.exists(), reason=cdnow.MISSING)
def test_cdnow_over_four_partitions_is_the_local_fit(client: Any) -> None:
    records = cdnow.records()
    parts = partition_by_customer(records, 4)
    assert sum(p.height for p in parts) == records.height
    found = fit_distributed(parts, client, CDNOW_END)
    assert_same_as_local(found, summarise(records, CDNOW_END, "weeks"))
    assert found.partitions == 4
    assert found.bg.r == pytest.approx(0.243, abs=5e-4)  # and still the published fit


def test_synthetic_parquet_partitions_read_on_the_workers(client: Any, tmp_path: Path) -> None:
    records = synthetic.purchase_records(3_000, START, 84, END, seed=3)
    paths = []
    # One partition holds no records: it adds nothing and breaks nothing.
    for n, part in enumerate([*partition_by_customer(records, 3), records.clear()]):
        paths.append(tmp_path / f"part-{n}.parquet")
        part.write_parquet(paths[-1])
    found = fit_distributed(paths, client, END, period="exact")
    assert_same_as_local(found, summarise(records, END, "weeks", period="exact"))


def test_worker_processes_give_the_same_fit() -> None:
    records = synthetic.purchase_records(2_000, START, 84, END, seed=4)
    with cluster(processes=True) as client:
        found = fit_distributed(partition_by_customer(records, 2), client, END, period="exact")
    assert_same_as_local(found, summarise(records, END, "weeks", period="exact"))


def test_a_customer_in_two_partitions_is_refused(client: Any) -> None:
    records = synthetic.purchase_records(300, START, 84, END, seed=5)
    halves = [records.head(records.height // 2), records.tail(records.height - records.height // 2)]
    with pytest.raises(ValueError, match="more than one partition"):
        fit_distributed(halves, client, END, period="exact")


def test_partitions_in_different_currencies_are_refused(client: Any) -> None:
    usd, eur = partition_by_customer(synthetic.purchase_records(300, START, 84, END, seed=6), 2)
    with pytest.raises(MixedCurrencies, match="EUR, USD"):
        fit_distributed([usd, eur.with_columns(currency=pl.lit("EUR"))], client, END, period="exact")


def test_too_few_repeat_buyers_is_refused_as_locally(client: Any) -> None:
    once = pl.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "at": [dt.datetime(2024, 1, d, tzinfo=dt.UTC) for d in (1, 2, 3)],
            "amount": [Decimal("9.99")] * 3,
            "currency": ["USD"] * 3,
        }
    )
    with pytest.raises(ValueError, match="repeat purchases"):
        fit_distributed(partition_by_customer(once, 2), client, END)


def test_partitions_keep_each_customer_whole() -> None:
    records = synthetic.purchase_records(500, START, 84, END, seed=7)
    parts = partition_by_customer(records, 3)
    owners = [set(p.get_column("customer_id").to_list()) for p in parts]
    assert sum(map(len, owners)) == len(set().union(*owners)) == 500
    assert max(map(len, owners)) - min(map(len, owners)) <= 1
    with pytest.raises(ValueError):
        partition_by_customer(records, 0)


def test_the_module_imports_without_dask() -> None:
    code = (
        "import sys; sys.modules['distributed'] = sys.modules['dask'] = None\n"
        "from crossdesk.retention import distributed\n"
        "try:\n    distributed.require_dask()\nexcept ImportError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == MISSING_DASK
