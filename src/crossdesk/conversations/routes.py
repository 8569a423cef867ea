"""The inbox API: list, read, reply, note, assign, change status, typing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from crossdesk.channels.adapter import ReplyRefused
from crossdesk.commerce import service as commerce
from crossdesk.commerce.schemas import OrderOut
from crossdesk.conversations import service
from crossdesk.conversations.schemas import (
    ConversationOut,
    ConversationPage,
    ConversationPatch,
    MessageOut,
    ReplyIn,
    Status,
    TypingIn,
    ViewingIn,
)
from crossdesk.customers.routes import CustomerProfile, profile_of
from crossdesk.realtime.service import append
from crossdesk.workspaces.deps import DB, CurrentPrincipal, RowId, RowIdQuery

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


class ConversationDetail(BaseModel):
    conversation: ConversationOut
    messages: list[MessageOut]
    customer: CustomerProfile
    orders: list[OrderOut]


@router.get("", response_model=ConversationPage)
async def list_conversations(
    principal: CurrentPrincipal,
    db: DB,
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    assignee: Annotated[
        str | None, Query(pattern=r"^(me|none|[1-9]\d{0,8})$", description="me, none or an agent id")
    ] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    customer_id: RowIdQuery = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationPage:
    flt = service.ConversationFilter(
        status=list(status_ or []), channel=channel, language=language, tag=tag, customer_id=customer_id
    )
    if assignee == "none":
        flt.unassigned = True
    elif assignee == "me":
        if principal.agent_id is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "an API token has no 'me'")
        flt.assignee_id = principal.agent_id
    elif assignee is not None:
        flt.assignee_id = int(assignee)
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        try:
            items, next_cursor = await service.list_conversations(session, flt, cursor, limit)
        except ValueError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    return ConversationPage.model_validate({"items": items, "next_cursor": next_cursor})


@router.get("/{conversation_id}", response_model=ConversationDetail)
async def read_conversation(conversation_id: RowId, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        conversation = await service.get_conversation(session, conversation_id)
        tags = await service.tags_of(session, [conversation.id])
        return {
            "conversation": service.conversation_out(conversation, tags),
            "messages": await service.messages_of(session, conversation.id),
            "customer": await profile_of(session, conversation.customer_id),
            "orders": await commerce.orders_of_customer(session, conversation.customer_id),
        }


async def _agent_message(
    conversation_id: RowId, body: ReplyIn, principal: CurrentPrincipal, db: DB, private: bool
) -> dict[str, Any]:
    async with db.transaction(principal.workspace_id) as session:
        try:
            return await service.add_agent_message(
                session,
                conversation_id,
                principal.agent_id,
                body.text,
                private=private,
                template=None if private else body.template,
            )
        except ReplyRefused as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


@router.post("/{conversation_id}/messages", response_model=MessageOut, status_code=status.HTTP_201_CREATED)
async def reply(conversation_id: RowId, body: ReplyIn, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    """Reply to the buyer; sent through the conversation's channel (422 with the reason if the channel
    would refuse it: too long, or outside its reply window)."""
    return await _agent_message(conversation_id, body, principal, db, private=False)


@router.post("/{conversation_id}/notes", response_model=MessageOut, status_code=status.HTTP_201_CREATED)
async def add_note(
    conversation_id: RowId, body: ReplyIn, principal: CurrentPrincipal, db: DB
) -> dict[str, Any]:
    return await _agent_message(conversation_id, body, principal, db, private=True)


@router.patch("/{conversation_id}", response_model=ConversationOut)
async def update_conversation(
    conversation_id: RowId, body: ConversationPatch, principal: CurrentPrincipal, db: DB
) -> dict[str, Any]:
    """Assign (``assignee_id``), change ``status`` / ``priority`` / ``tags``, or snooze until a time."""
    async with db.transaction(principal.workspace_id) as session:
        try:
            return await service.update_conversation(session, conversation_id, body)
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


@router.post("/{conversation_id}/typing", status_code=status.HTTP_202_ACCEPTED)
async def typing(
    conversation_id: RowId, body: TypingIn, principal: CurrentPrincipal, db: DB
) -> dict[str, bool]:
    """Tell the other agents that this agent is (or stopped) typing here; send it at most every few s."""
    async with db.transaction(principal.workspace_id) as session:
        await service.get_conversation(session, conversation_id)
        event = {
            "conversation_id": conversation_id,
            "agent_id": principal.agent_id,
            "is_typing": body.is_typing,
        }
        append(session, "typing", event)
    return {"ok": True}


@router.post("/{conversation_id}/viewing", status_code=status.HTTP_202_ACCEPTED)
async def viewing(
    conversation_id: RowId, body: ViewingIn, principal: CurrentPrincipal, db: DB
) -> dict[str, bool]:
    """Tell the other agents that this agent has this conversation open (or left it); a page repeats
    ``viewing: true`` every 20 s, and others drop the mark after 45 s without one."""
    async with db.transaction(principal.workspace_id) as session:
        await service.get_conversation(session, conversation_id)
        event = {"agent_id": principal.agent_id, "conversation_id": conversation_id, "viewing": body.viewing}
        append(session, "presence", event)
    return {"ok": True}
