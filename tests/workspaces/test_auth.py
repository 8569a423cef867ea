"""Passwords, login sessions and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest
from sqlalchemy import select, text, update

from crossdesk.db import Database
from crossdesk.workspaces import service
from crossdesk.workspaces.models import Agent, LoginSession
from crossdesk.workspaces.security import verify_password
from tests.conftest import PASSWORD, Tenant


def email() -> str:
    return f"agent-{uuid.uuid4().hex[:10]}@example.com"


async def test_password_is_stored_as_an_argon2_hash(db: Database, tenant: Tenant) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        agent = await service.create_agent(
            session, tenant.workspace_id, email=email(), name="A", password=PASSWORD
        )
    async with db.transaction(system=True) as session:
        stored = await session.scalar(select(Agent.password_hash).where(Agent.id == agent.id))
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert verify_password(stored, PASSWORD) and not verify_password(stored, PASSWORD + "!")


async def test_short_password_is_rejected(db: Database, tenant: Tenant) -> None:
    address = email()
    with pytest.raises(ValueError, match="at least 8"):
        async with db.transaction(tenant.workspace_id) as session:
            await service.create_agent(
                session, tenant.workspace_id, email=address, name="A", password="short"
            )
    async with db.transaction(system=True) as session:
        assert await service.authenticate(session, address, "short") is None


async def test_login(db: Database, tenant: Tenant) -> None:
    async with db.transaction(system=True) as session:
        assert await service.authenticate(session, tenant.owner_email, "wrong password") is None
        assert await service.authenticate(session, "nobody@example.com", PASSWORD) is None
        agent = await service.authenticate(session, f"  {tenant.owner_email.upper()} ", PASSWORD)
        assert agent is not None and agent.id == tenant.owner_id


async def test_a_deactivated_agent_cannot_log_in(db: Database, tenant: Tenant) -> None:
    address = email()
    async with db.transaction(tenant.workspace_id) as session:
        agent = await service.create_agent(
            session, tenant.workspace_id, email=address, name="A", password=PASSWORD
        )
        token = await service.start_login_session(session, agent, 14)
        agent.is_active = False
    async with db.transaction(system=True) as session:
        assert await service.authenticate(session, address, PASSWORD) is None
        assert await service.principal_from_session(session, token) is None


async def test_api_token_is_stored_only_as_sha256(db: Database, tenant: Tenant) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        row, token = await service.create_api_token(
            session, tenant.workspace_id, "shop sync", "agent", tenant.owner_id
        )
    async with db.transaction(system=True) as session:
        stored = (
            (await session.execute(text("SELECT * FROM api_tokens WHERE id = :id"), {"id": row.id}))
            .mappings()
            .one()
        )
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(value) for value in stored.values()), "the token itself is never stored"
    assert token.startswith(stored["prefix"]) and len(stored["prefix"]) < len(token) // 3


async def test_api_token_principal_and_revocation(db: Database, tenant: Tenant) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        row, token = await service.create_api_token(session, tenant.workspace_id, "bot", "agent", None)
    async with db.transaction(system=True) as session:
        principal = await service.principal_from_api_token(session, token)
        assert principal is not None
        assert (principal.workspace_id, principal.role, principal.agent_id) == (
            tenant.workspace_id,
            "agent",
            None,
        )
        assert await service.principal_from_api_token(session, token + "x") is None
    async with db.transaction(tenant.workspace_id) as session:
        assert await service.revoke_api_token(session, row.id)
        assert not await service.revoke_api_token(session, row.id)
    async with db.transaction(system=True) as session:
        assert await service.principal_from_api_token(session, token) is None


async def test_a_token_of_another_workspace_cannot_be_revoked(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with db.transaction(other_tenant.workspace_id) as session:
        row, token = await service.create_api_token(
            session, other_tenant.workspace_id, "theirs", "agent", None
        )
    async with db.transaction(tenant.workspace_id) as session:
        assert not await service.revoke_api_token(session, row.id)
    async with db.transaction(system=True) as session:
        assert await service.principal_from_api_token(session, token) is not None


async def test_login_session_expiry_and_logout(db: Database, tenant: Tenant) -> None:
    async with db.transaction(system=True) as session:
        agent = await service.authenticate(session, tenant.owner_email, PASSWORD)
        assert agent is not None
        expiring = await service.start_login_session(session, agent, 14)
        ending = await service.start_login_session(session, agent, 14)
    async with db.transaction(system=True) as session:
        principal = await service.principal_from_session(session, expiring)
        assert principal is not None and principal.agent_id == tenant.owner_id and principal.csrf_token
        stored = await session.scalar(
            select(LoginSession.token_hash).where(LoginSession.agent_id == agent.id)
        )
        assert stored is not None and expiring not in stored and ending not in stored
        await session.execute(
            update(LoginSession)
            .where(LoginSession.token_hash == hashlib.sha256(expiring.encode()).hexdigest())
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    async with db.transaction(system=True) as session:
        assert await service.principal_from_session(session, expiring) is None
        assert await service.principal_from_session(session, ending) is not None
    async with db.transaction(tenant.workspace_id) as session:
        await service.end_login_session(session, ending)
    async with db.transaction(system=True) as session:
        assert await service.principal_from_session(session, ending) is None


async def test_duplicate_email_is_a_conflict(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    with pytest.raises(service.Conflict):
        async with db.transaction(system=True) as session:
            await service.create_agent(
                session, tenant.workspace_id, email=tenant.owner_email.upper(), name="B", password=PASSWORD
            )
    # The other workspace's scoped session cannot see the first agent; the unique index still says no.
    with pytest.raises(service.Conflict):
        async with db.transaction(other_tenant.workspace_id) as session:
            await service.create_agent(
                session, other_tenant.workspace_id, email=tenant.owner_email, name="C", password=PASSWORD
            )
    async with db.transaction(system=True) as session:
        agents = (await session.scalars(select(Agent).where(Agent.email == tenant.owner_email))).all()
    assert [a.id for a in agents] == [tenant.owner_id]
