"""Fan-out: N agent sockets, signed inbound posts at rising rates, every event delivered to every socket.

    .venv/bin/python -m bench.fanout [--quick] [--profile] [--deflate]

crossdesk (``crossdesk serve``, SQLite) is driven with real signed posts to its API channel, all from one
sender, so each post is one ``message.created`` event and one frame per socket. The baseline is a bare
Starlette WebSocket broadcast loop (``create_baseline_app`` below) under the same uvicorn, driven the same
way: its POST handler sends the posted text to every socket. Each post's text carries its scheduled send
time; a delivery's latency is its receive time minus that (the scheduled time, so a server that falls
behind is charged for the queueing it causes). Target (issue): at 50,000 deliveries/s crossdesk delivers
at least 80% of the baseline's rate with p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bench.common import (
    MARK,
    CpuMeter,
    Http,
    Listener,
    Profile,
    Server,
    crossdesk_server,
    free_port,
    latency_ms,
    listen,
    make_tenant,
    mark,
    pyplot,
    run_client,
    save_results,
    table,
    uvicorn_server,
)

TARGET_DELIVERIES = 50_000
TARGET_RATIO = 0.8
TARGET_P99_MS = 50.0
POST_CONNECTIONS = 16
DRAIN_IDLE_S = 2.0
DRAIN_MAX_S = 15.0


# --- the baseline server (runs in its own process: uvicorn bench.fanout:create_baseline_app --factory) --


def create_baseline_app() -> Starlette:
    """The floor: sockets kept in a set, each POST body sent to all of them, nothing else."""
    clients: set[WebSocket] = set()

    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        clients.add(ws)
        await ws.send_text('{"type":"hello"}')
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            clients.discard(ws)

    async def broadcast(request: Request) -> Response:
        text = (await request.body()).decode()
        for ws in list(clients):  # a copy: a socket may leave while we await
            with contextlib.suppress(Exception):
                await ws.send_text(text)
        return Response(b"", 201)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            WebSocketRoute("/ws", socket),
            Route("/broadcast", broadcast, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )


# --- the client --------------------------------------------------------------------------------------


@dataclass
class Step:
    run: int
    rate: float
    posts_ok: int = 0
    post_errors: int = 0
    received: int = 0
    latencies: list[int] = field(default_factory=list)
    start_ns: int = 0
    last_ns: int = 0


@dataclass
class Sockets:
    """The agents' sockets of one target and what they received, counted per step by the frame's mark."""

    steps: dict[int, Step] = field(default_factory=dict)
    frame_sizes: list[int] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)

    def on_frame(self, frame: bytes, now_ns: int) -> None:
        m = MARK.search(frame)
        if m is None:
            return
        step = self.steps.get(int(m[1]))
        if step is None:
            return
        step.received += 1
        step.latencies.append(now_ns - int(m[3]))
        step.last_ns = now_ns
        if step.run == 0:
            self.frame_sizes.append(len(frame))

    @property
    def closed(self) -> int:
        return sum(1 for s in self.listeners if s.lost)

    async def open(self, port: int, path: str, count: int, headers: dict[str, str], deflate: bool) -> None:
        for start in range(0, count, 20):
            batch = (
                listen(port, path, headers, self.on_frame, deflate) for _ in range(min(20, count - start))
            )
            self.listeners += await asyncio.gather(*batch)

    async def close(self) -> None:
        for listener in self.listeners:
            listener.close()


Build = Callable[[int, int, int], tuple[bytes, dict[str, str]]]  # (run, seq, scheduled ns) -> body, headers


async def drive(port: int, path: str, build: Build, step: Step, seconds: float) -> None:
    """Open loop: post i is due at start + i/rate, whatever the server's pace; a pool of connections sends."""
    total = max(1, round(step.rate * seconds))
    queue: asyncio.Queue[int] = asyncio.Queue()
    pool = [await Http.open(port) for _ in range(POST_CONNECTIONS)]

    async def worker(index: int) -> None:
        while True:
            seq = await queue.get()
            body, headers = build(step.run, seq, step.start_ns + round(seq * 1e9 / step.rate))
            try:
                status, _ = await pool[index].request("POST", path, body, headers)
                if 200 <= status < 300:
                    step.posts_ok += 1
                else:
                    step.post_errors += 1
            except (OSError, asyncio.IncompleteReadError):
                step.post_errors += 1
                pool[index] = await Http.open(port)
            queue.task_done()

    workers = [asyncio.create_task(worker(i)) for i in range(POST_CONNECTIONS)]
    step.start_ns = time.monotonic_ns()
    sent = 0
    while sent < total:
        due = min(total, int((time.monotonic_ns() - step.start_ns) * step.rate / 1e9) + 1)
        for seq in range(sent, due):
            queue.put_nowait(seq)
        sent = due
        await asyncio.sleep(min(0.002, 0.5 / step.rate))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(queue.join(), seconds + 30)
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    for http in pool:
        await http.close()


async def drain(step: Step, expected: int) -> None:
    """Wait until every delivery arrived, or none came for a while (bounded)."""
    deadline = time.monotonic() + DRAIN_MAX_S
    last_count, last_change = step.received, time.monotonic()
    while step.received < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        if step.received != last_count:
            last_count, last_change = step.received, time.monotonic()
        elif time.monotonic() - last_change > DRAIN_IDLE_S:
            break


@dataclass
class Target:
    name: str
    server: Server
    ws_path: str
    post_path: str
    headers: dict[str, str]
    build: Build
    sockets: Sockets = field(default_factory=Sockets)


async def warm_up(target: Target, args: argparse.Namespace) -> None:
    """Open the sockets, then run 0 (not reported): first conversation, caches, and the frame size."""
    port = target.server.port
    await target.sockets.open(port, target.ws_path, args.sockets, target.headers, args.deflate)
    warm = target.sockets.steps[0] = Step(0, 20)
    await drive(port, target.post_path, target.build, warm, 1.0)
    await drain(warm, warm.posts_ok * args.sockets)
    sizes = sorted(target.sockets.frame_sizes)
    args.frame_bytes = args.frame_bytes or (sizes[len(sizes) // 2] if sizes else 1000)


async def run_step(target: Target, run: int, rate: float, args: argparse.Namespace) -> dict[str, Any]:
    server, sockets = target.server, target.sockets
    step = sockets.steps[run] = Step(run, rate)
    profile = None
    if args.profile and rate == max(args.rates):
        profile = Profile(server.pid, f"fanout-{target.name}-{rate:g}", args.seconds)
    meter = CpuMeter(server)
    await drive(server.port, target.post_path, target.build, step, args.seconds)
    expected = step.posts_ok * args.sockets
    await drain(step, expected)
    # Over the step, or until the last delivery when the server fell behind.
    elapsed = max(args.seconds, (step.last_ns - step.start_ns) / 1e9)
    row = {
        "target": target.name,
        "rate_events_s": rate,
        "offered_deliveries_s": round(rate * args.sockets),
        "posts_ok": step.posts_ok,
        "post_errors": step.post_errors,
        "expected": expected,
        "received": step.received,
        "lost": expected - step.received,
        "delivered_s": step.received / elapsed,
        **latency_ms(step.latencies),
        **meter.read(),
        "sockets_closed": sockets.closed,
    }
    # Server CPU per delivery: less disturbed by a busy machine than the rates are.
    row["server_cpu_us_per_delivery"] = 1e6 * row["server_cpu_s"] / max(step.received, 1)
    step.latencies.clear()
    cpu = " ".join(f"{k} {row[f'{k}_cpu_pct']:.0f}%" for k in ("server", "client", "other"))
    got = f"{row['delivered_s']:7,.0f} deliveries/s, p99 {row['p99_ms']:7.1f} ms"
    print(f"  {target.name:9} {rate:5g}/s: {got}, cpu {cpu}")
    if profile is not None:
        print(f"py-spy of {target.name} at {rate:g} events/s:\n{await profile.summary()}")
    return row


async def run_all(targets: list[Target], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Both servers up at once and the rates interleaved, so a change in the machine's load hits both."""
    rows: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        for target in targets:
            await stack.enter_async_context(target.server)
            stack.push_async_callback(target.sockets.close)
            await warm_up(target, args)
        for run, rate in enumerate(args.rates, start=1):
            for target in targets:
                await asyncio.sleep(0.5)
                rows.append(await run_step(target, run, rate, args))
    return rows


def crossdesk_target(port: int, tenant: Any, data_dir: Path) -> Target:
    def build(run: int, seq: int, sent_ns: int) -> tuple[bytes, dict[str, str]]:
        body = {
            "platform_message_id": f"fanout-{run}-{seq}-{uuid.uuid4().hex[:8]}",
            "text": mark(run, seq, sent_ns) + " Hello, where is my parcel? It was due on Monday.",
            "sender": {"email": "fanout@bench.example", "name": "Fan Out"},  # one sender: one event per post
        }
        raw = json.dumps(body).encode()
        return raw, tenant.signed(raw)

    server = crossdesk_server(
        "fanout-crossdesk", port, data_dir, f"sqlite+aiosqlite:///{data_dir / 'crossdesk.db'}"
    )
    return Target(
        "crossdesk",
        server,
        "/api/v1/ws",
        tenant.inbound_path,
        {"authorization": f"Bearer {tenant.token}"},
        build,
    )


def baseline_target(port: int, args: argparse.Namespace) -> Target:
    def build(run: int, seq: int, sent_ns: int) -> tuple[bytes, dict[str, str]]:
        # As long as crossdesk's message.created frame (measured in its warm-up): both move the same bytes.
        head = json.dumps({"id": seq, "type": "message.created", "data": {"text": mark(run, seq, sent_ns)}})
        return (head + " " * max(0, args.frame_bytes - len(head))).encode(), {
            "content-type": "application/json"
        }

    server = uvicorn_server("fanout-baseline", "bench.fanout:create_baseline_app", port)
    return Target("bare-loop", server, "/ws", "/broadcast", {}, build)


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    ours = {r["rate_events_s"]: r for r in rows if r["target"] == "crossdesk"}
    bare = {r["rate_events_s"]: r for r in rows if r["target"] == "bare-loop"}
    lines = []
    for rate in args.rates:
        c, b = ours[rate], bare[rate]
        ratio = c["delivered_s"] / b["delivered_s"] if b["delivered_s"] else float("nan")
        c["ratio_to_bare"] = ratio
        for name, r in (("crossdesk", c), ("bare-loop", b)):
            lines.append([
                name, r["offered_deliveries_s"], r["delivered_s"], r["p50_ms"], r["p99_ms"], r["max_ms"],
                r["lost"], r["post_errors"], r["server_cpu_us_per_delivery"], r["server_cpu_pct"],
                r["client_cpu_pct"], r["other_cpu_pct"], f"{ratio:.2f}" if name == "crossdesk" else "",
            ])  # fmt: skip
    print()
    print(
        f"Fan-out to {args.sockets} sockets, {args.seconds:g} s per rate, frames of ~{args.frame_bytes} bytes"
    )
    headers = ["server", "offered/s", "delivered/s", "p50 ms", "p99 ms", "max ms", "lost", "post err"]
    print(table([*headers, "server cpu us/deliv", "cpu% server", "client", "other", "ratio"], lines))
    verdict: dict[str, Any] = {"checked": False}
    at_target = [r for r in args.rates if ours[r]["offered_deliveries_s"] >= TARGET_DELIVERIES]
    if at_target:
        c = ours[min(at_target)]
        ok = c["ratio_to_bare"] >= TARGET_RATIO and c["p99_ms"] < TARGET_P99_MS and c["lost"] == 0
        verdict = {
            "checked": True,
            "offered": c["offered_deliveries_s"],
            "ratio": c["ratio_to_bare"],
            "p99_ms": c["p99_ms"],
            "met": ok,
        }
        print(
            f"\nTarget at {c['offered_deliveries_s']:,} offered deliveries/s: ratio {c['ratio_to_bare']:.2f} "
            f"(>= {TARGET_RATIO}), p99 {c['p99_ms']:.1f} ms (< {TARGET_P99_MS:g}), lost {c['lost']}: "
            f"{'MET' if ok else 'NOT MET'}"
        )
    return verdict


def chart(rows: list[dict[str, Any]], path: Path) -> bool:
    plt = pyplot()
    if plt is None:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, style, color in (("crossdesk", "o-", "C0"), ("bare-loop", "s--", "C1")):
        mine = [r for r in rows if r["target"] == name]
        offered = [r["offered_deliveries_s"] for r in mine]
        left.plot(offered, [r["delivered_s"] for r in mine], style, color=color, label=name)
        right.plot(offered, [r["p99_ms"] for r in mine], style, color=color, label=f"{name} p99")
        right.plot(offered, [r["p50_ms"] for r in mine], style, color=color, alpha=0.35, label=f"{name} p50")
    top = max(r["offered_deliveries_s"] for r in rows)
    left.plot([0, top], [0, top], ":", color="grey", label="offered")
    left.set(xlabel="offered deliveries/s", ylabel="delivered/s", title="Delivered rate")
    right.axhline(TARGET_P99_MS, color="red", linewidth=0.8, label="p99 target")
    right.set(
        xlabel="offered deliveries/s",
        ylabel="latency, ms (log)",
        yscale="log",
        title="Post-to-socket latency",
    )
    left.legend()
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="crossdesk-bench-") as tmp:
        data_dir = Path(tmp)
        tenant = await make_tenant(f"sqlite+aiosqlite:///{data_dir / 'crossdesk.db'}")
        rates = ", ".join(f"{r:g}" for r in args.rates)
        print(f"{args.sockets} sockets per server; {rates} events/s; {args.seconds:g} s per rate")
        targets = [crossdesk_target(free_port(), tenant, data_dir), baseline_target(free_port(), args)]
        rows = await run_all(targets, args)
    save_results("fanout", args, rows, report(rows, args), chart)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tag", default="", help="suffix of the results' file names")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (20 sockets, two low rates)")
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[50, 100, 250, 400], help="events/s, rising"
    )
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each rate step")
    parser.add_argument("--deflate", action="store_true", help="negotiate permessage-deflate, as browsers do")
    parser.add_argument("--profile", action="store_true", help="py-spy the server during the highest rate")
    args = parser.parse_args(argv)
    if args.quick:
        args.sockets, args.rates, args.seconds = min(args.sockets, 20), [20.0, 50.0], 1.5
    args.sockets = max(1, min(args.sockets, 1000))
    args.seconds = max(0.5, min(args.seconds, 60.0))  # every step is bounded in time
    args.rates = sorted(max(1.0, min(r, 5000.0)) for r in args.rates)
    args.frame_bytes = 0
    return args


def run(argv: list[str] | None = None) -> None:
    run_client(parse(argv), main)


if __name__ == "__main__":
    run()
