"""Support reports over a period of days in the viewer's zone.

One query per family of figures fetches the period's raw timestamps; bucketing by the viewer's zone and the
percentiles are done in Python, so SQLite and PostgreSQL give identical answers (their date and zone
functions differ, and a fixed UTC offset would be wrong across a DST change).

Like ``retention`` (which reads orders), reports read the conversations' and messages' tables directly:
they are aggregates over many rows, which no per-conversation service function could give in a few queries.
All times are calendar time: ``conversations.sla`` can add business minutes but not count them between
two moments, so business hours are not subtracted (``FirstResponse.business_hours`` says so).
"""

from __future__ import annotations

import bisect
import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crossdesk.conversations.models import Conversation, Message
from crossdesk.conversations.sla import business_seconds_between
from crossdesk.reports.schemas import (
    AgentRow,
    ChannelRow,
    DayRow,
    DurationStats,
    FirstResponse,
    HourRow,
    LanguageRow,
    PeriodOut,
    ReportOut,
    SlaOut,
    Totals,
    Volume,
)
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.models import Agent, Workspace

MAX_DAYS = 366
DEFAULT_DAYS = 7
REPLY_AUTHORS = ("agent", "assistant")  # an outbound message by "system" (a receipt, a bounce) is no reply
BACKLOG_STATUSES = ("open", "pending")
V = TypeVar("V", bound=Volume)
Record = Row[*tuple[Any, ...]]  # a result row of any shape


@dataclass(frozen=True)
class Period:
    """The days ``first`` to ``last`` (both included) in ``zone``: the instants [start, end)."""

    first: dt.date
    last: dt.date
    zone: ZoneInfo

    @property
    def start(self) -> dt.datetime:
        return self.day_start(self.first)

    @property
    def end(self) -> dt.datetime:
        return self.day_start(self.last + dt.timedelta(days=1))

    def day_start(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(0), self.zone).astimezone(dt.UTC)

    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.zone)


def parse_zone(name: str) -> ZoneInfo:
    """An IANA zone such as ``Europe/Berlin``; ValueError for anything else."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin") from exc


def make_period(first: dt.date, last: dt.date, timezone: str) -> Period:
    """A validated period: ``first`` on or before ``last``, at most ``MAX_DAYS`` days, a known zone."""
    if first > last:
        raise ValueError("the period's start (from) must be on or before its end (to)")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValueError(f"a period is at most {MAX_DAYS} days long")
    return Period(first, last, parse_zone(timezone))


def durations(seconds: list[float]) -> DurationStats:
    if not seconds:
        return DurationStats(count=0, median=None, p90=None, average=None)
    return DurationStats(
        count=len(seconds),
        median=float(statistics.median(seconds)),
        p90=float(np.percentile(seconds, 90)),
        average=float(statistics.fmean(seconds)),
    )


def _elapsed(later: dt.datetime, earlier: dt.datetime) -> float:
    return (later - earlier).total_seconds()


def _first_response(answered: list[Record], workspace: Workspace) -> FirstResponse:
    hours, zone = workspace.business_hours or {}, workspace.timezone
    calendar = durations([_elapsed(c.first_response_at, c.created_at) for c in answered])
    business = durations(
        [business_seconds_between(c.created_at, c.first_response_at, hours, zone) for c in answered]
    )
    return FirstResponse(**calendar.model_dump(), business=business)


async def _conversations(session: AsyncSession, p: Period) -> list[Record]:
    """Every conversation that was created in the period, resolved in it or open at some time in it, with
    the author of its first reply (the lowest-id reply; a reply to a conversation of the period is sent
    after the period's start, which keeps the grouping small)."""
    first = (
        select(Message.conversation_id, func.min(Message.id).label("message_id"))
        .where(
            Message.direction == "outbound",
            Message.author_kind.in_(REPLY_AUTHORS),
            Message.created_at >= p.start,
        )
        .group_by(Message.conversation_id)
        .subquery()
    )
    reply = aliased(Message)
    stmt = (
        select(
            Conversation.channel,
            Conversation.language,
            Conversation.assignee_id,
            Conversation.created_at,
            Conversation.first_response_at,
            Conversation.first_response_due_at,
            Conversation.resolved_at,
            reply.author_kind.label("replier_kind"),
            reply.author_agent_id.label("replier_id"),
        )
        .outerjoin(first, first.c.conversation_id == Conversation.id)
        .outerjoin(reply, reply.id == first.c.message_id)
        .where(
            Conversation.created_at < p.end,
            or_(Conversation.resolved_at.is_(None), Conversation.resolved_at >= p.start),
        )
    )
    return list((await session.execute(stmt)).all())


async def _messages(session: AsyncSession, p: Period) -> list[Record]:
    """The period's buyer messages and replies, with their conversation's language."""
    stmt = (
        select(
            Message.created_at,
            Message.direction,
            Message.author_kind,
            Message.author_agent_id,
            Message.channel,
            Conversation.language,
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.created_at >= p.start,
            Message.created_at < p.end,
            or_(
                Message.direction == "inbound",
                and_(Message.direction == "outbound", Message.author_kind.in_(REPLY_AUTHORS)),
            ),
        )
    )
    return list((await session.execute(stmt)).all())


async def _backlog_now(session: AsyncSession) -> int:
    stmt = select(func.count(Conversation.id)).where(Conversation.status.in_(BACKLOG_STATUSES))
    return int(await session.scalar(stmt) or 0)


def _in(p: Period, moment: dt.datetime | None) -> bool:
    return moment is not None and p.start <= moment < p.end


def _bucketed(keys: Iterable[Hashable], make: Callable[[Any], V], volume: dict[str, Counter[Any]]) -> list[V]:
    rows = []
    for key in keys:
        row = make(key)
        for name, counts in volume.items():
            setattr(row, name, counts[key])
        rows.append(row)
    return rows


def _by_volume(rows: list[V]) -> list[V]:
    return sorted(rows, key=lambda r: (-r.conversations, -r.inbound, -r.replies))


def _sla(created: list[Record], now: dt.datetime) -> SlaOut:
    met = missed = pending = 0
    for c in created:
        if c.first_response_due_at is None:
            continue
        if c.first_response_at is not None:
            on_time = c.first_response_at <= c.first_response_due_at
            met, missed = met + on_time, missed + (not on_time)
        elif c.first_response_due_at < now:
            missed += 1
        else:
            pending += 1
    share = met / (met + missed) if met + missed else None
    return SlaOut(met=met, missed=missed, pending=pending, attainment=share)


def _backlog(p: Period, conversations: list[Record], now: dt.datetime) -> dict[dt.date, int | None]:
    """Open conversations at each day's end (now, for today): created before it, not resolved by then.
    A conversation resolved before the period counts +1 and -1 everywhere, so leaving it out is exact."""
    created = sorted(c.created_at for c in conversations)
    resolved = sorted(c.resolved_at for c in conversations if c.resolved_at is not None)
    backlog: dict[dt.date, int | None] = {}
    for day in p.days():
        if p.day_start(day) > now:
            backlog[day] = None
            continue
        moment = min(p.day_start(day + dt.timedelta(days=1)), now)
        backlog[day] = bisect.bisect_right(created, moment) - bisect.bisect_right(resolved, moment)
    return backlog


def _agents(
    agents: list[Agent], messages: list[Record], resolved: list[Record], created: list[Record]
) -> list[AgentRow]:
    """Every active agent, any other agent with activity in the period, and a row without an agent (the
    assistant, integrations, conversations resolved unassigned) when it has activity."""
    replies = Counter(m.author_agent_id for m in messages if m.direction == "outbound")
    closed = Counter(c.assignee_id for c in resolved)
    firsts: dict[int | None, list[float]] = defaultdict(list)
    for c in created:
        if c.first_response_at is not None and c.replier_kind is not None:
            firsts[c.replier_id].append(_elapsed(c.first_response_at, c.created_at))
    names = {a.id: a.name for a in agents}
    active = {a.id for a in agents if a.is_active}
    busy = {i for i in (*replies, *closed, *firsts) if replies[i] or closed[i] or firsts[i]}
    rows = [
        AgentRow(
            agent_id=i,
            name=names.get(i) if i is not None else None,
            replies=replies[i],
            resolved=closed[i],
            first_responses=len(firsts[i]),
            median_first_response=statistics.median(firsts[i]) if firsts[i] else None,
        )
        for i in active | {i for i in busy if i is None or i in names}
    ]
    return sorted(rows, key=lambda r: (r.agent_id is None, -r.replies, -r.resolved, r.name or ""))


async def build_report(session: AsyncSession, p: Period, now: dt.datetime, workspace: Workspace) -> ReportOut:
    """The report of period ``p`` as of ``now``, from a session scoped to ``workspace``."""
    conversations = await _conversations(session, p)
    messages = await _messages(session, p)
    backlog_now = await _backlog_now(session)
    agents = await workspaces.list_agents(session)

    created = [c for c in conversations if _in(p, c.created_at)]
    resolved = [c for c in conversations if _in(p, c.resolved_at)]
    inbound = [m for m in messages if m.direction == "inbound"]
    replies = [m for m in messages if m.direction == "outbound"]

    def count(rows: list[Record], key: Callable[[Record], Any]) -> Counter[Any]:
        return Counter(key(r) for r in rows)

    def volume(key: Callable[[Record], Any]) -> dict[str, Counter[Any]]:
        """Conversations created, buyer messages and replies counted by ``key(row)`` (rows of both queries
        have ``created_at``, ``channel`` and ``language``)."""
        return {
            "conversations": count(created, key),
            "inbound": count(inbound, key),
            "replies": count(replies, key),
        }

    by_date = volume(lambda r: p.local(r.created_at).date())
    closed_by_date = count(resolved, lambda r: p.local(r.resolved_at).date())
    backlog = _backlog(p, conversations, now)
    by_day = _bucketed(p.days(), lambda d: DayRow(date=d), by_date)
    for row in by_day:
        row.resolved, row.backlog = closed_by_date[row.date], backlog[row.date]
    by_channel = volume(lambda r: r.channel)
    by_language = volume(lambda r: r.language)
    by_hour = volume(lambda r: p.local(r.created_at).hour)

    return ReportOut(
        period=PeriodOut(first_day=p.first, last_day=p.last, timezone=p.zone.key, start=p.start, end=p.end),
        generated_at=now,
        totals=Totals(
            conversations=len(created), inbound=len(inbound), replies=len(replies), resolved=len(resolved)
        ),
        first_response=_first_response([c for c in created if c.first_response_at], workspace),
        resolution=durations([_elapsed(c.resolved_at, c.created_at) for c in resolved]),
        sla=_sla(created, now),
        backlog_now=backlog_now,
        by_day=by_day,
        by_channel=_by_volume(_bucketed(_keys(by_channel), lambda k: ChannelRow(channel=k), by_channel)),
        by_language=_by_volume(_bucketed(_keys(by_language), lambda k: LanguageRow(language=k), by_language)),
        by_hour=_bucketed(range(24), lambda h: HourRow(hour=h), by_hour),
        by_agent=_agents(agents, messages, resolved, created),
    )


def _keys(volume: dict[str, Counter[Any]]) -> list[Any]:
    return list(dict.fromkeys(k for counts in volume.values() for k in counts))


COLUMNS = {
    "by_day": ("date", "conversations", "inbound", "replies", "resolved", "backlog"),
    "by_channel": ("channel", "conversations", "inbound", "replies"),
    "by_language": ("language", "conversations", "inbound", "replies"),
    "by_hour": ("hour", "conversations", "inbound", "replies"),
    "by_agent": ("agent_id", "name", "replies", "resolved", "first_responses", "median_first_response"),
}


def table(report: ReportOut, name: str) -> tuple[list[str], list[list[Any]]]:
    """One of the report's tables (a key of ``COLUMNS``) as a header and rows, for a CSV file."""
    columns = COLUMNS[name]
    return list(columns), [[getattr(r, c) for c in columns] for r in getattr(report, name)]


def requested_period(first: dt.date | None, last: dt.date | None, timezone: str, now: dt.datetime) -> Period:
    """The period a caller asked for; a missing end is today (in ``timezone``), a missing start is seven
    days before the end. ValueError with the reason when it is not a valid period."""
    today = now.astimezone(parse_zone(timezone)).date()
    last = last or today
    first = first or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    return make_period(first, last, timezone)
