"""The visitor's WebSocket: their thread live, resumable like the agents' socket.

The page connects to ``/widget/api/<key>/ws`` (``?last_event_id=N`` to resume) and sends its visitor token
in the first frame (``{"type": "auth", "token": ...}``; not in the URL, which servers log). It then gets
``{"type": "hello"|"reload", "last_id"}``, the thread (``{"type": "thread", "messages"}``, unless it
resumed), and live frames ``{"id", "type": "message"|"typing", "data", "at"}`` (``crossdesk.channels.kinds.
webchat.view`` decides what it may see). It sends ``message``, ``typing`` and ``ack`` frames; each message is
answered ``{"type": "stored", "ref", "id", "duplicate"}`` or ``{"type": "error", "ref", "status", "reason"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel, Field, StringConstraints, TypeAdapter, ValidationError

from crossdesk.channels.adapter import Context, Rejected
from crossdesk.channels.kinds.webchat import access, chat, tokens
from crossdesk.channels.kinds.webchat.view import CLIENT_ID, REPLY_REF, VisitorView
from crossdesk.conversations.schemas import Untrusted
from crossdesk.db import MAX_ID
from crossdesk.realtime.hub import Connection, Hub

AUTH_TIMEOUT_S = 10
MAX_FRAME = 16_384
CLOSE_BAD_TOKEN = 4401  # the widget drops its token and asks for a new one

router = APIRouter()


class AuthFrame(BaseModel):
    type: Literal["auth"]
    token: str = Field(max_length=tokens.MAX_TOKEN)


class MessageFrame(chat.VisitorMessageIn):
    type: Literal["message"]


class TypingFrame(Untrusted):
    type: Literal["typing"]
    is_typing: bool


class AckFrame(Untrusted):
    type: Literal["ack"]
    refs: list[Annotated[str, StringConstraints(pattern=REPLY_REF.pattern)]] = Field(max_length=100)
    state: Literal["delivered", "read"]


Frame = Annotated[MessageFrame | TypingFrame | AckFrame, Field(discriminator="type")]
FRAMES: TypeAdapter[MessageFrame | TypingFrame | AckFrame] = TypeAdapter(Frame)


@router.websocket("/widget/api/{public_key}/ws")
async def visitor_socket(
    websocket: WebSocket,
    public_key: str,
    last_event_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> None:
    try:
        account, config = await access.widget_of(websocket, public_key)
        guards = chat.guards_of(websocket.app.state)
        chat.check(guards.sockets_per_ip, f"{public_key}:{access.ip_of(websocket)}")
    except Rejected as exc:  # before the handshake completes: the browser sees it refused
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=str(exc)[:120])
        return
    await websocket.accept()
    try:
        raw = await asyncio.wait_for(_receive(websocket), AUTH_TIMEOUT_S)
        visitor = access.visitor_of(account, AuthFrame.model_validate_json(raw).token)
    except (TimeoutError, ValidationError, Rejected):
        await websocket.close(code=CLOSE_BAD_TOKEN, reason="a valid visitor token is required")
        return
    except WebSocketDisconnect:
        return
    await _serve(
        websocket, chat.Caller(account, config, visitor.visitor_id, access.ip_of(websocket)), last_event_id
    )


async def _serve(websocket: WebSocket, caller: chat.Caller, last_event_id: int | None) -> None:
    context: Context = websocket.app.state.channel_context
    hub: Hub = websocket.app.state.hub
    guards = chat.guards_of(websocket.app.state)
    visible = VisitorView(caller.visitor_id, await chat.conversation_ids(context, caller))
    connection = Connection(websocket, caller.account.workspace_id, None, view=visible)
    with contextlib.suppress(WebSocketDisconnect):
        async with hub.serving(connection, last_event_id) as opening:
            # A conversation opened while we attached is known from here on (its typing shows).
            visible.conversations.update(await chat.conversation_ids(context, caller))
            if last_event_id is None or opening == "reload":
                _send(connection, {"type": "thread", "messages": await chat.thread(context, caller)})
            while True:
                answer = await _handle(context, guards, caller, await _receive(websocket))
                if answer is not None:
                    _send(connection, answer)


async def _receive(websocket: WebSocket) -> str:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    return text if isinstance(text, str) else ""  # a binary frame is no valid frame


def _send(connection: Connection, frame: dict[str, Any]) -> None:
    # Through the connection's queue, behind the events already queued: one writer per socket.
    connection.push(None, json.dumps(frame, separators=(",", ":"), ensure_ascii=False))


async def _handle(
    context: Context, guards: chat.Guards, caller: chat.Caller, raw: str
) -> dict[str, Any] | None:
    """Act on one frame from the widget; returns the answer to send, if any."""
    ref = _ref_of(raw)
    try:
        if len(raw) > MAX_FRAME:
            raise Rejected(f"frame over {MAX_FRAME} characters", 413)
        frame = FRAMES.validate_json(raw)
        if isinstance(frame, MessageFrame):
            result = await chat.post_message(context, guards, caller, frame)
            return {
                "type": "stored",
                "ref": frame.client_id,
                "id": result.message_id,
                "duplicate": result.duplicate,
            }
        if isinstance(frame, TypingFrame):
            await chat.typing(context, guards, caller, frame.is_typing)
        else:
            await chat.acknowledge(context, guards, caller, frame.refs, frame.state)
        return None
    except ValidationError as exc:
        return _error(ref, 422, _reason(exc))
    except chat.TooFast as exc:
        return {**_error(ref, exc.status, str(exc)), "retry_after": exc.retry_after}
    except Rejected as exc:
        return _error(ref, exc.status, str(exc))


def _error(ref: str | None, code: int, reason: str) -> dict[str, Any]:
    return {"type": "error", "ref": ref, "status": code, "reason": reason}


def _reason(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"invalid frame: {where}: {first['msg']}" if where else f"invalid frame: {first['msg']}"


def _ref_of(raw: str) -> str | None:
    """The client id of a message frame, even a refused one, so the widget knows which one failed."""
    if len(raw) > MAX_FRAME:
        return None
    try:
        ref = json.loads(raw).get("client_id")
    except (ValueError, AttributeError):
        return None
    return ref if isinstance(ref, str) and CLIENT_ID.match(ref) else None
