"""Ingest: signed inbound messages through the HTTP API, committed, and pushed to a connected agent.

    .venv/bin/python -m bench.ingest [--quick] [--profile] [--no-postgres]

crossdesk (``crossdesk serve``) on SQLite and on PostgreSQL (a fresh database, dropped afterwards) takes
N signed posts from many keep-alive connections at once, from senders spread over a pool of customers (so
most messages thread into an existing conversation); one agent socket is connected. Reported: acknowledged
messages/s, the post's own round trip, and post-to-socket latency (post start to the ``message.created``
frame). The baseline is a bare FastAPI endpoint under the same uvicorn doing one INSERT per request into
SQLite through SQLAlchemy async + aiosqlite with the same pragmas: the floor of framework + database.
After each run every acknowledged message is checked to be stored exactly once, and seen once on the
socket. Target (issue): on SQLite at least 2,000 messages/s with p99 post-to-socket under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, event, insert
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import (
    MARK,
    CpuMeter,
    Http,
    Listener,
    Profile,
    Server,
    Tenant,
    crossdesk_server,
    free_port,
    latency_ms,
    listen,
    make_tenant,
    mark,
    postgres_base_url,
    pyplot,
    run_client,
    save_results,
    table,
    uvicorn_server,
)
from crossdesk.db import create_scratch_database, drop_scratch_database

TARGET_RATE = 2_000
TARGET_P99_MS = 100.0
BASELINE_DB_ENV = "BENCH_INGEST_DB"
DRAIN_IDLE_S = 3.0
DRAIN_MAX_S = 30.0

# --- the baseline server (its own process: uvicorn bench.ingest:create_baseline_app --factory) ------------

metadata = MetaData()
inbound = Table(
    "inbound",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform_message_id", String(320), unique=True, nullable=False),
    Column("sender", String(320), nullable=False),
    Column("text", Text, nullable=False),
)


def _pragmas(dbapi_conn: Any, _record: object) -> None:
    cur = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000", "foreign_keys=ON"):
        cur.execute(f"PRAGMA {pragma}")  # the product's pragmas (crossdesk.db)
    cur.close()


def create_baseline_app() -> FastAPI:
    """One INSERT per request and a 201: what any endpoint on this framework and database costs at least."""
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{os.environ[BASELINE_DB_ENV]}", connect_args={"timeout": 30}
    )
    event.listen(engine.sync_engine, "connect", _pragmas)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/messages", status_code=201)
    async def post_message(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        async with engine.begin() as conn:
            result = await conn.execute(
                insert(inbound).values(
                    platform_message_id=body["platform_message_id"],
                    sender=body["sender"]["email"],
                    text=body["text"],
                )
            )
        return JSONResponse({"id": result.lastrowid}, status_code=201)

    @app.get("/healthz")
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    return app


# --- the client --------------------------------------------------------------------------------------


@dataclass
class Run:
    run: int
    acked: set[int] = field(default_factory=set)
    duplicates: int = 0  # 200 answers: the server says it had the message already (none are expected)
    errors: Counter[str] = field(default_factory=Counter)
    ack_ns: list[int] = field(default_factory=list)
    socket_ns: list[int] = field(default_factory=list)
    on_socket: Counter[int] = field(default_factory=Counter)
    start_ns: int = 0
    last_ack_ns: int = 0
    stopped_early: bool = False


# (run, seq, sent ns) -> path, body, headers
Build = Callable[[int, int, int], tuple[str, bytes, dict[str, str]]]


def message(run: int, seq: int, sent_ns: int, customers: int) -> bytes:
    customer = seq % customers
    body = {
        "platform_message_id": f"ingest-{run}-{seq}",
        "text": mark(run, seq, sent_ns) + " Hi, my order has not arrived yet, can you check the tracking?",
        "sender": {
            "email": f"customer{customer}@bench.example",
            "name": f"Customer {customer}",
            "country": "DE",
        },
    }
    return json.dumps(body).encode()


async def post_all(
    port: int,
    build: Build,
    run: Run,
    count: int,
    concurrency: int,
    limit_s: float,
    rate: float = 0,
    stored_status: tuple[int, ...] = (201,),
) -> None:
    """Post ``count`` messages from ``concurrency`` connections, bounded by ``limit_s``; an answer with a
    ``stored_status`` acknowledges a new message (the API channel's 201; platforms' webhooks get 200).

    Closed loop (``rate`` 0): each connection posts the next message as soon as its last one is answered,
    which finds the throughput. Paced (``rate`` > 0): message i is due at start + i/rate and its latency
    counts from then, which gives the latency at a load the server can carry.
    """
    next_seq = 0
    deadline = time.monotonic() + limit_s

    async def worker() -> None:
        nonlocal next_seq
        http = await Http.open(port)
        try:
            while next_seq < count:
                if time.monotonic() > deadline:
                    run.stopped_early = True
                    return
                seq, next_seq = next_seq, next_seq + 1
                started = time.monotonic_ns()
                if rate:
                    due = run.start_ns + round(seq * 1e9 / rate)
                    if due > started:
                        await asyncio.sleep((due - started) / 1e9)
                    started = due
                path, body, headers = build(run.run, seq, started)
                try:
                    status, _ = await http.request("POST", path, body, headers)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    run.errors[type(exc).__name__] += 1
                    await http.close()
                    http = await Http.open(port)
                    continue
                now = time.monotonic_ns()
                if status in stored_status:
                    run.acked.add(seq)
                    run.ack_ns.append(now - started)
                    run.last_ack_ns = now
                elif status == 200:
                    run.duplicates += 1
                else:
                    run.errors[f"HTTP {status}"] += 1
        finally:
            await http.close()

    run.start_ns = time.monotonic_ns()
    await asyncio.gather(*(worker() for _ in range(concurrency)))


class Agent:
    """One agent's socket: records when each marked message.created frame arrives."""

    def __init__(self) -> None:
        self.runs: dict[int, Run] = {}
        self.listener: Listener | None = None

    async def open(self, port: int, token: str) -> None:
        self.listener = await listen(port, "/api/v1/ws", {"authorization": f"Bearer {token}"}, self.on_frame)

    def on_frame(self, frame: bytes, now: int) -> None:
        m = MARK.search(frame)
        if m is not None and b'"type":"message.created"' in frame and (run := self.runs.get(int(m[1]))):
            run.on_socket[int(m[2])] += 1
            run.socket_ns.append(now - int(m[3]))

    async def drain(self, run: Run) -> None:
        deadline, last, changed = time.monotonic() + DRAIN_MAX_S, -1, time.monotonic()
        while not run.acked <= run.on_socket.keys() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            if len(run.on_socket) != last:
                last, changed = len(run.on_socket), time.monotonic()
            elif time.monotonic() - changed > DRAIN_IDLE_S:
                break

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()


@dataclass
class Target:
    name: str
    database: str
    server: Server
    build: Build
    tenant: Tenant | None  # None: the baseline (no socket, its own table)
    count_stored: Callable[[int], Any]  # run -> awaitable Counter of stored seqs (after the server stopped)
    stored_status: tuple[int, ...] = (201,)


def check_once(run: Run, stored: Counter[int], socket: bool) -> dict[str, int]:
    """Every acknowledged message stored exactly once (and, with an agent, pushed to it exactly once)."""
    faults = {
        "stored_twice": sum(1 for n in stored.values() if n > 1),
        "acked_not_stored": len(run.acked - stored.keys()),
    }
    if socket:
        faults["acked_not_on_socket"] = len(run.acked - run.on_socket.keys())
        faults["on_socket_twice"] = sum(1 for n in run.on_socket.values() if n > 1)
    return faults


async def run_target(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    agent = Agent() if target.tenant is not None else None
    flat, paced = Run(1), Run(2)
    async with target.server as server:
        if agent is not None:
            assert target.tenant is not None
            await agent.open(server.port, target.tenant.token)
            agent.runs = {1: flat, 2: paced}
        port, build, ok = server.port, target.build, target.stored_status
        # Warm-up (run 0, not reported): connection pools, statement caches, the first customers.
        await post_all(port, build, Run(0), args.warmup, args.concurrency, 60, stored_status=ok)
        await asyncio.sleep(0.5)
        profile = Profile(server.pid, f"ingest-{target.name}", args.profile_s) if args.profile else None
        meter = CpuMeter(server)
        await post_all(port, build, flat, args.messages, args.concurrency, args.limit_s, stored_status=ok)
        cpu = meter.read()
        if agent is not None:
            await agent.drain(flat)
        if profile is not None:
            print(f"py-spy of {target.name}:\n{await profile.summary()}")
        # Then the latency at a load it can carry: paced at a fraction of the throughput just found.
        throughput = len(flat.acked) / (max(flat.last_ack_ns - flat.start_ns, 1) / 1e9)
        rate = max(1.0, args.paced_fraction * throughput)
        await asyncio.sleep(0.5)
        count = round(rate * args.paced_s)
        await post_all(port, build, paced, count, args.concurrency, args.paced_s + 30, rate, ok)
        if agent is not None:
            await agent.drain(paced)
            agent.close()
    faults: Counter[str] = Counter()
    for run in (flat, paced):
        faults.update(check_once(run, await target.count_stored(run.run), agent is not None))
    acked = len(flat.acked)
    ack, sock = latency_ms(flat.ack_ns), latency_ms(flat.socket_ns)
    paced_ack, paced_sock = latency_ms(paced.ack_ns), latency_ms(paced.socket_ns)
    row = {
        "target": target.name,
        "database": target.database,
        "acked": acked,
        "errors": dict(flat.errors + paced.errors),
        "duplicate_answers": flat.duplicates + paced.duplicates,
        "stopped_at_time_limit": flat.stopped_early or paced.stopped_early,
        "messages_s": throughput,
        "ack_p50_ms": ack["p50_ms"],
        "ack_p99_ms": ack["p99_ms"],
        "socket_p50_ms": sock["p50_ms"],
        "socket_p99_ms": sock["p99_ms"],
        "socket_max_ms": sock["max_ms"],
        "paced_rate_s": rate,
        "paced_acked": len(paced.acked),
        "paced_ack_p50_ms": paced_ack["p50_ms"],
        "paced_ack_p99_ms": paced_ack["p99_ms"],
        "paced_socket_p50_ms": paced_sock["p50_ms"],
        "paced_socket_p99_ms": paced_sock["p99_ms"],
        **faults,
        "exactly_once": acked > 0 and not any(faults.values()),
        **cpu,
        "server_cpu_ms_per_message": 1e3 * cpu["server_cpu_s"] / max(acked, 1),
    }
    got = f"{row['messages_s']:7,.0f} msg/s, socket p99 {row['socket_p99_ms']:.1f} ms"
    got += f" (paced at {rate:,.0f}/s: {row['paced_socket_p99_ms']:.1f} ms)"
    cpu_text = f"cpu server {cpu['server_cpu_pct']:.0f}% other {cpu['other_cpu_pct']:.0f}%"
    print(f"  {target.name:18} {got}, exactly once: {row['exactly_once']}, {cpu_text}")
    return row


async def count_product_rows(database_url: str, workspace_id: int, run: int) -> Counter[int]:
    from sqlalchemy import text

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT platform_message_id, COUNT(*) FROM messages WHERE workspace_id = :ws "
                    "AND platform_message_id LIKE :prefix GROUP BY platform_message_id"
                ),
                {"ws": workspace_id, "prefix": f"ingest-{run}-%"},
            )
            return Counter({int(pid.rsplit("-", 1)[1]): n for pid, n in rows})
    finally:
        await engine.dispose()


def count_baseline_rows(path: Path, run: int) -> Counter[int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT platform_message_id, COUNT(*) FROM inbound WHERE platform_message_id LIKE ? "
            "GROUP BY platform_message_id",
            (f"ingest-{run}-%",),
        ).fetchall()
    return Counter({int(pid.rsplit("-", 1)[1]): n for pid, n in rows})


def crossdesk_target(
    name: str, database: str, url: str, tenant: Tenant, data_dir: Path, customers: int
) -> Target:
    def build(run: int, seq: int, sent_ns: int) -> tuple[str, bytes, dict[str, str]]:
        raw = message(run, seq, sent_ns, customers)
        return tenant.inbound_path, raw, tenant.signed(raw)

    async def stored(run: int) -> Counter[int]:
        return await count_product_rows(url, tenant.workspace_id, run)

    server = crossdesk_server(f"ingest-{name}", free_port(), data_dir, url)
    return Target(name, database, server, build, tenant, stored)


def baseline_target(data_dir: Path, customers: int) -> Target:
    path = data_dir / "baseline.db"

    def build(run: int, seq: int, sent_ns: int) -> tuple[str, bytes, dict[str, str]]:
        return "/messages", message(run, seq, sent_ns, customers), {"content-type": "application/json"}

    async def stored(run: int) -> Counter[int]:
        return count_baseline_rows(path, run)

    server = uvicorn_server(
        "ingest-baseline", "bench.ingest:create_baseline_app", free_port(), **{BASELINE_DB_ENV: str(path)}
    )
    return Target("bare-insert", "sqlite", server, build, None, stored)


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    print(
        f"\nIngest, closed loop: {args.messages:,} messages from {args.concurrency} connections, "
        f"{args.customers} customers, 1 agent socket (latencies in ms)"
    )
    headers = ["server", "db", "acked", "msg/s", "ack p50", "ack p99", "sock p50", "sock p99", "sock max"]
    headers += ["errors", "exactly once", "server cpu ms/msg", "cpu% server", "client", "other"]
    lines = [
        [
            r["target"], r["database"], r["acked"], r["messages_s"], r["ack_p50_ms"], r["ack_p99_ms"],
            r["socket_p50_ms"], r["socket_p99_ms"], r["socket_max_ms"], sum(r["errors"].values()),
            "yes" if r["exactly_once"] else "NO", r["server_cpu_ms_per_message"], r["server_cpu_pct"],
            r["client_cpu_pct"], r["other_cpu_pct"],
        ]
        for r in rows
    ]  # fmt: skip
    print(table(headers, lines))
    print(
        f"\nPaced at {args.paced_fraction:g} x each server's throughput, {args.paced_s:g} s (latencies in ms)"
    )
    paced = [
        [r["target"], r["paced_rate_s"], r["paced_acked"], r["paced_ack_p50_ms"], r["paced_ack_p99_ms"],
         r["paced_socket_p50_ms"], r["paced_socket_p99_ms"]]
        for r in rows
    ]  # fmt: skip
    print(table(["server", "rate/s", "acked", "ack p50", "ack p99", "sock p50", "sock p99"], paced))
    sqlite = next((r for r in rows if r["target"] == "crossdesk-sqlite"), None)
    if sqlite is None:
        return {"checked": False}
    rate, p99 = sqlite["messages_s"], sqlite["socket_p99_ms"]
    met = rate >= TARGET_RATE and p99 < TARGET_P99_MS and sqlite["exactly_once"]
    print(
        f"\nTarget on SQLite: {rate:,.0f} msg/s (>= {TARGET_RATE:,}), socket p99 {p99:.1f} ms "
        f"(< {TARGET_P99_MS:g}), every message exactly once: {'MET' if met else 'NOT MET'}"
    )
    return {"checked": True, "messages_s": rate, "socket_p99_ms": p99, "met": met}


def chart(rows: list[dict[str, Any]], path: Path) -> bool:
    plt = pyplot()
    if plt is None:
        return False
    names = [r["target"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.bar(names, [r["messages_s"] for r in rows], color=["C0", "C1", "grey"][: len(rows)])
    left.axhline(TARGET_RATE, color="red", linewidth=0.8, label="target (SQLite)")
    left.set(ylabel="acknowledged messages/s", title="Ingest throughput (closed loop)")
    left.legend()
    bars = (
        ("ack_p99_ms", "ack p99"),
        ("socket_p50_ms", "socket p50"),
        ("socket_p99_ms", "socket p99"),
        ("paced_socket_p99_ms", "socket p99, paced"),
    )
    for i, (key, label) in enumerate(bars):
        right.bar(
            [x + (i - 1.5) * 0.2 for x in range(len(rows))], [r[key] for r in rows], width=0.2, label=label
        )
    right.axhline(TARGET_P99_MS, color="red", linewidth=0.8, label="p99 target")
    right.set_xticks(list(range(len(rows))), names)
    right.set(ylabel="ms (log)", yscale="log", title="Post start to answer / to the socket frame")
    right.set_ylim(bottom=1)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


async def main(args: argparse.Namespace) -> None:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="crossdesk-bench-") as tmp:
        data_dir = Path(tmp)
        url = f"sqlite+aiosqlite:///{data_dir / 'crossdesk.db'}"
        tenant = await make_tenant(url)
        rows.append(
            await run_target(
                crossdesk_target("crossdesk-sqlite", "sqlite", url, tenant, data_dir, args.customers), args
            )
        )
        if not args.no_postgres:
            try:
                pg_url = await create_scratch_database(postgres_base_url(), "crossdesk_bench")
            except Exception as exc:  # refused, or no such role: either way there is no PostgreSQL to use
                print(f"  (PostgreSQL skipped: {exc!r})")
            else:
                try:
                    pg_tenant = await make_tenant(pg_url)
                    target = crossdesk_target(
                        "crossdesk-postgres", "postgres", pg_url, pg_tenant, data_dir, args.customers
                    )
                    rows.append(await run_target(target, args))
                finally:
                    await drop_scratch_database(pg_url)
        rows.append(await run_target(baseline_target(data_dir, args.customers), args))
    save_results("ingest", args, rows, report(rows, args), chart)


def options(doc: str | None) -> argparse.ArgumentParser:
    """The options of a closed-loop ingest benchmark (this one's and ``bench.channels``')."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", default="", help="suffix of the results' file names")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (500 messages)")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=48, help="client connections posting at once")
    parser.add_argument("--customers", type=int, default=500, help="distinct senders the messages come from")
    parser.add_argument("--warmup", type=int, default=200, help="posts before the measured run")
    parser.add_argument("--limit-s", type=float, default=120.0, help="stop posting after this long")
    parser.add_argument("--paced-fraction", type=float, default=0.5, help="paced run's rate, x throughput")
    parser.add_argument("--paced-s", type=float, default=5.0, help="length of the paced run")
    parser.add_argument("--profile", action="store_true", help="py-spy each server during its run")
    parser.add_argument("--profile-s", type=float, default=10.0, help="how long to profile")
    return parser


def settle(args: argparse.Namespace) -> argparse.Namespace:
    """Apply --quick and keep every figure within bounds (the run is bounded in time as well as count)."""
    if args.quick:
        args.messages, args.concurrency, args.customers, args.warmup = min(args.messages, 500), 16, 50, 50
        args.paced_s = 1.0
    args.messages = max(1, min(args.messages, 200_000))
    args.concurrency = max(1, min(args.concurrency, 256))
    args.customers = max(1, args.customers)
    args.limit_s = max(1.0, min(args.limit_s, 600.0))
    args.paced_fraction = max(0.01, min(args.paced_fraction, 2.0))
    args.paced_s = max(0.5, min(args.paced_s, 60.0))
    return args


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = options(__doc__)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite and the baseline only")
    return settle(parser.parse_args(argv))


def run(argv: list[str] | None = None) -> None:
    run_client(parse(argv), main)


if __name__ == "__main__":
    run()
