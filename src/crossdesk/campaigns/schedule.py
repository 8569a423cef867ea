"""When a campaign message may leave: within the campaign's hours of the buyer's own day.

Pure functions on aware datetimes. Local wall times go through ``zoneinfo``, so daylight-saving changes
are handled: an hour that does not exist that day (the spring gap) is the first instant after it, and an
hour that happens twice (autumn) is its first occurrence.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC
# A window may fall wholly into a daylight-saving gap on one day: the next days are tried too.
_DAYS_TRIED = 3


def zone_of(*names: str | None) -> ZoneInfo:
    """The first valid IANA zone among ``names`` (the buyer's, then the workspace's), else UTC."""
    for name in names:
        if not name:
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def in_window(moment: dt.datetime, zone: ZoneInfo, from_hour: int, until_hour: int) -> bool:
    """Whether ``moment`` falls within [from_hour, until_hour) of the wall clock in ``zone``."""
    return from_hour <= moment.astimezone(zone).hour < until_hour


def next_send_time(start: dt.datetime, zone: ZoneInfo, from_hour: int, until_hour: int) -> dt.datetime:
    """The first moment at or after ``start`` (aware) within [from_hour, until_hour) of the day in
    ``zone``, in UTC."""
    if not 0 <= from_hour < until_hour <= 24:
        raise ValueError("send hours must satisfy 0 <= from < until <= 24")
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    if in_window(start, zone, from_hour, until_hour):
        return start.astimezone(UTC)
    day = start.astimezone(zone).date()
    for offset in range(_DAYS_TRIED):
        wall = dt.datetime.combine(day + dt.timedelta(days=offset), dt.time(from_hour), tzinfo=zone)
        # Through UTC and back: a wall time in the spring gap becomes the instant just after it.
        candidate = wall.astimezone(UTC)
        if candidate >= start and in_window(candidate, zone, from_hour, until_hour):
            return candidate
    raise ValueError("no sending window in the coming days")  # only for a window inside a DST gap
