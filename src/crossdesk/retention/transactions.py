"""Purchase records to the per-customer summary that the lifetime-value models read.

A customer's *purchase* is everything they bought in one period: by default one UTC calendar day (the
convention of the buy-till-you-die literature and of ``lifetimes``; the CDNOW data are daily), or each
distinct order time (``period="exact"``, for data drawn in continuous time). For each customer:

- ``frequency``: repeat purchases, i.e. distinct purchase periods minus one (0 for a one-purchase customer);
- ``recency``: time of the last purchase minus the first, in the chosen unit (0 when frequency is 0);
- ``T``: observation end minus the first purchase, in the chosen unit (the customer's age). With daily
  purchases it is counted to the start of the end day, as in the CDNOW data; with exact times, to its end;
- ``monetary_value``: the mean value of the *repeat* purchases, the first one left out, as Fader, Hardie
  & Lee (2005, "RFM and CLV", JMR 42(4)) and ``lifetimes`` do (0 when frequency is 0: the Gamma-Gamma
  model then falls back on the population mean); ``repeat_spend`` is its exact Decimal numerator.

Bad input is handled and reported (``Report``), never a crash; what cannot be summarised at all raises
``BadTransactions`` with the reason:

- records with a missing field, a malformed currency code or an amount of 10^14 or more are dropped and
  counted;
- a record with an ``order_id`` that repeats another exactly (time, amount, currency) was delivered
  twice: dropped and counted. Records without an order id cannot be told from two identical orders in
  one day (the CDNOW data have 21 such) and are all kept;
- records dated after the observation end are dropped and counted (at that end they were not known);
- negative records (refunds, returns, negative quantities) are netted into their order when they carry
  its ``order_id`` (all records of that order become one, at its earliest record's time), else into the
  customer's purchase of their own period. A purchase that contains a refund and nets to <= 0 was
  returned and is dropped (counted); a zero-value purchase without a refund (a free order) still counts;
- mixed currencies are converted to one currency with a ``Converter`` (a rate per currency and day,
  e.g. ``lambda c, to, day: fx.convert(Decimal(1), c, to, day)`` from ``crossdesk.commerce.fx``), the
  result rounded half-to-even to that currency's minor unit; without a converter they are refused
  (``MixedCurrencies``).

Amounts are summed as exact integers of the smallest unit present and turned back into Decimal at the
end; purchases and customers are formed by one sort and segment sums (numpy), which is several times
faster than hash group-bys with a million groups: millions of records summarise in about a second.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl

from crossdesk.retention.money import minor_unit

Unit = Literal["days", "weeks"]
Period = Literal["day", "exact"]
UNIT_DAYS: dict[Unit, int] = {"days": 1, "weeks": 7}
DAY_MICROS = 86_400_000_000
EPOCH = dt.date(1970, 1, 1)  # purchase keys count days, or microseconds, from here

# (from currency, to currency, day) -> how many ``to`` one ``from`` is worth that day; None: no rate.
Converter = Callable[[str, str, dt.date], Decimal | None]

REQUIRED = ("customer_id", "at", "amount", "currency")
# Exchange rates are kept to 10 places (published rates have 4-6 significant digits), so that an amount
# times a rate stays exact inside polars' 38-digit decimals before its one rounding to the minor unit.
RATE_PLACES = 10
# No single record is worth this much (the orders table refuses it too): such a record is a bad one.
MAX_AMOUNT = Decimal(10) ** 14

Ints = npt.NDArray[np.int64]


class BadTransactions(ValueError):
    """Records that cannot be summarised at all; the message says why."""


class MixedCurrencies(BadTransactions):
    """Several currencies and no converter to bring them to one."""


class Purchase(NamedTuple):
    """One purchase record: an order, an order line, a refund (negative amount)."""

    customer_id: int | str
    at: dt.datetime | dt.date
    amount: Decimal
    currency: str
    order_id: int | str | None = None


@dataclass(frozen=True)
class Report:
    """What was done to the input, for the seller to see."""

    records: int = 0
    incomplete: int = 0
    duplicates: int = 0
    after_end: int = 0
    refund_records: int = 0
    returned_purchases: int = 0
    converted: int = 0
    customers: int = 0
    one_purchase: int = 0

    def explain(self) -> list[str]:
        """One plain sentence per thing that happened to the input."""
        said = [
            (
                self.incomplete,
                "records had a missing field, a malformed currency or an impossible amount: dropped",
            ),
            (self.duplicates, "records repeated another with the same order id and were dropped"),
            (self.after_end, "records were dated after the observation end and were dropped"),
            (self.refund_records, "negative records (refunds, returns) were netted into their purchase"),
            (self.returned_purchases, "purchases were refunded to zero or less and were dropped"),
            (self.converted, "records were converted to the summary's currency"),
            (self.one_purchase, "customers bought once (frequency 0): no repeat purchase to learn from"),
        ]
        lines = [f"{self.records:,} records summarised into {self.customers:,} customers"]
        return lines + [f"{count:,} {text}" for count, text in said if count]


@dataclass(frozen=True)
class Summary:
    """One row per customer, sorted by id: ``customer_id, frequency, recency, T, monetary_value,
    repeat_spend, spend`` (all purchases), ``first_purchase, last_purchase`` (dates); recency and T in
    ``unit``, money in ``currency``."""

    frame: pl.DataFrame
    unit: Unit
    currency: str
    observation_end: dt.date
    report: Report
    period: Period = "day"

    def column(self, name: str) -> npt.NDArray[np.float64]:
        return self.frame.get_column(name).cast(pl.Float64).to_numpy()


@dataclass(frozen=True)
class Split:
    """A calibration summary, and each of its customers' purchases in the holdout period after it."""

    calibration: Summary
    holdout: pl.DataFrame  # customer_id, holdout_purchases, holdout_spend (Decimal); calibration's order
    holdout_length: float  # in the calibration's unit
    only_in_holdout: int  # customers whose first purchase falls in the holdout: not forecast


@dataclass(frozen=True)
class _Purchases:
    """One row per purchase, sorted by customer and time: ``customer_id, key`` (days or microseconds
    since 1970), ``units`` (the amount in 10^-scale of the currency, an exact integer)."""

    frame: pl.DataFrame
    scale: int
    currency: str
    counts: dict[str, int]


def records_frame(records: Iterable[Purchase]) -> pl.DataFrame:
    """Purchase records as the frame ``summarise`` reads (for records held as Python objects)."""
    rows = list(records)
    return pl.DataFrame(
        {
            "customer_id": [p.customer_id for p in rows],
            "at": pl.Series([_utc(p.at) for p in rows], dtype=pl.Datetime("us", "UTC")),
            "amount": [p.amount for p in rows],
            "currency": [p.currency for p in rows],
            "order_id": [p.order_id for p in rows],
        },
        strict=False,
    )


def _utc(at: dt.datetime | dt.date) -> dt.datetime:
    """A record's time in UTC; a date is taken as its UTC midnight."""
    if not isinstance(at, dt.datetime):
        return dt.datetime.combine(at, dt.time(), dt.UTC)
    if at.tzinfo is None:
        raise BadTransactions(f"purchase time {at} has no time zone: naive times are ambiguous")
    return at.astimezone(dt.UTC)


def summarise(
    records: pl.DataFrame,
    observation_end: dt.date,
    unit: Unit = "weeks",
    currency: str | None = None,
    convert: Converter | None = None,
    period: Period = "day",
) -> Summary:
    """Per-customer summary of ``records`` (columns ``customer_id, at, amount, currency`` and optionally
    ``order_id``; ``at`` timezone-aware or a date, ``amount`` Decimal) up to and including the day
    ``observation_end``, in ``currency`` (by default the records' only currency)."""
    purchases = _purchases(records, observation_end, currency, convert, period)
    return _summary(purchases, observation_end, unit, period)


def split(
    records: pl.DataFrame,
    calibration_end: dt.date,
    holdout_end: dt.date,
    unit: Unit = "weeks",
    currency: str | None = None,
    convert: Converter | None = None,
    period: Period = "day",
) -> Split:
    """Calibration summary up to ``calibration_end`` and the holdout purchases after it, up to and
    including ``holdout_end``, of the same customers."""
    if holdout_end <= calibration_end:
        raise BadTransactions("the holdout must end after the calibration period")
    calibration = summarise(records, calibration_end, unit, currency, convert, period)
    purchases = _purchases(records, holdout_end, calibration.currency, convert, period)
    after = (calibration_end - EPOCH).days + 1  # the first day of the holdout
    later = purchases.frame.filter(pl.col("key") >= after * (1 if period == "day" else DAY_MICROS))
    holdout = later.group_by("customer_id").agg(holdout_purchases=pl.len(), units=pl.col("units").sum())
    known = calibration.frame.select("customer_id")
    joined = known.join(holdout, on="customer_id", how="left", maintain_order="left")
    return Split(
        calibration=calibration,
        holdout=joined.select(
            "customer_id",
            pl.col("holdout_purchases").fill_null(0),
            _money(pl.col("units").fill_null(0), purchases.scale).alias("holdout_spend"),
        ),
        holdout_length=(holdout_end - calibration_end).days / UNIT_DAYS[unit],
        only_in_holdout=holdout.join(known, on="customer_id", how="anti").height,
    )


def _purchases(
    records: pl.DataFrame, end: dt.date, currency: str | None, convert: Converter | None, period: Period
) -> _Purchases:
    frame = _normalised(records)
    counts = {"records": frame.height}
    frame = frame.filter(pl.all_horizontal(pl.all().exclude("order_id").is_not_null()))
    frame = frame.filter(
        pl.col("currency").str.contains(r"^[A-Z]{3}$") & (pl.col("amount").abs() < MAX_AMOUNT)
    )
    counts["incomplete"] = counts["records"] - frame.height
    # A record repeating another's order id, time, amount and currency is the same record delivered
    # twice. Without an order id two identical records may be two orders (CDNOW has 21): all are kept.
    has_id = pl.col("order_id").is_not_null()
    deduplicated = pl.concat([frame.filter(has_id).unique(), frame.filter(~has_id)])
    counts["duplicates"] = frame.height - deduplicated.height
    kept = deduplicated.filter(pl.col("at").dt.date() <= end)
    counts["after_end"] = deduplicated.height - kept.height
    frame, currency, counts["converted"] = _one_currency(kept, currency, convert)
    scale = _scale(frame.schema["amount"])
    if float(frame.get_column("amount").abs().cast(pl.Float64).sum()) * 10**scale >= 2**62:
        raise BadTransactions(f"amounts too large to add up exactly to 10^-{scale} (integers of 63 bits)")
    key = pl.col("at").dt.date().cast(pl.Int64) if period == "day" else pl.col("at").dt.epoch("us")
    frame = frame.select(
        "customer_id",
        "order_id",
        key.alias("key"),
        pl.col("amount").to_physical().cast(pl.Int64).alias("units"),
    )
    counts["refund_records"] = frame.filter(pl.col("units") < 0).height
    rows = _net_refunded_orders(frame).sort("customer_id", "key")
    purchases, returned = _segment_purchases(rows)
    counts["returned_purchases"] = returned
    return _Purchases(purchases, scale, currency, counts)


def _normalised(records: pl.DataFrame) -> pl.DataFrame:
    """The records' columns in the types the summary needs, or ``BadTransactions`` saying which is wrong."""
    missing = [name for name in REQUIRED if name not in records.columns]
    if missing:
        raise BadTransactions(f"purchase records need the columns {', '.join(missing)}")
    at, amount = records.schema["at"], records.schema["amount"]
    if isinstance(at, pl.Datetime) and at.time_zone is None:
        raise BadTransactions("'at' must be timezone-aware: naive times are ambiguous (UTC is expected)")
    if not isinstance(at, pl.Datetime | pl.Date | pl.Null):
        raise BadTransactions(f"'at' must be a datetime or a date, not {at}")
    if not (isinstance(amount, pl.Decimal | pl.Null) or amount.is_integer()):
        raise BadTransactions(f"'amount' must be Decimal (money is never float), not {amount}")
    at_utc = pl.col("at").dt.convert_time_zone("UTC") if isinstance(at, pl.Datetime) else pl.col("at")
    order_id = pl.col("order_id") if "order_id" in records.columns else pl.lit(None)
    return records.select(
        "customer_id",
        at_utc.cast(pl.Datetime("us", "UTC")).alias("at"),
        pl.col("amount").cast(pl.Decimal(38, _scale(amount))),
        pl.col("currency").cast(pl.String).str.strip_chars().str.to_uppercase(),
        order_id.alias("order_id"),
    )


def _scale(amount: pl.DataType) -> int:
    return amount.scale if isinstance(amount, pl.Decimal) else 0


def _one_currency(
    frame: pl.DataFrame, currency: str | None, convert: Converter | None
) -> tuple[pl.DataFrame, str, int]:
    """All amounts in one currency: the only one present, or ``currency`` through ``convert``."""
    present = sorted(frame.get_column("currency").unique().to_list())
    if not present:  # nothing left to summarise: an empty summary, in "no currency" unless one was asked
        return frame.drop("currency"), currency or "XXX", 0
    target = currency or (present[0] if len(present) == 1 else None)
    foreign = [c for c in present if c != target]
    if target is None or (foreign and convert is None):
        raise MixedCurrencies(
            f"the records are in {', '.join(present)}; give one target currency and a converter "
            "to bring them to it, or summarise each currency apart"
        )
    if not foreign or convert is None:
        return frame.drop("currency"), target, 0
    is_foreign = pl.col("currency") != target
    rates = _rates(frame.filter(is_foreign), target, convert)
    amount_scale = _scale(frame.schema["amount"])
    exact = pl.col("amount").cast(pl.Decimal(38, amount_scale + RATE_PLACES)) * pl.col("rate")
    converted = (
        frame.with_columns(day=pl.col("at").dt.date())
        .join(rates, on=["currency", "day"], how="left")
        .with_columns(
            # The exact product, rounded once (half-even) to the minor unit; then all at one scale.
            amount=pl.when(is_foreign)
            .then(exact.round(minor_unit(target)))
            .otherwise(pl.col("amount"))
            .cast(pl.Decimal(38, max(amount_scale, minor_unit(target))))
        )
        .drop("currency", "rate", "day")
    )
    return converted, target, frame.filter(is_foreign).height


def _rates(foreign: pl.DataFrame, target: str, convert: Converter) -> pl.DataFrame:
    """The converter's rate for each foreign (currency, day) present: one call per pair, not per record."""
    pairs = foreign.select("currency", day=pl.col("at").dt.date()).unique().sort("currency", "day")
    rates: list[Decimal] = []
    for code, day in pairs.iter_rows():
        try:
            rate = convert(code, target, day)
        except Exception as exc:  # the converter is the caller's: say which rate failed, keep its cause
            raise BadTransactions(f"no rate from {code} to {target} on {day}: {exc}") from exc
        if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
            raise BadTransactions(f"no usable rate from {code} to {target} on {day} (got {rate})")
        rates.append(rate.quantize(Decimal(1).scaleb(-RATE_PLACES)))
    return pairs.with_columns(rate=pl.Series(rates, dtype=pl.Decimal(38, RATE_PLACES)))


def _net_refunded_orders(frame: pl.DataFrame) -> pl.DataFrame:
    """Every order that has a refund record, netted into one record at its earliest time; the rest as
    they are. ``refunded`` marks the rows that hold a refund."""
    refunded = frame.with_columns(refunded=pl.col("units") < 0)
    orders = ["customer_id", "order_id"]
    touched = refunded.filter(pl.col("refunded") & pl.col("order_id").is_not_null()).select(orders).unique()
    if touched.is_empty():
        return refunded.drop("order_id")
    netted = (
        refunded.join(touched, on=orders, how="semi")
        .group_by(orders)
        .agg(pl.col("key").min(), pl.col("units").sum(), pl.col("refunded").any())
    )
    rest = refunded.join(touched, on=orders, how="anti")
    columns = ["customer_id", "key", "units", "refunded"]
    return pl.concat([rest.select(columns), netted.select(columns)])


def _segment_purchases(rows: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Rows sorted by customer and key, summed into one purchase per (customer, key); purchases that
    contain a refund and net to <= 0 dropped (and counted)."""
    customer = rows.get_column("customer_id").rle_id().to_numpy()
    key = rows.get_column("key").to_numpy()
    starts = _starts((customer, key))
    units = _sums(rows.get_column("units").to_numpy(), starts)
    refunded = _sums(rows.get_column("refunded").to_numpy().astype(np.int64), starts) > 0
    keep = ~(refunded & (units <= 0))
    purchases = pl.DataFrame(
        {
            "customer_id": rows.get_column("customer_id").gather(starts[keep]),
            "key": key[starts][keep],
            "units": units[keep],
        }
    )
    return purchases, int((~keep).sum())


def _starts(columns: tuple[npt.NDArray[np.generic], ...]) -> npt.NDArray[np.intp]:
    """Where a new run begins in sorted columns: the first row, and every row where any column changes."""
    changed = np.zeros(len(columns[0]), dtype=bool)
    changed[:1] = True  # none when there are no rows
    for column in columns:
        changed[1:] |= column[1:] != column[:-1]
    return np.flatnonzero(changed)


def _end_key(end: dt.date, period: Period) -> int:
    """The observation end as a key: the end day (daily purchases) or the end of that day in us."""
    days = (end - EPOCH).days
    return days if period == "day" else (days + 1) * DAY_MICROS


def _money(units: pl.Expr, scale: int) -> pl.Expr:
    """Integer units of 10^-scale back to an exact Decimal."""
    return units.cast(pl.Decimal(38, 0)) * pl.lit(Decimal(1).scaleb(-scale), pl.Decimal(38, scale))


def _summary(purchases: _Purchases, end: dt.date, unit: Unit, period: Period) -> Summary:
    frame = purchases.frame
    per_day = 1 if period == "day" else DAY_MICROS
    key: Ints = frame.get_column("key").to_numpy()
    units: Ints = frame.get_column("units").to_numpy()
    starts = _starts((frame.get_column("customer_id").rle_id().to_numpy(),))
    ends = np.append(starts[1:], len(key))[: len(starts)] - 1  # (no rows: no ends)
    frequency = ends - starts
    first, last = key[starts], key[ends]
    spend_units = _sums(units, starts)
    repeat_units = spend_units - units[starts]
    summary = pl.DataFrame(
        {
            "customer_id": frame.get_column("customer_id").gather(starts),
            "frequency": frequency,
            "recency": (last - first) / float(UNIT_DAYS[unit] * per_day),
            "T": (_end_key(end, period) - first) / float(UNIT_DAYS[unit] * per_day),
            "monetary_value": np.divide(
                repeat_units / 10.0**purchases.scale,
                frequency,
                out=np.zeros(len(starts)),
                where=frequency > 0,
            ),
            "repeat_spend": repeat_units,
            "spend": spend_units,
            "first_purchase": pl.Series(first // per_day).cast(pl.Int32).cast(pl.Date),
            "last_purchase": pl.Series(last // per_day).cast(pl.Int32).cast(pl.Date),
        }
    ).with_columns(_money(pl.col(c), purchases.scale).alias(c) for c in ("repeat_spend", "spend"))
    report = Report(**purchases.counts, customers=summary.height, one_purchase=int((frequency == 0).sum()))
    return Summary(summary, unit, purchases.currency, end, report, period)


def _sums(values: Ints, starts: npt.NDArray[np.intp]) -> Ints:
    """Sum of each run of ``values`` beginning at ``starts`` (none when there are no runs)."""
    return np.add.reduceat(values, starts) if len(starts) else np.zeros(0, dtype=np.int64)
