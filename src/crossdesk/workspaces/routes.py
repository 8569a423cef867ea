"""Login, the current agent, agents and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from crossdesk.workspaces import service
from crossdesk.workspaces.deps import DB, SESSION_COOKIE, AdminPrincipal, CurrentPrincipal, RowId
from crossdesk.workspaces.schemas import (
    AgentIn,
    AgentOut,
    AgentPatch,
    LoginIn,
    MeOut,
    TokenCreated,
    TokenIn,
    TokenOut,
    WorkspaceOut,
    WorkspacePatch,
)

router = APIRouter(prefix="/api/v1", tags=["workspaces"])


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
    )


@router.post("/auth/login", response_model=MeOut)
async def login(body: LoginIn, request: Request, response: Response, db: DB) -> MeOut:
    async with db.transaction(system=True) as session:
        agent = await service.authenticate(session, body.email, body.password)
        if agent is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong e-mail or password")
        token = await service.start_login_session(session, agent, request.app.state.settings.session_days)
        principal = await service.principal_from_session(session, token)
        workspace = await service.get_workspace(session, agent.workspace_id)
    set_session_cookie(request, response, token)
    assert principal is not None
    return MeOut(
        agent=AgentOut.model_validate(agent),
        workspace_id=workspace.id,
        workspace_name=workspace.name,
        role=agent.role,
        csrf_token=principal.csrf_token,
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, principal: CurrentPrincipal, db: DB) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with db.transaction(principal.workspace_id) as session:
            await service.end_login_session(session, token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentPrincipal, db: DB) -> MeOut:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        workspace = await service.get_workspace(session, principal.workspace_id)
        agent = await service.get_agent(session, principal.agent_id) if principal.agent_id else None
        return MeOut(
            agent=AgentOut.model_validate(agent) if agent else None,
            workspace_id=workspace.id,
            workspace_name=workspace.name,
            role=principal.role,
            csrf_token=principal.csrf_token,
        )


@router.get("/workspace", response_model=WorkspaceOut)
async def read_workspace(principal: CurrentPrincipal, db: DB) -> WorkspaceOut:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        return WorkspaceOut.model_validate(await service.get_workspace(session, principal.workspace_id))


@router.patch("/workspace", response_model=WorkspaceOut)
async def update_workspace(body: WorkspacePatch, principal: AdminPrincipal, db: DB) -> WorkspaceOut:
    """Settings: name, base currency, time zone, default language, business hours and SLA targets."""
    changes = body.model_dump(exclude_unset=True)
    if None in changes.values():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "settings cannot be set to null")
    async with db.transaction(principal.workspace_id) as session:
        workspace = await service.update_workspace(session, principal.workspace_id, changes)
        return WorkspaceOut.model_validate(workspace)


@router.get("/agents", response_model=list[AgentOut])
async def list_agents(principal: CurrentPrincipal, db: DB) -> list[AgentOut]:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        return [AgentOut.model_validate(a) for a in await service.list_agents(session)]


@router.post("/agents", response_model=AgentOut, status_code=status.HTTP_201_CREATED)
async def create_agent(body: AgentIn, principal: AdminPrincipal, db: DB) -> AgentOut:
    if body.role == "owner" and principal.role != "owner":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an owner can create an owner")
    try:
        async with db.transaction(principal.workspace_id) as session:
            agent = await service.create_agent(session, principal.workspace_id, **body.model_dump())
            return AgentOut.model_validate(agent)
    except service.Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@router.patch("/agents/{agent_id}", response_model=AgentOut)
async def update_agent(agent_id: RowId, body: AgentPatch, principal: AdminPrincipal, db: DB) -> AgentOut:
    """Role, languages, time zone, availability, shifts (null: always on), active. Only an owner makes or
    changes an owner; the last active owner cannot be demoted or deactivated (409)."""
    try:
        changes = body.changes()
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    try:
        async with db.transaction(principal.workspace_id) as session:
            agent = await service.update_agent(session, agent_id, changes, principal.role)
            return AgentOut.model_validate(agent)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except service.NotAllowed as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except service.LastOwner as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@router.get("/tokens", response_model=list[TokenOut])
async def list_tokens(principal: AdminPrincipal, db: DB) -> list[TokenOut]:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        return [TokenOut.model_validate(t) for t in await service.list_api_tokens(session)]


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
async def create_token(body: TokenIn, principal: AdminPrincipal, db: DB) -> TokenCreated:
    async with db.transaction(principal.workspace_id) as session:
        row, token = await service.create_api_token(
            session, principal.workspace_id, body.name, body.role, principal.agent_id
        )
        return TokenCreated.model_validate({**TokenOut.model_validate(row).model_dump(), "token": token})


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: RowId, principal: AdminPrincipal, db: DB) -> Response:
    async with db.transaction(principal.workspace_id) as session:
        if not await service.revoke_api_token(session, token_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"token {token_id} not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
