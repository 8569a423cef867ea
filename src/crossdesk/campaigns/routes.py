"""The campaigns API (admins write, any agent or token of the workspace reads) and the public one-click
unsubscribe page behind the links in campaign messages (no login, no cookies: the signed token is the
authority)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from crossdesk.campaigns import results, service, unsubscribe
from crossdesk.campaigns.schemas import CampaignIn, CampaignOut, CampaignPatch, LaunchOut, ResultsOut
from crossdesk.db import utcnow
from crossdesk.retention.segments import SegmentCache
from crossdesk.web.shell import templates
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, AdminPrincipal, CurrentPrincipal, RowId

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])
public_router = APIRouter(tags=["campaigns"])


def _unprocessable(exc: service.CampaignError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, {"field": exc.field, "message": str(exc)})


def _conflict(exc: service.NotDraft) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


@router.get("", response_model=list[CampaignOut])
async def list_campaigns(principal: CurrentPrincipal, db: DB) -> list[Any]:
    """Newest first."""
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        return list(await service.list_campaigns(session))


@router.post("", response_model=CampaignOut, status_code=status.HTTP_201_CREATED)
async def create_campaign(body: CampaignIn, principal: AdminPrincipal, db: DB) -> Any:
    """A draft: nothing is sent until it is launched."""
    async with db.transaction(principal.workspace_id) as session:
        workspace = await workspaces.get_workspace(session, principal.workspace_id)
        try:
            return await service.create_campaign(session, workspace, body, principal.agent_id)
        except service.CampaignError as exc:
            raise _unprocessable(exc) from exc


@router.get("/{campaign_id}", response_model=CampaignOut)
async def get_campaign(campaign_id: RowId, principal: CurrentPrincipal, db: DB) -> Any:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        return await service.get_campaign(session, campaign_id)


@router.patch("/{campaign_id}", response_model=CampaignOut)
async def update_campaign(campaign_id: RowId, body: CampaignPatch, principal: AdminPrincipal, db: DB) -> Any:
    """Change a draft (409 once launched)."""
    async with db.transaction(principal.workspace_id) as session:
        workspace = await workspaces.get_workspace(session, principal.workspace_id)
        try:
            return await service.update_campaign(session, workspace, campaign_id, body)
        except service.CampaignError as exc:
            raise _unprocessable(exc) from exc
        except service.NotDraft as exc:
            raise _conflict(exc) from exc


@router.post("/{campaign_id}/launch", response_model=LaunchOut)
async def launch_campaign(campaign_id: RowId, request: Request, principal: AdminPrincipal, db: DB) -> Any:
    """Snapshot the audience (segments, consent, unsubscribes, frequency cap, control group) and schedule
    each message for its buyer's daytime."""
    cache: SegmentCache = request.app.state.segments
    now = utcnow()
    async with db.transaction(principal.workspace_id) as session:
        workspace = await workspaces.get_workspace(session, principal.workspace_id)
        scored = await cache.get(session, workspace, now)
        try:
            return await service.launch(session, workspace, campaign_id, scored, now)
        except service.CampaignError as exc:
            raise _unprocessable(exc) from exc
        except service.NotDraft as exc:
            raise _conflict(exc) from exc


@router.post("/{campaign_id}/cancel", response_model=CampaignOut)
async def cancel_campaign(campaign_id: RowId, principal: AdminPrincipal, db: DB) -> Any:
    async with db.transaction(principal.workspace_id) as session:
        try:
            return await service.cancel(session, campaign_id)
        except service.NotDraft as exc:
            raise _conflict(exc) from exc


@router.get("/{campaign_id}/results", response_model=ResultsOut)
async def campaign_results(campaign_id: RowId, principal: CurrentPrincipal, db: DB) -> ResultsOut:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        workspace = await workspaces.get_workspace(session, principal.workspace_id)
        campaign = await service.get_campaign(session, campaign_id)
        return await results.results(session, campaign, workspace)


async def _claims(request: Request, token: str) -> tuple[int, unsubscribe.Claims]:
    """The workspace and claims of a genuine token; 404 for anything else (nothing to learn from it)."""
    try:
        claims = unsubscribe.read(token)
        account = await request.app.state.channels.find(claims.kind, claims.public_id)
        if account is None:
            raise unsubscribe.InvalidToken("unknown account")
        return account.workspace_id, unsubscribe.verify(account.secret, token)
    except unsubscribe.InvalidToken as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown unsubscribe link") from exc


def _page(request: Request, token: str, shop: str, done: bool) -> Response:
    context = {"token": token, "shop": shop, "done": done}
    response = templates.TemplateResponse(request, "unsubscribe.html", context)
    response.headers["cache-control"] = "no-store"
    response.headers["referrer-policy"] = "no-referrer"  # the token must not leak to other sites
    return response


@public_router.get("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe_page(token: str, request: Request, db: DB) -> Response:
    """A confirmation page: link scanners follow GETs, so only the button's POST unsubscribes."""
    workspace_id, claims = await _claims(request, token)
    async with db.transaction(workspace_id, readonly=True) as session:
        workspace = await workspaces.get_workspace(session, workspace_id)
        done = await unsubscribe.state(session, claims)
    if done is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown unsubscribe link")
    return _page(request, token, workspace.name, done)


@public_router.post("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe_now(token: str, request: Request, db: DB) -> Response:
    """RFC 8058 one-click: the mailbox provider (or the page's button) posts
    ``List-Unsubscribe=One-Click``; recorded once, answered 200."""
    workspace_id, claims = await _claims(request, token)
    form = await request.form()
    if form.get("List-Unsubscribe") != "One-Click":
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "expected List-Unsubscribe=One-Click")
    async with db.transaction(workspace_id) as session:
        if not await unsubscribe.record(session, claims):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown unsubscribe link")
        workspace = await workspaces.get_workspace(session, workspace_id)
    return _page(request, token, workspace.name, done=True)
