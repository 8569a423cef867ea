"""Purchase records to per-customer summaries: the published CDNOW figures, the invariants against a slow
reference, and every kind of bad input handled and explained."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossdesk.retention.transactions import (
    BadTransactions,
    MixedCurrencies,
    Purchase,
    records_frame,
    split,
    summarise,
)
from tests.retention import cdnow

UTC = dt.UTC
END = dt.date(2024, 3, 31)


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def rows(summary_frame: pl.DataFrame) -> dict[object, dict[str, object]]:
    return {row["customer_id"]: row for row in summary_frame.iter_rows(named=True)}


@pytest.mark.skipif(not cdnow.SAMPLE.exists(), reason=cdnow.MISSING)
def test_cdnow_calibration_summary_is_the_published_one() -> None:
    summary = summarise(cdnow.records(), dt.date(1997, 9, 30), unit="weeks")
    frame = summary.frame
    assert frame.height == 2357
    assert frame["frequency"].sum() == 2457  # repeat purchases (distinct days) in 1997-01-01..09-30
    assert summary.report.one_purchase == 1411
    first = rows(frame)[1]
    assert first["frequency"] == 2
    assert first["recency"] == pytest.approx(213 / 7) and first["T"] == pytest.approx(272 / 7)
    assert first["repeat_spend"] == Decimal("44.69") and first["monetary_value"] == pytest.approx(22.345)
    assert first["spend"] == Decimal("74.02")  # 29.33 on the first day, then 29.73 and 14.96
    repeaters = frame.filter(pl.col("frequency") > 0)
    assert repeaters.height == 946
    assert repeaters["monetary_value"].mean() == pytest.approx(35.0778, abs=1e-4)
    # Eight customers' only order is $0.00 (free): still a purchase, so all 2,357 stay.
    assert summary.report.returned_purchases == 0


# --- invariants against a slow reference -------------------------------------------------------------

records_strategy = st.lists(
    st.tuples(
        st.integers(0, 6),  # customer
        st.integers(0, 100),  # day offset from 2024-01-01 (END is day 90: some are after it)
        st.integers(0, 23),  # hour
        st.decimals(min_value=-50, max_value=500, places=2, allow_nan=False, allow_infinity=False),
        st.one_of(st.none(), st.integers(0, 4)),  # order id
    ),
    max_size=60,
)


def reference(
    records: list[tuple[int, int, int, Decimal, int | None]],
) -> dict[int, tuple[int, Decimal, Decimal]]:
    """The rules written out slowly: customer -> (frequency, repeat spend, spend), days as offsets."""
    last_day = (END - dt.date(2024, 1, 1)).days
    identified = set(r for r in records if r[4] is not None)  # an order's record delivered twice: once
    kept = [r for r in [*identified, *(r for r in records if r[4] is None)] if r[1] <= last_day]
    refunded_orders = {(c, o) for c, _, _, amount, o in kept if o is not None and amount < 0}
    lines = [(c, day, amount, amount < 0) for c, day, _, amount, o in kept if (c, o) not in refunded_orders]
    for c, o in refunded_orders:
        members = [r for r in kept if (r[0], r[4]) == (c, o)]
        lines.append((c, min(r[1] for r in members), sum(r[3] for r in members), True))
    purchases: dict[tuple[int, int], tuple[Decimal, bool]] = {}
    for c, day, amount, refund in lines:
        total, refunded = purchases.get((c, day), (Decimal(0), False))
        purchases[c, day] = (total + amount, refunded or refund)
    by_customer: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for (c, day), (total, refunded) in purchases.items():
        if not (refunded and total <= 0):
            by_customer[c].append((day, total))
    return {
        c: (len(p) - 1, sum((a for _, a in sorted(p)[1:]), Decimal(0)), sum((a for _, a in p), Decimal(0)))
        for c, p in by_customer.items()
    }


@settings(max_examples=60, deadline=None)
@given(records_strategy)
def test_summary_matches_the_rules_written_out_slowly(
    records: list[tuple[int, int, int, Decimal, int | None]],
) -> None:
    purchases = [
        Purchase(c, at("2024-01-01", hour) + dt.timedelta(days=day), amount, "USD", o)
        for c, day, hour, amount, o in records
    ]
    frame = records_frame(purchases).with_columns(pl.col("amount").cast(pl.Decimal(38, 2)))
    summary = summarise(frame, END, unit="days")
    got = rows(summary.frame)
    expected = reference(records)
    assert {c: (r["frequency"], r["repeat_spend"], r["spend"]) for c, r in got.items()} == expected
    orders = defaultdict(int)
    for c, *_ in records:
        orders[c] += 1
    for c, r in got.items():
        assert r["frequency"] <= orders[c] - 1 < len(records)
        assert 0 <= r["recency"] <= r["T"]
        assert r["recency"] == (r["last_purchase"] - r["first_purchase"]).days
        assert isinstance(r["repeat_spend"], Decimal)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6)), min_size=1, max_size=40))
def test_exact_period_measures_from_the_first_order_to_the_end_of_the_last_day(
    orders: list[tuple[int, int]],
) -> None:
    frame = records_frame(
        Purchase(c, at("2024-03-01", 0) + dt.timedelta(seconds=s), Decimal("5.00"), "USD") for c, s in orders
    )
    summary = summarise(frame, END, unit="days", period="exact")
    end = dt.datetime(2024, 4, 1, tzinfo=UTC)
    for c, r in rows(summary.frame).items():
        times = sorted({s for cc, s in orders if cc == c})
        first = at("2024-03-01", 0) + dt.timedelta(seconds=times[0])
        assert r["frequency"] == len(times) - 1
        assert r["T"] == pytest.approx((end - first).total_seconds() / 86400)
        assert r["recency"] == pytest.approx((times[-1] - times[0]) / 86400)


# --- bad input: handled and explained ----------------------------------------------------------------


def test_one_order_customers_have_frequency_zero_and_no_monetary_value() -> None:
    frame = records_frame([Purchase("solo", at("2024-02-01"), Decimal("20.00"), "EUR")])
    summary = summarise(frame, END)
    only = rows(summary.frame)["solo"]
    assert (only["frequency"], only["recency"], only["monetary_value"]) == (0, 0.0, 0.0)
    assert only["T"] == pytest.approx(59 / 7)
    assert summary.report.one_purchase == 1
    assert (
        "1 customers bought once (frequency 0): no repeat purchase to learn from" in summary.report.explain()
    )


def test_orders_after_the_observation_end_are_dropped_and_counted() -> None:
    frame = records_frame(
        [
            Purchase(1, at("2024-03-01"), Decimal("10.00"), "USD"),
            Purchase(1, at("2024-03-31", 23), Decimal("10.00"), "USD"),  # on the end day: kept
            Purchase(1, at("2024-04-01", 0), Decimal("10.00"), "USD"),
            Purchase(2, at("2031-01-01"), Decimal("99.00"), "USD"),  # a clock gone wrong
        ]
    )
    summary = summarise(frame, END, unit="days")
    assert rows(summary.frame)[1]["frequency"] == 1
    assert 2 not in rows(summary.frame)
    assert summary.report.after_end == 2
    assert "2 records were dated after the observation end and were dropped" in summary.report.explain()


def test_a_refund_nets_into_its_order_even_on_a_later_day() -> None:
    frame = records_frame(
        [
            Purchase(1, at("2024-01-10"), Decimal("30.00"), "USD", "A"),
            Purchase(1, at("2024-02-10"), Decimal("50.00"), "USD", "B"),
            Purchase(1, at("2024-02-20"), Decimal("-20.00"), "USD", "B"),  # partial refund of B
            Purchase(1, at("2024-02-10"), Decimal("-5.00"), "USD", "B"),  # a returned line: negative qty
        ]
    )
    summary = summarise(frame, END, unit="days")
    customer = rows(summary.frame)[1]
    assert customer["frequency"] == 1 and customer["repeat_spend"] == Decimal("25.00")
    assert customer["last_purchase"] == dt.date(2024, 2, 10), "the refund's day is no purchase"
    assert summary.report.refund_records == 2


def test_a_purchase_refunded_in_full_is_dropped_but_a_free_order_is_kept() -> None:
    frame = records_frame(
        [
            Purchase(1, at("2024-01-10"), Decimal("30.00"), "USD", "A"),
            Purchase(1, at("2024-02-10"), Decimal("50.00"), "USD", "B"),
            Purchase(1, at("2024-03-01"), Decimal("-50.00"), "USD", "B"),  # returned in full
            Purchase(1, at("2024-03-05"), Decimal("0.00"), "USD", "C"),  # a free sample: a purchase
            Purchase(2, at("2024-01-15"), Decimal("40.00"), "USD"),
            Purchase(2, at("2024-01-15", 18), Decimal("-40.00"), "USD"),  # no order id: nets into its day
        ]
    )
    summary = summarise(frame, END, unit="days")
    customer = rows(summary.frame)[1]
    assert customer["frequency"] == 1 and customer["last_purchase"] == dt.date(2024, 3, 5)
    assert customer["repeat_spend"] == Decimal("0.00")
    assert 2 not in rows(summary.frame), "customer 2's only purchase was returned"
    assert summary.report.returned_purchases == 2
    assert "2 purchases were refunded to zero or less and were dropped" in summary.report.explain()


def test_mixed_currencies_without_a_converter_are_refused_clearly() -> None:
    frame = records_frame(
        [
            Purchase(1, at("2024-01-10"), Decimal("30.00"), "USD"),
            Purchase(1, at("2024-01-11"), Decimal("30.00"), "eur "),  # normalised to EUR
        ]
    )
    with pytest.raises(MixedCurrencies, match="in EUR, USD; give one target currency and a converter"):
        summarise(frame, END)
    with pytest.raises(MixedCurrencies):
        summarise(frame, END, currency="USD")


def test_mixed_currencies_are_converted_exactly_and_rounded_to_the_minor_unit() -> None:
    frame = records_frame(
        [
            Purchase(1, at("2024-01-10"), Decimal("1000"), "JPY"),
            Purchase(1, at("2024-01-11"), Decimal("10.05"), "USD"),
            Purchase(1, at("2024-01-12"), Decimal("10.15"), "USD"),
        ]
    )
    calls: list[tuple[str, str, dt.date]] = []

    def convert(code: str, to: str, day: dt.date) -> Decimal:
        calls.append((code, to, day))
        return Decimal("150")  # 1 USD = 150 JPY

    summary = summarise(frame, END, currency="JPY", convert=convert)
    # 10.05 * 150 = 1507.5 -> 1508 and 10.15 * 150 = 1522.5 -> 1522: half-to-even, whole yen.
    assert rows(summary.frame)[1]["repeat_spend"] == Decimal("3030")
    assert summary.currency == "JPY" and summary.report.converted == 2
    assert sorted(calls) == [("USD", "JPY", dt.date(2024, 1, 11)), ("USD", "JPY", dt.date(2024, 1, 12))]


def test_a_converter_without_a_rate_is_reported_not_crashed() -> None:
    frame = records_frame(
        [
            Purchase(1, at("2024-01-10"), Decimal("10"), "USD"),
            Purchase(1, at("2024-01-11"), Decimal("10"), "XYZ"),
        ]
    )
    with pytest.raises(BadTransactions, match="no usable rate from XYZ to USD on 2024-01-11"):
        summarise(frame, END, currency="USD", convert=lambda c, to, day: None)
    with pytest.raises(BadTransactions, match=r"\(got 1\.1\)"):
        summarise(frame, END, currency="USD", convert=lambda c, to, day: 1.1)  # a float: not a rate

    def broken(code: str, to: str, day: dt.date) -> Decimal:
        raise KeyError(code)

    with pytest.raises(BadTransactions, match="no rate from XYZ to USD on 2024-01-11: 'XYZ'"):
        summarise(frame, END, currency="USD", convert=broken)


def test_duplicate_deliveries_of_an_order_are_dropped_but_identical_anonymous_orders_are_kept() -> None:
    twice = Purchase(1, at("2024-01-10"), Decimal("30.00"), "USD", "A-1")
    anonymous = Purchase(2, at("2024-01-10"), Decimal("9.99"), "USD")
    frame = records_frame(
        [
            twice,
            twice,
            Purchase(1, at("2024-02-10"), Decimal("5.00"), "USD", "A-2"),
            anonymous,
            anonymous,
            Purchase(2, at("2024-02-10"), Decimal("1.00"), "USD"),
        ]
    )
    summary = summarise(frame, END)
    assert summary.report.duplicates == 1
    assert rows(summary.frame)[2]["repeat_spend"] == Decimal("1.00")
    split_ = split(frame, dt.date(2024, 1, 31), END)
    assert rows(split_.holdout)[1]["holdout_spend"] == Decimal("5.00")


def test_incomplete_and_malformed_records_are_dropped_and_counted() -> None:
    frame = pl.DataFrame(
        {
            "customer_id": [1, None, 1, 1, 1],
            "at": [at("2024-01-10"), at("2024-01-11"), None, at("2024-01-12"), at("2024-01-13")],
            "amount": [Decimal("1.00"), Decimal("2.00"), Decimal("3.00"), Decimal("4.00"), Decimal("1e30")],
            "currency": ["USD", "USD", "USD", "US$", "USD"],
        }
    )
    summary = summarise(frame, END)
    assert summary.report.incomplete == 4 and summary.frame.height == 1
    assert "4 records had a missing field, a malformed currency or an impossible amount: dropped" in (
        summary.report.explain()
    )


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (pl.DataFrame({"customer_id": [1], "at": [at("2024-01-01")]}), "need the columns amount, currency"),
        (
            pl.DataFrame(
                {
                    "customer_id": [1],
                    "at": [dt.datetime(2024, 1, 1)],
                    "amount": [Decimal(1)],
                    "currency": ["USD"],
                }
            ),
            "must be timezone-aware",
        ),
        (
            pl.DataFrame(
                {"customer_id": [1], "at": [at("2024-01-01")], "amount": [1.5], "currency": ["USD"]}
            ),
            "must be Decimal",
        ),
        (
            pl.DataFrame(
                {"customer_id": [1], "at": ["2024-01-01"], "amount": [Decimal(1)], "currency": ["USD"]}
            ),
            "must be a datetime or a date",
        ),
    ],
)
def test_unusable_input_says_why(frame: pl.DataFrame, reason: str) -> None:
    with pytest.raises(BadTransactions, match=reason):
        summarise(frame, END)


def test_naive_times_are_refused_as_records_too() -> None:
    with pytest.raises(BadTransactions, match="2024-01-01 00:00:00 has no time zone"):
        records_frame([Purchase(1, dt.datetime(2024, 1, 1), Decimal(1), "USD")])


def test_amounts_too_large_to_add_up_exactly_are_refused() -> None:
    huge = [Purchase(1, at("2024-01-10"), Decimal("99999999999999.9999"), "USD")] * 100_000
    with pytest.raises(BadTransactions, match="amounts too large to add up exactly"):
        summarise(records_frame(huge), END)


def test_no_records_give_an_empty_summary() -> None:
    summary = summarise(records_frame([]), END)
    assert summary.frame.height == 0 and summary.report.customers == 0


def test_local_times_count_on_their_utc_day() -> None:
    new_york = ZoneInfo("America/New_York")
    frame = records_frame(
        [
            Purchase(1, dt.datetime(2024, 1, 1, 20, tzinfo=new_york), Decimal("1.00"), "USD"),  # Jan 2 UTC
            Purchase(1, dt.datetime(2024, 1, 2, 1, tzinfo=UTC), Decimal("2.00"), "USD"),
            Purchase(1, dt.date(2024, 1, 5), Decimal("3.00"), "USD"),
        ]
    )
    customer = rows(summarise(frame, END).frame)[1]
    assert customer["first_purchase"] == dt.date(2024, 1, 2)
    assert customer["frequency"] == 1 and customer["repeat_spend"] == Decimal("3.00")


def test_split_counts_holdout_purchases_of_calibration_customers_only() -> None:
    frame = records_frame(
        [
            Purchase(1, at("2024-01-10"), Decimal("10.00"), "USD"),
            Purchase(1, at("2024-01-31", 23), Decimal("10.00"), "USD"),  # the calibration's last day
            Purchase(1, at("2024-02-01", 0), Decimal("7.00"), "USD"),
            Purchase(1, at("2024-03-01"), Decimal("8.00"), "USD"),
            Purchase(2, at("2024-02-15"), Decimal("9.00"), "USD"),  # new in the holdout: not forecast
            Purchase(3, at("2024-01-05"), Decimal("9.00"), "USD"),
        ]
    )
    result = split(frame, dt.date(2024, 1, 31), dt.date(2024, 3, 31), unit="days")
    assert rows(result.calibration.frame)[1]["frequency"] == 1
    holdout = rows(result.holdout)
    assert holdout[1]["holdout_purchases"] == 2 and holdout[1]["holdout_spend"] == Decimal("15.00")
    assert holdout[3]["holdout_purchases"] == 0 and holdout[3]["holdout_spend"] == Decimal("0.00")
    assert 2 not in holdout and result.only_in_holdout == 1
    assert result.holdout_length == 60
    with pytest.raises(BadTransactions, match="holdout must end after"):
        split(frame, END, END)
