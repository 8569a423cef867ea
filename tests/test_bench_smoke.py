"""The benchmarks still run end to end (short runs): every message delivered, exactly once.

The figures themselves are not asserted here: timing belongs to the benchmarks, not to tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_quick(benchmark: str, *extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{benchmark}", "--quick", "--tag", "smoke", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads((ROOT / "bench" / "results" / f"{benchmark}-quick-smoke.json").read_text())


def test_fanout_benchmark_delivers_everything() -> None:
    rows = run_quick("fanout")["rows"]
    assert {r["target"] for r in rows} == {"crossdesk", "bare-loop"}
    assert all(r["received"] == r["expected"] > 0 and r["lost"] == 0 for r in rows)


def test_ingest_benchmark_stores_each_message_once() -> None:
    rows = run_quick("ingest", "--no-postgres")["rows"]
    crossdesk = next(r for r in rows if r["target"] == "crossdesk-sqlite")
    assert crossdesk["acked"] > 0
    assert crossdesk["exactly_once"] is True
    assert crossdesk["stored_twice"] == crossdesk["acked_not_stored"] == crossdesk["on_socket_twice"] == 0


def test_channels_benchmark_takes_every_platforms_webhook_once() -> None:
    api, mixed = run_quick("channels", "--messages", "200")["rows"]
    assert (api["target"], mixed["target"]) == ("api-ingest", "mixed-webhooks")
    for row in (api, mixed):
        assert row["acked"] == 200 and row["exactly_once"] is True and not row["errors"]


def test_recommend_benchmark_runs_every_method_against_popularity() -> None:
    data = run_quick("recommend")
    assert {r["method"] for r in data["rows"]} >= {"cosine", "als", "popular_overall"}


def test_pages_benchmark_measures_both_pages_and_their_api_twins() -> None:
    result = run_quick("pages")
    rows = {r["target"]: r for r in result["rows"]}
    assert set(rows) == {"inbox page", "inbox API", "conversation page", "conversation API"}
    assert all(r["requests"] == 60 and r["bytes"] > 1000 for r in rows.values())
    assert {"inbox page", "conversation page"} <= result["target"].keys()
