"""Reply tokens: every reply we send carries a Reply-To plus-address (``support+r42-k3j...@shop.example``,
RFC 5233 subaddressing) whose token names the reply and is signed with the account's secret. A buyer whose
mail client dropped In-Reply-To and References still writes to that address, and the token leads back to
the reply's Message-ID, so the answer joins its conversation. A forged or altered token is ignored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_TOKEN = re.compile(r"^r([1-9][0-9]{0,17})-([a-z2-7]{16})$")


def _signature(secret: str, message_id: int) -> str:
    digest = hmac.new(secret.encode(), f"crossdesk-reply:{message_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:16]


def token(secret: str, message_id: int) -> str:
    return f"r{message_id}-{_signature(secret, message_id)}"


def split(address: str) -> tuple[str, str | None]:
    """``local+tag@domain`` -> (``local@domain``, ``tag``), lowercased."""
    local, _, domain = address.strip().lower().rpartition("@")
    base, plus, tag = local.partition("+")
    return f"{base}@{domain}", (tag if plus else None)


def plus_address(address: str, tag: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local}+{tag}@{domain}"


def our_message_id(secret: str, message_id: int, address: str) -> str:
    """The Message-ID of our reply (without brackets): the same on every retry of the same reply."""
    return f"crossdesk-{token(secret, message_id)}@{address.rpartition('@')[2].lower()}"


def referenced_id(secret: str, address: str) -> str | None:
    """The Message-ID of our reply named by the token in ``address``, if the token is ours and intact."""
    _, tag = split(address)
    found = _TOKEN.match(tag or "")
    if found is None:
        return None
    message_id = int(found.group(1))
    if not hmac.compare_digest(found.group(2), _signature(secret, message_id)):
        return None
    return our_message_id(secret, message_id, address)
