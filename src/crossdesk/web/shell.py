"""What every page of the agents' app shares: who is looking (or a redirect to the login page), the
layout's data, and rendering in the agent's language and time zone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from crossdesk.web import i18n
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, csrf_ok, principal_of
from crossdesk.workspaces.models import Agent, Workspace
from crossdesk.workspaces.service import Principal

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")  # autoescapes .html
i18n.install(templates.env)


class LoginRequired(Exception):
    """Raised by a page's dependency; answered with a redirect to the login page (see ``to_login``)."""


@dataclass
class Page:
    principal: Principal
    workspace: Workspace
    agent: Agent

    @property
    def can_admin(self) -> bool:
        return self.principal.can_admin()

    @property
    def viewer(self) -> i18n.Viewer:
        return i18n.Viewer(self.agent.language, self.agent.timezone)


async def current_page(request: Request, db: DB) -> Page:
    principal = await principal_of(request)
    if principal is None or principal.agent_id is None:
        raise LoginRequired
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        workspace = await workspaces.get_workspace(session, principal.workspace_id)
        agent = await workspaces.get_agent(session, principal.agent_id)
    if agent is None or not agent.is_active:
        raise LoginRequired
    return Page(principal, workspace, agent)


async def page_write(request: Request, page: Annotated[Page, Depends(current_page)]) -> Page:
    """A page's form post: the session's CSRF token must come with it (form field or header)."""
    if not await csrf_ok(request, page.principal):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    return page


async def admin_write(page: Annotated[Page, Depends(page_write)]) -> Page:
    if not page.can_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "owner or admin role required")
    return page


CurrentPage = Annotated[Page, Depends(current_page)]
PageWrite = Annotated[Page, Depends(page_write)]
AdminWrite = Annotated[Page, Depends(admin_write)]


def field_errors(exc: ValidationError, renames: dict[str, str] | None = None) -> dict[str, str]:
    """A model's validation errors by form field (``renames``: model field -> form field)."""
    renames = renames or {}
    return {renames.get(str(e["loc"][0]), str(e["loc"][0])): e["msg"] for e in exc.errors() if e["loc"]}


def render(
    request: Request, page: Page, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """Render ``template`` for the agent (the layout gets ``page``; ``_()`` and dates follow the agent)."""
    if "page" in context:
        raise ValueError("'page' is the layout's (the agent's Page); name a page number otherwise")
    with i18n.viewing(page.viewer):  # the response renders now, inside the block
        return templates.TemplateResponse(
            request, template, {"page": page, **context}, status_code=status_code
        )


def to_login(request: Request, exc: Exception) -> Response:
    """The app's answer to ``LoginRequired``: back to the login page, then here again."""
    target = "/login?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if request.headers.get("hx-request"):  # an htmx fragment request: the browser itself must go
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
