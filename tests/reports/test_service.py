"""The report's figures, checked exactly on a small workspace with known times around a DST change.

Europe/Berlin moves from +01:00 to +02:00 at 01:00 UTC on 2026-03-29, so the local hour 02 does not exist
that day; the period is the local days 28 to 30 March.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import update

from crossdesk.conversations import service as conversations
from crossdesk.conversations.ingest import ingest
from crossdesk.conversations.models import Conversation, Message
from crossdesk.conversations.schemas import ConversationPatch, InboundMessage
from crossdesk.db import Database
from crossdesk.reports import service
from crossdesk.reports.schemas import ReportOut
from crossdesk.workspaces import service as workspaces
from tests.conftest import PASSWORD, Tenant

ZONE = "Europe/Berlin"
FIRST, LAST = dt.date(2026, 3, 28), dt.date(2026, 3, 30)
NOW = dt.datetime(2026, 3, 30, 12, 0, tzinfo=dt.UTC)
SLA = dt.timedelta(minutes=60)  # the workspace default; the tenant fixture's business hours are 24/7


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=dt.UTC)


@dataclass
class Shop:
    """A workspace written through the services, then moved to known times."""

    db: Database
    workspace_id: int
    agents: dict[str, int] = field(default_factory=dict)
    customers: dict[str, str] = field(default_factory=dict)

    async def add_agent(self, name: str) -> int:
        async with self.db.transaction(system=True) as session:
            agent = await workspaces.create_agent(
                session, self.workspace_id, email=f"{uuid.uuid4().hex[:10]}@example.com", name=name,
                password=PASSWORD,
            )  # fmt: skip
        self.agents[name] = agent.id
        return agent.id

    async def buyer(
        self, who: str, when: dt.datetime, channel: str = "api", language: str | None = None
    ) -> int:
        """A buyer message at ``when``; returns the conversation (a new one is created at ``when``)."""
        email = self.customers.setdefault(who, f"{who}-{uuid.uuid4().hex[:8]}@example.com")
        message = InboundMessage(
            channel=channel, platform_message_id=uuid.uuid4().hex, text="Where is my parcel?",
            sender={"name": who, "email": email}, language=language,
        )  # fmt: skip
        result = await ingest(self.db, self.workspace_id, message)
        async with self.db.transaction(self.workspace_id) as session:
            conversation = await conversations.get_conversation(session, result.conversation_id)
            if len(await conversations.messages_of(session, conversation.id)) == 1:
                await self._set(session, conversation.id, created_at=when, first_response_due_at=when + SLA)
            await self._move(session, result.message_id, when)
        return result.conversation_id

    async def reply(
        self, conversation_id: int, agent: str | None, when: dt.datetime, private: bool = False
    ) -> None:
        """A reply (or note) by ``agent``, or by an integration (no agent) when None."""
        async with self.db.transaction(self.workspace_id) as session:
            unanswered = (
                await conversations.get_conversation(session, conversation_id)
            ).first_response_at is None
            agent_id = self.agents[agent] if agent else None
            out = await conversations.add_agent_message(
                session, conversation_id, agent_id, "On it", private=private
            )
            if unanswered and not private:
                await self._set(session, conversation_id, first_response_at=when)
            await self._move(session, out["id"], when)

    async def resolve(self, conversation_id: int, when: dt.datetime, assignee: str | None = None) -> None:
        async with self.db.transaction(self.workspace_id) as session:
            patch = {"status": "resolved"}
            if assignee:
                patch["assignee_id"] = self.agents[assignee]  # type: ignore[assignment]
            await conversations.update_conversation(session, conversation_id, ConversationPatch(**patch))
            await self._set(session, conversation_id, resolved_at=when)

    @staticmethod
    async def _set(session: Any, conversation_id: int, **times: dt.datetime) -> None:
        await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(**times))

    @staticmethod
    async def _move(session: Any, message_id: int, when: dt.datetime) -> None:
        await session.execute(
            update(Message).where(Message.id == message_id).values(created_at=when, sent_at=when)
        )


async def alpha_shop(db: Database, tenant: Tenant) -> Shop:
    """Six conversations (one from before the period), replies by two agents and an integration."""
    shop = Shop(db, tenant.workspace_id, {"Owner": tenant.owner_id})
    await shop.add_agent("Bea")
    await shop.add_agent("Cy")  # active, did nothing: listed with zeros
    c0 = await shop.buyer("old", at(27, 20))  # before the period, never answered: backlog only
    c1 = await shop.buyer("anna", at(28, 0, 30), language="de")  # 01:30 CET
    await shop.buyer("anna", at(28, 0, 50), language="de")
    await shop.reply(c1, "Owner", at(28, 0, 40))  # 10 min, on time
    await shop.reply(c1, "Owner", at(28, 0, 45), private=True)  # a note is no reply
    await shop.resolve(c1, at(28, 2, 30), assignee="Owner")  # after 2 h
    c2 = await shop.buyer(
        "bert", at(29, 0, 30), channel="email", language="fr"
    )  # 01:30 CET, before the change
    await shop.reply(c2, "Bea", at(29, 2, 30))  # 2 h: late
    await shop.reply(c2, "Bea", at(29, 22, 30))  # 00:30 CEST on the 30th
    await shop.resolve(c2, at(29, 23), assignee="Bea")  # 01:00 CEST on the 30th, after 22.5 h
    await shop.buyer("carl", at(29, 1, 30), language="de")  # 03:30 CEST (02:30 with a fixed +1), unanswered
    c4 = await shop.buyer("dora", at(30, 10))  # 12:00 CEST, no language
    await shop.reply(c4, None, at(30, 10, 30))  # an integration, 30 min
    await shop.buyer("emil", at(30, 11, 30), language="ja")  # due 12:30, after NOW: pending
    assert c0 not in (c1, c2, c4)
    return shop


async def beta_shop(db: Database, tenant: Tenant) -> None:
    """Another workspace busy in the same days: none of it may show in alpha's report."""
    shop = Shop(db, tenant.workspace_id, {"Owner": tenant.owner_id})
    await shop.add_agent("Zed")
    for day in (28, 29, 30):
        c = await shop.buyer(f"x{day}", at(day, 9), language="de")
        await shop.reply(c, "Zed", at(day, 9, 5))
        await shop.resolve(c, at(day, 9, 10), assignee="Zed")


async def alpha_report(db: Database, tenant: Tenant) -> ReportOut:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        workspace = await workspaces.get_workspace(session, tenant.workspace_id)
        return await service.build_report(session, service.make_period(FIRST, LAST, ZONE), NOW, workspace)


@pytest.fixture
async def report(db: Database, tenant: Tenant, other_tenant: Tenant) -> ReportOut:
    await alpha_shop(db, tenant)
    await beta_shop(db, other_tenant)
    return await alpha_report(db, tenant)


def test_the_period_is_the_local_days(report: ReportOut) -> None:
    assert report.period.start == at(27, 23) and report.period.end == at(30, 22)  # CET start, CEST end


async def test_first_response_in_business_hours_counts_only_open_time(
    db: Database, tenant: Tenant, report: ReportOut
) -> None:
    # Open Saturday 01:35-02:00 and Monday 09:00-18:00 in Berlin: of the three first responses, 01:30-01:40
    # CET on Saturday counts 5 min, Sunday's (01:30 CET to 04:30 CEST) none, Monday's 12:00-12:30 all.
    async with db.transaction(tenant.workspace_id) as session:
        await workspaces.update_workspace(
            session,
            tenant.workspace_id,
            {"timezone": ZONE, "business_hours": {"sat": [["01:35", "02:00"]], "mon": [["09:00", "18:00"]]}},
        )
    business = (await alpha_report(db, tenant)).first_response.business
    assert (business.count, business.median, business.average) == (3, 300, 700)
    assert report.first_response.median == 1800  # calendar time is unchanged


def test_totals(report: ReportOut) -> None:
    assert report.totals.model_dump() == {"conversations": 5, "inbound": 6, "replies": 4, "resolved": 2}


def test_first_response_and_resolution_times(report: ReportOut) -> None:
    # First responses: 600 s, 7,200 s, 1,800 s; two unanswered. Resolutions: 7,200 s and 81,000 s.
    first = report.first_response
    assert (first.count, first.median, first.average) == (3, 1800, 3200)
    assert first.business == service.durations([600, 7200, 1800])  # open 24/7: the same
    assert first.p90 == pytest.approx(6120)  # linear interpolation: 1,800 + 0.8 × 5,400
    assert (report.resolution.count, report.resolution.median) == (2, 44100)
    assert report.resolution.p90 == pytest.approx(73620)


def test_sla_counts_unanswered_past_due_as_missed(report: ReportOut) -> None:
    assert report.sla.model_dump() == {"met": 2, "missed": 2, "pending": 1, "attainment": 0.5}


def test_by_day_with_the_backlog_at_each_days_end(report: ReportOut) -> None:
    days = [(r.date.day, r.conversations, r.inbound, r.replies, r.resolved, r.backlog) for r in report.by_day]
    assert days == [(28, 1, 2, 1, 1, 1), (29, 2, 2, 1, 0, 3), (30, 2, 2, 2, 1, 4)]
    assert report.backlog_now == 4  # the old one, carl's, dora's and emil's


def test_by_hour_in_the_viewers_zone_across_the_dst_change(report: ReportOut) -> None:
    counts = {r.hour: (r.conversations, r.inbound, r.replies) for r in report.by_hour}
    hours = {h: c for h, c in counts.items() if c != (0, 0, 0)}
    assert hours == {0: (0, 0, 1), 1: (2, 3, 1), 3: (1, 1, 0), 4: (0, 0, 1), 12: (1, 1, 1), 13: (1, 1, 0)}
    assert [r.hour for r in report.by_hour] == list(range(24))


def test_by_channel_and_language(report: ReportOut) -> None:
    assert [(r.channel, r.conversations, r.inbound, r.replies) for r in report.by_channel] == [
        ("api", 4, 5, 2),
        ("email", 1, 1, 2),
    ]
    assert [(r.language, r.conversations, r.inbound, r.replies) for r in report.by_language] == [
        ("de", 2, 3, 1),
        ("fr", 1, 1, 2),
        (None, 1, 1, 1),
        ("ja", 1, 1, 0),
    ]


def test_per_agent_and_never_another_workspaces(report: ReportOut) -> None:
    rows = [
        (r.name, r.replies, r.resolved, r.first_responses, r.median_first_response) for r in report.by_agent
    ]
    assert rows == [
        ("Bea", 2, 1, 1, 7200),
        ("Owner", 1, 1, 1, 600),
        ("Cy", 0, 0, 0, None),
        (None, 1, 0, 1, 1800),  # the integration's reply
    ]


def test_csv_tables_put_the_key_first(report: ReportOut) -> None:
    header, rows = service.table(report, "by_day")
    assert header == ["date", "conversations", "inbound", "replies", "resolved", "backlog"]
    assert rows[0] == [FIRST, 1, 2, 1, 1, 1]
    header, rows = service.table(report, "by_agent")
    assert header[:2] == ["agent_id", "name"] and rows[0][1:] == ["Bea", 2, 1, 1, 7200]


async def test_future_days_have_no_backlog_and_an_empty_workspace_reports_zeros(
    db: Database, tenant: Tenant
) -> None:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        period = service.make_period(LAST, LAST + dt.timedelta(days=1), ZONE)
        workspace = await workspaces.get_workspace(session, tenant.workspace_id)
        empty = await service.build_report(session, period, NOW, workspace)
    assert [r.backlog for r in empty.by_day] == [0, None]
    assert empty.first_response.median is None and empty.sla.attainment is None
    assert [r.name for r in empty.by_agent] == ["Owner"]


@pytest.mark.parametrize(
    ("first", "last", "zone", "reason"),
    [
        (LAST, FIRST, ZONE, "on or before"),
        (dt.date(2025, 1, 1), dt.date(2026, 1, 2), ZONE, "at most 366 days"),
        (FIRST, LAST, "Mars/Olympus", "unknown time zone"),
        (FIRST, LAST, "../etc/passwd", "unknown time zone"),
    ],
)
def test_invalid_periods(first: dt.date, last: dt.date, zone: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        service.make_period(first, last, zone)
    assert len(service.make_period(dt.date(2025, 1, 1), dt.date(2026, 1, 1), ZONE).days()) == 366
