"""Messages leave within the campaign's hours of the buyer's own day, never before the start, at most a
day later: whatever the zone and its daylight-saving changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossdesk.campaigns.schedule import in_window, next_send_time, zone_of

# Zones with DST both ways, half-hour and 45-minute offsets, and the date line.
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Apia",
    "Pacific/Chatham",
    "America/Santiago",
]
moments = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 12, 31), timezones=st.just(dt.UTC)
)
windows = st.tuples(st.integers(0, 23), st.integers(1, 24)).filter(lambda w: w[0] < w[1])


@settings(max_examples=600, deadline=None)
@given(start=moments, zone=st.sampled_from(ZONES), window=windows)
def test_next_send_time_is_in_the_window_never_early_and_soon(
    start: dt.datetime, zone: str, window: tuple[int, int]
) -> None:
    tz = ZoneInfo(zone)
    sent = next_send_time(start, tz, *window)
    assert sent.utcoffset() == dt.timedelta(0)
    assert in_window(sent, tz, *window), (sent.astimezone(tz), window)
    assert sent >= start
    # A day at most; two where the window lies wholly in a DST gap or a skipped day.
    assert sent - start <= dt.timedelta(hours=25 if window[1] - window[0] >= 2 else 49)
    if in_window(start, tz, *window):
        assert sent == start


def test_evening_start_waits_for_the_buyers_next_morning() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = dt.datetime(2026, 6, 1, 19, 30, tzinfo=dt.UTC)  # 21:30 in Berlin
    assert next_send_time(start, berlin, 10, 19) == dt.datetime(2026, 6, 2, 8, 0, tzinfo=dt.UTC)


def test_spring_gap_sends_at_the_first_instant_after_it() -> None:
    new_york = ZoneInfo("America/New_York")
    start = dt.datetime(2026, 3, 8, 5, 0, tzinfo=dt.UTC)  # 00:00 EST; 02:00-03:00 does not exist
    sent = next_send_time(start, new_york, 2, 5)
    assert sent == dt.datetime(2026, 3, 8, 7, 0, tzinfo=dt.UTC)  # 03:00 EDT
    assert sent.astimezone(new_york).hour == 3


def test_bad_input_is_refused_and_unknown_zones_fall_back() -> None:
    with pytest.raises(ValueError, match="hours"):
        next_send_time(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), ZoneInfo("UTC"), 19, 10)
    with pytest.raises(ValueError, match="aware"):
        next_send_time(dt.datetime(2026, 1, 1), ZoneInfo("UTC"), 10, 19)
    assert zone_of("Mars/Olympus", None, "Asia/Tokyo") == ZoneInfo("Asia/Tokyo")
    assert zone_of(None, "") == ZoneInfo("UTC")
