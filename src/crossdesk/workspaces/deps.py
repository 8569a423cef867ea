"""Who is calling: FastAPI dependencies for session cookies (with CSRF) and API tokens."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, WebSocket, status
from starlette.requests import HTTPConnection

from crossdesk.db import MAX_ID, Database
from crossdesk.workspaces import service
from crossdesk.workspaces.service import Principal

SESSION_COOKIE = "crossdesk_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def database_of(conn: HTTPConnection) -> Database:
    db: Database = conn.app.state.db
    return db


async def get_db(conn: HTTPConnection) -> Database:
    """The dependency (async: FastAPI would run a plain function in a worker thread, per request)."""
    return database_of(conn)


async def principal_of(conn: HTTPConnection) -> Principal | None:
    """The caller behind a bearer token or a session cookie, if any."""
    db = database_of(conn)
    auth = conn.headers.get("authorization", "")
    principal = None
    async with db.transaction(system=True, readonly=True) as session:
        if auth.lower().startswith("bearer "):
            principal = await service.principal_from_api_token(session, auth[7:].strip())
        elif cookie := conn.cookies.get(SESSION_COOKIE):
            principal = await service.principal_from_session(session, cookie)
    if principal is not None and principal.stale_token_id is not None:
        async with db.transaction(principal.workspace_id) as session:
            await service.touch_api_token(session, principal.stale_token_id)
    return principal


async def csrf_ok(request: Request, principal: Principal) -> bool:
    """Cookie-authenticated writes must echo the session's CSRF token (header, or form field)."""
    if principal.csrf_token is None or request.method in SAFE_METHODS:
        return True
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get("csrf_token", ""))
    return sent is not None and secrets.compare_digest(sent, principal.csrf_token)


async def require_principal(request: Request) -> Principal:
    principal = await principal_of(request)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "login or an API token required")
    if not await csrf_ok(request, principal):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    return principal


async def require_admin(principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    if not principal.can_admin():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "owner or admin role required")
    return principal


async def websocket_principal(websocket: WebSocket) -> Principal | None:
    """Sockets authenticate like requests; a cookie-authenticated socket must come from our own origin,
    so that another site cannot open one with the agent's cookie (cross-site WebSocket hijacking)."""
    principal = await principal_of(websocket)
    if principal is None or principal.csrf_token is None:
        return principal
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host", "")
    if origin is not None and origin.split("://", 1)[-1] != host:
        return None
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
DB = Annotated[Database, Depends(get_db)]
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="A row id.")]
RowIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
SeqQuery = Annotated[int, Query(ge=0, le=MAX_ID, description="An event id; 0 for the start.")]
