"""Signed visitor tokens: who an anonymous widget visitor is, at which account, and until when.

A token is ``v1.<payload>.<signature>``. The payload (base64url JSON) names the account's public id, a random
visitor id and an expiry; the signature is HMAC-SHA256 (RFC 2104) under a key derived from the account's
own secret, so only this server mints them and one account's tokens are worthless at another.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

from crossdesk.db import utcnow

TTL = dt.timedelta(days=30)
MAX_TOKEN = 1024
VERSION = "v1"
VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_PURPOSE = b"crossdesk webchat visitor token v1"


class InvalidToken(Exception):
    """Forged, malformed, expired or of another account; the reason holds no secret."""


@dataclass(frozen=True)
class Visitor:
    public_id: str  # the account's
    visitor_id: str
    expires_at: dt.datetime


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


def _key(secret: str) -> bytes:
    # Derived, not the account secret itself: a key for this purpose only.
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, signed: str) -> str:
    return _b64(hmac.new(_key(secret), signed.encode(), hashlib.sha256).digest())


def issue(
    secret: str, public_id: str, visitor_id: str, now: dt.datetime | None = None, ttl: dt.timedelta = TTL
) -> tuple[str, Visitor]:
    """A token for this visitor at this account, valid for ``ttl`` from ``now``."""
    if not VISITOR_ID.match(visitor_id):
        raise ValueError("a visitor id is 16 to 64 URL-safe characters")
    visitor = Visitor(public_id, visitor_id, (now or utcnow()) + ttl)
    claims = {"a": public_id, "v": visitor_id, "x": int(visitor.expires_at.timestamp())}
    signed = f"{VERSION}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    return f"{signed}.{_signature(secret, signed)}", visitor


def verify(secret: str, public_id: str, token: str, now: dt.datetime | None = None) -> Visitor:
    """The visitor a token names; InvalidToken unless it is ours, this account's and not expired."""
    if len(token) > MAX_TOKEN or token.count(".") != 2:
        raise InvalidToken("malformed token")
    signed, _, signature = token.rpartition(".")
    if not hmac.compare_digest(signature.encode(), _signature(secret, signed).encode()):
        raise InvalidToken("bad token signature")
    try:
        claims = json.loads(_unb64(signed.split(".", 1)[1]))
        account, visitor_id, expiry = claims["a"], claims["v"], claims["x"]
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise InvalidToken("malformed token") from exc
    if not signed.startswith(VERSION + ".") or not isinstance(expiry, int) or not isinstance(visitor_id, str):
        raise InvalidToken("malformed token")
    if account != public_id or not VISITOR_ID.match(visitor_id):
        raise InvalidToken("token of another widget")
    expires_at = dt.datetime.fromtimestamp(expiry, dt.UTC)
    if expires_at <= (now or utcnow()):
        raise InvalidToken("token expired")
    return Visitor(public_id, visitor_id, expires_at)
