"""The CDNOW 2,357-customer sample (Fader & Hardie's copy of it) as purchase records, when it is on disk.

It lives in the ``shared`` folder beside the repository (``/work/shared/data/cdnow`` next to
``/work/main``), outside the repo; tests that need it skip with this module's ``MISSING`` reason.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl

SAMPLE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cdnow" / "CDNOW_sample.txt"
MISSING = f"the CDNOW sample is not at {SAMPLE.resolve()} (the shared data folder beside the repo)"


def records(path: Path = SAMPLE) -> pl.DataFrame:
    """Columns: master id, sample id (1..2357: the customer), yyyymmdd, CDs bought, dollars."""
    ids, days, amounts = [], [], []
    for line in path.read_text().splitlines():
        _, customer, day, _, dollars = line.split()
        ids.append(int(customer))
        days.append(dt.datetime.strptime(day, "%Y%m%d").replace(tzinfo=dt.UTC))
        amounts.append(Decimal(dollars))
    return pl.DataFrame({"customer_id": ids, "at": days, "amount": amounts, "currency": ["USD"] * len(ids)})
