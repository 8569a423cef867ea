"""The workspace scope: every ORM statement on workspace data is filtered, or refused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, func, select, update

from crossdesk.conversations.models import Conversation, Message
from crossdesk.customers.models import Customer
from crossdesk.db import Database, ScopeError
from crossdesk.workspaces import service as workspaces


@dataclass
class Pair:
    a: int
    b: int
    customer_a: int
    customer_b: int


@pytest.fixture
async def pair(db: Database) -> AsyncIterator[Pair]:
    """Two workspaces with one customer each, both named alike so that only the scope tells them apart."""
    async with db.transaction(system=True) as session:
        a = await workspaces.create_workspace(session, f"A {uuid.uuid4().hex[:6]}")
        b = await workspaces.create_workspace(session, f"B {uuid.uuid4().hex[:6]}")
    ids = []
    for ws in (a, b):
        async with db.transaction(ws.id) as session:
            customer = Customer(name="Same Name")
            session.add(customer)
        ids.append(customer.id)
    yield Pair(a.id, b.id, *ids)


async def names(db: Database, pair: Pair) -> dict[int, str | None]:
    async with db.transaction(system=True) as session:
        rows = await session.execute(
            select(Customer.id, Customer.name).where(Customer.id.in_([pair.customer_a, pair.customer_b]))
        )
        return {row.id: row.name for row in rows}


async def test_a_transaction_needs_a_scope(db: Database) -> None:
    with pytest.raises(ScopeError):
        async with db.transaction():
            pass


async def test_unscoped_session_refuses_workspace_queries_and_rows(db: Database, pair: Pair) -> None:
    async with db.sessions() as session:
        with pytest.raises(ScopeError):
            await session.execute(select(Customer))
        with pytest.raises(ScopeError):
            await session.execute(select(Customer.id, Customer.name))
        with pytest.raises(ScopeError):
            await session.execute(update(Customer).values(name="x"))
        with pytest.raises(ScopeError):
            await session.get(Customer, pair.customer_a)
    async with db.sessions() as session:
        session.add(Customer(workspace_id=pair.a, name="orphan"))
        with pytest.raises(ScopeError):
            await session.flush()


async def test_aggregates_without_entity_columns_are_scoped_too(db: Database, pair: Pair) -> None:
    """``select(func.count()).select_from(Customer)`` names no Customer column, but reads its rows."""
    async with db.transaction(pair.a) as session:
        counted = await session.scalar(
            select(func.count())
            .select_from(Customer)
            .where(Customer.id.in_([pair.customer_a, pair.customer_b]))
        )
    assert counted == 1
    async with db.sessions() as session:
        with pytest.raises(ScopeError):
            await session.execute(select(func.count()).select_from(Customer))


async def test_scoped_reads_see_only_their_workspace(db: Database, pair: Pair) -> None:
    both = [pair.customer_a, pair.customer_b]
    async with db.transaction(pair.a) as session:
        assert (await session.scalars(select(Customer.id).where(Customer.id.in_(both)))).all() == [
            pair.customer_a
        ]
        assert await session.scalar(select(func.count(Customer.id)).where(Customer.id.in_(both))) == 1
        assert await session.get(Customer, pair.customer_b) is None
        assert (await session.scalars(select(Customer).where(Customer.name == "Same Name"))).all()[
            0
        ].id == pair.customer_a


async def test_system_session_sees_every_workspace(db: Database, pair: Pair) -> None:
    assert set(await names(db, pair)) == {pair.customer_a, pair.customer_b}


async def test_writing_a_row_of_another_workspace_is_refused(db: Database, pair: Pair) -> None:
    with pytest.raises(ScopeError):
        async with db.transaction(pair.a) as session:
            session.add(Customer(workspace_id=pair.b, name="smuggled"))
    async with db.transaction(pair.b) as session:
        assert await session.scalar(select(Customer.id).where(Customer.name == "smuggled")) is None


async def test_new_rows_are_stamped_with_the_session_workspace(db: Database, pair: Pair) -> None:
    async with db.transaction(pair.b) as session:
        customer = Customer(name="stamped")
        session.add(customer)
    assert customer.workspace_id == pair.b


async def test_bulk_update_and_delete_leave_other_workspaces_alone(db: Database, pair: Pair) -> None:
    both = [pair.customer_a, pair.customer_b]
    async with db.transaction(pair.a) as session:
        await session.execute(update(Customer).where(Customer.id.in_(both)).values(name="renamed"))
    assert await names(db, pair) == {pair.customer_a: "renamed", pair.customer_b: "Same Name"}
    async with db.transaction(pair.a) as session:
        await session.execute(delete(Customer).where(Customer.id.in_(both)))
    assert await names(db, pair) == {pair.customer_b: "Same Name"}


async def test_joins_filter_every_workspace_table(db: Database, pair: Pair) -> None:
    for ws, customer_id in ((pair.a, pair.customer_a), (pair.b, pair.customer_b)):
        async with db.transaction(ws) as session:
            conversation = Conversation(customer_id=customer_id, channel="api")
            session.add(conversation)
            await session.flush()
            session.add(
                Message(
                    conversation_id=conversation.id,
                    channel="api",
                    direction="inbound",
                    author_kind="customer",
                    text="hi",
                )
            )
    async with db.transaction(pair.a) as session:
        rows = (
            await session.execute(
                select(Message.id, Customer.id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(Customer, Customer.id == Conversation.customer_id)
                .where(Customer.id.in_([pair.customer_a, pair.customer_b]))
            )
        ).all()
    assert [customer for _, customer in rows] == [pair.customer_a]
