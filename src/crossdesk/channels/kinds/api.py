"""The generic API channel: an integration posts normalized messages, signed with the account's secret
(``crossdesk.channels.signing``), and gets each reply posted, signed the same way, to its ``webhook_url``."""

from __future__ import annotations

import json
import time

import httpx
from pydantic import BaseModel, ConfigDict, HttpUrl, ValidationError

from crossdesk.channels import signing
from crossdesk.channels.adapter import (
    Account,
    Adapter,
    BadSignature,
    Malformed,
    Outbound,
    Parsed,
    WebhookRequest,
    raise_for_status,
)
from crossdesk.conversations.schemas import InboundBody, InboundMessage


class ApiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_url: HttpUrl | None = None


class ApiAdapter(Adapter):
    kind = channel = "api"
    Config = ApiConfig

    def verify(self, account: Account, request: WebhookRequest) -> None:
        try:
            signing.verify(
                account.secret,
                request.headers.get(signing.TIMESTAMP_HEADER),
                request.headers.get(signing.SIGNATURE_HEADER),
                request.body,
                request.tolerance_s,
            )
        except signing.BadSignature as exc:
            raise BadSignature(f"bad signature: {exc}") from exc

    def parse(self, account: Account, request: WebhookRequest) -> Parsed:
        try:
            body = InboundBody.model_validate_json(request.body)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False, include_context=False)
            raise Malformed("invalid message", detail=errors) from exc
        # Validated once as the body; the channel is ours to set.
        return Parsed(messages=[InboundMessage.model_construct(**dict(body), channel="api")])

    def ready(self, account: Account) -> bool:
        return bool(account.config.get("webhook_url"))

    async def send(
        self, client: httpx.AsyncClient, account: Account, outbound: Outbound, idempotency_key: str
    ) -> str | None:
        raw = json.dumps(outbound.payload, ensure_ascii=False).encode()
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            signing.TIMESTAMP_HEADER: str(ts),
            signing.SIGNATURE_HEADER: signing.sign(account.secret, ts, raw),
            "idempotency-key": idempotency_key,
        }
        raise_for_status(await client.post(account.config["webhook_url"], content=raw, headers=headers))
        return None


ADAPTERS = [ApiAdapter()]
