"""Server-rendered pages: login, logout and a first live view of the inbox (the full agent app is issue 4)."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from crossdesk.conversations import service as conversations
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, SESSION_COOKIE, principal_of
from crossdesk.workspaces.routes import set_session_cookie

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")  # autoescapes .html


def local_time(iso: str, timezone: str) -> str:
    """Stored UTC, shown in the viewer's zone."""
    return dt.datetime.fromisoformat(iso).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


templates.env.filters["local_time"] = local_time
LOGIN_CSRF_COOKIE = "crossdesk_login_csrf"


def _login_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(
        request, "login.html", {"csrf_token": token, "error": error}, status_code=status_code
    )
    # Double-submit cookie: a cross-site form cannot read it, so it cannot log a victim into our session.
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login_submit(
    request: Request,
    db: DB,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=100)],
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return _login_page(request, "The form expired; please try again.", 403)
    async with db.transaction(system=True) as session:
        agent = await workspaces.authenticate(session, email, password)
        if agent is None:
            return _login_page(request, "Wrong e-mail or password.", 401)
        token = await workspaces.start_login_session(session, agent, request.app.state.settings.session_days)
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(request, response, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout_submit(
    request: Request, db: DB, csrf_token: Annotated[str, Form(max_length=100)]
) -> Response:
    principal = await principal_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if (
        principal
        and token
        and principal.csrf_token
        and secrets.compare_digest(principal.csrf_token, csrf_token)
    ):
        async with db.transaction(principal.workspace_id) as session:
            await workspaces.end_login_session(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, db: DB) -> Response:
    principal = await principal_of(request)
    if principal is None or principal.agent_id is None:
        return RedirectResponse("/login", status_code=303)
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        workspace = await workspaces.get_workspace(session, principal.workspace_id)
        agent = await workspaces.get_agent(session, principal.agent_id)
        items, _ = await conversations.list_conversations(
            session, conversations.ConversationFilter(status=["open", "pending"]), None, 50
        )
    context = {
        "workspace": workspace,
        "agent": agent,
        "conversations": items,
        "csrf_token": principal.csrf_token,
    }
    return templates.TemplateResponse(request, "home.html", context)
