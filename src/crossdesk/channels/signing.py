"""HMAC signatures of the generic API channel (the scheme Stripe and Chatwoot-style webhooks use).

``X-Crossdesk-Timestamp: <unix seconds>`` and ``X-Crossdesk-Signature: sha256=<hex>`` where the hex is
HMAC-SHA256 with the channel's secret over ``<timestamp>.<raw body>``. Signing the time bounds replays.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "x-crossdesk-timestamp"
SIGNATURE_HEADER = "x-crossdesk-signature"


class BadSignature(ValueError):
    pass


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, tolerance_s: int) -> None:
    if not timestamp or not signature:
        raise BadSignature("missing signature headers")
    try:
        ts = int(timestamp)
    except ValueError as exc:
        raise BadSignature("timestamp is not an integer") from exc
    if abs(time.time() - ts) > tolerance_s:
        raise BadSignature("timestamp outside the allowed window (replay or clock skew)")
    if not hmac.compare_digest(sign(secret, ts, body), signature.strip()):
        raise BadSignature("signature does not match")
