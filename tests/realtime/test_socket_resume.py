"""The agents' live stream over a real server: resume after a drop with nothing missed and nothing twice,
reload when the gap is too old, typing and presence in the stream, and the socket's origin check."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from crossdesk.db import Database
from tests.conftest import PASSWORD, LiveServer, Tenant, make_settings, make_tenant
from tests.support import inbound

Frame = dict[str, Any]


@contextlib.asynccontextmanager
async def agent_socket(
    tenant: Tenant, last_event_id: int | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientConnection]:
    query = "" if last_event_id is None else f"?last_event_id={last_event_id}"
    url = f"{tenant.server.ws_url}/api/v1/ws{query}"
    sent = tenant.auth if headers is None else headers
    async with connect(url, additional_headers=sent, proxy=None, open_timeout=10) as ws:
        yield ws


async def next_frame(ws: ClientConnection) -> Frame:
    frame: Frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    return frame


async def frames_until(ws: ClientConnection, last_id: int) -> list[Frame]:
    """Event frames up to and including id ``last_id``."""
    frames: list[Frame] = []
    while not frames or frames[-1]["id"] < last_id:
        frames.append(await next_frame(ws))
    return frames


async def head(client: httpx.AsyncClient, after: int = 0) -> int:
    """The workspace's last event id, from the HTTP event feed."""
    while True:
        page = (await client.get("/api/v1/events", params={"after": after, "limit": 1000})).json()
        if not page["events"]:
            return after
        after = page["last_id"]


def buyer() -> dict[str, str]:
    return {"name": "Buyer", "email": f"buyer-{uuid.uuid4().hex[:10]}@example.com"}


async def post_texts(client: httpx.AsyncClient, tenant: Tenant, texts: list[str]) -> list[dict[str, Any]]:
    """Post each text as an inbound message from one buyer; returns the ingest results."""
    sender = buyer()
    results = []
    for text in texts:
        response = await inbound.post(client, tenant, inbound.message(text, sender=sender))
        assert response.status_code == 201, response.text
        results.append(response.json())
    return results


def message_texts(frames: list[Frame]) -> list[str]:
    return [f["data"]["message"]["text"] for f in frames if f["type"] == "message.created"]


async def test_reconnect_with_last_id_misses_nothing_and_repeats_nothing(tenant: Tenant) -> None:
    texts = [f"message {i} {uuid.uuid4().hex[:6]}" for i in range(60)]
    acked = 0
    more_acked = asyncio.Event()

    async def poster(client: httpx.AsyncClient, share: list[str]) -> None:
        nonlocal acked
        sender = buyer()
        for text in share:
            response = await inbound.post(client, tenant, inbound.message(text, sender=sender))
            assert response.status_code == 201, response.text
            acked += 1
            more_acked.set()

    async with tenant.client() as client:
        async with agent_socket(tenant) as first:
            hello = await next_frame(first)
            assert hello["type"] == "hello"
            base = hello["last_id"]
            # Four concurrent posters, so that commits and publishes interleave on the server.
            posting = asyncio.gather(*(poster(client, texts[i::4]) for i in range(4)))
            before = [await next_frame(first) for _ in range(15)]
            first.transport.abort()  # the connection drops: no close handshake
        dropped_at = acked
        while acked < min(dropped_at + 8, len(texts)):  # posts go on while the agent is away
            more_acked.clear()
            await asyncio.wait_for(more_acked.wait(), timeout=10)
        last_seen = before[-1]["id"]
        async with agent_socket(tenant, last_event_id=last_seen) as second:
            resumed = await next_frame(second)
            await posting
            final = await head(client, base)
            after = await frames_until(second, final)
        logged = (await client.get("/api/v1/events", params={"after": base, "limit": 1000})).json()["events"]

    assert resumed == {"type": "hello", "last_id": last_seen}
    ids = [f["id"] for f in before + after]
    assert ids == list(range(base + 1, final + 1))  # every event, once, in order
    assert sorted(message_texts(before + after)) == sorted(texts)
    assert [(f["id"], f["type"], f["data"]) for f in before + after] == [
        (e["id"], e["type"], e["data"]) for e in logged
    ]


async def test_no_last_id_gets_hello_at_the_head_then_only_new_events(tenant: Tenant) -> None:
    async with tenant.client() as client:
        await post_texts(client, tenant, ["old one", "old two"])
        current = await head(client)
        async with agent_socket(tenant) as ws:
            hello = await next_frame(ws)
            await post_texts(client, tenant, ["new one"])
            frames = await frames_until(ws, await head(client))
    assert hello == {"type": "hello", "last_id": current}
    assert [f["id"] for f in frames] == list(range(current + 1, current + 1 + len(frames)))
    assert message_texts(frames) == ["new one"]


async def test_an_id_from_the_future_gets_reload(tenant: Tenant) -> None:
    async with tenant.client() as client:
        await post_texts(client, tenant, ["hello"])
        current = await head(client)
        async with agent_socket(tenant, last_event_id=current + 1000) as ws:
            first = await next_frame(ws)
            await post_texts(client, tenant, ["after the reload"])
            frames = await frames_until(ws, await head(client))
    assert first == {"type": "reload", "last_id": current}
    assert message_texts(frames) == ["after the reload"]
    assert frames[0]["id"] == current + 1


async def test_an_id_older_than_the_retention_gets_reload(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    with LiveServer(make_settings(database_url, tmp_path, event_retention=20)) as live:
        tenant = await make_tenant(db, live)
        async with tenant.client() as client:
            await post_texts(client, tenant, [f"m{i}" for i in range(25)])
            current = await head(client)
            assert current > 21
            async with agent_socket(tenant, last_event_id=current - 21) as ws:
                too_old = await next_frame(ws)
            async with agent_socket(tenant, last_event_id=current - 20) as ws:
                within = await next_frame(ws)
                backlog = await frames_until(ws, current)
    assert too_old == {"type": "reload", "last_id": current}
    assert within == {"type": "hello", "last_id": current - 20}
    assert [f["id"] for f in backlog] == list(range(current - 19, current + 1))


async def login_cookie(tenant: Tenant) -> str:
    """The owner's session cookie, from logging in as a browser would."""
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as browser:
        body = {"email": tenant.owner_email, "password": PASSWORD}
        login = await browser.post("/api/v1/auth/login", json=body)
        assert login.status_code == 200, login.text
        return f"crossdesk_session={browser.cookies['crossdesk_session']}"


async def test_typing_and_presence_are_in_the_stream(tenant: Tenant) -> None:
    async with tenant.client() as client:
        [posted] = await post_texts(client, tenant, ["is anyone there?"])
        conversation_id = posted["conversation_id"]
        async with agent_socket(tenant) as watcher:
            start = (await next_frame(watcher))["last_id"]
            url = f"/api/v1/conversations/{conversation_id}/typing"
            assert (await client.post(url, json={"is_typing": True})).status_code == 202
            browser = {"cookie": await login_cookie(tenant), "origin": tenant.server.url}
            async with agent_socket(tenant, headers=browser) as agent:
                assert (await next_frame(agent))["type"] == "hello"
                online = await frames_until(watcher, start + 2)
            offline = await frames_until(watcher, start + 3)
    assert [(f["type"], f["data"]) for f in online] == [
        ("typing", {"conversation_id": conversation_id, "agent_id": None, "is_typing": True}),
        ("presence", {"agent_id": tenant.owner_id, "online": True}),
    ]
    assert [(f["type"], f["data"]) for f in offline] == [
        ("presence", {"agent_id": tenant.owner_id, "online": False})
    ]


async def test_cookie_socket_from_a_foreign_origin_is_refused(tenant: Tenant) -> None:
    session = await login_cookie(tenant)
    own = {"cookie": session, "origin": tenant.server.url}
    async with agent_socket(tenant, headers=own) as ws:
        assert (await next_frame(ws))["type"] == "hello"
    for headers in (
        {"cookie": session, "origin": "https://evil.example"},
        {"cookie": session, "origin": f"http://127.0.0.1:{tenant.server.port + 1}"},
        {"authorization": "Bearer not-a-token"},
        {},
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with agent_socket(tenant, headers=headers):
                pass
        assert refused.value.response.status_code == 403, headers
