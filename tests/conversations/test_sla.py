"""Business-hours SLA clock: checked against an independent minute-counting reference."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossdesk.conversations.sla import WEEKDAYS, add_business_minutes, business_seconds_between, parse_hours

UTC = dt.UTC
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Shanghai", "Asia/Kolkata", "UTC"]
# DST changes: Berlin 2024-03-31 / 2024-10-27, New York 2024-03-10 / 2024-11-03 (and 2025's).
DST_DAYS = [
    dt.datetime(y, m, d, tzinfo=UTC)
    for y, m, d in [(2024, 3, 31), (2024, 10, 27), (2024, 3, 10), (2024, 11, 3), (2025, 3, 30), (2025, 11, 2)]
]
MIDNIGHT = dt.time(0)
QUARTER = dt.timedelta(minutes=15)
MINUTE = dt.timedelta(minutes=1)


def _boundary(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _safe(minutes: int) -> bool:
    # A boundary strictly inside 01:00-03:00 can fall in a DST gap or repeated hour, where "the moment
    # the wall clock shows 02:30" has no single answer; hours on the full hour are unambiguous.
    return not (60 < minutes < 180)


@st.composite
def day_intervals(draw: st.DrawFn) -> list[list[str]]:
    """0-2 disjoint intervals on quarter hours; an end of 24:00 is written "00:00" (midnight)."""
    count = draw(st.integers(0, 2))
    points = draw(
        st.lists(
            st.integers(0, 96).map(lambda q: q * 15).filter(_safe),
            min_size=2 * count,
            max_size=2 * count,
            unique=True,
        )
    )
    points.sort()
    return [[_boundary(points[i]), _boundary(points[i + 1] % 1440)] for i in range(0, len(points), 2)]


schedules = st.fixed_dictionaries({day: day_intervals() for day in WEEKDAYS}).filter(
    lambda h: any(h.values())
)
starts = st.one_of(
    st.datetimes(dt.datetime(2023, 1, 1), dt.datetime(2026, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC)
    ),
    st.builds(
        lambda base, m: base + dt.timedelta(minutes=m),
        st.sampled_from(DST_DAYS),
        st.integers(-3 * 1440, 3 * 1440),
    ),
)


def _is_business(
    moment: dt.datetime, schedule: dict[int, list[tuple[dt.time, dt.time]]], zone: ZoneInfo
) -> bool:
    """Wall-clock reading: open while the local clock shows a time inside one of the day's intervals."""
    local = moment.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    return any(t0 <= clock and (t1 == MIDNIGHT or clock < t1) for t0, t1 in schedule.get(local.weekday(), []))


def business_minutes(start: dt.datetime, end: dt.datetime, hours: dict[str, Any], timezone: str) -> int:
    """Business minutes in [start, end): a minute at a time, a quarter at a time where aligned (every
    offset used here is a multiple of 15 minutes, so a UTC quarter is all open or all closed)."""
    schedule = {
        WEEKDAYS.index(d): [(dt.time.fromisoformat(a), dt.time.fromisoformat(b)) for a, b in v]
        for d, v in hours.items()
    }
    zone = ZoneInfo(timezone)
    total, t = 0, start
    while t < end:
        step = QUARTER if t.minute % 15 == 0 and t + QUARTER <= end else MINUTE
        if _is_business(t, schedule, zone):
            total += step // MINUTE
        t += step
    return total


@settings(max_examples=150, deadline=None)
@given(start=starts, minutes=st.integers(0, 300), hours=schedules, timezone=st.sampled_from(ZONES))
def test_due_is_exactly_the_requested_business_minutes_later(
    start: dt.datetime, minutes: int, hours: dict[str, Any], timezone: str
) -> None:
    due = add_business_minutes(start, minutes, hours, timezone)
    assert due >= start
    assert business_minutes(start, due, hours, timezone) == minutes
    if minutes:  # the earliest such moment: the last minute before it is a business minute
        schedule = parse_hours(hours)
        assert _is_business(due - MINUTE, schedule, ZoneInfo(timezone))


@settings(max_examples=150, deadline=None)
@given(
    start=starts,
    length=st.integers(0, 4 * 24 * 60),
    hours=schedules,
    timezone=st.sampled_from(ZONES),
)
def test_business_time_between_two_moments_counts_the_open_minutes(
    start: dt.datetime, length: int, hours: dict[str, Any], timezone: str
) -> None:
    end = start + dt.timedelta(minutes=length)
    assert business_seconds_between(start, end, hours, timezone) == 60 * business_minutes(
        start, end, hours, timezone
    )
    # The inverse of add_business_minutes: what it adds is what this counts.
    due = add_business_minutes(start, length % 300, hours, timezone)
    assert business_seconds_between(start, due, hours, timezone) == 60 * (length % 300)


def test_business_time_is_zero_backwards_and_elapsed_time_round_the_clock() -> None:
    start = dt.datetime(2026, 3, 28, 12, tzinfo=UTC)  # over the Berlin DST change
    end = start + dt.timedelta(hours=30)
    assert business_seconds_between(end, start, {"mon": [["09:00", "17:00"]]}, "Europe/Berlin") == 0
    assert business_seconds_between(start, end, {}, "Europe/Berlin") == 30 * 3600
    with pytest.raises(ValueError, match="aware"):
        business_seconds_between(start.replace(tzinfo=None), end, {}, "UTC")


@given(
    start=st.datetimes(
        dt.datetime(2000, 1, 1),
        dt.datetime(2090, 1, 1),
        timezones=st.sampled_from([UTC, ZoneInfo("Europe/Berlin")]),
    ),
    minutes=st.integers(0, 700),  # the thinnest schedule (15 min a week) still fits in a year
    hours=st.one_of(schedules, st.just({})),
    timezone=st.sampled_from(ZONES),
)
@settings(deadline=None)
def test_due_is_never_before_start(
    start: dt.datetime, minutes: int, hours: dict[str, Any], timezone: str
) -> None:
    assert add_business_minutes(start, minutes, hours, timezone) >= start


@given(
    start=st.datetimes(
        dt.datetime(2000, 1, 1),
        dt.datetime(2090, 1, 1),
        timezones=st.sampled_from([UTC, ZoneInfo("America/New_York")]),
    ),
    minutes=st.integers(0, 100_000),
    timezone=st.sampled_from(ZONES),
    all_day=st.booleans(),
)
def test_round_the_clock_is_plain_elapsed_time(
    start: dt.datetime, minutes: int, timezone: str, all_day: bool
) -> None:
    # No hours at all, or 00:00-00:00 every day: 24/7, so DST changes must not add or lose an hour.
    hours = {day: [["00:00", "00:00"]] for day in WEEKDAYS} if all_day else {}
    # In UTC: aware + timedelta in a zone with DST is wall-clock arithmetic, not elapsed time.
    elapsed = start.astimezone(UTC) + dt.timedelta(minutes=minutes)
    assert add_business_minutes(start, minutes, hours, timezone).astimezone(UTC) == elapsed


def test_start_given_in_a_dst_zone_still_counts_elapsed_minutes() -> None:
    # Saturday noon in New York, the day before clocks spring forward: 24 h later is 13:00 EDT, not 12:00.
    start = dt.datetime(2016, 3, 12, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    due = add_business_minutes(start, 24 * 60, {}, "America/New_York")
    assert due.astimezone(UTC) == dt.datetime(2016, 3, 13, 17, 0, tzinfo=UTC)


WEEKDAY_HOURS = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


@pytest.mark.parametrize(
    ("timezone", "friday", "monday"),
    [
        # Berlin springs forward on Sunday 2024-03-31: Friday is UTC+1, Monday UTC+2.
        ("Europe/Berlin", dt.date(2024, 3, 29), dt.date(2024, 4, 1)),
        # Berlin falls back on Sunday 2024-10-27: Friday is UTC+2, Monday UTC+1.
        ("Europe/Berlin", dt.date(2024, 10, 25), dt.date(2024, 10, 28)),
        ("America/New_York", dt.date(2024, 3, 8), dt.date(2024, 3, 11)),
        ("America/New_York", dt.date(2024, 11, 1), dt.date(2024, 11, 4)),
    ],
)
def test_weekend_dst_change_keeps_the_local_opening_time(
    timezone: str, friday: dt.date, monday: dt.date
) -> None:
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(friday, dt.time(17, 0), zone).astimezone(UTC)
    due = add_business_minutes(start, 120, WEEKDAY_HOURS, timezone)
    # One hour on Friday, one from Monday's 09:00 local (whatever the new UTC offset is).
    assert due == dt.datetime.combine(monday, dt.time(10, 0), zone).astimezone(UTC)


@pytest.mark.parametrize(
    ("timezone", "day", "hours_long"),
    [
        ("Europe/Berlin", dt.date(2024, 3, 31), 23),
        ("Europe/Berlin", dt.date(2024, 10, 27), 25),
        ("America/New_York", dt.date(2024, 3, 10), 23),
        ("America/New_York", dt.date(2024, 11, 3), 25),
    ],
)
def test_a_full_business_day_on_a_dst_sunday_has_its_real_length(
    timezone: str, day: dt.date, hours_long: int
) -> None:
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(day, MIDNIGHT, zone).astimezone(UTC)
    hours = {"sun": [["00:00", "00:00"]], "mon": [["08:00", "09:00"]]}
    # Spending the whole Sunday plus 30 minutes lands in Monday's window at 08:30 local.
    due = add_business_minutes(start, hours_long * 60 + 30, hours, timezone)
    assert due == dt.datetime.combine(day + dt.timedelta(days=1), dt.time(8, 30), zone).astimezone(UTC)
    assert business_minutes(start, due, hours, timezone) == hours_long * 60 + 30


def test_interval_ending_at_midnight_runs_to_the_end_of_the_day() -> None:
    hours = {"mon": [["22:00", "00:00"]], "tue": [["09:00", "10:00"]]}
    start = dt.datetime(2024, 6, 3, 21, 0, tzinfo=UTC)  # a Monday
    assert add_business_minutes(start, 90, hours, "UTC") == dt.datetime(2024, 6, 3, 23, 30, tzinfo=UTC)
    # Two hours on Monday night, then the rest on Tuesday morning.
    assert add_business_minutes(start, 150, hours, "UTC") == dt.datetime(2024, 6, 4, 9, 30, tzinfo=UTC)


def test_start_outside_hours_waits_for_the_next_opening() -> None:
    saturday = dt.datetime(2024, 6, 8, 12, 0, tzinfo=UTC)
    assert add_business_minutes(saturday, 60, WEEKDAY_HOURS, "Asia/Shanghai") == dt.datetime(
        2024, 6, 10, 2, 0, tzinfo=UTC
    )


def test_overlapping_intervals_are_not_counted_twice() -> None:
    """Overlapping intervals must either be rejected or mean their union (09:00-13:00 here)."""
    overlapping = {"mon": [["09:00", "12:00"], ["10:00", "13:00"]]}
    start = dt.datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
    try:
        due = add_business_minutes(start, 200, overlapping, "UTC")
    except ValueError:
        return
    assert due == add_business_minutes(start, 200, {"mon": [["09:00", "13:00"]]}, "UTC")


@pytest.mark.parametrize(
    "hours",
    [
        {"monday": [["09:00", "18:00"]]},
        {"Mon": [["09:00", "18:00"]]},
        {"mon": [["18:00", "09:00"]]},
        {"mon": [["09:00", "09:00"]]},
        {"mon": [["9am", "5pm"]]},
        {"mon": [["09:00", "24:00"]]},
    ],
)
def test_invalid_hours_are_rejected(hours: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        parse_hours(hours)
    with pytest.raises(ValueError):
        add_business_minutes(dt.datetime(2024, 6, 3, tzinfo=UTC), 10, hours, "UTC")


def test_naive_start_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_business_minutes(dt.datetime(2024, 6, 3, 9, 0), 10, {}, "UTC")
