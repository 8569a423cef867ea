"""The agents' live stream: a resumable WebSocket, and the same log over plain HTTP."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel

from crossdesk.db import MAX_ID
from crossdesk.realtime import service
from crossdesk.realtime.hub import Connection, Hub
from crossdesk.workspaces.deps import DB, CurrentPrincipal, SeqQuery, database_of, websocket_principal

router = APIRouter(prefix="/api/v1", tags=["realtime"])


class EventOut(BaseModel):
    id: int
    type: str
    data: dict[str, Any]
    at: str


class EventPage(BaseModel):
    events: list[EventOut]
    last_id: int


@router.get("/events", response_model=EventPage)
async def read_events(
    principal: CurrentPrincipal,
    db: DB,
    after: SeqQuery = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> EventPage:
    """Events after ``after``, oldest first (the socket's backlog, for clients that poll)."""
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        events = await service.events_after(session, after, limit)
    return EventPage(
        events=[EventOut(id=e["seq"], type=e["type"], data=e["data"], at=e["at"]) for e in events],
        last_id=events[-1]["seq"] if events else after,
    )


@router.websocket("/ws")
async def agent_socket(
    websocket: WebSocket, last_event_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None
) -> None:
    """Frames: ``{"type": "hello"|"reload", "last_id": N}`` first, then ``{"id", "type", "data", "at"}``.

    Reconnect with ``?last_event_id=<id of the last frame seen>`` to receive exactly what was missed.
    """
    principal = await websocket_principal(websocket)
    if principal is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="login or an API token required")
        return
    await websocket.accept()
    hub: Hub = websocket.app.state.hub
    connection = Connection(websocket, principal.workspace_id, principal.agent_id)
    try:
        async with hub.serving(connection, last_event_id):
            await _presence(websocket, hub, connection, online=True)
            # A push channel: the client talks to the REST API; here we only wait for it to go.
            while True:
                await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        with contextlib.suppress(Exception):
            await _presence(websocket, hub, connection, online=False)


async def _presence(websocket: WebSocket, hub: Hub, connection: Connection, *, online: bool) -> None:
    """Log an agent's first socket opening and last socket closing in this process."""
    if connection.agent_id is None:
        return
    open_sockets = hub.agent_sockets(connection.workspace_id, connection.agent_id)
    if open_sockets != (1 if online else 0):
        return
    db = database_of(websocket)
    async with db.transaction(connection.workspace_id) as session:
        service.append(session, "presence", {"agent_id": connection.agent_id, "online": online})
