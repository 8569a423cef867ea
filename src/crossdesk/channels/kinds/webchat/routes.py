"""The widget's HTTP endpoints: its script and stylesheet (any page may load them), and the visitor API
(a session that issues the visitor token, a message fallback for when sockets are blocked), answered with
CORS headers for the origins the account allows, preflight included (the Fetch standard's CORS protocol).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import ValidationError

from crossdesk.channels.adapter import Account, Context, Rejected
from crossdesk.channels.kinds.webchat import access, chat, tokens
from crossdesk.channels.kinds.webchat.config import WebchatConfig
from crossdesk.channels.kinds.webchat.socket import router as socket_router

STATIC = Path(__file__).parent / "static"
API = "/widget/api/{public_key}"
ENDPOINTS = ("session", "messages")
ASSET_HEADERS = {
    "cache-control": "public, max-age=300",
    "x-content-type-options": "nosniff",
    "cross-origin-resource-policy": "cross-origin",  # shop pages on other origins embed it
}
Handler = Callable[[Account, WebchatConfig], Awaitable[tuple[int, dict[str, Any]]]]

router = APIRouter(tags=["webchat"])
router.include_router(socket_router)


def _asset(name: str, media_type: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type=media_type, headers=ASSET_HEADERS)


@router.get("/widget.js", include_in_schema=False)
async def widget_script() -> FileResponse:
    """The widget, for ``<script src=".../widget.js" data-key="<public key>" async>``."""
    return _asset("widget.js", "text/javascript")


@router.get("/widget/{public_key}.js", include_in_schema=False)
async def widget_script_of(public_key: str) -> FileResponse:
    """The same script, for ``<script src=".../widget/<public key>.js" async>`` (it reads the key from its
    own address)."""
    return _asset("widget.js", "text/javascript")


@router.get("/widget/widget.css", include_in_schema=False)
async def widget_style() -> FileResponse:
    return _asset("widget.css", "text/css")


def _cors(request: Request) -> dict[str, str]:
    """Headers that let the calling page read the answer (only called once its origin is allowed)."""
    origin = request.headers.get("origin")
    if origin is None:
        return {"vary": "Origin"}
    return {
        "vary": "Origin",
        "access-control-allow-origin": origin,
        "access-control-expose-headers": "Retry-After",
    }


def _refused(exc: Rejected, headers: dict[str, str]) -> JSONResponse:
    if isinstance(exc, chat.TooFast):
        headers = {**headers, "retry-after": str(exc.retry_after)}
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)


async def _answer(request: Request, public_key: str, handle: Handler) -> Response:
    headers = {"vary": "Origin"}  # a refused origin gets no CORS headers: its page cannot read anything
    try:
        account, config = await access.widget_of(request, public_key)
        headers = _cors(request)
        status, body = await handle(account, config)
    except Rejected as exc:
        return _refused(exc, headers)
    return JSONResponse(body, status_code=status, headers=headers)


@router.options(API + "/{endpoint}", include_in_schema=False)
async def preflight(public_key: str, endpoint: str, request: Request) -> Response:
    """CORS preflight: allowed origins may POST with a bearer token and a JSON body."""
    if endpoint not in ENDPOINTS:
        return JSONResponse({"detail": "not found"}, status_code=404)
    try:
        await access.widget_of(request, public_key)
    except Rejected as exc:
        return _refused(exc, {"vary": "Origin"})
    headers = {
        **_cors(request),
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "authorization, content-type",
        "access-control-max-age": "600",
    }
    return Response(status_code=204, headers=headers)


@router.post(API + "/session", name="webchat_session")
async def open_session(public_key: str, request: Request) -> Response:
    """A visitor token (a new visitor, or the bearer's renewed) and the widget's look. 401 for a bearer
    token that is forged, expired or another widget's: the widget then starts over without one."""

    async def handle(account: Account, config: WebchatConfig) -> tuple[int, dict[str, Any]]:
        chat.check(chat.guards_of(request.app.state).sessions_per_ip, f"{public_key}:{access.ip_of(request)}")
        bearer = access.bearer_of(request)
        visitor_id = access.visitor_of(account, bearer).visitor_id if bearer else tokens.new_visitor_id()
        token, visitor = tokens.issue(account.secret, account.public_id, visitor_id)
        look = config.model_dump(include={"title", "greeting", "accent", "languages"})
        return 200, {"token": token, "expires_at": visitor.expires_at.isoformat(), "config": look}

    return await _answer(request, public_key, handle)


@router.post(API + "/messages", name="webchat_message", status_code=201)
async def post_message(public_key: str, request: Request) -> Response:
    """A visitor's message (for widgets whose socket is blocked): 201 stored, 200 already stored (the
    same ``client_id``), 401 without a valid visitor token, 422 invalid or too long, 429 too fast."""

    async def handle(account: Account, config: WebchatConfig) -> tuple[int, dict[str, Any]]:
        visitor = access.visitor_of(account, access.bearer_of(request))
        caller = chat.Caller(account, config, visitor.visitor_id, access.ip_of(request))
        try:
            body = chat.VisitorMessageIn.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False, include_context=False)
            raise Rejected("invalid message", 422, errors) from exc
        context: Context = request.app.state.channel_context
        result = await chat.post_message(context, chat.guards_of(request.app.state), caller, body)
        stored = {"ref": body.client_id, "id": result.message_id, "duplicate": result.duplicate}
        return (200 if result.duplicate else 201), stored

    return await _answer(request, public_key, handle)
