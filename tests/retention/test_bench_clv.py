"""The lifetime-value benchmark still runs end to end on its quick size and recovers the true parameters.

Timings are the benchmark's business, not a test's: only the run, its output and the recovery are checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_fits_and_scores_every_customer() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.clv", "--quick", "--tag", "smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((ROOT / "bench" / "results" / "clv-quick-smoke.json").read_text())
    steps = {(r["target"], r["step"]) for r in results["rows"] if "seconds" in r}
    assert {
        ("crossdesk", s) for s in ("summarise", "rfm segments", "fit BG/NBD", "fit Gamma-Gamma", "score")
    } <= steps
    found = results["rows"][-1]
    assert found["customers"] == 20_000
    assert sum(found["churn_bands"].values()) == 20_000
    assert results["target"]["max_off_in_se"] < 4, "every parameter within 4 standard errors of the truth"
    for name, value in found["crossdesk_sharded"].items():
        assert abs(value / found["crossdesk"][name] - 1) < 1e-6, "2 shards on 2 threads: the same fit"
