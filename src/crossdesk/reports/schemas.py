"""A report as the API shows it (durations in seconds, times aware UTC, days in the viewer's zone)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class PeriodOut(BaseModel):
    first_day: dt.date = Field(description="The first day of the period (in `timezone`).")
    last_day: dt.date = Field(description="The last day of the period, included.")
    timezone: str
    start: dt.datetime = Field(description="The period's first moment (UTC).")
    end: dt.datetime = Field(
        description="The moment after the period's last (UTC); the period is [start, end)."
    )


class Totals(BaseModel):
    conversations: int = Field(description="Conversations created in the period.")
    inbound: int = Field(description="Buyer messages received.")
    replies: int = Field(description="Replies sent to buyers (by agents, integrations or the assistant).")
    resolved: int = Field(description="Conversations resolved in the period.")


class DurationStats(BaseModel):
    count: int
    median: float | None
    p90: float | None
    average: float | None


class FirstResponse(DurationStats):
    """Calendar time from the conversation's start to its first reply, and (``business``) the part of it
    inside the workspace's business hours, which is what the SLA targets count."""

    business: DurationStats


class SlaOut(BaseModel):
    met: int = Field(description="First response on or before its due time.")
    missed: int = Field(description="First response after its due time, or none yet and past due.")
    pending: int = Field(description="Not answered yet and not due yet: not counted either way.")
    attainment: float | None = Field(description="met / (met + missed); none when nothing was due.")


class Volume(BaseModel):
    conversations: int = 0
    inbound: int = 0
    replies: int = 0


class DayRow(Volume):
    date: dt.date
    resolved: int = 0
    backlog: int | None = Field(
        None, description="Open conversations at the day's end (none for future days)."
    )


class ChannelRow(Volume):
    channel: str


class LanguageRow(Volume):
    language: str | None


class HourRow(Volume):
    hour: int = Field(ge=0, le=23, description="The hour of day in the report's zone.")


class AgentRow(BaseModel):
    agent_id: int | None = Field(description="None: replies without an agent (integrations, assistant) and "
                                 "conversations resolved while unassigned.")  # fmt: skip
    name: str | None
    replies: int = 0
    resolved: int = 0
    first_responses: int = Field(0, description="Conversations of the period this agent answered first.")
    median_first_response: float | None = None


class ReportOut(BaseModel):
    period: PeriodOut
    generated_at: dt.datetime
    totals: Totals
    first_response: FirstResponse
    resolution: DurationStats
    sla: SlaOut
    backlog_now: int = Field(description="Conversations open or pending right now.")
    by_day: list[DayRow]
    by_channel: list[ChannelRow]
    by_language: list[LanguageRow]
    by_hour: list[HourRow]
    by_agent: list[AgentRow]
