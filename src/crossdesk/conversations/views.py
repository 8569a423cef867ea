"""The inbox's views (mine, unassigned, by channel, VIP, high value, at risk, SLA breaching soon...), its
search and order, the counters next to each view, the data of a page of rows, and changes to many
conversations at once.

A page of rows costs a fixed handful of queries whatever its size: the conversations with their tags
(``service.list_conversations``), their last messages, their customers; the counters cost four more.

The high-value and at-risk views filter by the workspace's customers of that standing
(``retention.standing``), written into the query as a list of ids: fine up to tens of thousands of such
customers (the list is rendered inline, so no bound-parameter limit applies; each is one more IN test).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Integer, and_, bindparam, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.conversations import service
from crossdesk.conversations.models import Conversation, ConversationTag, Message
from crossdesk.conversations.schemas import ConversationPatch
from crossdesk.customers import service as customers
from crossdesk.retention.standing import NO_STANDINGS, Standings

ACTIVE = ("open", "pending")  # what the agents still have to work on (snoozed ones wake up by themselves)
SLA_WINDOW = dt.timedelta(minutes=30)
MAX_BULK = 500
MAX_QUERY = 200
# The views with a fixed meaning, in the order the inbox lists them; "all" is where a search looks.
FIXED_VIEWS = (
    "mine",
    "unassigned",
    "open",
    "pending",
    "snoozed",
    "resolved",
    "vip",
    "high_value",
    "at_risk",
    "sla",
)
VIEWS = (*FIXED_VIEWS, "channel", "language", "tag", "all")
# Newest activity first (the default), or the marked customers' (high value, at risk, VIP) first.
SORTS = ("recent", "important")
_CHANNEL = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")


@dataclass(frozen=True)
class View:
    """What the inbox shows: a view, its parameter (channel, language or tag), and a search."""

    name: str = "open"
    channel: str | None = None
    language: str | None = None
    tag: str | None = None
    query: str = ""
    sort: str = "recent"

    def params(self) -> dict[str, str]:
        """The view as URL query parameters (without defaults), to link to it again."""
        values = {
            "view": self.name,
            "channel": self.channel,
            "language": self.language,
            "tag": self.tag,
            "q": self.query,
            "sort": self.sort if self.sort != "recent" else None,
        }
        return {k: v for k, v in values.items() if v}


def make_view(params: Mapping[str, str]) -> View:
    """A view from untrusted URL (or form) parameters; ValueError when one is malformed."""
    query = params.get("q", "").strip()
    name = params.get("view") or ("all" if query else "open")
    channel, language, tag = params.get("channel"), params.get("language"), params.get("tag")
    sort = params.get("sort") or "recent"
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r}")
    if sort not in SORTS:
        raise ValueError(f"unknown order {sort!r}")
    if len(query) > MAX_QUERY or "\x00" in query:
        raise ValueError(f"a search is at most {MAX_QUERY} characters")
    if channel is not None and not _CHANNEL.match(channel):
        raise ValueError("malformed channel")
    if language is not None and not _LANGUAGE.match(language):
        raise ValueError("malformed language")
    if tag is not None and (not 0 < len(tag.strip()) <= 64 or "\x00" in tag):
        raise ValueError("a tag has 1 to 64 characters")
    # A parameter counts only with its own view (``?view=mine&channel=x`` is just "mine").
    return View(
        name,
        channel if name == "channel" else None,
        language if name == "language" else None,
        tag.strip() if tag is not None and name == "tag" else None,
        query,
        sort,
    )


def _vip() -> ColumnElement[bool]:
    return Conversation.customer_id.in_(customers.vip_ids())


def _customer_in(ids: frozenset[int]) -> ColumnElement[bool]:
    """The conversation's customer is one of ``ids`` (our own integers, so written into the SQL: no limit
    on bound parameters, which SQLite and asyncpg cap near 32,000)."""
    listed = bindparam("ids", sorted(ids), type_=Integer, unique=True, expanding=True, literal_execute=True)
    return Conversation.customer_id.in_(listed)


def _important(standings: Standings) -> ColumnElement[bool]:
    """The customer is high value, at risk or VIP: what "Important first" puts on top."""
    return or_(_customer_in(standings.marked), _vip())


def _sla_soon(now: dt.datetime) -> ColumnElement[bool]:
    """Open, and the first (still unanswered) or next response is due within the window, or overdue."""
    soon = now + SLA_WINDOW
    return and_(
        Conversation.status == "open",
        or_(
            and_(Conversation.first_response_at.is_(None), Conversation.first_response_due_at <= soon),
            Conversation.next_response_due_at <= soon,
        ),
    )


def _search(query: str) -> ColumnElement[bool]:
    """Message text, subject, or the customer's name, e-mail or any identity contains ``query``
    (case-insensitive; ``%`` and ``_`` are matched literally)."""
    return or_(
        Conversation.subject.icontains(query, autoescape=True),
        Conversation.customer_id.in_(customers.matching_ids(query)),
        Conversation.id.in_(
            select(Message.conversation_id).where(Message.text.icontains(query, autoescape=True))
        ),
    )


def _view_clauses(
    name: str, agent_id: int, now: dt.datetime, standings: Standings
) -> list[ColumnElement[bool]]:
    status = Conversation.status
    if name == "mine":
        return [status.in_(ACTIVE), Conversation.assignee_id == agent_id]
    if name == "unassigned":
        return [status == "open", Conversation.assignee_id.is_(None)]
    if name in ("open", "pending", "snoozed", "resolved"):
        return [status == name]
    if name == "vip":
        return [status.in_(ACTIVE), _vip()]
    if name == "high_value":
        return [status.in_(ACTIVE), _customer_in(standings.high_value)]
    if name == "at_risk":
        return [status.in_(ACTIVE), _customer_in(standings.at_risk)]
    if name == "sla":
        return [_sla_soon(now)]
    if name == "all":
        return []
    return [status.in_(ACTIVE)]  # by channel, language or tag: what is still to do there


def conditions(
    view: View, agent_id: int, now: dt.datetime, standings: Standings = NO_STANDINGS
) -> list[ColumnElement[bool]]:
    """The view's filter; ``standings`` are the workspace's high-value and at-risk customers."""
    clauses = _view_clauses(view.name, agent_id, now, standings)
    if view.channel is not None:
        clauses.append(Conversation.channel == view.channel)
    if view.language is not None:
        clauses.append(Conversation.language == view.language)
    if view.tag is not None:
        tagged = select(ConversationTag.conversation_id).where(ConversationTag.tag == view.tag)
        clauses.append(Conversation.id.in_(tagged))
    if view.query:
        clauses.append(_search(view.query))
    return clauses


@dataclass
class Counts:
    """How many conversations each view holds (channels, languages and tags: the active ones)."""

    views: dict[str, int]
    channels: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)


async def counts(
    session: AsyncSession, agent_id: int, now: dt.datetime, standings: Standings = NO_STANDINGS
) -> Counts:
    fixed = select(
        *(
            func.count().filter(and_(*_view_clauses(name, agent_id, now, standings))).label(name)
            for name in FIXED_VIEWS
        )
    ).select_from(Conversation)
    row = (await session.execute(fixed)).one()
    active = Conversation.status.in_(ACTIVE)
    by: dict[str, dict[str, int]] = {}
    for key, column in (("channels", Conversation.channel), ("languages", Conversation.language)):
        rows = await session.execute(
            select(column, func.count()).where(active, column.is_not(None)).group_by(column).order_by(column)
        )
        by[key] = {str(value): int(n) for value, n in rows}
    tag_rows = await session.execute(
        select(ConversationTag.tag, func.count())
        .join(Conversation, Conversation.id == ConversationTag.conversation_id)
        .where(active)
        .group_by(ConversationTag.tag)
        .order_by(ConversationTag.tag)
    )
    return Counts(
        {name: int(row._mapping[name]) for name in FIXED_VIEWS},
        by["channels"],
        by["languages"],
        {tag: n for tag, n in tag_rows},
    )


class LastMessage(NamedTuple):
    text: str
    direction: str


@dataclass
class Row:
    """One line of the inbox: the conversation (as the API shows it), its customer and last message."""

    conversation: dict[str, Any]
    customer: customers.Card | None
    last_message: LastMessage | None


# Plain columns rather than whole objects: a page of rows is read often and only these are shown.
async def _last_messages(session: AsyncSession, ids: list[int]) -> dict[int, LastMessage]:
    """The newest message the buyer can see of each conversation (notes are not a preview)."""
    newest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(ids), Message.is_private.is_(False))
        .group_by(Message.conversation_id)
    )
    found = await session.execute(
        select(Message.conversation_id, Message.text, Message.direction).where(Message.id.in_(newest))
    )
    return {cid: LastMessage(text, direction) for cid, text, direction in found}


async def _rows(session: AsyncSession, items: list[dict[str, Any]]) -> list[Row]:
    if not items:
        return []
    last = await _last_messages(session, [c["id"] for c in items])
    buyers = await customers.cards(session, {c["customer_id"] for c in items})
    return [Row(c, buyers.get(c["customer_id"]), last.get(c["id"])) for c in items]


async def _listed(
    session: AsyncSession, where: list[ColumnElement[bool]], cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    return await service.list_conversations(session, service.ConversationFilter(where=where), cursor, limit)


async def _important_first(
    session: AsyncSession,
    where: list[ColumnElement[bool]],
    important: ColumnElement[bool],
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """The important conversations, newest activity first, then the others the same way. Each part is
    keyset-paged by ``service.list_conversations``; the cursor says which part ("1." or "0.") and where in
    it ("0." alone: the start of the others)."""
    part, _, inner = (cursor or "1.").partition(".")
    if part not in ("0", "1"):
        raise ValueError("invalid cursor")
    items: list[dict[str, Any]] = []
    if part == "1":
        items, after = await _listed(session, [*where, important], inner or None, limit)
        if after is not None:
            return items, f"1.{after}"
        inner = ""
        if len(items) == limit:  # the important ones end with the page: the others follow, if any
            others = await session.scalar(select(Conversation.id).where(*where, not_(important)).limit(1))
            return items, "0." if others is not None else None
    rest, after = await _listed(session, [*where, not_(important)], inner or None, limit - len(items))
    return items + rest, f"0.{after}" if after is not None else None


async def page_of(
    session: AsyncSession,
    view: View,
    agent_id: int,
    now: dt.datetime,
    cursor: str | None,
    limit: int,
    standings: Standings = NO_STANDINGS,
) -> tuple[list[Row], str | None]:
    """A page of the view in its order; ValueError for a malformed cursor."""
    where = conditions(view, agent_id, now, standings)
    if view.sort == "important":
        items, next_cursor = await _important_first(session, where, _important(standings), cursor, limit)
    else:
        items, next_cursor = await _listed(session, where, cursor, limit)
    return await _rows(session, items), next_cursor


async def row_in_view(
    session: AsyncSession,
    view: View,
    agent_id: int,
    now: dt.datetime,
    conversation_id: int,
    standings: Standings = NO_STANDINGS,
) -> Row | None:
    """The conversation's row if it belongs in the view now (None if not, or not of this workspace)."""
    where = [*conditions(view, agent_id, now, standings), Conversation.id == conversation_id]
    items, _ = await service.list_conversations(session, service.ConversationFilter(where=where), None, 1)
    rows = await _rows(session, items)
    return rows[0] if rows else None


async def bulk_update(
    session: AsyncSession, ids: list[int], changes: dict[str, Any], add_tags: list[str]
) -> list[dict[str, Any]]:
    """Apply ``changes`` (a ConversationPatch's fields) and add ``add_tags`` to each conversation, through
    ``service.update_conversation`` (one code path for events and SLA). All or nothing: NotFound if any id
    is not of this workspace, ValueError if any change is refused; the caller's transaction then rolls
    back."""
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_BULK:
        raise ValueError(f"at most {MAX_BULK} conversations at once")
    # Loaded once here, so update_conversation finds each in the session instead of querying it.
    found = await session.scalars(select(Conversation).where(Conversation.id.in_(ids)))
    missing = set(ids) - {c.id for c in found}
    if missing:
        raise service.NotFound(f"conversations {sorted(missing)[:10]} not found")
    tags = await service.tags_of(session, ids) if add_tags else {}
    updated = []
    for conversation_id in ids:
        patch = dict(changes)
        if add_tags:
            patch["tags"] = list(dict.fromkeys([*tags.get(conversation_id, []), *add_tags]))
        try:
            valid = ConversationPatch.model_validate(patch)
        except ValidationError as exc:
            raise ValueError(str(exc)) from exc
        updated.append(await service.update_conversation(session, conversation_id, valid))
    return updated
