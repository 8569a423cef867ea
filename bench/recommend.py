"""Recommendations: offline accuracy on UCI Online Retail and training time, on UCI and on a synthetic set.

    .venv/bin/python -m bench.recommend [--quick] [--tag NAME]

UCI Online Retail (``../shared/data/online_retail/``; skipped with the reason when absent): trained on the
order lines before 2011-09-01, scored on the customers who bought before and after, precision@10 and
recall@10 of item-item cosine, ALS and BPR (``crossdesk.retention.recommend``) against popular-in-country
and popular-overall fitted on the same lines in the same run, in two protocols: as served (the truth is
everything they bought after the cut; repeat-purchase kinds may be recommended again) and new items only
(the truth leaves out what they had bought; nothing bought is recommended again). The full run adds how
the repeat-purchase rule's threshold moves the as-served figures.

Synthetic (``recs_eval.synthetic``): 1,000,000 distinct customer-SKU pairs, 50,000 customers x 5,000 SKUs
in 20 taste clusters with Zipf popularity; one pair per customer held out; cosine and ALS training time and
precision@10 on the held-out pair (10,000 customers scored) against popularity.

Every fit uses implicit's default threads (one per core) and one BLAS thread. ``--quick`` (a smoke run,
well under 30 s): BPR with 20 iterations instead of 100, a 100,000-pair synthetic set, no threshold sweep.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import REPO, pyplot, save_results, table
from crossdesk.retention.recommend import Method, Recommender
from crossdesk.retention.recs_eval import (
    UCI_CUT,
    evaluate,
    hold_out_one,
    load_uci,
    split,
    synthetic,
    uci_path,
)

METHODS: tuple[Method, ...] = ("cosine", "als", "bpr")
SYNTHETIC_FULL = {"customers": 50_000, "items": 5_000, "interactions": 1_000_000}
SYNTHETIC_QUICK = {"customers": 5_000, "items": 1_000, "interactions": 100_000}
REPEAT_SHARES = (None, 0.5, 0.3, 0.2, 0.1, 0.0)


def recommenders(args: argparse.Namespace, methods: tuple[Method, ...] = METHODS) -> dict[str, Recommender]:
    bpr_iterations = 20 if args.quick else None
    return {m: Recommender(method=m, iterations=bpr_iterations if m == "bpr" else None) for m in methods}


def uci_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    path = uci_path(REPO)
    if not path.exists():
        print(f"UCI Online Retail skipped: {path} is absent.")
        return []
    train, test = split(load_uci(path), UCI_CUT)
    print(
        f"UCI Online Retail: {train.height:,} training lines before {UCI_CUT:%Y-%m-%d}, {test.height:,} after"
    )
    rows = []
    for protocol, new_only in (("as served", False), ("new items only", True)):
        for score in evaluate(train, test, recommenders(args), new_only=new_only):
            rows.append({"dataset": "uci", "protocol": protocol, **vars(score)})
    if not args.quick:
        for share in REPEAT_SHARES:
            cosine = replace(Recommender(), repeat_share=share)
            for score in evaluate(train, test, {"cosine": cosine})[1:]:
                rows.append({"dataset": "uci", "protocol": f"repeat_share={share}", **vars(score)})
    return rows


def synthetic_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    shape = SYNTHETIC_QUICK if args.quick else SYNTHETIC_FULL
    started = time.perf_counter()
    lines = synthetic(**shape)
    train, test = hold_out_one(lines)
    print(
        f"\nSynthetic: {lines.height:,} pairs, {shape['customers']:,} customers x {shape['items']:,} SKUs, "
        f"made in {time.perf_counter() - started:.1f} s; {test.height:,} held out"
    )
    scores = evaluate(train, test, recommenders(args, ("cosine", "als")), new_only=True, sample=10_000)
    name = f"synthetic-{lines.height // 1000:,}k"
    return [{"dataset": name, "protocol": "held-out pair", **vars(s)} for s in scores]


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    headers = ["data", "protocol", "method", "customers", "precision@10", "recall@10", "fit s", "train s"]
    lines = [
        [r["dataset"], r["protocol"], r["method"], r["customers"], f"{r['precision']:.4f}",
         f"{r['recall']:.4f}", r["fit_seconds"], r["train_seconds"]]
        for r in rows
    ]  # fmt: skip
    print("\n" + table(headers, lines))
    served = [r for r in rows if r["dataset"] == "uci" and r["protocol"] == "as served"]
    if not served:
        return {"uci": "skipped: data absent"}
    best = max((r for r in served if r["method"] in METHODS), key=lambda r: r["precision"])
    popular = max((r for r in served if r["method"].startswith("popular")), key=lambda r: r["precision"])
    verdict = {
        "best_cf": best["method"],
        "best_cf_precision": best["precision"],
        "best_popular": popular["method"],
        "best_popular_precision": popular["precision"],
        "cf_beats_popularity": best["precision"] > popular["precision"],
    }
    print(
        f"\nUCI as served: best CF {best['method']} precision@10 {best['precision']:.4f} vs "
        f"{popular['method']} {popular['precision']:.4f}: "
        f"{'beats' if verdict['cf_beats_popularity'] else 'does NOT beat'} popularity"
    )
    return verdict


def chart(rows: list[dict[str, Any]], path: Path) -> bool:
    plt = pyplot()
    if plt is None:
        return False
    groups = list(dict.fromkeys((r["dataset"], r["protocol"]) for r in rows if "=" not in r["protocol"]))
    fig, axes = plt.subplots(1, len(groups) + 1, figsize=(4 * (len(groups) + 1), 4), squeeze=False)
    for ax, (dataset, protocol) in zip(axes[0], groups, strict=False):
        chosen = [r for r in rows if (r["dataset"], r["protocol"]) == (dataset, protocol)]
        names = [r["method"].replace("popular_", "pop. ") for r in chosen]
        ax.bar(
            [i - 0.2 for i in range(len(chosen))], [r["precision"] for r in chosen], 0.4, label="precision@10"
        )
        ax.bar([i + 0.2 for i in range(len(chosen))], [r["recall"] for r in chosen], 0.4, label="recall@10")
        ax.set_xticks(range(len(chosen)), names, rotation=30, fontsize=8)
        top = max(max(r["precision"], r["recall"]) for r in chosen)
        ax.set(title=f"{dataset}: {protocol}", ylim=(0, 1.3 * top))  # room for the legend
        ax.legend(fontsize=7)
    trained = [r for r in rows if r["method"] in METHODS and r["protocol"] in ("as served", "held-out pair")]
    times = axes[0][-1]
    times.barh([f"{r['dataset']} {r['method']}" for r in trained], [r["train_seconds"] for r in trained])
    times.set(xlabel="training seconds (implicit fit)", title="Training time")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tag", default="", help="suffix of the results' file names")
    parser.add_argument("--quick", action="store_true", help="a smoke run (well under 30 s)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = uci_rows(args) + synthetic_rows(args)
    verdict = report(rows)
    verdict["seconds"] = time.perf_counter() - started
    save_results("recommend", args, rows, verdict, chart)


if __name__ == "__main__":
    main()
