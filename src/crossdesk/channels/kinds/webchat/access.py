"""Who may use a widget's endpoints: the account behind the public key, the page's origin, the visitor's
token. Shared by the HTTP routes and the socket."""

from __future__ import annotations

import re

from starlette.requests import HTTPConnection

from crossdesk.channels.adapter import Account, Rejected
from crossdesk.channels.kinds.webchat import tokens
from crossdesk.channels.kinds.webchat.config import KIND, WebchatConfig
from crossdesk.channels.service import Directory

PUBLIC_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


async def widget_of(conn: HTTPConnection, public_key: str) -> tuple[Account, WebchatConfig]:
    """The active widget account of this key, if the calling page's origin is one it allows."""
    directory: Directory = conn.app.state.channels
    account = await directory.find(KIND, public_key) if PUBLIC_KEY.match(public_key) else None
    if account is None:
        raise Rejected("unknown widget", 404)
    config = WebchatConfig.model_validate(account.config)
    if not config.allows(conn.headers.get("origin")):
        raise Rejected("this page's origin may not use the widget", 403)
    return account, config


def visitor_of(account: Account, token: str | None) -> tokens.Visitor:
    if not token:
        raise Rejected("a visitor token is required", 401)
    try:
        return tokens.verify(account.secret, account.public_id, token)
    except tokens.InvalidToken as exc:
        raise Rejected(f"invalid visitor token: {exc}", 401) from exc


def bearer_of(conn: HTTPConnection) -> str | None:
    scheme, _, token = conn.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def ip_of(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client is not None else "unknown"
