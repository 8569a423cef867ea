"""Channels: platforms' signed webhooks, mixed, into crossdesk on SQLite, against the plain API ingest.

    .venv/bin/python -m bench.channels [--quick] [--profile]

Two crossdesk servers on SQLite (each with a fresh database) take the same load in turn: N signed posts
from many keep-alive connections at once, from senders spread over a pool of buyers, one agent socket
connected. The first gets the spine's API channel only (the baseline); the second gets the platforms'
webhooks mixed in equal shares — Messenger, Instagram and WhatsApp (``X-Hub-Signature-256``), TikTok Shop
(``Authorization`` HMAC over app key + body) and the API channel — each in the shape the platform documents,
through ``/hooks/<kind>/<public id>``. Reported as in ``bench.ingest``: acknowledged messages/s, the
answer's latency, post-to-socket latency, exactly-once checks. Target (issue): the mixed webhooks at least
80% of the API ingest's messages/s.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    Tenant,
    crossdesk_server,
    free_port,
    make_tenant,
    mark,
    pyplot,
    run_client,
    save_results,
    table,
)
from bench.ingest import Target, count_product_rows, message, options, run_target, settle

TARGET_RATIO = 0.8
APP_SECRET = "bench-app-secret"
TIKTOK_KEY = "bench-app-key"
PAGE, IG_ACCOUNT, PHONE_ID = "1000000001", "1780000002", "1090000003"
TEXT = " Hi, my order has not arrived yet, can you check the tracking?"
META_CREDENTIALS = {"app_secret": APP_SECRET, "page_access_token": "EAAB", "verify_token": "v"}
ACCOUNTS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "messenger": ({"page_id": PAGE}, META_CREDENTIALS),
    "instagram": ({"page_id": IG_ACCOUNT}, META_CREDENTIALS),
    "whatsapp": (
        {"phone_number_id": PHONE_ID},
        {"app_secret": APP_SECRET, "access_token": "EAAB", "verify_token": "v"},
    ),
    "tiktok": ({"app_key": TIKTOK_KEY}, {"app_secret": APP_SECRET, "access_token": "tt"}),
}
# Each: (run, seq, sent ns, buyer) -> body, as the platform sends it.
Body = Callable[[int, int, int, int], bytes]


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _messaging(kind: str, recipient: str) -> Body:
    def body(run: int, seq: int, sent_ns: int, buyer: int) -> bytes:
        ms = int(time.time() * 1000)
        event = {
            "sender": {"id": f"{kind}-{buyer}"},
            "recipient": {"id": recipient},
            "timestamp": ms,
            "message": {"mid": f"ingest-{run}-{seq}", "text": mark(run, seq, sent_ns) + TEXT},
        }
        obj = "page" if kind == "messenger" else "instagram"
        return _dumps({"object": obj, "entry": [{"id": recipient, "time": ms, "messaging": [event]}]})

    return body


def _whatsapp(run: int, seq: int, sent_ns: int, buyer: int) -> bytes:
    wa_id = f"4915100{buyer:06d}"
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": f"Buyer {buyer}"}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": f"ingest-{run}-{seq}",
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": mark(run, seq, sent_ns) + TEXT},
            }
        ],
    }
    change = {"value": value, "field": "messages"}
    return _dumps({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [change]}]})


def _tiktok(run: int, seq: int, sent_ns: int, buyer: int) -> bytes:
    data = {
        "conversation_id": f"7{buyer:017d}",
        "message_id": f"ingest-{run}-{seq}",
        "type": "TEXT",
        "content": json.dumps({"content": mark(run, seq, sent_ns) + TEXT}),
        "create_time": int(time.time()),
        "is_visible": True,
        "sender": {"im_user_id": f"tt-{buyer}", "role": "BUYER"},
    }
    return _dumps({"type": 14, "shop_id": "7490000000", "timestamp": int(time.time()), "data": data})


def _hub_signature(raw: bytes) -> dict[str, str]:
    digest = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-hub-signature-256": f"sha256={digest}"}


def _tiktok_signature(raw: bytes) -> dict[str, str]:
    digest = hmac.new(APP_SECRET.encode(), TIKTOK_KEY.encode() + raw, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "authorization": digest}


WEBHOOKS: dict[str, tuple[Body, Callable[[bytes], dict[str, str]]]] = {
    "messenger": (_messaging("messenger", PAGE), _hub_signature),
    "instagram": (_messaging("instagram", IG_ACCOUNT), _hub_signature),
    "whatsapp": (_whatsapp, _hub_signature),
    "tiktok": (_tiktok, _tiktok_signature),
}


def mixed_target(url: str, tenant: Tenant, data_dir: Path, customers: int) -> Target:
    """Every fifth post on each channel (the API channel included), in turn."""
    kinds = ["api", *WEBHOOKS]

    def build(run: int, seq: int, sent_ns: int) -> tuple[str, bytes, dict[str, str]]:
        kind = kinds[seq % len(kinds)]
        if kind == "api":
            raw = message(run, seq, sent_ns, customers)
            return tenant.inbound_path, raw, tenant.signed(raw)
        body, sign = WEBHOOKS[kind]
        raw = body(run, seq, sent_ns, seq % customers)
        return f"/hooks/{kind}/{tenant.accounts[kind]}", raw, sign(raw)

    async def stored(run: int) -> Counter[int]:
        return await count_product_rows(url, tenant.workspace_id, run)

    server = crossdesk_server("channels-mixed", free_port(), data_dir, url)
    # The API channel answers 201 for a new message; platforms' webhooks get 200 (what they expect).
    return Target("mixed-webhooks", "sqlite", server, build, tenant, stored, stored_status=(200, 201))


def api_target(url: str, tenant: Tenant, data_dir: Path, customers: int) -> Target:
    def build(run: int, seq: int, sent_ns: int) -> tuple[str, bytes, dict[str, str]]:
        raw = message(run, seq, sent_ns, customers)
        return tenant.inbound_path, raw, tenant.signed(raw)

    async def stored(run: int) -> Counter[int]:
        return await count_product_rows(url, tenant.workspace_id, run)

    server = crossdesk_server("channels-api", free_port(), data_dir, url)
    return Target("api-ingest", "sqlite", server, build, tenant, stored)


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    print(
        f"\nChannels, closed loop: {args.messages:,} messages from {args.concurrency} connections, "
        f"{args.customers} buyers a channel, 1 agent socket, SQLite (latencies in ms)"
    )
    headers = ["load", "acked", "msg/s", "ack p50", "ack p99", "sock p50", "sock p99", "paced sock p99"]
    headers += ["errors", "exactly once", "server cpu ms/msg"]
    lines = [
        [
            r["target"], r["acked"], r["messages_s"], r["ack_p50_ms"], r["ack_p99_ms"], r["socket_p50_ms"],
            r["socket_p99_ms"], r["paced_socket_p99_ms"], sum(r["errors"].values()),
            "yes" if r["exactly_once"] else "NO", r["server_cpu_ms_per_message"],
        ]
        for r in rows
    ]  # fmt: skip
    print(table(headers, lines))
    api, mixed = rows
    ratio = mixed["messages_s"] / max(api["messages_s"], 1e-9)
    met = ratio >= TARGET_RATIO and mixed["exactly_once"] and api["exactly_once"]
    print(
        f"\nTarget: mixed webhooks {mixed['messages_s']:,.0f} msg/s = {ratio:.2f} x the API ingest's "
        f"{api['messages_s']:,.0f} (>= {TARGET_RATIO:g}), every message exactly once: "
        f"{'MET' if met else 'NOT MET'}"
    )
    return {"ratio": ratio, "met": met}


def chart(rows: list[dict[str, Any]], path: Path) -> bool:
    plt = pyplot()
    if plt is None:
        return False
    names = [r["target"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(names, [r["messages_s"] for r in rows], color=["grey", "C0"])
    left.axhline(TARGET_RATIO * rows[0]["messages_s"], color="red", linewidth=0.8, label="80% of API ingest")
    left.set(ylabel="acknowledged messages/s", title="Throughput (closed loop)")
    left.legend()
    keys = (("ack_p99_ms", "answer p99"), ("socket_p50_ms", "socket p50"), ("socket_p99_ms", "socket p99"))
    for i, (key, label) in enumerate(keys):
        right.bar([x + (i - 1) * 0.25 for x in range(len(rows))], [r[key] for r in rows], 0.25, label=label)
    right.set_xticks(list(range(len(rows))), names)
    right.set(ylabel="ms", title="Post start to answer / to the agent's socket")
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


async def main(args: argparse.Namespace) -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="crossdesk-bench-") as tmp:
        for name, make in (("api", api_target), ("mixed", mixed_target)):
            data_dir = Path(tmp) / name
            data_dir.mkdir()
            url = f"sqlite+aiosqlite:///{data_dir / 'crossdesk.db'}"
            tenant = await make_tenant(url, ACCOUNTS if name == "mixed" else None)
            rows.append(await run_target(make(url, tenant, data_dir, args.customers), args))
    save_results("channels", args, rows, report(rows, args), chart)


def run(argv: list[str] | None = None) -> None:
    run_client(settle(options(__doc__).parse_args(argv)), main)


if __name__ == "__main__":
    run()
