"""A chat-widget account's settings, and the origin check its HTTP endpoints and socket share.

Origins are compared as browsers send them in the ``Origin`` header (RFC 6454 serialisation): scheme, host
and a non-default port, lower case, no path.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from crossdesk.conversations.schemas import LanguageCode

KIND = "webchat"  # the account kind, the conversations' channel, and the URL segment
DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(value: str) -> str:
    """``https://Shop.example.com:443/`` -> ``https://shop.example.com``; ValueError if not an origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError("an origin is scheme://host[:port], e.g. https://shop.example.com") from exc
    if (
        parts.scheme not in DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError("an origin is scheme://host[:port], e.g. https://shop.example.com")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown_port = f":{port}" if port is not None and port != DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{shown_port}"


Origin = Annotated[str, StringConstraints(max_length=300), AfterValidator(normalize_origin)]


class WebchatConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_origins: list[Origin] = Field(
        default_factory=list,
        max_length=100,
        description="Shop origins the widget may run on, e.g. https://shop.example.com; empty: any.",
    )
    title: str = Field("Chat with us", min_length=1, max_length=80, description="The panel's heading.")
    greeting: str = Field(
        "Hi! How can we help you today?", max_length=500, description="Shown before the first message."
    )
    accent: str = Field("#2563eb", pattern=r"^#[0-9a-fA-F]{6}$", description="The accent colour, #rrggbb.")
    languages: list[LanguageCode] = Field(
        default_factory=list,
        max_length=50,
        description="Languages the shop answers in; a visitor's browser language among them is passed on.",
    )

    def allows(self, origin: str | None) -> bool:
        """Whether a request from this ``Origin`` may use the widget's endpoints."""
        if not self.allowed_origins:
            return True
        if origin is None:
            return False
        try:
            return normalize_origin(origin) in self.allowed_origins
        except ValueError:
            return False

    def language_of(self, browser: str | None) -> str | None:
        """The visitor's browser language, if the shop serves it (any, when no list is set)."""
        if browser is None:
            return None
        if not self.languages or browser in self.languages or browser.split("-")[0] in self.languages:
            return browser
        return None
