"""Shared fixtures: real databases (SQLite always; PostgreSQL and Redis when their URLs are set) and a
real uvicorn server per backend, on loopback.

Every test makes its own workspace(s) with ``tenant``; since all data is scoped by workspace, tests share a
database per backend without seeing each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from crossdesk.app import create_app
from crossdesk.channels import service as channels
from crossdesk.config import Settings
from crossdesk.db import Database, create_scratch_database, drop_scratch_database, migrate
from crossdesk.workspaces import service as workspaces

POSTGRES_URL = os.environ.get("CROSSDESK_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("CROSSDESK_TEST_REDIS_URL")
SKIP_POSTGRES = "PostgreSQL tests need CROSSDESK_TEST_POSTGRES_URL=postgresql+asyncpg://user@host:5432/db"
SKIP_REDIS = "Redis tests need CROSSDESK_TEST_REDIS_URL=redis://host:6379/0"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
PASSWORD = "correct horse battery"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A race only PostgreSQL can have (SQLite has one writer) is not run, rather than skipped, on SQLite.
    sqlite_only_races = [i for i in items if "postgres_only" in i.keywords and _backend(i) == "sqlite"]
    if sqlite_only_races:
        config.hook.pytest_deselected(items=sqlite_only_races)
        items[:] = [i for i in items if i not in sqlite_only_races]
    for item in items:
        if "postgres" in item.keywords and not POSTGRES_URL:
            item.add_marker(pytest.mark.skip(reason=SKIP_POSTGRES))
        if "redis" in item.keywords and not REDIS_URL:
            item.add_marker(pytest.mark.skip(reason=SKIP_REDIS))


def _backend(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("database_url") if callspec is not None else None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs CROSSDESK_TEST_POSTGRES_URL")
    config.addinivalue_line("markers", "postgres_only: a PostgreSQL race; not run on SQLite")
    config.addinivalue_line("markers", "redis: needs CROSSDESK_TEST_REDIS_URL")


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated, empty database for the whole session, on each backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        await asyncio.to_thread(migrate, url)
        yield url
        return
    assert POSTGRES_URL
    url = await create_scratch_database(POSTGRES_URL, "crossdesk_test")
    await asyncio.to_thread(migrate, url)
    yield url
    await drop_scratch_database(url)


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real uvicorn server (websockets-sansio) in a thread, serving the app (or another ASGI app, such
    as a fake platform) on loopback."""

    def __init__(self, settings: Settings | None, app: Any = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app if app is not None else create_app(settings),
            host="127.0.0.1",
            port=self.port,
            ws="websockets-sansio",
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def make_settings(database_url: str, tmp: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp, database_url=database_url, **overrides)


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(make_settings(database_url, tmp_path_factory.mktemp("data"))) as live:
        yield live


@dataclass
class Tenant:
    """A workspace with an owner (logged-in cookie client), an API token and an API channel."""

    workspace_id: int
    slug: str
    owner_id: int
    owner_email: str
    token: str
    channel_public_id: str
    channel_secret: str
    server: LiveServer
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def client(self) -> httpx.AsyncClient:
        """An API client authenticated by the workspace's token."""
        return httpx.AsyncClient(base_url=self.server.url, headers=self.auth, timeout=30)

    def inbound_url(self) -> str:
        return f"/api/v1/channels/api/{self.channel_public_id}/messages"


async def make_tenant(db: Database, server: LiveServer, name: str = "Shop") -> Tenant:
    email = f"owner-{uuid.uuid4().hex[:12]}@example.com"
    async with db.transaction(system=True) as session:
        ws = await workspaces.create_workspace(session, f"{name} {uuid.uuid4().hex[:6]}", business_hours={})
        owner = await workspaces.create_agent(
            session, ws.id, email=email, name="Owner", password=PASSWORD, role="owner"
        )
        _, token = await workspaces.create_api_token(session, ws.id, "tests", "admin", owner.id)
    async with db.transaction(ws.id) as session:
        account, secret = await channels.create_account(session, "api", "API")
    return Tenant(ws.id, ws.slug, owner.id, email, token, account.public_id, secret, server)


@pytest.fixture
async def tenant(db: Database, server: LiveServer) -> Tenant:
    return await make_tenant(db, server, "Alpha")


@pytest.fixture
async def other_tenant(db: Database, server: LiveServer) -> Tenant:
    return await make_tenant(db, server, "Beta")
