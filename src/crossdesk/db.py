"""Engine, sessions, the workspace scope and migrations.

Every table that belongs to a workspace inherits :class:`WorkspaceOwned`. A session is opened either for
one workspace (``db.transaction(workspace_id)``), in which case every ORM query on a workspace-owned table
is filtered by that workspace automatically (``with_loader_criteria`` in ``do_orm_execute``) and every new
row is stamped with it, or as a *system* session for the few cross-workspace lookups (login, webhook
routing, migrations, demo). A session that is neither refuses to touch workspace-owned tables, so a
forgotten filter is an error, not a leak.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql.util import find_tables
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ScopeError(RuntimeError):
    """A query touched workspace data without a workspace scope, or wrote into another workspace."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; crossdesk stores aware UTC times only")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


MONEY_SCALE = 4
MAX_ID = 2**31 - 1  # integer primary keys are 32-bit on PostgreSQL


class Amount(TypeDecorator[Decimal]):
    """An exact decimal amount stored as a scaled integer (1/10,000ths), so SQL sums stay exact everywhere.

    SUM, MIN, MAX and comparisons in SQL are exact; anything that multiplies or divides (AVG, price times
    quantity) must be done in Python on the Decimals. The currency lives in a sibling column; see
    ``crossdesk.commerce.money``.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        scaled = Decimal(value).scaleb(MONEY_SCALE)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"amount {value} has more than {MONEY_SCALE} decimal places")
        return int(scaled)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value).scaleb(-MONEY_SCALE)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class WorkspaceOwned:
    """Mixin for every table whose rows belong to one workspace."""

    @declared_attr
    def workspace_id(cls) -> Mapped[int]:
        return mapped_column(Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)


def _scope_queries(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete) or state.is_column_load:
        return
    info = state.session.info
    if info.get("system"):
        return
    workspace_id = info.get("workspace_id")
    if workspace_id is None:
        if _reads_workspace_tables(state.statement):
            raise ScopeError("query on workspace data outside a workspace scope")
        return
    # Applied to every entity of the statement, its joins, subqueries and select_from() alike.
    state.statement = state.statement.options(
        with_loader_criteria(
            WorkspaceOwned,
            lambda cls: cls.workspace_id == workspace_id,
            include_aliases=True,
        )
    )


def _reads_workspace_tables(statement: Any) -> bool:
    """Whether any table the statement reads (columns or not, subqueries included) is workspace-owned."""
    owned = {m.local_table for m in Base.registry.mappers if issubclass(m.class_, WorkspaceOwned)}
    return any(t in owned for t in find_tables(statement, include_aliases=True, include_joins=True))


def _stamp_new_rows(session: Session, flush_context: object, instances: object) -> None:
    workspace_id = session.info.get("workspace_id")
    for obj in session.new:
        if not isinstance(obj, WorkspaceOwned):
            continue
        if workspace_id is None:
            if not session.info.get("system"):
                raise ScopeError(f"new {type(obj).__name__} outside a workspace scope")
        elif obj.workspace_id is None:
            obj.workspace_id = workspace_id
        elif obj.workspace_id != workspace_id:
            raise ScopeError(f"new {type(obj).__name__} for workspace {obj.workspace_id} in {workspace_id}")


event.listen(Session, "do_orm_execute", _scope_queries)
event.listen(Session, "before_flush", _stamp_new_rows)


class _InlineSqlite(aiosqlite.Connection):
    """An aiosqlite connection that runs each call in the event loop instead of on its worker thread.

    For the request path's short, indexed statements (tens of microseconds) the hand-off to the thread and
    back, and the wait for the GIL while the loop is busy, cost far more than the statement: measured here
    (bench/README.md), a loaded server spent most of its time in that hand-off, and ingest went from 162 to
    484 messages/s without it. The price: a statement blocks the loop while it runs, so long analytical
    queries must not use these engines, and one process owns the database file (a second one would make
    the busy handler sleep on the loop: ``crossdesk serve --workers`` needs PostgreSQL).
    (aiosqlite has no public hook for this; ``_execute`` is the one place every call goes through.)
    """

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)


def _sqlite_engine(url: str, echo: bool, *, writer: bool) -> AsyncEngine:
    """SQLite allows one writer at a time. Rather than let transactions discover that by failing to upgrade
    a read lock (SQLITE_BUSY, then sleeping in the busy handler), every write transaction of this process
    goes through a one-connection pool (an in-process queue) and takes the write lock up front with
    BEGIN IMMEDIATE; other processes wait for it through busy_timeout. Reads use their own pool, in WAL
    mode never blocked by the writer. The BEGIN handling is the recipe of SQLAlchemy's aiosqlite docs."""
    path = make_url(url).database or ":memory:"

    async def connect_inline() -> aiosqlite.Connection:
        return await _InlineSqlite(lambda: sqlite3.connect(path, timeout=30, check_same_thread=False), 64)

    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=1 if writer else 8,
        max_overflow=0 if writer else 8,
        pool_timeout=120,
        connect_args={"timeout": 30},
        async_creator=connect_inline,
    )

    def on_connect(dbapi_conn: Any, _record: object) -> None:
        dbapi_conn.isolation_level = None  # the driver must not BEGIN on its own; on_begin does
        cur = dbapi_conn.cursor()
        # WAL: readers run beside the writer; NORMAL is durable across process crashes in WAL mode.
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000", "foreign_keys=ON"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", on_begin)
    return engine


Publisher = Callable[[list[dict[str, Any]]], Awaitable[None]]


async def _no_publisher(_events: list[dict[str, Any]]) -> None:
    return None


class Database:
    """The engines and their sessions; ``publish`` receives each committed transaction's events."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, echo, writer=True)
            self.read_engine = _sqlite_engine(url, echo, writer=False)
        else:
            self.engine = create_async_engine(
                url, echo=echo, pool_size=20, max_overflow=20, pool_pre_ping=True
            )
            self.read_engine = self.engine
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self.publish: Publisher = _no_publisher

    @asynccontextmanager
    async def transaction(
        self, workspace_id: int | None = None, *, system: bool = False, readonly: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """A session scoped to one workspace (or a system session), committed on success.

        Events appended with ``crossdesk.realtime.service.append`` are published only after the commit.
        ``readonly`` transactions must not write; on SQLite they do not wait for the writer.
        """
        if workspace_id is None and not system:
            raise ScopeError("a transaction needs a workspace or system=True")
        maker = self.read_sessions if readonly else self.sessions
        async with maker() as session:
            session.info.update(workspace_id=workspace_id, system=system, events=[])
            try:
                yield session
                if session.info["events"]:
                    if readonly:
                        raise ScopeError("events appended in a read-only transaction")
                    from crossdesk.realtime.service import write_pending  # the log sits on top of db

                    await write_pending(session)
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            events = session.info["events"]
        if events:
            await self.publish(events)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (blocking; call from a thread inside an event loop)."""
    from alembic import command

    if url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


async def create_scratch_database(server_url: str, prefix: str) -> str:
    """Create an empty PostgreSQL database on the server of ``server_url`` (tests and benchmarks);
    returns its URL."""
    url = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await _on_server(url, url.database, f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


async def drop_scratch_database(db_url: str) -> None:
    url = make_url(db_url)
    await _on_server(url, "postgres", f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


async def _on_server(url: Any, database: str | None, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=database
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
