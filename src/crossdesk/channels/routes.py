"""Channel accounts, and the generic API channel's signed inbound endpoint."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from crossdesk.channels import service, signing
from crossdesk.conversations.ingest import Ingestor
from crossdesk.conversations.schemas import InboundBody, InboundMessage, IngestResult
from crossdesk.customers.identities import InvalidIdentity
from crossdesk.ops import metrics
from crossdesk.workspaces.deps import DB, AdminPrincipal, RowId

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])


class AccountIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    webhook_url: HttpUrl | None = Field(None, description="Where replies are posted (signed), if anywhere.")


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    webhook_url: HttpUrl | None = None
    is_active: bool | None = None


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    name: str
    public_id: str
    is_active: bool
    config: dict[str, Any]
    created_at: dt.datetime


class AccountCreated(AccountOut):
    secret: str = Field(description="The HMAC secret; shown once.")
    inbound_url: str


@router.get("", response_model=list[AccountOut])
async def list_accounts(principal: AdminPrincipal, db: DB) -> list[AccountOut]:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        return [AccountOut.model_validate(a) for a in await service.list_accounts(session)]


@router.post("/api", response_model=AccountCreated, status_code=status.HTTP_201_CREATED)
async def create_api_channel(
    body: AccountIn, principal: AdminPrincipal, db: DB, request: Request
) -> AccountCreated:
    async with db.transaction(principal.workspace_id) as session:
        config = {"webhook_url": str(body.webhook_url)} if body.webhook_url else {}
        account, secret = await service.create_account(session, "api", body.name, config)
    url = str(request.url_for("api_channel_inbound", public_id=account.public_id))
    return AccountCreated.model_validate(
        {**AccountOut.model_validate(account).model_dump(), "secret": secret, "inbound_url": url}
    )


@router.patch("/{account_id}", response_model=AccountOut)
async def update_account(
    account_id: RowId, body: AccountPatch, principal: AdminPrincipal, db: DB, request: Request
) -> AccountOut:
    changes = body.model_dump(exclude_unset=True, mode="json")
    async with db.transaction(principal.workspace_id) as session:
        account = await service.update_account(session, account_id, changes)
        if account is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"channel {account_id} not found")
    request.app.state.channels.forget(account.kind, account.public_id)
    return AccountOut.model_validate(account)


@router.post(
    "/api/{public_id}/messages",
    name="api_channel_inbound",
    response_model=IngestResult,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": IngestResult, "description": "Already stored (a retry): nothing new."}},
)
async def api_channel_inbound(public_id: str, request: Request, response: Response) -> IngestResult:
    """Post one inbound message, signed with the channel's secret (see ``crossdesk.channels.signing``).

    Answered only once the message is committed; the same ``platform_message_id`` is stored once.
    """
    body = await request.body()
    directory: service.Directory = request.app.state.channels
    account = await directory.find("api", public_id)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown channel")
    try:
        signing.verify(
            account.secret,
            request.headers.get(signing.TIMESTAMP_HEADER),
            request.headers.get(signing.SIGNATURE_HEADER),
            body,
            request.app.state.settings.api_signature_tolerance_s,
        )
    except signing.BadSignature as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"bad signature: {exc}") from exc
    try:
        # Validated once as the body; the channel is ours to set.
        inbound = InboundMessage.model_construct(**dict(InboundBody.model_validate_json(body)), channel="api")
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            exc.errors(include_url=False, include_input=False, include_context=False),
        ) from exc
    started = time.perf_counter()
    try:
        ingestor: Ingestor = request.app.state.ingestor
        result = await ingestor.submit(account.workspace_id, inbound, account.account_id)
    except InvalidIdentity as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    metrics.INGEST_LATENCY.observe(time.perf_counter() - started)
    metrics.INGESTED.labels("api", "duplicate" if result.duplicate else "stored").inc()
    if result.duplicate:
        response.status_code = status.HTTP_200_OK
    return result
