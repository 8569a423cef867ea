"""How a reply leaves through each kind of channel account (the API channel now; more channels later)."""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

import httpx

from crossdesk.channels.models import ChannelAccount
from crossdesk.channels.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign


class PermanentError(Exception):
    """The platform refused the message for good (e.g. 4xx): retrying will not help."""


class Sender(Protocol):
    def ready(self, account: ChannelAccount) -> bool: ...
    async def send(
        self,
        client: httpx.AsyncClient,
        account: ChannelAccount,
        payload: dict[str, Any],
        idempotency_key: str,
    ) -> None: ...


def raise_for_status(response: httpx.Response) -> None:
    """2xx is done; 408, 429 and 5xx are worth retrying; any other status is final."""
    code = response.status_code
    if 200 <= code < 300:
        return
    if code in (408, 429) or code >= 500:
        raise httpx.HTTPStatusError(f"HTTP {code}", request=response.request, response=response)
    raise PermanentError(f"HTTP {code}: {response.text[:200]}")


class ApiWebhookSender:
    """The API channel posts each reply to the integration's ``webhook_url``, signed like inbound posts."""

    def ready(self, account: ChannelAccount) -> bool:
        return bool(account.config.get("webhook_url"))

    async def send(
        self,
        client: httpx.AsyncClient,
        account: ChannelAccount,
        payload: dict[str, Any],
        idempotency_key: str,
    ) -> None:
        raw = json.dumps(payload, ensure_ascii=False).encode()
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(account.secret, ts, raw),
            "idempotency-key": idempotency_key,
        }
        raise_for_status(await client.post(account.config["webhook_url"], content=raw, headers=headers))


SENDERS: dict[str, Sender] = {"api": ApiWebhookSender()}
