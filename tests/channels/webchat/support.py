"""Driving the chat widget's endpoints as the widget does: a widget account, visitor sessions, the
visitor's socket, and the agents' side through the API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import Tenant

Frame = dict[str, Any]
SHOP = "https://shop.example.com"
WAIT_S = 10  # a guard against hanging, not a timing assertion


@dataclass(frozen=True)
class Widget:
    tenant: Tenant
    public_id: str
    secret: str

    @property
    def api(self) -> str:
        return f"{self.tenant.server.url}/widget/api/{self.public_id}"

    @property
    def ws(self) -> str:
        return f"{self.tenant.server.ws_url}/widget/api/{self.public_id}/ws"


async def make_widget(tenant: Tenant, **config: Any) -> Widget:
    async with tenant.client() as client:
        response = await client.post("/api/v1/channels/webchat", json={"name": "Shop chat", "config": config})
    assert response.status_code == 201, response.text
    body = response.json()
    return Widget(tenant, body["public_id"], body["secret"])


async def session(widget: Widget, token: str | None = None, origin: str | None = SHOP) -> httpx.Response:
    headers = {"origin": origin} if origin else {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{widget.api}/session", headers=headers)


async def visitor(widget: Widget) -> str:
    """A new visitor's token."""
    response = await session(widget)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def message_frame(text: str, client_id: str | None = None, **extra: Any) -> Frame:
    return {"type": "message", "client_id": client_id or uuid.uuid4().hex, "text": text, **extra}


async def post_message(
    widget: Widget, token: str | None, body: Frame | bytes, origin: str | None = SHOP
) -> httpx.Response:
    headers = {"content-type": "application/json", **({"origin": origin} if origin else {})}
    if token:
        headers["authorization"] = f"Bearer {token}"
    raw = (
        body
        if isinstance(body, bytes)
        else json.dumps({k: v for k, v in body.items() if k != "type"}).encode()
    )
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{widget.api}/messages", content=raw, headers=headers)


@contextlib.asynccontextmanager
async def visitor_socket(
    widget: Widget, token: str | None, last_event_id: int | None = None, origin: str = SHOP
) -> AsyncIterator[ClientConnection]:
    """The visitor's socket, authenticated (the token is its first frame)."""
    query = "" if last_event_id is None else f"?last_event_id={last_event_id}"
    async with connect(
        widget.ws + query, additional_headers={"origin": origin}, proxy=None, open_timeout=WAIT_S
    ) as ws:
        if token is not None:
            await ws.send(json.dumps({"type": "auth", "token": token}))
        yield ws


async def next_frame(ws: ClientConnection, within: float = WAIT_S) -> Frame:
    frame: Frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=within))
    return frame


async def frames_until(ws: ClientConnection, done: Callable[[Frame], bool]) -> list[Frame]:
    """Frames up to and including the first one that ``done`` accepts."""
    frames = [await next_frame(ws)]
    while not done(frames[-1]):
        frames.append(await next_frame(ws))
    return frames


async def quiet(ws: ClientConnection, within: float = 0.5) -> list[Frame]:
    """Whatever else arrives within a moment (for checks that something did NOT come)."""
    frames: list[Frame] = []
    with contextlib.suppress(TimeoutError):
        while True:
            frames.append(await next_frame(ws, within))
    return frames


async def opened(ws: ClientConnection) -> tuple[Frame, list[Frame]]:
    """A fresh socket's hello and its thread."""
    hello, thread = await next_frame(ws), await next_frame(ws)
    assert hello["type"] == "hello" and thread["type"] == "thread", (hello, thread)
    return hello, thread["messages"]


def is_reply(text: str) -> Callable[[Frame], bool]:
    return lambda f: f.get("type") == "message" and f["data"]["text"] == text


async def send_and_store(ws: ClientConnection, frame: Frame) -> tuple[Frame, list[Frame]]:
    """Send a message frame; returns its ``stored`` answer and the frames up to it and, for a new message,
    up to its echo (the two may come in either order)."""
    await ws.send(json.dumps(frame))
    ref = frame["client_id"]

    def echo(f: Frame) -> bool:
        return f.get("type") == "message" and f["data"]["ref"] == ref

    frames = await frames_until(ws, lambda f: f.get("type") in ("stored", "error") and f["ref"] == ref)
    assert frames[-1]["type"] == "stored", frames[-1]
    stored = frames[-1]
    if not stored["duplicate"] and not any(echo(f) for f in frames):
        frames += await frames_until(ws, echo)
    return stored, frames


async def webchat_conversation(tenant: Tenant, client: httpx.AsyncClient, text: str) -> dict[str, Any]:
    """The webchat conversation whose messages include ``text`` (as the agents' API shows it)."""
    for _ in range(100):
        page = (await client.get("/api/v1/conversations", params={"channel": "webchat", "limit": 200})).json()
        for item in page["items"]:
            detail = (await client.get(f"/api/v1/conversations/{item['id']}")).json()
            if any(m["text"] == text for m in detail["messages"]):
                return dict(detail)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no webchat conversation with {text!r}")


async def reply(
    client: httpx.AsyncClient, conversation_id: int, text: str, note: bool = False
) -> dict[str, Any]:
    kind = "notes" if note else "messages"
    response = await client.post(f"/api/v1/conversations/{conversation_id}/{kind}", json={"text": text})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def delivery_state(client: httpx.AsyncClient, conversation_id: int, message_id: int) -> str | None:
    detail = (await client.get(f"/api/v1/conversations/{conversation_id}")).json()
    return next(m["delivery_state"] for m in detail["messages"] if m["id"] == message_id)


async def until_state(client: httpx.AsyncClient, conversation_id: int, message_id: int, *states: str) -> None:
    """Wait until the reply is in one of ``states`` (a later state counts where the caller lists it)."""
    deadline = asyncio.get_running_loop().time() + 3 * WAIT_S
    state = None
    while asyncio.get_running_loop().time() < deadline:
        if (state := await delivery_state(client, conversation_id, message_id)) in states:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"message {message_id} never became {states}; it is {state}")
