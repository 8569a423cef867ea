"""Kill the server (SIGKILL) in the middle of a bounded load of inbound messages and restart it: every
message that was acknowledged is there, exactly once, and the integration's retries complete the rest."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from crossdesk.db import Database
from tests.conftest import Tenant, free_port, make_tenant
from tests.support import inbound

CROSSDESK = Path(sys.executable).with_name("crossdesk")
MESSAGES = 600  # the load is bounded: at most this many posts, and the kill comes mid-way
POSTERS = 16
BUYERS = 10
KILL_AFTER_S = 1.0  # after the first acknowledgements (a cold server on a busy machine may take a while)
FIRST_ACKS = 10


class ServerProcess:
    """``crossdesk serve`` in its own process group, so that a kill takes it all."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = {**os.environ, "CROSSDESK_DATABASE_URL": database_url, "CROSSDESK_LOG_LEVEL": "WARNING"}
        self.env.pop("CROSSDESK_REDIS_URL", None)  # one process: the in-memory bus
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        """Start (again, on the same port) and wait until /healthz answers."""
        self.starts += 1
        log = (self.data_dir / f"server-{self.starts}.log").open("wb")
        cmd = [str(CROSSDESK), "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        self.proc = await asyncio.create_subprocess_exec(
            *cmd,
            cwd=self.data_dir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            for _ in range(600):
                if self.proc.returncode is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"server did not answer /healthz:\n{self.log()}")

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            await asyncio.wait_for(self.proc.wait(), timeout=10)

    def log(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-3000:] for p in sorted(self.data_dir.glob("server-*.log"))
        )


async def load_until_killed(
    server: ServerProcess, tenant: Tenant, bodies: list[dict[str, Any]]
) -> dict[str, int]:
    """Post concurrently and SIGKILL the server mid-load; returns acknowledged platform id -> message id."""
    acked: dict[str, int] = {}
    first_acked, half_acked = asyncio.Event(), asyncio.Event()
    todo: Iterator[dict[str, Any]] = iter(bodies)

    async def poster(client: httpx.AsyncClient) -> None:
        for body in todo:
            try:
                response = await inbound.post(client, tenant, body)
            except httpx.TransportError:
                return  # the server is gone: this post and the rest are not acknowledged
            if response.is_success:
                acked[body["platform_message_id"]] = response.json()["message_id"]
                if len(acked) >= FIRST_ACKS:
                    first_acked.set()
                if len(acked) >= len(bodies) // 2:
                    half_acked.set()

    async def killer() -> None:
        # ~1 s after the first acknowledgements, or earlier if the load is half through, so that some
        # posts are always acknowledged and some always in flight.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first_acked.wait(), timeout=30)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(half_acked.wait(), timeout=KILL_AFTER_S)
        await server.kill()

    async with tenant.client() as client:
        await asyncio.gather(killer(), *(poster(client) for _ in range(POSTERS)))
    return acked


async def repost(tenant: Tenant, bodies: list[dict[str, Any]]) -> dict[str, httpx.Response]:
    """The integration's retry: post every message again."""
    limit = asyncio.Semaphore(POSTERS)

    async def one(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
        async with limit:
            return await inbound.post(client, tenant, body)

    async with tenant.client() as client:
        responses = await asyncio.gather(*(one(client, b) for b in bodies))
    return {b["platform_message_id"]: r for b, r in zip(bodies, responses, strict=True)}


async def stored_messages(tenant: Tenant) -> list[dict[str, Any]]:
    """Every message of the workspace, read through the API."""
    messages: list[dict[str, Any]] = []
    async with tenant.client() as client:
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/api/v1/conversations", params=params)).json()
            for conversation in page["items"]:
                detail = await client.get(f"/api/v1/conversations/{conversation['id']}")
                messages.extend(detail.json()["messages"])
            cursor = page["next_cursor"]
            if not cursor:
                return messages


async def test_acknowledged_messages_survive_sigkill_exactly_once(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    server = ServerProcess(database_url, tmp_path)
    tenant = await make_tenant(db, server, "Crash")  # type: ignore[arg-type]  # a Tenant needs only .url
    run = uuid.uuid4().hex[:8]
    buyers = [{"name": f"Buyer {i}", "email": f"crash-{run}-{i}@example.com"} for i in range(BUYERS)]
    bodies = [
        inbound.message(f"message {i}", sender=buyers[i % BUYERS], platform_message_id=f"{run}-{i}")
        for i in range(MESSAGES)
    ]
    try:
        await server.start()
        acked = await load_until_killed(server, tenant, bodies)
        assert server.proc is not None and server.proc.returncode == -signal.SIGKILL
        assert 0 < len(acked) < MESSAGES, "the kill must land in the middle of the load"
        await server.start()
        retried = await repost(tenant, bodies)
        stored = await stored_messages(tenant)
    finally:
        await server.kill()

    for platform_id, message_id in acked.items():
        response = retried[platform_id]
        assert response.status_code == 200, (platform_id, response.text)  # already there: a duplicate
        assert response.json()["message_id"] == message_id
        assert response.json()["duplicate"] is True
    assert {r.status_code for r in retried.values()} <= {200, 201}
    counts = Counter(m["platform_message_id"] for m in stored)
    assert set(counts) == {b["platform_message_id"] for b in bodies}
    assert max(counts.values()) == 1, [p for p, n in counts.items() if n > 1]
    assert len(stored) == MESSAGES
    by_platform_id = {m["platform_message_id"]: m["id"] for m in stored}
    assert all(by_platform_id[p] == message_id for p, message_id in acked.items())
    assert sorted(m["text"] for m in stored) == sorted(b["text"] for b in bodies)
