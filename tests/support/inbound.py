"""Building and posting signed API-channel messages, as an integration would."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from crossdesk.channels.signing import sign


def message(text: str = "Where is my order?", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "platform_message_id": overrides.pop("platform_message_id", uuid.uuid4().hex),
        "text": text,
        "sender": overrides.pop(
            "sender",
            {"name": "Hans Müller", "email": f"hans-{uuid.uuid4().hex[:8]}@example.de", "country": "DE"},
        ),
    }
    body.update(overrides)
    return body


def signed_headers(secret: str, raw: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": "application/json",
        "x-crossdesk-timestamp": str(ts),
        "x-crossdesk-signature": sign(secret, ts, raw),
    }


async def post(client: httpx.AsyncClient, tenant: Any, body: dict[str, Any] | bytes) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(
        tenant.inbound_url(), content=raw, headers=signed_headers(tenant.channel_secret, raw)
    )
