"""Changing many conversations at once: assign, change status, add tags (all or nothing)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from crossdesk.conversations import views
from crossdesk.conversations.schemas import ConversationOut, Status, Tag, Untrusted
from crossdesk.db import MAX_ID
from crossdesk.workspaces.deps import DB, CurrentPrincipal

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


class BulkIn(Untrusted):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=views.MAX_BULK)
    assignee_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="An agent of the workspace; null to unassign; absent: unchanged."
    )
    status: Status | None = None
    add_tags: list[Tag] = Field(default_factory=list, max_length=50)


class BulkOut(BaseModel):
    items: list[ConversationOut]


@router.post("/bulk", response_model=BulkOut)
async def bulk_update(body: BulkIn, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    """Apply the same change to up to 500 conversations. Every id must be of the caller's workspace,
    else 404 and nothing changes; a change a conversation refuses (snoozing without a time, too many
    tags) is a 422 and nothing changes either."""
    changes = body.model_dump(include={"assignee_id", "status"} & body.model_fields_set)
    if changes.get("status", "") is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "status cannot be null")
    if not changes and not body.add_tags:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "nothing to change")
    async with db.transaction(principal.workspace_id) as session:
        try:
            items = await views.bulk_update(session, body.ids, changes, body.add_tags)
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return {"items": items}
