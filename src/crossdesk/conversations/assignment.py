"""Auto-assignment: new conversations go round robin to the agents who can take them now.

An agent can take a conversation when active, online, inside one of their shifts (in their own zone; no
shifts: always) and speaking its language (or listing no languages). Among those, the agent assigned
longest ago (never first) gets it. One query per ingest batch; on PostgreSQL the candidates' rows are
locked (``FOR UPDATE``) until the batch commits, so two batches at once take turns instead of both
picking the same agent; ingest already serialises on the workspace's event counter at commit anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.conversations.models import Conversation
from crossdesk.conversations.sla import parse_hours
from crossdesk.workspaces import service as workspaces

if TYPE_CHECKING:
    from crossdesk.workspaces.models import Agent, Workspace

NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


def base_language(code: str | None) -> str | None:
    """ "pt-BR" → "pt"; None stays None (a conversation whose language is not known yet)."""
    return code.strip().lower().split("-")[0] if code and code.strip() else None


def on_shift(agent: Agent, now: dt.datetime) -> bool:
    """Whether ``now`` falls inside one of the agent's weekly shifts, read in the agent's own zone."""
    if not agent.shifts:
        return True
    local = now.astimezone(ZoneInfo(agent.timezone))  # validated when set
    clock = local.time()
    return any(
        start <= clock and (end == dt.time(0) or clock < end)
        for start, end in parse_hours(agent.shifts).get(local.weekday(), [])
    )


def speaks(agent: Agent, language: str | None) -> bool:
    """An agent without languages takes any; a conversation without a language goes to anyone."""
    return not agent.languages or language is None or language in agent.languages


def pick(candidates: list[Agent], language: str | None, turns: dict[int, int] | None = None) -> Agent | None:
    """The agent assigned longest ago (never assigned first, then the lowest id) who speaks ``language``;
    ``candidates`` are already active, online and on shift. ``turns`` orders the picks of one batch, which
    all get the same time."""
    order = turns or {}
    able = [a for a in candidates if speaks(a, language)]
    return min(able, key=lambda a: (a.last_assigned_at or NEVER, order.get(a.id, -1), a.id), default=None)


async def candidates(session: AsyncSession, now: dt.datetime) -> list[Agent]:
    """The agents who can take a conversation at ``now`` (their rows locked until commit)."""
    return [agent for agent in await workspaces.online_agents(session, lock=True) if on_shift(agent, now)]


async def assign_new(
    session: AsyncSession, ws: Workspace, conversations: list[Conversation], now: dt.datetime
) -> None:
    """Give each new conversation an agent (in order), if the workspace auto-assigns and anyone can take it;
    the chosen agent's ``last_assigned_at`` becomes ``now``. Leaves the others unassigned."""
    if not ws.auto_assign or not conversations:
        return
    pool = await candidates(session, now)
    turns: dict[int, int] = {}
    for index, conversation in enumerate(conversations):
        if conversation.assignee_id is not None:
            continue
        agent = pick(pool, base_language(conversation.language), turns)
        if agent is None:
            continue
        conversation.assignee_id = agent.id
        agent.last_assigned_at = now
        turns[agent.id] = index
