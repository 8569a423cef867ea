"""The hub's sockets with a view (the visitors'), next to the agents' plain sockets: the view decides what
a visitor's socket gets, live and in a resumed backlog, and the agents' sockets see everything as before."""

from __future__ import annotations

import asyncio
from typing import Any

from crossdesk.realtime.hub import Connection, Hub
from tests.realtime.test_hub import WS, FakeLog, FakeSocket, settle, until


def even_only(event: dict[str, Any]) -> dict[str, Any] | None:
    """A view: even events only, reshaped."""
    n = event["data"]["n"]
    return {**event, "type": "seen", "data": {"half": n // 2}} if n % 2 == 0 else None


class Sockets:
    """Sockets attached to one hub, each with its sender running, as the routes run them."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.senders: dict[Connection, asyncio.Task[None]] = {}

    async def open(self, last_event_id: int | None = None, view: Any = None) -> tuple[Connection, FakeSocket]:
        socket = FakeSocket()
        connection = Connection(socket, WS, None, view=view)
        await self.hub.attach(connection, last_event_id)
        self.senders[connection] = asyncio.create_task(connection.run_sender())
        return connection, socket

    async def close(self) -> None:
        for connection, sender in self.senders.items():
            sender.cancel()
            await self.hub.detach(connection)


async def test_a_view_filters_live_events_while_agents_get_all() -> None:
    log = FakeLog()
    hub = Hub(log.fetch, log.head, retention=100)
    sockets = Sockets(hub)
    _, agent_socket = await sockets.open()
    _, visitor_socket = await sockets.open(view=even_only)
    hub.receive(log.commit(4))
    await until(lambda: len(agent_socket.ids) == 4 and len(visitor_socket.ids) == 2)
    await settle()
    assert agent_socket.ids == [1, 2, 3, 4]
    assert [(f["id"], f["type"], f["data"]) for f in visitor_socket.frames[1:]] == [
        (2, "seen", {"half": 1}),
        (4, "seen", {"half": 2}),
    ]
    await sockets.close()
    assert WS not in hub.channels


async def test_a_resumed_view_gets_its_filtered_backlog_once() -> None:
    log = FakeLog()
    log.commit(6)
    sockets = Sockets(Hub(log.fetch, log.head, retention=100))
    _, socket = await sockets.open(last_event_id=1, view=even_only)
    sockets.hub.receive(log.commit(2))  # 7 and 8
    await until(lambda: 8 in socket.ids)
    sockets.hub.receive(log.events[WS][5:8])  # 6, 7, 8 again (a bus repeat): nothing twice
    await settle()
    assert socket.frames[0] == {"type": "hello", "last_id": 1}
    assert socket.ids == [2, 4, 6, 8]
    await sockets.close()


async def test_attach_says_when_the_client_must_reload() -> None:
    log = FakeLog()
    log.commit(3)
    hub = Hub(log.fetch, log.head, retention=100)
    fresh = Connection(FakeSocket(), WS, None, view=even_only)
    stale = Connection(FakeSocket(), WS, None, view=even_only)
    assert await hub.attach(fresh, None) == "hello"
    assert await hub.attach(stale, 99) == "reload"
    await hub.detach(fresh)
    assert WS in hub.channels  # the other viewer still listens
    await hub.detach(stale)
    assert WS not in hub.channels
