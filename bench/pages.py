"""The agents' pages on the demo data: server-rendered HTML against a plain JSON API answer of the same data.

Issue 4: *render time of the inbox and a 200-message conversation with the demo data on SQLite (p50/p95
over repeated requests) against a plain JSON API response of the same data in the same run; target p95
under 50 ms for both pages.*

The demo workspace (`crossdesk demo`'s builder: 1,500 customers and their orders, ~320 conversations) is
built into a fresh SQLite file, one of its conversations is grown to 200 messages (buyer and agent turns),
and `crossdesk serve` runs on it in its own process. One logged-in client then asks, in turn, for the
inbox page (`/inbox`) and the API's list of the same conversations (`/api/v1/conversations?status=open`),
the conversation page (`/conversations/{id}`) and the API's same conversation (`/api/v1/conversations/{id}`),
over keep-alive connections, after a warm-up; the four alternate so that a disturbance hits all alike.
Latency is the client's, from sending the request to the last byte of the answer.

    .venv/bin/python -m bench.pages             # ~1.5 min: demo of 1,500 customers, 300 rounds
    .venv/bin/python -m bench.pages --quick     # ~30 s: 300 customers, 60 rounds
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    Http,
    crossdesk_server,
    fmt,
    free_port,
    percentile,
    pyplot,
    run_client,
    save_results,
    table,
)
from crossdesk.conversations import service as conversations
from crossdesk.conversations.ingest import ingest
from crossdesk.conversations.models import Conversation
from crossdesk.conversations.schemas import InboundMessage, SenderIn
from crossdesk.customers import service as customers
from crossdesk.db import Database, migrate
from crossdesk.demo import builder
from crossdesk.workspaces import service as workspaces

TARGET_P95_MS = 50.0
THREAD_LENGTH = 200


async def grow_a_thread(url: str, slug: str) -> int:
    """Make one open demo conversation 200 messages long (half the buyer's, half the agents'); its id."""
    db = Database(url)
    try:
        async with db.transaction(system=True) as session:
            ws = await workspaces.workspace_by_slug(session, slug)
            assert ws is not None
            agent = (await workspaces.list_agents(session))[1]
        async with db.transaction(ws.id) as session:
            items, _ = await conversations.list_conversations(
                session, conversations.ConversationFilter(status=["open"]), None, 1
            )
            conversation = await session.get_one(Conversation, items[0]["id"])
            buyer = await customers.get(session, conversation.customer_id)
            count = len(await conversations.messages_of(session, conversation.id))
        assert buyer is not None and buyer.email, "a demo buyer has an e-mail"
        sender = SenderIn(name=buyer.name, email=buyer.email)
        for i in range(count, THREAD_LENGTH):
            if i % 2 == 0:
                text = f"Follow-up {i}: is there any news on my parcel? The tracking page has not changed."
                message = InboundMessage(
                    channel=conversation.channel, platform_message_id=f"bench-{i}", text=text, sender=sender
                )
                await ingest(db, ws.id, message, conversation.channel_account_id)
            else:
                async with db.transaction(ws.id) as session:
                    await conversations.add_agent_message(
                        session,
                        conversation.id,
                        agent.id,
                        f"Reply {i}: I have asked the carrier again.",
                        private=i % 10 == 1,
                    )
        return conversation.id
    finally:
        await db.dispose()


async def log_in(port: int, email: str) -> str:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        response = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": builder.DEMO_PASSWORD}
        )
        response.raise_for_status()
        return f"crossdesk_session={client.cookies['crossdesk_session']}"


async def measure(
    port: int, cookie: str, paths: dict[str, str], rounds: int, warmup: int
) -> list[dict[str, Any]]:
    http = await Http.open(port)
    headers = {"cookie": cookie}
    times: dict[str, list[float]] = {name: [] for name in paths}
    sizes: dict[str, int] = {}
    try:
        for round_ in range(warmup + rounds):
            for name, path in paths.items():
                started = time.perf_counter()
                status, body = await http.request("GET", path, headers=headers)
                took = (time.perf_counter() - started) * 1000
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")
                if round_ >= warmup:
                    times[name].append(took)
                    sizes[name] = len(body)
    finally:
        await http.close()
    rows = []
    for name, path in paths.items():
        values = sorted(times[name])
        rows.append(
            {
                "target": name,
                "path": path,
                "requests": len(values),
                "p50_ms": percentile(values, 0.50),
                "p95_ms": percentile(values, 0.95),
                "max_ms": values[-1],
                "bytes": sizes[name],
            }
        )
    return rows


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    print(
        f"\nAgents' pages, demo data on SQLite ({args.customers:,} customers), {args.rounds} requests each "
        "after a warm-up, one keep-alive client (ms)"
    )
    headers = ["target", "path", "p50", "p95", "max", "bytes"]
    print(
        table(
            headers,
            [[r["target"], r["path"], r["p50_ms"], r["p95_ms"], r["max_ms"], r["bytes"]] for r in rows],
        )
    )
    by = {r["target"]: r for r in rows}
    verdict: dict[str, Any] = {"target_p95_ms": TARGET_P95_MS}
    for page, api in (("inbox page", "inbox API"), ("conversation page", "conversation API")):
        p95 = by[page]["p95_ms"]
        verdict[page] = {"p95_ms": p95, "api_p95_ms": by[api]["p95_ms"], "met": p95 < TARGET_P95_MS}
        print(
            f"{page}: p95 {fmt(p95)} ms (the JSON API's: {fmt(by[api]['p95_ms'])} ms), target < "
            f"{TARGET_P95_MS:g} ms: {'MET' if p95 < TARGET_P95_MS else 'NOT MET'}"
        )
    verdict["met"] = all(v["met"] for k, v in verdict.items() if isinstance(v, dict))
    return verdict


def chart(rows: list[dict[str, Any]], path: Path) -> bool:
    plt = pyplot()
    if plt is None:
        return False
    fig, ax = plt.subplots(figsize=(8, 4))
    names = [r["target"] for r in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r["p50_ms"] for r in rows], 0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], [r["p95_ms"] for r in rows], 0.4, label="p95")
    ax.axhline(TARGET_P95_MS, color="red", linewidth=0.8, label="target p95 (pages)")
    ax.set_xticks(list(xs), names)
    ax.set(ylabel="ms", title="Agents' pages vs the same data as JSON (demo, SQLite)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="crossdesk-bench-") as tmp:
        data_dir = Path(tmp)
        url = f"sqlite+aiosqlite:///{data_dir / 'crossdesk.db'}"
        await asyncio.to_thread(migrate, url)
        started = time.perf_counter()
        db = Database(url)
        try:
            await builder.build(db, customers=args.customers)
        finally:
            await db.dispose()
        conversation_id = await grow_a_thread(url, builder.DEMO_SLUG)
        print(
            f"demo built and a {THREAD_LENGTH}-message thread grown in {time.perf_counter() - started:.1f} s"
        )
        port = free_port()
        async with crossdesk_server("pages", port, data_dir, url):
            cookie = await log_in(port, builder.DEMO_EMAIL)
            paths = {
                "inbox page": "/inbox",
                "inbox API": "/api/v1/conversations?status=open&limit=50",
                "conversation page": f"/conversations/{conversation_id}",
                "conversation API": f"/api/v1/conversations/{conversation_id}",
            }
            rows = await measure(port, cookie, paths, args.rounds, args.warmup)
    save_results("pages", args, rows, report(rows, args), chart)


def options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small demo and fewer requests")
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--tag", default="", help="a suffix for the result files")
    return parser


def run(argv: list[str] | None = None) -> None:
    args = options().parse_args(argv)
    if args.quick:
        args.customers, args.rounds = min(args.customers, 300), min(args.rounds, 60)
    run_client(args, main)


if __name__ == "__main__":
    run()
