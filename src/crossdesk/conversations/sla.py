"""Response-time targets counted in the workspace's business hours.

No maintained library counts working minutes over per-weekday hours in a time zone across DST changes,
so this is the small loop: walk the local calendar day by day and spend the minutes inside each interval.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS_AHEAD = 366


Schedule = dict[int, list[tuple[dt.time, dt.time]]]  # weekday (0 = Monday) -> its intervals, in order


def parse_hours(hours: dict[str, Any]) -> Schedule:
    """``{"mon": [["09:00", "18:00"]], ...}`` → ``{0: [(09:00, 18:00)], ...}``; validates every interval."""
    parsed: Schedule = {}
    for day, intervals in hours.items():
        if day not in WEEKDAYS:
            raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
        spans = []
        for start, end in intervals:
            t0, t1 = dt.time.fromisoformat(start), dt.time.fromisoformat(end)
            if t1 <= t0 and t1 != dt.time(0):
                raise ValueError(f"{day}: interval {start}-{end} ends before it starts")
            spans.append((t0, t1))
        spans.sort()
        for (_, end_a), (start_b, _) in itertools.pairwise(spans):
            if end_a == dt.time(0) or start_b < end_a:
                raise ValueError(f"{day}: intervals overlap")
        parsed[WEEKDAYS.index(day)] = spans
    return parsed


def _open_spans(
    start: dt.datetime, schedule: Schedule, zone: ZoneInfo
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The business hours (UTC, in order) from the local day of ``start`` on, for a year at most."""
    day = start.astimezone(zone).date()
    for _ in range(MAX_DAYS_AHEAD):
        for t0, t1 in schedule.get(day.weekday(), []):
            open_at = dt.datetime.combine(day, t0, zone).astimezone(dt.UTC)
            end_day = day + dt.timedelta(days=1) if t1 == dt.time(0) else day
            yield open_at, dt.datetime.combine(end_day, t1, zone).astimezone(dt.UTC)
        day += dt.timedelta(days=1)


def add_business_minutes(
    start: dt.datetime, minutes: int, hours: dict[str, Any], timezone: str
) -> dt.datetime:
    """The moment ``minutes`` of business time after ``start`` (aware); 24/7 when no hours are set."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(dt.UTC)  # add elapsed time, not wall-clock time
    schedule = parse_hours(hours)
    remaining = dt.timedelta(minutes=minutes)
    if not any(schedule.values()):
        return start + remaining
    for open_at, close_at in _open_spans(start, schedule, ZoneInfo(timezone)):
        segment_start = max(open_at, start)
        if segment_start >= close_at:
            continue
        if segment_start + remaining <= close_at:
            return segment_start + remaining
        remaining -= close_at - segment_start
    raise ValueError("business hours leave no time within a year")


def business_seconds_between(
    start: dt.datetime, end: dt.datetime, hours: dict[str, Any], timezone: str
) -> float:
    """How much of [start, end) falls in business hours, in seconds (all of it when no hours are set);
    a wait of more than a year counts its first year."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    if end <= start:
        return 0.0
    schedule = parse_hours(hours)
    if not any(schedule.values()):
        return (end - start).total_seconds()
    total = dt.timedelta()
    for open_at, close_at in _open_spans(start, schedule, ZoneInfo(timezone)):
        if open_at >= end:
            break
        total += max(dt.timedelta(), min(close_at, end) - max(open_at, start))
    return total.total_seconds()
