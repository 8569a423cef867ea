"""The macros API: saved replies (list, create, change, delete: admins) and rendering one for a
conversation (any agent or token of the workspace)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from crossdesk.conversations import macros
from crossdesk.conversations.schemas import MacroIn, MacroOut, MacroPatch, MacroRendered, MacroRenderIn
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, AdminPrincipal, CurrentPrincipal, RowId

router = APIRouter(prefix="/api/v1/macros", tags=["macros"])


def _unprocessable(exc: macros.MacroError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, {"field": exc.field, "message": str(exc)})


@router.get("", response_model=list[MacroOut])
async def list_macros(
    principal: CurrentPrincipal,
    db: DB,
    q: Annotated[str, Query(max_length=100)] = "",
    language: Annotated[str | None, Query(max_length=16)] = None,
) -> list[Any]:
    """Most used first; ``q`` searches names and texts; ``language`` keeps that language's and the
    any-language macros."""
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        return list(await macros.list_macros(session, q.strip(), language))


@router.post("", response_model=MacroOut, status_code=status.HTTP_201_CREATED)
async def create_macro(body: MacroIn, principal: AdminPrincipal, db: DB) -> MacroOut:
    async with db.transaction(principal.workspace_id) as session:
        try:
            return await macros.create_macro(session, body, principal.agent_id)
        except macros.MacroError as exc:
            raise _unprocessable(exc) from exc


@router.patch("/{macro_id}", response_model=MacroOut)
async def update_macro(macro_id: RowId, body: MacroPatch, principal: AdminPrincipal, db: DB) -> MacroOut:
    async with db.transaction(principal.workspace_id) as session:
        try:
            return await macros.update_macro(session, macro_id, body)
        except macros.MacroError as exc:
            raise _unprocessable(exc) from exc


@router.delete("/{macro_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_macro(macro_id: RowId, principal: AdminPrincipal, db: DB) -> None:
    async with db.transaction(principal.workspace_id) as session:
        await macros.delete_macro(session, macro_id)


@router.post("/{macro_id}/render", response_model=MacroRendered)
async def render_macro(
    macro_id: RowId, body: MacroRenderIn, principal: CurrentPrincipal, db: DB
) -> dict[str, Any]:
    """The macro's text for this conversation (buyer, latest order, the calling agent), without using it:
    nothing is changed."""
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        agent = await workspaces.get_agent(session, principal.agent_id) if principal.agent_id else None
        try:
            return await macros.render_macro(session, macro_id, body.conversation_id, agent)
        except macros.MacroError as exc:
            raise _unprocessable(exc) from exc
