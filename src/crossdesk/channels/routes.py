"""Channel accounts, and every channel's webhook endpoint.

``POST /hooks/{kind}/{public_id}`` takes a platform's webhook as the platform sends it: the account is found
by its unguessable public id, the adapter checks the platform's signature over the raw body and parses it,
and the answer (2xx) goes back only once what it carried is committed. ``GET`` on the same URL answers a
platform's subscription handshake. The API channel's ``/api/v1/channels/api/{public_id}/messages`` is the
same endpoint, answering with the stored message.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crossdesk.channels import service
from crossdesk.channels.adapter import Account, Adapter, Parsed, Rejected, WebhookRequest
from crossdesk.channels.models import ChannelAccount
from crossdesk.channels.registry import ADAPTERS, adapter_of, sender_for
from crossdesk.conversations import service as conversations
from crossdesk.conversations.ingest import Ingestor
from crossdesk.conversations.schemas import IngestResult
from crossdesk.customers.identities import InvalidIdentity
from crossdesk.db import Database
from crossdesk.ops import metrics
from crossdesk.workspaces.deps import DB, AdminPrincipal, RowId

log = logging.getLogger(__name__)
router = APIRouter(tags=["channels"])
MANAGE = "/api/v1/channels"


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict, description="The channel's settings.")
    credentials: dict[str, str] = Field(
        default_factory=dict, description="The platform's secrets; stored, never shown again."
    )


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    is_active: bool | None = None
    config: dict[str, Any] | None = Field(None, description="Merged into the settings.")
    credentials: dict[str, str] | None = Field(None, description="Merged; an empty value removes one.")


class AccountOut(BaseModel):
    id: int
    kind: str
    name: str
    public_id: str
    is_active: bool
    config: dict[str, Any]
    credentials_set: list[str] = Field(description="Which secrets are set (their values are never shown).")
    ready: bool = Field(description="Whether replies can be sent through it.")
    inbound_url: str
    created_at: dt.datetime


class AccountCreated(AccountOut):
    secret: str = Field(
        description="crossdesk's own secret of the account (API-channel signatures); shown once."
    )


def account_out(request: Request, row: ChannelAccount) -> AccountOut:
    """An account as admins see it: settings, which secrets are set (never their values), its URL."""
    return AccountOut(
        id=row.id,
        kind=row.kind,
        name=row.name,
        public_id=row.public_id,
        is_active=row.is_active,
        config=row.config,
        credentials_set=sorted(row.credentials),
        ready=sender_for(row) is not None,
        inbound_url=str(request.url_for("webhook", kind=row.kind, public_id=row.public_id)),
        created_at=row.created_at,
    )


def _checked(adapter: Adapter, config: dict[str, Any], credentials: dict[str, str]) -> dict[str, Any]:
    """The settings as the adapter's model validates them (JSON-ready); unknown secrets are refused."""
    unknown = set(credentials) - set(adapter.credential_names)
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{adapter.kind} takes the secrets {list(adapter.credential_names)}, not {sorted(unknown)}",
        )
    try:
        return adapter.Config.model_validate(config).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, errors) from exc


@router.get(MANAGE, response_model=list[AccountOut])
async def list_accounts(principal: AdminPrincipal, db: DB, request: Request) -> list[AccountOut]:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        return [account_out(request, a) for a in await service.list_accounts(session)]


@router.post(MANAGE + "/{kind}", response_model=AccountCreated, status_code=status.HTTP_201_CREATED)
async def create_account(
    kind: str, body: AccountIn, principal: AdminPrincipal, db: DB, request: Request
) -> AccountCreated:
    adapter = ADAPTERS.get(kind)
    if adapter is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown channel kind {kind!r}")
    config = _checked(adapter, body.config, body.credentials)
    async with db.transaction(principal.workspace_id) as session:
        row, secret = await service.create_account(session, kind, body.name, config, body.credentials)
    return AccountCreated(**account_out(request, row).model_dump(), secret=secret)


@router.patch(MANAGE + "/{account_id}", response_model=AccountOut)
async def update_account(
    account_id: RowId, body: AccountPatch, principal: AdminPrincipal, db: DB, request: Request
) -> AccountOut:
    changes = body.model_dump(exclude_unset=True)
    async with db.transaction(principal.workspace_id) as session:
        row = await service.update_account(session, account_id, changes)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"channel {account_id} not found")
        if row.kind in ADAPTERS:
            row.config = _checked(ADAPTERS[row.kind], row.config, row.credentials)
        out = account_out(request, row)
    request.app.state.channels.forget(row.kind, row.public_id)
    return out


async def _account(request: Request, kind: str, public_id: str) -> tuple[Adapter, Account, WebhookRequest]:
    adapter = adapter_of(kind)
    directory: service.Directory = request.app.state.channels
    account = await directory.find(kind, public_id)
    if account is None:
        raise Rejected("unknown channel", 404)
    hook = WebhookRequest(
        method=request.method,
        headers=request.headers,
        query=request.query_params,
        body=await request.body(),
        tolerance_s=request.app.state.settings.webhook_tolerance_s,
    )
    return adapter, account, hook


def _refusal(kind: str, exc: Rejected) -> JSONResponse:
    """Refusals are logged by kind and reason (reasons never hold a secret; bodies are not logged)."""
    metrics.WEBHOOKS_REJECTED.labels(exc.status).inc()
    log.info("webhook refused", extra={"kind": kind[:32], "status": exc.status, "reason": str(exc)[:200]})
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


@router.get("/hooks/{kind}/{public_id}", name="webhook_handshake", response_class=PlainTextResponse)
async def webhook_handshake(kind: str, public_id: str, request: Request) -> Response:
    """A platform's subscription check (Meta's ``hub.challenge``), answered with what it asks back."""
    try:
        adapter, account, hook = await _account(request, kind, public_id)
        return PlainTextResponse(adapter.handshake(account, hook))
    except Rejected as exc:
        return _refusal(kind, exc)


@router.post(
    "/api/v1/channels/api/{public_id}/messages",
    name="api_channel_inbound",
    response_model=IngestResult,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": IngestResult, "description": "Already stored (a retry): nothing new."}},
)
async def api_channel_inbound(public_id: str, request: Request) -> Response:
    """Post one inbound message, signed with the channel's secret (see ``crossdesk.channels.signing``).

    Answered only once the message is committed; the same ``platform_message_id`` is stored once.
    """
    return await webhook("api", public_id, request)


@router.post("/hooks/{kind}/{public_id}", name="webhook")
async def webhook(kind: str, public_id: str, request: Request) -> Response:
    """A platform's webhook, verified as the platform signs it; 2xx once what it carries is committed."""
    try:
        adapter, account, hook = await _account(request, kind, public_id)
        adapter.verify(account, hook)
        parsed = adapter.parse(account, hook)
        results = await _apply(request, adapter, account, parsed)
    except Rejected as exc:
        return _refusal(kind, exc)
    except InvalidIdentity as exc:
        return _refusal(kind, Rejected(str(exc), 422))
    if kind == "api":  # the API channel answers with the message it stored
        (result,) = results
        code = status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED
        return JSONResponse(result.model_dump(), status_code=code)
    return JSONResponse({"received": len(results), "stored": sum(not r.duplicate for r in results)})


async def _apply(request: Request, adapter: Adapter, account: Account, parsed: Parsed) -> list[IngestResult]:
    """Receipts, then messages (each idempotent on its own), then the effects with the delivery id in one
    transaction: a crash anywhere leaves the platform's retry something to finish, never a gap."""
    db: Database = request.app.state.db
    if parsed.delivery_id is not None:
        async with db.transaction(account.workspace_id, readonly=True) as session:
            if await service.delivery_seen(session, account.id, parsed.delivery_id):
                return []  # a replay: acknowledged, nothing done twice
    if parsed.receipts:
        async with db.transaction(account.workspace_id) as session:
            await conversations.apply_receipts(session, adapter.channel, parsed.receipts)
    results = await _ingest(request, account, parsed)
    if parsed.delivery_id is not None or parsed.effects:
        async with db.transaction(account.workspace_id) as session:
            if parsed.delivery_id is None or await service.first_delivery(
                session, account.id, parsed.delivery_id
            ):
                for effect in parsed.effects:
                    await effect(session)
    return results


async def _ingest(request: Request, account: Account, parsed: Parsed) -> list[IngestResult]:
    if not parsed.messages:
        return []
    started = time.perf_counter()
    ingestor: Ingestor = request.app.state.ingestor
    results = await ingestor.submit_many(account.workspace_id, parsed.messages, account.id)
    metrics.INGEST_LATENCY.observe(time.perf_counter() - started)
    for result in results:
        metrics.INGESTED.labels(account.kind, "duplicate" if result.duplicate else "stored").inc()
    return results
