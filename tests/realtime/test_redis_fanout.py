"""Several servers on one database, fanned out through Redis: an agent connected to one server sees the
messages posted to every server, in order and exactly once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from crossdesk.db import Database
from tests.conftest import REDIS_URL, LiveServer, Tenant, make_settings, make_tenant
from tests.realtime.test_socket_resume import agent_socket, frames_until, head, message_texts, next_frame
from tests.support import inbound

pytestmark = pytest.mark.redis


async def post_all(server: LiveServer, tenant: Tenant, texts: list[str]) -> None:
    """Post ``texts`` to ``server`` from two buyers at once."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

        async def buyer(share: list[str]) -> None:
            sender = {"name": "Buyer", "email": f"buyer-{uuid.uuid4().hex[:10]}@example.com"}
            for text in share:
                response = await inbound.post(client, tenant, inbound.message(text, sender=sender))
                assert response.status_code == 201, response.text

        await asyncio.gather(buyer(texts[0::2]), buyer(texts[1::2]))


async def test_agent_on_one_server_sees_both_servers_events_in_order_once(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, redis_url=REDIS_URL)
    with LiveServer(settings) as a, LiveServer(settings) as b:
        tenant = await make_tenant(db, b)
        on_a = Tenant(**{**tenant.__dict__, "server": a})
        to_a = [f"to A {i}" for i in range(40)]
        to_b = [f"to B {i}" for i in range(40)]
        async with agent_socket(tenant) as watch_b, agent_socket(on_a) as watch_a:
            hellos = [await next_frame(watch_b), await next_frame(watch_a)]
            await asyncio.gather(post_all(a, tenant, to_a), post_all(b, tenant, to_b))
            # Last, a message to A alone: B can learn of it only through the bus, not by filling a gap.
            await post_all(a, tenant, ["only A knows"])
            async with tenant.client() as client:
                final = await head(client)
            seen_b = await frames_until(watch_b, final)
            seen_a = await frames_until(watch_a, final)
    assert hellos == [{"type": "hello", "last_id": 0}] * 2
    assert [f["id"] for f in seen_b] == list(range(1, final + 1))
    assert sorted(message_texts(seen_b)) == sorted([*to_a, *to_b, "only A knows"])
    assert message_texts(seen_b)[-1] == "only A knows"
    # Each buyer's messages arrive in the order they were posted.
    texts = message_texts(seen_b)
    for share in (to_a[0::2], to_a[1::2], to_b[0::2], to_b[1::2]):
        assert [t for t in texts if t in share] == share
    assert seen_a == seen_b  # both servers tell the same story
