"""Waiting, through the API, for an agent's reply to reach a delivery state (the outbox works on its own)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


async def reply_reaching(
    client: httpx.AsyncClient,
    conversation_id: int,
    state: str,
    message_id: int | None = None,
    limit_s: float = 10,
) -> dict[str, Any]:
    """The reply (``message_id``, else the conversation's last outbound message) once its delivery state is
    ``state``, or as it is after ``limit_s`` (a guard against hanging: callers assert on the state)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        detail = (await client.get(f"/api/v1/conversations/{conversation_id}")).json()
        if message_id is None:
            reply = [m for m in detail["messages"] if m["direction"] == "outbound"][-1]
        else:
            reply = next(m for m in detail["messages"] if m["id"] == message_id)
        if reply["delivery_state"] == state or loop.time() > deadline:
            return dict(reply)
        await asyncio.sleep(0.05)
