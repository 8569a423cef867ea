"""Logging in and out, the home address, and an agent's own preferences (language, time zone)."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crossdesk.web.i18n import LANGUAGES
from crossdesk.web.shell import PageWrite, templates
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, SESSION_COOKIE, principal_of
from crossdesk.workspaces.routes import set_session_cookie

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "crossdesk_login_csrf"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of ours only (never another site, never ``//host``)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/inbox"


def back_to_referer(request: Request) -> Response:
    """A plain form post's answer: back to the page of ours it came from (else the inbox)."""
    back = urlsplit(request.headers.get("referer", ""))
    return RedirectResponse(safe_next(back.path + (f"?{back.query}" if back.query else "")), status_code=303)


def _login_page(
    request: Request, error: str | None = None, status_code: int = 200, next_: str | None = None
) -> Response:
    token = secrets.token_urlsafe(32)
    context = {"csrf_token": token, "error": error, "next": safe_next(next_)}
    response = templates.TemplateResponse(request, "login.html", context, status_code=status_code)
    # Double-submit cookie: a cross-site form cannot read it, so it cannot log a victim into our session.
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    return _login_page(request, next_=next)


@router.post("/login")
async def login_submit(
    request: Request,
    db: DB,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=100)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return _login_page(request, "The form expired; please try again.", 403, next)
    async with db.transaction(system=True) as session:
        agent = await workspaces.authenticate(session, email, password)
        if agent is None:
            return _login_page(request, "Wrong e-mail or password.", 401, next)
        token = await workspaces.start_login_session(session, agent, request.app.state.settings.session_days)
    response = RedirectResponse(safe_next(next), status_code=303)
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


@router.get("/")
async def home(request: Request) -> Response:
    principal = await principal_of(request)
    return RedirectResponse("/inbox" if principal is not None else "/login", status_code=303)


@router.post("/me/preferences")
async def set_preferences(
    request: Request,
    page: PageWrite,
    db: DB,
    language: Annotated[str, Form(max_length=16)],
    timezone: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    """The agent's interface language (and time zone); back to the page they were on."""
    if language not in LANGUAGES or (timezone is not None and timezone not in available_timezones()):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown language or time zone")
    async with db.transaction(page.principal.workspace_id) as session:
        await workspaces.update_agent_preferences(session, page.agent.id, language, timezone)
    return back_to_referer(request)
