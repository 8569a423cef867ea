"""Lifetime value and churn at scale: synthetic customers drawn from the models, summarised, segmented,
fitted and scored, against ``lifetimes`` fitting the same data in the same run.

    .venv/bin/python -m bench.clv [--quick] [--customers N] [--seed S] [--no-lifetimes] [--dask N]
                                  [--tag NAME]

1,000,000 customers (``--quick``: 20,000) are drawn from the BG/NBD and Gamma-Gamma models with the
published CDNOW parameters (``crossdesk.retention.synthetic``: vectorised numpy, in continuous time),
acquired over 12 weeks and observed for 39 weeks more, as purchase records with Decimal amounts. Then,
each step timed: the records are summarised (``period="exact"``: the data are drawn in continuous
time), RFM-segmented (``crossdesk.retention.rfm``), BG/NBD and Gamma-Gamma are fitted and every
customer is scored (P(alive), churn band, expected purchases, expected spend, 12-month CLV, next purchase
date). The same BG/NBD fit is also run over 2 shards on 2 threads (the scale-out path). ``lifetimes``
fits both models on the same summary. Reported: each step's wall time, the recovered parameters against
the true ones (with standard errors) and lifetimes' parameters. Target (issue): segments + CLV + churn for
1M customers under 10 s on 2 cores, and faster than lifetimes.

``--dask N`` also runs the same pipeline through ``crossdesk.retention.distributed`` on a Dask
``LocalCluster`` of N single-threaded worker processes (the ``scale`` extra), the records dealt into N
partitions by customer: each partition summarised on a worker, both fits with each likelihood evaluation
summed over the workers, every customer scored where their partition lives. Its wall times and parameters
are reported beside the local ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from bench.common import busy_before, pyplot, save_results, table
from crossdesk.retention import clv, distributed, rfm, synthetic
from crossdesk.retention.transactions import Summary, summarise

TARGET_S = 10.0
START, ACQUISITION_DAYS, END = dt.date(2024, 1, 1), 84, dt.date(2024, 9, 29)
BG_NAMES, GG_NAMES = ("r", "alpha", "a", "b"), ("p", "q", "gamma")
# The steps the target counts: from purchase records to every customer's segment, CLV and churn band.
PIPELINE = ("summarise", "rfm segments", "fit BG/NBD", "fit Gamma-Gamma", "score")

T = TypeVar("T")


def timed(rows: list[dict[str, Any]], step: str, target: str, work: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = work()
    rows.append({"step": step, "target": target, "seconds": time.perf_counter() - start})
    print(f"  {target:>9}  {step:<28} {rows[-1]['seconds']:7.2f} s")
    return result


def segments(summary: Summary) -> list[str]:
    since = summary.frame.select((pl.lit(END) - pl.col("last_purchase")).dt.total_days()).to_series()
    days_since_last = since.cast(pl.Float64).to_numpy()
    r, _, _, fm = rfm.scores(days_since_last, summary.column("frequency") + 1, summary.column("spend"))
    return rfm.segments(r, fm)


def fitted(model: Any, names: tuple[str, ...]) -> dict[str, float]:
    return {name: float(getattr(model, name)) for name in names}


def run_lifetimes(rows: list[dict[str, Any]], summary: Summary) -> dict[str, Any]:
    """lifetimes' BetaGeoFitter and GammaGammaFitter on the same summary, or why it could not run."""
    try:
        import pandas as pd
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    except Exception as exc:  # an old library on new pandas/numpy fails in many ways: say which
        return {"lifetimes": f"could not import: {exc!r}"}
    x, t_x, age, m = (pd.Series(summary.column(c)) for c in ("frequency", "recency", "T", "monetary_value"))
    bg = timed(rows, "fit BG/NBD", "lifetimes", lambda: BetaGeoFitter().fit(x, t_x, age))
    repeat = x > 0
    gg = timed(rows, "fit Gamma-Gamma", "lifetimes", lambda: GammaGammaFitter().fit(x[repeat], m[repeat]))
    params = {**bg.params_.to_dict(), **gg.params_.rename({"v": "gamma"}).to_dict()}
    return {"lifetimes": {name: float(value) for name, value in params.items()}}


def run_dask(rows: list[dict[str, Any]], records: pl.DataFrame, workers: int) -> dict[str, float]:
    """The pipeline on a LocalCluster of ``workers`` processes, each step timed; the parameters found."""
    dask = distributed.require_dask()
    with ExitStack() as stack:
        local = timed(
            rows,
            f"start cluster, {workers} workers",
            "dask",
            lambda: dask.LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0"),
        )
        client = stack.enter_context(dask.Client(stack.enter_context(local)))
        parts = timed(
            rows, "partition records", "dask", lambda: distributed.partition_by_customer(records, workers)
        )
        held = timed(
            rows,
            "summarise",
            "dask",
            lambda: distributed.summarise_partitions(parts, client, END, "weeks", period="exact"),
        )
        bg, gg = timed(
            rows,
            "fit BG/NBD + Gamma-Gamma",
            "dask",
            lambda: distributed.fit_partitions(held.summaries, client),
        )
        scores = timed(
            rows, "score", "dask", lambda: distributed.score_partitions(held.summaries, client, bg, gg)
        )
    assert scores.height == records.get_column("customer_id").n_unique(), "every customer scored"
    return {**fitted(bg, BG_NAMES), **fitted(gg, GG_NAMES)}


def main(args: argparse.Namespace) -> None:
    rows: list[dict[str, Any]] = []
    truth = synthetic.CDNOW
    print(f"\n{args.customers:,} synthetic customers (BG/NBD + Gamma-Gamma, CDNOW parameters), wall times:")
    records = timed(
        rows,
        "generate records",
        "synthetic",
        lambda: synthetic.purchase_records(args.customers, START, ACQUISITION_DAYS, END, truth, args.seed),
    )
    summary = timed(rows, "summarise", "crossdesk", lambda: summarise(records, END, "weeks", period="exact"))
    named = timed(rows, "rfm segments", "crossdesk", lambda: segments(summary))
    x, t_x, age, m = (summary.column(c) for c in ("frequency", "recency", "T", "monetary_value"))
    bg = timed(rows, "fit BG/NBD", "crossdesk", lambda: clv.fit_bgnbd(x, t_x, age))
    gg = timed(rows, "fit Gamma-Gamma", "crossdesk", lambda: clv.fit_gamma_gamma(x, m))
    scored = timed(rows, "score", "crossdesk", lambda: clv.score(bg, gg, summary))
    with ThreadPoolExecutor(2) as pool:
        sharded = timed(
            rows,
            "fit BG/NBD, 2 shards/threads",
            "crossdesk",
            lambda: clv.fit_bgnbd(x, t_x, age, shards=2, map=pool.map),
        )
    theirs = {"lifetimes": "not run (--no-lifetimes)"} if args.no_lifetimes else run_lifetimes(rows, summary)
    dask = run_dask(rows, records, args.dask) if args.dask else {}
    ours = {**fitted(bg, BG_NAMES), **fitted(gg, GG_NAMES)}
    errors = dict(zip(BG_NAMES + GG_NAMES, bg.info.std_errors + gg.info.std_errors, strict=True))
    result = {
        "customers": summary.frame.height,
        "records": records.height,
        "repeat_customers": gg.info.customers,
        "true": {name: getattr(truth, name) for name in BG_NAMES + GG_NAMES},
        "crossdesk": ours,
        "crossdesk_std_errors": errors,
        "crossdesk_sharded": fitted(sharded, BG_NAMES),
        "crossdesk_dask": dask,
        **theirs,
        "segments": dict(pl.Series(named).value_counts().iter_rows()),
        "churn_bands": dict(scored["churn_risk"].value_counts().iter_rows()),
        "mean_clv": str(scored["clv"].mean()),
    }
    rows.append({"step": "parameters", "target": "all", **result})
    save_results("clv", args, rows, report(rows, result, args), chart)


def report(rows: list[dict[str, Any]], result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    truth, ours, errors = result["true"], result["crossdesk"], result["crossdesk_std_errors"]
    theirs = result["lifetimes"] if isinstance(result["lifetimes"], dict) else {}
    print(f"\nRecovered parameters ({result['customers']:,} customers, {result['records']:,} records):")

    def g(value: float) -> str:
        return "-" if math.isnan(value) else f"{value:.4g}"

    def line(name: str) -> list[str]:
        off = (ours[name] - truth[name]) / errors[name]
        fits = (ours[name], errors[name], result["crossdesk_sharded"].get(name, math.nan))
        return [
            name,
            g(truth[name]),
            *map(g, fits[:2]),
            f"{off:+.1f}",
            g(fits[2]),
            g(result["crossdesk_dask"].get(name, math.nan)),
            g(theirs.get(name, math.nan)),
        ]

    lines = [line(name) for name in truth]
    dask = f"dask {args.dask}" if args.dask else "dask"
    print(table(["param", "true", "crossdesk", "std err", "off (se)", "2 shards", dask, "lifetimes"], lines))
    if not theirs:
        print(f"lifetimes: {result['lifetimes']}")
    seconds = {(r["target"], r["step"]): r["seconds"] for r in rows if "seconds" in r}
    total = sum(seconds[("crossdesk", step)] for step in PIPELINE)
    verdict: dict[str, Any] = {"pipeline_s": total, "under_target": total < TARGET_S}
    print(f"\nSegments + CLV + churn from records: {total:.2f} s (target < {TARGET_S:g} s on 2 cores): "
          f"{'MET' if total < TARGET_S else 'NOT MET'} ({os.cpu_count()} cores here)")  # fmt: skip
    for step in ("fit BG/NBD", "fit Gamma-Gamma"):
        if ("lifetimes", step) in seconds:
            mine, other = seconds[("crossdesk", step)], seconds[("lifetimes", step)]
            verdict[f"{step} speed-up vs lifetimes"] = other / mine
            print(f"{step}: crossdesk {mine:.2f} s, lifetimes {other:.2f} s ({other / mine:.1f}x)")
    verdict["max_off_in_se"] = max(abs(ours[n] - truth[n]) / errors[n] for n in truth)
    if result["crossdesk_dask"]:
        on_dask = sum(
            v for (target, step), v in seconds.items() if target == "dask" and "cluster" not in step
        )
        verdict["dask_max_rel_diff"] = max(abs(result["crossdesk_dask"][n] / ours[n] - 1) for n in ours)
        verdict["dask_pipeline_s"] = on_dask
        alone = total - seconds[("crossdesk", "rfm segments")]
        print(f"Summarise + fits + score: Dask on {args.dask} workers {on_dask:.2f} s, local {alone:.2f} s; "
              f"parameters within {verdict['dask_max_rel_diff']:.1e} of the local fit")  # fmt: skip
    return verdict


def chart(rows: list[dict[str, Any]], path: Path) -> bool:
    plt = pyplot()
    if plt is None:
        return False
    timed_rows = [r for r in rows if "seconds" in r]
    result = next(r for r in rows if r["step"] == "parameters")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    colours = {"crossdesk": "C0", "lifetimes": "C1", "dask": "C2", "synthetic": "grey"}
    labels = [f"{r['target']}: {r['step']}" for r in timed_rows]
    left.barh(labels, [r["seconds"] for r in timed_rows], color=[colours[r["target"]] for r in timed_rows])
    left.invert_yaxis()
    left.set(xlabel="seconds (wall)", title=f"{result['customers']:,} customers")
    names = list(result["true"])
    for i, (key, label) in enumerate((("crossdesk", "crossdesk"), ("lifetimes", "lifetimes"))):
        fits = result[key] if isinstance(result[key], dict) else {}
        ratios = [fits.get(n, math.nan) / result["true"][n] for n in names]
        right.bar([j + (i - 0.5) * 0.4 for j in range(len(names))], ratios, width=0.4, label=label)
    right.axhline(1.0, color="black", linewidth=0.8)
    right.set_xticks(list(range(len(names))), names)
    right.set(ylabel="fitted / true", title="Recovered parameters", ylim=(0.9, 1.1))
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tag", default="", help="suffix of the results' file names")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20,000 customers")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-lifetimes", action="store_true", help="do not run the lifetimes comparison")
    parser.add_argument(
        "--dask",
        type=int,
        default=0,
        metavar="N",
        help="also run on a Dask LocalCluster of N worker processes",
    )
    args = parser.parse_args(argv)
    args.customers = 20_000 if args.quick else max(100, min(args.customers, 20_000_000))
    return args


if __name__ == "__main__":
    arguments = parse()
    arguments.busy_before_pct = busy_before(1.0)
    main(arguments)
