"""Fan-out of committed events to this process's agent sockets, in order, exactly once, resumable.

Each workspace with connected sockets has one pump task that takes events from the bus in sequence
order. A gap (events committed by another process whose bus message has not arrived, or came out of
order) is filled from the event log, so every socket sees seq 1, 2, 3... with nothing missing and
nothing twice. A reconnecting client names the last event id it saw; it gets the backlog from the log,
then the live stream, or a ``reload`` frame when the backlog is gone or too long.

A socket with a ``view`` (a chat-widget visitor's) sees only what its view makes of each event: the view
picks and reshapes the few events meant for it, and the rest never reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from crossdesk.ops import metrics

log = logging.getLogger(__name__)

Event = dict[str, Any]
Fetch = Callable[[int, int, int], Awaitable[list[Event]]]  # (workspace, after, upto) -> events
Head = Callable[[int], Awaitable[tuple[int, int | None]]]  # workspace -> (current seq, oldest kept seq)
View = Callable[[Event], Event | None]  # what one socket may see of an event; None: nothing

SEND_QUEUE = 10_000
CLOSE_TOO_SLOW = 4008
CLOSE_RESUME = 4009


class Socket(Protocol):
    async def send_text(self, data: str) -> None: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


def encode(event: Event) -> str:
    frame = {"id": event.get("seq"), "type": event["type"], "data": event["data"], "at": event.get("at")}
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


class Connection:
    def __init__(
        self, socket: Socket, workspace_id: int, agent_id: int | None, view: View | None = None
    ) -> None:
        self.socket = socket
        self.workspace_id = workspace_id
        self.agent_id = agent_id
        self.view = view
        self.last_seq = 0
        self.catching_up = True
        self.pending: list[tuple[int | None, str]] = []
        self.queue: asyncio.Queue[str] = asyncio.Queue(SEND_QUEUE)
        self.closed = False

    def push(self, seq: int | None, text: str) -> None:
        if self.closed:
            return
        if self.catching_up:
            self.pending.append((seq, text))
            return
        if seq is not None:
            if seq <= self.last_seq:
                return
            self.last_seq = seq
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            # Too far behind to buffer: close, and the client resumes from its last id.
            metrics.SLOW_CLIENTS.inc()
            self.abort(CLOSE_TOO_SLOW, "too slow; resume")

    def abort(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().create_task(self.socket.close(code, reason))

    async def run_sender(self) -> None:
        queue, send = self.queue, self.socket.send_text
        while True:
            await send(await queue.get())
            while not queue.empty():  # what piled up meanwhile goes out without another wake-up
                await send(queue.get_nowait())


class WorkspaceChannel:
    def __init__(self, workspace_id: int, last_seq: int, fetch: Fetch) -> None:
        self.workspace_id = workspace_id
        self.last_seq = last_seq
        self.connections: set[Connection] = set()
        self.viewers: set[Connection] = set()  # sockets with a view, kept apart from the plain fan-out
        self.inbox: asyncio.Queue[list[Event]] = asyncio.Queue()
        self._fetch = fetch
        self.failed = False
        self.task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        try:
            await self._pump_forever()
        except Exception:
            # The log could not be read to fill a gap. Rather than leave sockets open and silent, close them:
            # each client reconnects with its last id and gets the backlog from a fresh channel.
            log.exception(
                "event pump failed; closing the workspace's sockets", extra={"workspace": self.workspace_id}
            )
            self.failed = True
            for connection in [*self.connections, *self.viewers]:
                connection.abort(CLOSE_RESUME, "server hiccup; resume")

    async def _pump_forever(self) -> None:
        while True:
            for event in await self.inbox.get():
                seq = event.get("seq")
                if seq is None:
                    self._broadcast(None, encode(event))
                    self._show(event)
                    continue
                if seq <= self.last_seq:
                    continue
                if seq > self.last_seq + 1:
                    for missed in await self._fetch(self.workspace_id, self.last_seq, seq - 1):
                        self._deliver(missed)
                self._deliver(event)

    def _deliver(self, event: Event) -> None:
        self.last_seq = event["seq"]
        if event.get("at"):
            lag = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(event["at"])
            metrics.EVENT_LAG.observe(max(lag.total_seconds(), 0.0))
        self._broadcast(event["seq"], encode(event))
        self._show(event)

    def _broadcast(self, seq: int | None, text: str) -> None:
        for connection in self.connections:
            connection.push(seq, text)
        metrics.EVENTS_DELIVERED.inc(len(self.connections))

    def _show(self, event: Event) -> None:
        for connection in self.viewers:
            shown = connection.view(event) if connection.view is not None else None
            if shown is not None:
                connection.push(event.get("seq"), encode(shown))

    def members(self, connection: Connection) -> set[Connection]:
        return self.viewers if connection.view is not None else self.connections

    @property
    def empty(self) -> bool:
        return not self.connections and not self.viewers


class Hub:
    """Per-process registry of sockets by workspace; the bus's receiver."""

    def __init__(self, fetch: Fetch, head: Head, retention: int) -> None:
        self._fetch = fetch
        self._head = head
        # A backlog must fit in a socket's send queue, or the client would be closed mid catch-up.
        self.retention = min(retention, SEND_QUEUE // 2)
        self.channels: dict[int, WorkspaceChannel] = {}
        self._lock = asyncio.Lock()

    def receive(self, events: list[Event]) -> None:
        by_workspace: dict[int, list[Event]] = {}
        for event in events:
            by_workspace.setdefault(event["workspace_id"], []).append(event)
        for workspace_id, batch in by_workspace.items():
            channel = self.channels.get(workspace_id)
            if channel is not None:
                channel.inbox.put_nowait(batch)

    def resync(self) -> None:
        """After a bus outage: pull from the log whatever each workspace may have missed."""
        asyncio.get_running_loop().create_task(self._resync())

    async def _resync(self) -> None:
        for workspace_id, channel in list(self.channels.items()):
            current, _ = await self._head(workspace_id)
            if current > channel.last_seq:
                channel.inbox.put_nowait(await self._fetch(workspace_id, channel.last_seq, current))

    async def attach(self, connection: Connection, last_event_id: int | None) -> str:
        """Register the socket, then queue its opening frame, its backlog and what arrived meanwhile.

        Returns the opening frame's type: "hello", or "reload" when the backlog could not be replayed."""
        async with self._lock:
            channel = self.channels.get(connection.workspace_id)
            if channel is None or channel.failed:
                current, _ = await self._head(connection.workspace_id)
                channel = WorkspaceChannel(connection.workspace_id, current, self._fetch)
                self.channels[connection.workspace_id] = channel
            channel.members(connection).add(connection)
        metrics.SOCKETS.inc()
        # Read the head again, after registering: anything committed from here on reaches ``pending``,
        # and anything before is in the log up to this head, so the backlog below misses nothing.
        current, oldest = await self._head(connection.workspace_id)
        frames: list[str] = []
        opening = "hello"
        if last_event_id is None:
            connection.last_seq = current
            frames.append(_control(opening, current))
        elif self._too_old(last_event_id, current, oldest):
            connection.last_seq = current
            opening = "reload"
            frames.append(_control(opening, current))
        else:
            backlog = await self._fetch(connection.workspace_id, last_event_id, current)
            connection.last_seq = backlog[-1]["seq"] if backlog else last_event_id
            frames.append(_control("hello", last_event_id))
            frames.extend(_seen(connection, backlog))
        for text in frames:
            connection.queue.put_nowait(text)
        connection.catching_up = False
        pending, connection.pending = connection.pending, []
        for seq, text in pending:
            connection.push(seq, text)
        return opening

    def _too_old(self, last_event_id: int, current: int, oldest: int | None) -> bool:
        if last_event_id > current or last_event_id < 0:
            return True  # an id this log never gave out (another server's, or a restored database)
        if current - last_event_id > self.retention:
            return True
        return oldest is not None and last_event_id + 1 < oldest

    @contextlib.asynccontextmanager
    async def serving(self, connection: Connection, last_event_id: int | None) -> AsyncIterator[str]:
        """Attach the socket and run its sender while the block runs; stop and detach after, however the
        block ends. Yields the opening frame's type (see ``attach``)."""
        opening = await self.attach(connection, last_event_id)
        sender = asyncio.create_task(connection.run_sender())
        try:
            yield opening
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            await self.detach(connection)

    async def detach(self, connection: Connection) -> None:
        connection.closed = True
        metrics.SOCKETS.dec()
        async with self._lock:
            channel = self.channels.get(connection.workspace_id)
            if channel is None or connection not in channel.members(connection):
                return  # its channel failed and was replaced
            channel.members(connection).remove(connection)
            if channel.empty:
                del self.channels[connection.workspace_id]
                channel.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await channel.task

    def agent_sockets(self, workspace_id: int, agent_id: int) -> int:
        channel = self.channels.get(workspace_id)
        return 0 if channel is None else sum(1 for c in channel.connections if c.agent_id == agent_id)


def _seen(connection: Connection, events: list[Event]) -> list[str]:
    """The frames of these events that the connection may see."""
    view = connection.view
    if view is None:
        return [encode(e) for e in events]
    return [encode(shown) for shown in map(view, events) if shown is not None]


def _control(kind: str, last_id: int) -> str:
    return json.dumps({"type": kind, "last_id": last_id})
