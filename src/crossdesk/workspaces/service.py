"""Workspaces, agents, login sessions and API tokens."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.db import utcnow
from crossdesk.workspaces.models import ROLES, Agent, ApiToken, LoginSession, Workspace
from crossdesk.workspaces.security import hash_password, new_token, token_digest, verify_password

TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)
API_TOKEN_PREFIX = "cdk_"  # noqa: S105 - a public prefix, not a secret


class Conflict(ValueError):
    """The thing to create exists already."""


class NotAllowed(PermissionError):
    """The caller's role may not make this change (only an owner makes or changes an owner)."""


class LastOwner(ValueError):
    """The change would leave the workspace without an active owner."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: an agent through a login session, or an integration through an API token."""

    workspace_id: int
    role: str
    agent_id: int | None
    csrf_token: str | None = None  # only for login sessions
    # An API token whose last_used_at is old enough to be worth a write (see touch_api_token).
    stale_token_id: int | None = None

    def can_admin(self) -> bool:
        return self.role in ("owner", "admin")


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:48] or "workspace"


async def create_workspace(session: AsyncSession, name: str, **fields: object) -> Workspace:
    """Create a workspace (system session) with a slug derived from its name, made unique."""
    base = slugify(name)
    taken = set((await session.scalars(select(Workspace.slug).where(Workspace.slug.like(f"{base}%")))).all())
    slug = (
        base
        if base not in taken
        else next(f"{base}-{i}" for i in range(2, 10_000) if f"{base}-{i}" not in taken)
    )
    workspace = Workspace(name=name, slug=slug, **fields)
    session.add(workspace)
    await session.flush()
    return workspace


async def get_workspace(session: AsyncSession, workspace_id: int) -> Workspace:
    return await session.get_one(Workspace, workspace_id)


async def create_agent(
    session: AsyncSession,
    workspace_id: int,
    *,
    email: str,
    name: str,
    password: str,
    role: str = "agent",
    language: str = "en",
    timezone: str = "UTC",
    languages: list[str] | None = None,
) -> Agent:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    email = email.strip().lower()
    if await session.scalar(_agent_by_email(email)) is not None:
        raise Conflict(f"an agent with e-mail {email} exists already")
    agent = Agent(
        workspace_id=workspace_id,
        email=email,
        name=name,
        password_hash=hash_password(password),
        role=role,
        language=language,
        timezone=timezone,
        languages=list(languages or []),
    )
    session.add(agent)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"an agent with e-mail {email} exists already") from exc
    return agent


def _agent_by_email(email: str) -> Select[Agent]:
    return select(Agent).where(Agent.email == email.strip().lower())


async def list_agents(session: AsyncSession) -> list[Agent]:
    return list((await session.scalars(select(Agent).order_by(Agent.id))).all())


async def online_agents(session: AsyncSession, *, lock: bool = False) -> list[Agent]:
    """Active agents whose availability is online; ``lock``: their rows stay locked until commit."""
    stmt = select(Agent).where(Agent.is_active.is_(True), Agent.availability == "online").order_by(Agent.id)
    if lock:
        # The lock may wait for another transaction's commit: take its values, not any cached here.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return list((await session.scalars(stmt)).all())


async def update_agent(
    session: AsyncSession, agent_id: int, changes: dict[str, Any], actor_role: str
) -> Agent:
    """Change an agent's role, languages, zone, availability, shifts or active state (validated fields).

    Only an owner makes or changes an owner, and the last active owner stays an active owner. Agents are
    never deleted: conversations and messages keep their author's name.
    """
    agent = await get_agent(session, agent_id)
    if agent is None:
        raise LookupError(f"agent {agent_id} not found")
    touches_role = (changes.get("role", agent.role), changes.get("is_active", agent.is_active)) != (
        agent.role,
        agent.is_active,
    )
    if "owner" in (agent.role, changes.get("role")) and touches_role and actor_role != "owner":
        raise NotAllowed("only an owner can make, demote or deactivate an owner")
    stays_owner = changes.get("role", agent.role) == "owner" and changes.get("is_active", agent.is_active)
    if agent.role == "owner" and agent.is_active and not stays_owner:
        # Locking the owners' rows makes two owners demoting each other at once wait for each other.
        owners = await session.scalars(
            select(Agent.id).where(Agent.role == "owner", Agent.is_active.is_(True)).with_for_update()
        )
        if set(owners.all()) <= {agent.id}:
            raise LastOwner("the workspace needs at least one active owner")
    for name, value in changes.items():
        setattr(agent, name, value)
    await session.flush()
    return agent


async def authenticate(session: AsyncSession, email: str, password: str) -> Agent | None:
    """Check a login (system session: the e-mail decides the workspace)."""
    agent = await session.scalar(_agent_by_email(email))
    ok = verify_password(agent.password_hash if agent else None, password)
    return agent if ok and agent is not None and agent.is_active else None


async def start_login_session(session: AsyncSession, agent: Agent, days: int) -> str:
    """Open a login session for the agent and return its cookie value (only its hash is stored)."""
    token = new_token()
    session.add(
        LoginSession(
            workspace_id=agent.workspace_id,
            agent_id=agent.id,
            token_hash=token_digest(token),
            csrf_token=secrets.token_urlsafe(32),
            expires_at=utcnow() + dt.timedelta(days=days),
        )
    )
    await session.flush()
    return token


async def principal_from_session(session: AsyncSession, token: str) -> Principal | None:
    row = (
        await session.execute(
            select(LoginSession, Agent)
            .join(Agent, Agent.id == LoginSession.agent_id)
            .where(LoginSession.token_hash == token_digest(token))
        )
    ).first()
    if row is None:
        return None
    login, agent = row
    if login.expires_at <= utcnow() or not agent.is_active:
        return None
    return Principal(agent.workspace_id, agent.role, agent.id, login.csrf_token)


async def end_login_session(session: AsyncSession, token: str) -> None:
    login = await session.scalar(select(LoginSession).where(LoginSession.token_hash == token_digest(token)))
    if login is not None:
        await session.delete(login)


async def create_api_token(
    session: AsyncSession, workspace_id: int, name: str, role: str, created_by_id: int | None
) -> tuple[ApiToken, str]:
    token = new_token(API_TOKEN_PREFIX)
    row = ApiToken(
        workspace_id=workspace_id,
        name=name,
        role=role,
        token_hash=token_digest(token),
        prefix=token[:10],
        created_by_id=created_by_id,
    )
    session.add(row)
    await session.flush()
    return row, token


async def principal_from_api_token(session: AsyncSession, token: str) -> Principal | None:
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    stale = row.last_used_at is None or row.last_used_at < utcnow() - TOKEN_TOUCH_INTERVAL
    return Principal(row.workspace_id, row.role, None, stale_token_id=row.id if stale else None)


async def touch_api_token(session: AsyncSession, token_id: int) -> None:
    """Record that a token was used; at most once a minute, so that reads do not turn into writes."""
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))


async def list_api_tokens(session: AsyncSession) -> list[ApiToken]:
    return list((await session.scalars(select(ApiToken).order_by(ApiToken.id))).all())


async def revoke_api_token(session: AsyncSession, token_id: int) -> bool:
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def reserve_event_seqs(session: AsyncSession, workspace_id: int, count: int) -> int:
    """Reserve ``count`` event numbers for this transaction; returns the last one.

    The row lock this takes (PostgreSQL) or the single writer (SQLite) is held until commit, so events
    commit in sequence order and a reader never sees seq N+1 before seq N.
    """
    stmt = (
        update(Workspace)
        .where(Workspace.id == workspace_id)
        .values(event_seq=Workspace.event_seq + count)
        .returning(Workspace.event_seq)
    )
    return int((await session.execute(stmt)).scalar_one())


async def current_event_seq(session: AsyncSession, workspace_id: int) -> int:
    return int(await session.scalar(select(Workspace.event_seq).where(Workspace.id == workspace_id)) or 0)


async def get_agent(session: AsyncSession, agent_id: int) -> Agent | None:
    return await session.get(Agent, agent_id)


async def all_workspace_ids(session: AsyncSession) -> list[int]:
    return list((await session.scalars(select(Workspace.id).order_by(Workspace.id))).all())


async def workspace_by_slug(session: AsyncSession, slug: str) -> Workspace | None:
    return await session.scalar(select(Workspace).where(Workspace.slug == slug))


async def update_workspace(session: AsyncSession, workspace_id: int, changes: dict[str, Any]) -> Workspace:
    workspace = await get_workspace(session, workspace_id)
    for name, value in changes.items():
        setattr(workspace, name, value)
    await session.flush()
    return workspace


async def update_agent_preferences(
    session: AsyncSession, agent_id: int, language: str, timezone: str | None
) -> None:
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise LookupError("no such agent")
    agent.language = language
    if timezone is not None:
        agent.timezone = timezone
    await session.flush()
