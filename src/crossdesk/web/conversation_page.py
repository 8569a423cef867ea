"""The conversation page: the thread (live), the composer (reply, private note with @mentions, macros),
the actions (assign, status, priority, tags) and who else is looking. Every write goes through the
conversations service, so the API and this page tell the other agents the same events."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.channels.adapter import ReplyRefused
from crossdesk.channels.kinds.email.attachments import ROUTE as EMAIL_ATTACHMENTS
from crossdesk.conversations import macros, service
from crossdesk.conversations.mentions import mentions_in
from crossdesk.conversations.models import Message
from crossdesk.conversations.schemas import MAX_TEXT, ConversationPatch
from crossdesk.customers import service as customers
from crossdesk.web.i18n import gettext
from crossdesk.web.shell import CurrentPage, Page, PageWrite, field_errors, render
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, RowId

router = APIRouter(include_in_schema=False)
# A link in buyer text is made clickable only for the web; the rest of the text stays text.
_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


@dataclass
class Segment:
    text: str
    href: str | None = None


@dataclass
class Attachment:
    name: str
    size: int
    content_type: str
    href: str | None


@dataclass
class MessageView:
    id: int
    kind: str  # customer, agent, assistant, system or note
    author: str
    channel: str
    segments: list[Segment]
    at: dt.datetime
    delivery_state: str | None
    delivery_error: str | None
    attachments: list[Attachment]
    mentions: list[str] = field(default_factory=list)
    mentions_me: bool = False


def segments(text: str) -> list[Segment]:
    """Buyer text split into plain runs and http(s) links (trailing punctuation stays text)."""
    found: list[Segment] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        start, end = match.start(), match.start() + len(url)
        if start > position:
            found.append(Segment(text[position:start]))
        found.append(Segment(url, url))
        position = end
    if position < len(text):
        found.append(Segment(text[position:]))
    return found


def _attachment(raw: dict[str, Any]) -> Attachment:
    url = raw.get("url")
    # Only our own e-mail attachment route is linked: any other URL came from outside.
    href = url if isinstance(url, str) and url.startswith(EMAIL_ATTACHMENTS + "/") else None
    size = raw.get("size")
    return Attachment(
        name=str(raw.get("name") or ""),
        size=size if isinstance(size, int) and size >= 0 else 0,
        content_type=str(raw.get("content_type") or ""),
        href=href,
    )


def message_view(message: Message, names: dict[int, str], me: int) -> MessageView:
    meta = message.meta or {}
    mentioned = [i for i in meta.get("mentions", []) if isinstance(i, int)]
    kind = "note" if message.is_private else message.author_kind
    author = names.get(message.author_agent_id or 0, "") if message.author_kind == "agent" else ""
    error = meta.get("delivery_error")
    return MessageView(
        id=message.id,
        kind=kind,
        author=author,
        channel=message.channel,
        segments=segments(message.text),
        at=message.created_at,
        delivery_state=message.delivery_state,
        delivery_error=str(error) if error and message.delivery_state in ("failed", "dead") else None,
        attachments=[_attachment(a) for a in message.attachments if isinstance(a, dict)],
        mentions=[names.get(i, f"#{i}") for i in mentioned],
        mentions_me=me in mentioned,
    )


async def _agent_names(session: AsyncSession) -> dict[int, str]:
    return {a.id: a.name for a in await workspaces.list_agents(session)}


async def _thread(session: AsyncSession, conversation_id: int, page: Page) -> list[MessageView]:
    names = await _agent_names(session)
    return [
        message_view(m, names, page.agent.id) for m in await service.messages_of(session, conversation_id)
    ]


async def _actions_context(session: AsyncSession, conversation_id: int) -> dict[str, Any]:
    conversation = await service.get_conversation(session, conversation_id)
    tags = await service.tags_of(session, [conversation.id])
    return {
        "conversation": service.conversation_out(conversation, tags),
        "agents": [a for a in await workspaces.list_agents(session) if a.is_active],
    }


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(conversation_id: RowId, request: Request, page: CurrentPage, db: DB) -> Response:
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        conversation = await service.get_conversation(session, conversation_id)
        customer = await customers.get(session, conversation.customer_id)
        context = await _actions_context(session, conversation_id)
        previous, following = await service.neighbours(session, conversation)
        context |= {
            "messages": await _thread(session, conversation_id, page),
            "customer_name": (customer.name or customer.email or "") if customer else "",
            "previous_id": previous,
            "next_id": following,
            "agent_names": {str(a.id): a.name for a in context["agents"]},
            "composer": {"kind": "reply", "text": "", "error": None},
            "nav": "inbox",
        }
    return render(request, page, "conversation.html", context)


@router.get("/conversations/{conversation_id}/thread", response_class=HTMLResponse)
async def thread_partial(conversation_id: RowId, request: Request, page: CurrentPage, db: DB) -> Response:
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        await service.get_conversation(session, conversation_id)
        messages = await _thread(session, conversation_id, page)
    return render(request, page, "conversation_thread.html", {"messages": messages})


@router.get("/conversations/{conversation_id}/actions", response_class=HTMLResponse)
async def actions_partial(conversation_id: RowId, request: Request, page: CurrentPage, db: DB) -> Response:
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        context = await _actions_context(session, conversation_id)
    return render(request, page, "conversation_actions.html", context)


def _composer(
    request: Request, page: Page, conversation_id: int, kind: str, text: str, error: str | None
) -> Response:
    context = {
        "conversation": {"id": conversation_id},
        "composer": {"kind": kind, "text": text, "error": error},
    }
    response = render(request, page, "conversation_composer.html", context)
    if error is None:
        response.headers["HX-Trigger"] = "thread-changed"
    return response


@router.post("/conversations/{conversation_id}/messages", response_class=HTMLResponse)
async def send_message(
    conversation_id: RowId,
    request: Request,
    page: PageWrite,
    db: DB,
    text: Annotated[str, Form(max_length=MAX_TEXT * 2)] = "",
    kind: Annotated[str, Form(pattern="^(reply|note)$")] = "reply",
) -> Response:
    """A reply (through the conversation's channel) or a private note; a refusal is shown by the field."""
    if not text.strip():
        return _composer(request, page, conversation_id, kind, text, gettext("Write something first."))
    if len(text) > MAX_TEXT or "\x00" in text:
        error = gettext("At most %(n)s characters.", n=MAX_TEXT)
        return _composer(request, page, conversation_id, kind, text, error)
    private = kind == "note"
    async with db.transaction(page.principal.workspace_id) as session:
        meta = {"mentions": ids} if private and (ids := await mentions_in(session, text)) else None
        try:
            await service.add_agent_message(
                session, conversation_id, page.agent.id, text, private=private, meta=meta
            )
        except ReplyRefused as exc:
            reason = gettext("The channel refused this reply: %(reason)s", reason=str(exc))
            return _composer(request, page, conversation_id, kind, text, reason)
    return _composer(request, page, conversation_id, kind, "", None)


def _patch_from_form(form: dict[str, str], page: Page) -> ConversationPatch:
    """The changes the actions form asks for; only the fields it sent."""
    changes: dict[str, Any] = {}
    if "assignee" in form:
        who = form["assignee"]
        changes["assignee_id"] = page.agent.id if who == "me" else (int(who) if who.isdigit() else None)
    for name in ("status", "priority"):
        if form.get(name):
            changes[name] = form[name]
    if form.get("snoozed_until"):
        local = dt.datetime.fromisoformat(form["snoozed_until"])
        changes["snoozed_until"] = local.replace(tzinfo=page.viewer.tz) if local.tzinfo is None else local
    if "tags" in form:
        changes["tags"] = [t.strip() for t in form["tags"].split(",") if t.strip()]
    return ConversationPatch.model_validate(changes)


FORM_FIELDS = {"assignee_id": "assignee"}  # the model's name -> the action form's


@router.post("/conversations/{conversation_id}/actions", response_class=HTMLResponse)
async def change_conversation(conversation_id: RowId, request: Request, page: PageWrite, db: DB) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
    errors: dict[str, str] = {}
    try:
        patch = _patch_from_form(form, page)
    except ValidationError as exc:
        errors = field_errors(exc, FORM_FIELDS)
    except ValueError:
        errors = {"snoozed_until": gettext("Pick a date and time.")}
    async with db.transaction(page.principal.workspace_id) as session:
        if not errors:
            try:
                await service.update_conversation(session, conversation_id, patch)
            except ValueError:
                errors = {"snoozed_until": gettext("Snoozing needs a date and time.")}
        context = await _actions_context(session, conversation_id)
    if not errors and not request.headers.get("hx-request"):  # a plain form post (no script yet)
        return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)
    return render(request, page, "conversation_actions.html", {**context, "errors": errors, "form": form})


@router.get("/conversations/{conversation_id}/macros", response_class=HTMLResponse)
async def macro_search(
    conversation_id: RowId,
    request: Request,
    page: CurrentPage,
    db: DB,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        conversation = await service.get_conversation(session, conversation_id)
        found = await macros.list_macros(session, q.strip(), conversation.language)
    context = {"macros": found[:30], "conversation": {"id": conversation_id}, "q": q}
    return render(request, page, "conversation_macros.html", context)


@router.post("/conversations/{conversation_id}/macros/{macro_id}")
async def use_macro(conversation_id: RowId, macro_id: RowId, page: PageWrite, db: DB) -> Response:
    """Render a macro into the composer (JSON ``text``), adding its tags and setting its status."""
    async with db.transaction(page.principal.workspace_id) as session:
        try:
            used = await macros.use_macro(session, macro_id, conversation_id, page.agent)
        except macros.MacroError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
    return JSONResponse(used)
