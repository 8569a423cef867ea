"""What both benchmarks share: servers in subprocesses, a cheap HTTP client, a tenant, stats, output.

The client and the server run in separate processes so that on a two-core machine each gets a core; the
server's CPU use is read from /proc so a table can show which side was saturated.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# Frames and posts carry this marker in their text: which run, which message, and when it was sent.
MARK = re.compile(rb"BENCH\|(\d+)\|(\d+)\|(\d+)\|")


def mark(run: int, seq: int, sent_ns: int) -> str:
    return f"BENCH|{run}|{seq}|{sent_ns}|"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_base_url() -> str:
    return (
        os.environ.get("CROSSDESK_BENCH_POSTGRES_URL")
        or os.environ.get("CROSSDESK_TEST_POSTGRES_URL")
        or DEFAULT_POSTGRES
    )


# --- servers -------------------------------------------------------------------------------------------


class Server:
    """One server process on loopback: started, polled until ``/healthz`` answers, stopped with SIGINT."""

    def __init__(self, name: str, argv: list[str], port: int, env: dict[str, str], cwd: Path) -> None:
        self.name, self.argv, self.port, self.env, self.cwd = name, argv, port, env, cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = RESULTS / f"{name}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def __aenter__(self) -> Server:
        RESULTS.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            # Popen returns at once; the process must outlive any one await, so no asyncio subprocess.
            self.proc = subprocess.Popen(  # noqa: ASYNC220
                self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
                http = await Http.open(self.port)
                status, _ = await http.request("GET", "/healthz")
                await http.close()
                if status == 200:
                    return self
            await asyncio.sleep(0.1)
        await self.__aexit__()
        raise RuntimeError(f"{self.name} did not answer /healthz within 60 s:\n{self.log_tail()}")

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown, which runs the lifespan's exit
        try:
            await asyncio.to_thread(self.proc.wait, 15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait, 5)

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def machine_busy_seconds() -> float:
    """CPU time all cores spent busy (not idle, not waiting for I/O) since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Server, client and everything else's CPU over an interval, in % of one core.

    "other" is the rest of the machine (other people's jobs on a shared box): when it is high, the figures
    of that interval are disturbed.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self.start = (time.monotonic(), server.cpu_seconds(), time.process_time(), machine_busy_seconds())

    def read(self) -> dict[str, float]:
        wall0, server0, client0, busy0 = self.start
        wall = time.monotonic() - wall0
        server, client = self.server.cpu_seconds() - server0, time.process_time() - client0
        other = machine_busy_seconds() - busy0 - server - client
        return {
            "server_cpu_s": server,
            "server_cpu_pct": 100 * server / wall,
            "client_cpu_pct": 100 * client / wall,
            "other_cpu_pct": max(0.0, 100 * other / wall),
        }


def _clean_env(**extra: str) -> dict[str, str]:
    # No inherited CROSSDESK_* settings (a Redis URL would change the bus being measured).
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSDESK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def crossdesk_server(name: str, port: int, data_dir: Path, database_url: str) -> Server:
    """The product as shipped: ``crossdesk serve`` (one uvicorn worker, websockets-sansio, JSON logs)."""
    exe = Path(sys.executable).parent / "crossdesk"
    argv = [str(exe)] if exe.exists() else [sys.executable, "-c", "from crossdesk.cli import app; app()"]
    argv += ["serve", "--port", str(port), "--data-dir", str(data_dir)]
    return Server(name, argv, port, _clean_env(CROSSDESK_DATABASE_URL=database_url), data_dir)


def uvicorn_server(name: str, app: str, port: int, **env: str) -> Server:
    """A baseline app under the same uvicorn, loop and WebSocket implementation as ``crossdesk serve``."""
    argv = [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--ws", "websockets-sansio"]
    return Server(name, argv, port, _clean_env(**env), REPO)


# --- a cheap HTTP/1.1 client ------------------------------------------------------------------------------


class Http:
    """A keep-alive HTTP/1.1 connection for our own loopback servers (Content-Length bodies only).

    httpx costs several times more CPU per request; with one core for the client, that would make the
    client, not the server under test, the limit.
    """

    def __init__(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.port, self.reader, self.writer = port, reader, writer

    @classmethod
    async def open(cls, port: int) -> Http:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(port, reader, writer)

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{self.port}", f"content-length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, length = int(head[9:12]), 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length) if length else b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


# --- a lean WebSocket client ------------------------------------------------------------------------------

OnFrame = Callable[[bytes, int], None]  # (text payload, receive time ns)


class Listener(asyncio.Protocol):
    """The receiving end of a WebSocket (RFC 6455), parsed straight from the transport's data.

    200 sockets taking 80,000 frames/s through the ``websockets`` package cost the client about a core, so
    the client, not the server, would set the limit. This only reads (answering pings and closes), takes
    one unfragmented text frame per message (what uvicorn's websockets-sansio sends) and inflates
    permessage-deflate when the server agreed to it.
    """

    def __init__(self, on_frame: OnFrame) -> None:
        loop = asyncio.get_running_loop()
        self.on_frame = on_frame
        self.buf = bytearray()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.first_frame: asyncio.Future[bytes] = loop.create_future()
        self.lost = False
        self.inflater: Any = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        self.buf += data
        if not self.opened.done():
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            del self.buf[: end + 4]
            if not head.startswith(b"http/1.1 101"):
                self.opened.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                return
            if b"permessage-deflate" in head:
                self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            self.opened.set_result(None)
        self._frames(now)

    def _frames(self, now: int) -> None:
        buf, pos, end = self.buf, 0, len(self.buf)
        while end - pos >= 2:
            b0, length, head = buf[pos], buf[pos + 1] & 0x7F, 2
            if length == 126:
                length, head = int.from_bytes(buf[pos + 2 : pos + 4]), 4
            elif length == 127:
                length, head = int.from_bytes(buf[pos + 2 : pos + 10]), 10
            if end - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            opcode = b0 & 0x0F
            if opcode == 1:
                if not b0 & 0x80:
                    raise ConnectionError("fragmented frame: not expected from these servers")
                if b0 & 0x40 and self.inflater is not None:
                    payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
                if not self.first_frame.done():
                    self.first_frame.set_result(payload)
                self.on_frame(payload, now)
            elif opcode == 9:
                self._send(0xA, payload)
            elif opcode == 8:
                self.close()
        del buf[:pos]

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        mask = os.urandom(4)  # clients mask what they send (RFC 6455 5.3)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload[:125]))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(masked)]) + mask + masked)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))

    def close(self) -> None:
        self._send(0x8, (1000).to_bytes(2, "big"))
        if self.transport is not None:
            self.transport.close()


async def listen(
    port: int, path: str, headers: dict[str, str], on_frame: OnFrame, deflate: bool = False
) -> Listener:
    """Open a socket, complete the handshake and wait for the server's first frame (its hello)."""
    loop = asyncio.get_running_loop()
    _, listener = await loop.create_connection(lambda: Listener(on_frame), "127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", f"host: 127.0.0.1:{port}", "upgrade: websocket", "connection: Upgrade"]
    lines += [f"sec-websocket-key: {base64.b64encode(os.urandom(16)).decode()}", "sec-websocket-version: 13"]
    if deflate:
        lines.append("sec-websocket-extensions: permessage-deflate; client_max_window_bits")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    assert listener.transport is not None
    listener.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await asyncio.wait_for(listener.opened, 10)
    await asyncio.wait_for(listener.first_frame, 10)
    return listener


# --- the product's side: a tenant, and PostgreSQL databases ------------------------------------------------


@dataclass
class Tenant:
    workspace_id: int
    token: str
    public_id: str
    secret: str
    accounts: dict[str, str] = field(default_factory=dict)  # channel kind -> its account's public id

    @property
    def inbound_path(self) -> str:
        return f"/api/v1/channels/api/{self.public_id}/messages"

    def signed(self, body: bytes) -> dict[str, str]:
        from crossdesk.channels.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

        ts = int(time.time())
        return {
            "content-type": "application/json",
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(self.secret, ts, body),
        }


async def make_tenant(
    database_url: str, accounts: dict[str, tuple[dict[str, Any], dict[str, str]]] | None = None
) -> Tenant:
    """Migrate, then create a workspace, its owner, an admin API token, a signed API channel, and an account
    of each kind in ``accounts`` (kind -> settings, secrets)."""
    from crossdesk.channels import service as channels
    from crossdesk.db import Database, migrate
    from crossdesk.workspaces import service as workspaces

    await asyncio.to_thread(migrate, database_url)
    db = Database(database_url)
    try:
        async with db.transaction(system=True) as session:
            ws = await workspaces.create_workspace(session, f"Bench {uuid.uuid4().hex[:6]}")
            owner = await workspaces.create_agent(
                session, ws.id, email=f"owner-{uuid.uuid4().hex[:8]}@bench.example", name="Owner",
                password=uuid.uuid4().hex, role="owner",
            )  # fmt: skip
            _, token = await workspaces.create_api_token(session, ws.id, "bench", "admin", owner.id)
        async with db.transaction(ws.id) as session:
            account, secret = await channels.create_account(session, "api", "Bench")
            others = {
                kind: (await channels.create_account(session, kind, kind, config, credentials))[0].public_id
                for kind, (config, credentials) in (accounts or {}).items()
            }
        return Tenant(ws.id, token, account.public_id, secret, others)
    finally:
        await db.dispose()


# --- figures --------------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (nan when empty)."""
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def latency_ms(latencies_ns: list[int]) -> dict[str, float]:
    values = sorted(v / 1e6 for v in latencies_ns)
    return {
        "p50_ms": percentile(values, 0.50),
        "p99_ms": percentile(values, 0.99),
        "max_ms": values[-1] if values else math.nan,
    }


def fmt(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return (
            f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
        )
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: list[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [headers, *[[fmt(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict[str, Any]:
    """Where and on what code the figures were taken (uncommitted changes under src/ are counted)."""
    return {
        "commit": _git("rev-parse", "--short", "HEAD"),
        "changed_files_in_src": len(_git("status", "--porcelain", "--", "src").splitlines()),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_at_start": os.getloadavg(),
    }


def busy_before(seconds: float = 2.0) -> float:
    """How busy the machine is before we start (% of one core): other jobs disturb every figure."""
    start = machine_busy_seconds()
    time.sleep(seconds)
    busy = 100 * (machine_busy_seconds() - start) / seconds
    if busy > 30:
        print(f"WARNING: the machine is already {busy:.0f}% busy (of one core) before the benchmark starts;")
        print("         other work competes for the 2 cores, so the figures below are disturbed.")
    return busy


def save_results(
    benchmark: str,
    args: Any,
    rows: list[dict[str, Any]],
    verdict: dict[str, Any],
    chart: Callable[[list[dict[str, Any]], Path], bool],
) -> None:
    """Write the run's JSON and chart under bench/results/ and say where."""
    name = "-".join(filter(None, [benchmark, "quick" if args.quick else "", args.tag]))
    data = {
        "benchmark": benchmark,
        "machine": machine(),
        "params": vars(args),
        "rows": rows,
        "target": verdict,
    }
    print(f"\nresults: {save_json(name, data)}")
    if chart(rows, RESULTS / f"{name}.png"):
        print(f"chart:   {RESULTS / f'{name}.png'}")


def save_json(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def pyplot() -> Any | None:
    """matplotlib's pyplot (headless), or None when the ``bench`` extra is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no chart: matplotlib is not installed; pip install -e '.[bench]')")
        return None
    return plt


# --- profiling the server with py-spy ------------------------------------------------------------------


class Profile:
    """``py-spy record`` of the server process for a while, as collapsed stacks, summarised afterwards."""

    def __init__(self, pid: int, name: str, seconds: float) -> None:
        self.path = RESULTS / f"{name}.pyspy.txt"
        self.seconds = max(1, round(seconds))
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.proc: subprocess.Popen[bytes] | None = None
        if Path(exe).exists():
            # --gil: only the thread holding the GIL, i.e. what the one core of a Python server is spent on.
            argv = [
                exe,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                "100",
                "--nonblocking",
                "--gil",
            ]
            argv += ["--duration", str(self.seconds), "-o", str(self.path)]
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            print("(no profile: py-spy is not installed)")

    async def summary(self, top: int = 15) -> str:
        if self.proc is None:
            return ""
        try:
            await asyncio.to_thread(self.proc.wait, self.seconds + 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return "(py-spy did not finish)"
        if not self.path.exists():
            return "(py-spy wrote nothing: it needs ptrace permission)"
        return summarise_stacks(self.path.read_text(), top)


def _frame_name(frame: str) -> str:
    # "send_text (starlette/websockets.py:161)" -> "send_text (starlette/websockets.py)"
    frame = re.sub(r":\d+\)$", ")", frame.strip())
    return re.sub(r"\(/.*?site-packages/", "(", re.sub(r"\(/.*?/src/", "(", frame))


# Where a server's time goes, by layer: a sample counts for every layer that has a frame on its stack
# (the HTTP layer only for its own innermost frame, since every request handler runs under it).
# SQLAlchemy's async layer runs queries in greenlets, whose stacks py-spy shows without their caller.
LAYERS = {
    "SQLAlchemy (ORM and core)": "sqlalchemy/",
    "aiosqlite / sqlite3": "(?i)sqlite",
    "asyncpg": "asyncpg/",
    "pydantic": "pydantic",
    "WebSocket frame send": "websockets_sansio_impl|websockets/",
    "crossdesk realtime hub": "crossdesk/realtime/hub",
    "logging": "logging/",
    "HTTP parsing and response (uvicorn)": "httptools_impl[^;]*$",
}


def summarise_stacks(collapsed: str, top: int) -> str:
    """Shares of samples by layer, by function (self time) and by the project's own functions."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";")]
        total += count
        self_time[frames[-1]] += count
        layers.update({layer: count for layer, pattern in LAYERS.items() if re.search(pattern, stack)})
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return "(no samples)"
    by_layer = [[f"{100 * n / total:.0f}%", name] for name, n in layers.most_common()]
    rows = [[f"{100 * n / total:.1f}%", name[:100]] for name, n in self_time.most_common(top)]
    ours = [(name, n) for name, n in inclusive.most_common() if "(crossdesk/" in name or "(bench/" in name]
    incl = [[f"{100 * n / total:.1f}%", name[:100]] for name, n in ours[: top + 10]]
    return (
        f"{total} samples holding the GIL\nby layer:\n{table(['share', 'layer'], by_layer)}\n"
        "self time (C calls count in their Python caller):\n"
        f"{table(['share', 'function'], rows)}\ninclusive, the project's own functions:\n"
        f"{table(['share', 'function'], incl)}"
    )


def run_client(args: Any, main: Callable[[Any], Coroutine[Any, Any, None]]) -> None:
    """Note how busy the machine already is, then run a benchmark's client, on uvloop when installed: its
    loop costs less per request and frame, so the client stays ahead of the server it measures."""
    args.busy_before_pct = busy_before()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(args))
    else:
        uvloop.run(main(args))
