"""The hub on its own: a fake event log (fetch/head) and fake sockets, no server, no database.

Each test drives the hub the way the app does (the bus calls ``receive``; a socket is attached, its sender
runs) and checks the frames that reach the socket: in order, exactly once, resumable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from crossdesk.realtime import hub as hub_module
from crossdesk.realtime.hub import CLOSE_TOO_SLOW, Connection, Hub

WS = 1


class FakeLog:
    """The committed event log of a few workspaces, with the hub's ``fetch`` and ``head``."""

    def __init__(self) -> None:
        self.events: dict[int, list[dict[str, Any]]] = {}
        self.fetches: list[tuple[int, int, int]] = []
        self.gate: asyncio.Event | None = None  # when set by a test, fetch waits for it
        self.fetch_started = asyncio.Event()
        self.failures = 0  # how many fetches raise before they work again

    def commit(self, count: int, workspace_id: int = WS) -> list[dict[str, Any]]:
        log = self.events.setdefault(workspace_id, [])
        new = [
            {"workspace_id": workspace_id, "seq": seq, "type": "message.created", "data": {"n": seq}}
            for seq in range(len(log) + 1, len(log) + count + 1)
        ]
        log.extend(new)
        return new

    def prune(self, keep: int, workspace_id: int = WS) -> None:
        self.events[workspace_id] = self.events[workspace_id][-keep:]

    async def fetch(self, workspace_id: int, after: int, upto: int) -> list[dict[str, Any]]:
        self.fetches.append((workspace_id, after, upto))
        self.fetch_started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise OSError("database went away")
        return [e for e in self.events.get(workspace_id, []) if after < e["seq"] <= upto]

    async def head(self, workspace_id: int) -> tuple[int, int | None]:
        log = self.events.get(workspace_id, [])
        return (log[-1]["seq"], log[0]["seq"]) if log else (0, None)


class FakeSocket:
    def __init__(self, *, stalled: bool = False) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed_with: int | None = None
        self.stalled = stalled  # a client that never reads: send_text never returns

    async def send_text(self, data: str) -> None:
        if self.stalled:
            await asyncio.Event().wait()
        self.frames.append(json.loads(data))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed_with = code

    @property
    def ids(self) -> list[int]:
        return [f["id"] for f in self.frames if "id" in f]


async def until(condition: Callable[[], bool], within: float = 5) -> None:
    """Let the hub's tasks run until ``condition`` holds (fails the test if it never does)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the hub offers no event to wait on: poll its state
            await asyncio.sleep(0.001)


async def settle() -> None:
    """Give every ready task a few turns, for checking that something did not happen."""
    for _ in range(50):
        await asyncio.sleep(0)


class Harness:
    def __init__(self, log: FakeLog, retention: int = 100) -> None:
        self.log = log
        self.hub = Hub(log.fetch, log.head, retention)
        self._open: list[tuple[Connection, asyncio.Task[None]]] = []

    async def open(
        self,
        last_event_id: int | None = None,
        *,
        workspace_id: int = WS,
        socket: FakeSocket | None = None,
        sender: bool = True,
    ) -> tuple[Connection, FakeSocket]:
        socket = socket or FakeSocket()
        connection = Connection(socket, workspace_id, agent_id=None)
        await self.hub.attach(connection, last_event_id)
        task = asyncio.create_task(connection.run_sender() if sender else asyncio.Event().wait())
        self._open.append((connection, task))
        return connection, socket

    async def close(self) -> None:
        for connection, task in self._open:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.hub.detach(connection)


@pytest.fixture
async def log() -> FakeLog:
    return FakeLog()


@pytest.fixture
async def harness(log: FakeLog) -> AsyncIterator[Harness]:
    h = Harness(log)
    yield h
    await h.close()


async def test_hello_then_only_new_events(log: FakeLog, harness: Harness) -> None:
    log.commit(5)
    _, socket = await harness.open()
    harness.hub.receive(log.commit(2))
    await until(lambda: len(socket.frames) == 3)
    assert socket.frames[0] == {"type": "hello", "last_id": 5}
    assert socket.ids == [6, 7]
    assert socket.frames[1] == {"id": 6, "type": "message.created", "data": {"n": 6}, "at": None}


async def test_repeated_and_late_events_are_delivered_once(log: FakeLog, harness: Harness) -> None:
    _, socket = await harness.open()
    first, second, third = log.commit(3)
    for batch in ([first], [first], [second, third], [second], [first, third]):
        harness.hub.receive(batch)
    harness.hub.receive(log.commit(1))
    await until(lambda: 4 in socket.ids)
    await settle()
    assert socket.ids == [1, 2, 3, 4]
    assert log.fetches == []  # nothing was missing, so nothing was read back


async def test_out_of_order_events_are_put_back_in_order(log: FakeLog, harness: Harness) -> None:
    log.commit(2)
    _, socket = await harness.open()
    third, fourth = log.commit(2)
    harness.hub.receive([fourth])  # another process's seq 4 arrives before its seq 3
    await until(lambda: len(socket.ids) == 2)
    harness.hub.receive([third])
    await settle()
    assert socket.ids == [3, 4]
    assert log.fetches == [(WS, 2, 3)]


async def test_a_gap_is_filled_from_the_log(log: FakeLog, harness: Harness) -> None:
    _, socket = await harness.open()
    committed = log.commit(6)
    harness.hub.receive([committed[0]])
    harness.hub.receive([committed[5]])  # 2..5 were committed elsewhere and their bus messages lost
    await until(lambda: len(socket.ids) == 6)
    assert socket.ids == [1, 2, 3, 4, 5, 6]
    assert [f["data"]["n"] for f in socket.frames[1:]] == [1, 2, 3, 4, 5, 6]
    assert log.fetches == [(WS, 1, 5)]


async def test_resume_replays_the_backlog_then_goes_live(log: FakeLog, harness: Harness) -> None:
    log.commit(5)
    _, socket = await harness.open(last_event_id=2)
    harness.hub.receive(log.commit(1))
    await until(lambda: len(socket.frames) == 5)
    assert socket.frames[0] == {"type": "hello", "last_id": 2}
    assert socket.ids == [3, 4, 5, 6]


async def test_resume_at_the_head_replays_nothing(log: FakeLog, harness: Harness) -> None:
    log.commit(3)
    _, socket = await harness.open(last_event_id=3)
    harness.hub.receive(log.commit(1))
    await until(lambda: len(socket.frames) == 2)
    assert socket.frames[0] == {"type": "hello", "last_id": 3}
    assert socket.ids == [4]


@pytest.mark.parametrize(
    ("last_event_id", "why"),
    [(1, "further behind than the retention"), (30, "an id the log never gave out"), (-1, "negative")],
)
async def test_reload_instead_of_a_backlog(log: FakeLog, last_event_id: int, why: str) -> None:
    log.commit(20)
    h = Harness(log, retention=10)
    try:
        _, socket = await h.open(last_event_id=last_event_id)
        h.hub.receive(log.commit(1))
        await until(lambda: len(socket.frames) == 2)
    finally:
        await h.close()
    assert socket.frames[0] == {"type": "reload", "last_id": 20}, why
    assert socket.ids == [21]  # after a reload the stream goes on live


async def test_reload_when_the_backlog_was_pruned(log: FakeLog, harness: Harness) -> None:
    log.commit(20)
    log.prune(keep=5)  # the log now starts at 16: 12..15 are gone
    _, gone = await harness.open(last_event_id=11)
    _, kept = await harness.open(last_event_id=15)
    await until(lambda: len(gone.frames) == 1 and len(kept.frames) == 6)
    assert gone.frames == [{"type": "reload", "last_id": 20}]
    assert kept.frames[0] == {"type": "hello", "last_id": 15}
    assert kept.ids == [16, 17, 18, 19, 20]


def test_retention_never_exceeds_what_a_send_queue_holds() -> None:
    log = FakeLog()
    assert Hub(log.fetch, log.head, retention=10**9).retention <= hub_module.SEND_QUEUE // 2


async def test_events_arriving_during_catch_up_wait_in_pending(log: FakeLog, harness: Harness) -> None:
    log.commit(5)
    log.gate = asyncio.Event()
    connection = Connection(FakeSocket(), WS, agent_id=None)
    socket: FakeSocket = connection.socket  # type: ignore[assignment]
    attaching = asyncio.create_task(harness.hub.attach(connection, 2))
    await log.fetch_started.wait()  # the backlog 3..5 is being read
    late_five = log.events[WS][4]
    harness.hub.receive([late_five, *log.commit(2)])  # 5 again (published late) and the new 6, 7
    await until(lambda: len(connection.pending) == 2)
    assert socket.frames == []  # nothing goes out before the backlog
    log.gate.set()
    await attaching
    sender = asyncio.create_task(connection.run_sender())
    try:
        await until(lambda: len(socket.frames) == 6)
        await settle()
    finally:
        sender.cancel()
        await harness.hub.detach(connection)
    assert socket.frames[0] == {"type": "hello", "last_id": 2}
    assert socket.ids == [3, 4, 5, 6, 7]
    assert connection.pending == []


async def test_ephemeral_events_pass_through_without_a_number(log: FakeLog, harness: Harness) -> None:
    log.commit(1)
    _, socket = await harness.open()
    blip = {"workspace_id": WS, "seq": None, "type": "typing", "data": {"is_typing": True}}
    harness.hub.receive([blip])
    harness.hub.receive([blip, *log.commit(1)])
    await until(lambda: len(socket.frames) == 4)
    assert [(f.get("id"), f["type"]) for f in socket.frames[1:]] == [
        (None, "typing"),
        (None, "typing"),
        (2, "message.created"),
    ]
    assert log.fetches == []  # an unnumbered event is not a gap


async def test_workspaces_do_not_see_each_other(log: FakeLog, harness: Harness) -> None:
    _, mine = await harness.open(workspace_id=1)
    _, theirs = await harness.open(workspace_id=2)
    harness.hub.receive(log.commit(2, workspace_id=2) + log.commit(1, workspace_id=1))
    await until(lambda: len(mine.frames) == 2 and len(theirs.frames) == 3)
    assert mine.ids == [1] and theirs.ids == [1, 2]
    assert mine.frames[1]["data"] == {"n": 1}


async def test_a_socket_too_slow_to_keep_up_is_closed_to_resume(
    log: FakeLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "SEND_QUEUE", 4)
    h = Harness(log)
    try:
        slow, stalled = await h.open(socket=FakeSocket(stalled=True))
        fast, healthy = await h.open()
        for n, event in enumerate(log.commit(8), start=1):
            h.hub.receive([event])
            await until(lambda n=n: len(healthy.ids) == n)  # the healthy reader keeps up, one by one
        await until(lambda: stalled.closed_with is not None)
        assert stalled.closed_with == CLOSE_TOO_SLOW
        assert slow.closed and not fast.closed
        assert healthy.closed_with is None and healthy.ids == list(range(1, 9))
        assert slow.queue.qsize() == 4  # it stopped buffering when full
    finally:
        await h.close()


async def test_resync_pulls_what_the_bus_lost(log: FakeLog, harness: Harness) -> None:
    _, socket = await harness.open()
    log.commit(3)  # committed while the bus was down: never received
    harness.hub.resync()
    await until(lambda: len(socket.ids) == 3)
    assert socket.ids == [1, 2, 3]


async def test_a_failed_gap_fill_does_not_silence_the_socket(log: FakeLog) -> None:
    """A transient database error while filling a gap must not leave the socket open and mute: either
    the stream goes on, or the socket is closed so that the client resumes from its last id."""
    h = Harness(log)
    _, socket = await h.open()
    log.failures = 1
    h.hub.receive([log.commit(2)[1]])  # seq 2 before 1: the fill fails once
    with contextlib.suppress(TimeoutError):
        await until(lambda: socket.closed_with is not None or len(socket.ids) >= 2, within=1)
    h.hub.receive(log.commit(1))
    with contextlib.suppress(TimeoutError):
        await until(lambda: socket.closed_with is not None or len(socket.ids) >= 3, within=2)
    with contextlib.suppress(OSError):  # today detach re-raises the dead pump's error; reported separately
        await h.close()
    assert socket.closed_with is not None or socket.ids == [1, 2, 3]


async def test_last_socket_leaving_stops_the_workspace_pump(log: FakeLog) -> None:
    h = Harness(log)
    first, _ = await h.open()
    await h.open()
    channel = h.hub.channels[WS]
    await h.hub.detach(first)
    assert not channel.task.done()  # another socket still listens
    h._open = h._open[1:]
    await h.close()
    assert WS not in h.hub.channels
    assert channel.task.cancelled()
