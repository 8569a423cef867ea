"""What a visitor's socket may see of the workspace's events (the hub's view), and the account config."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from crossdesk.channels.adapter import Account, Outbound, PermanentError
from crossdesk.channels.kinds.webchat import ADAPTERS, view
from crossdesk.channels.kinds.webchat.config import WebchatConfig, normalize_origin

ME, THEM = "visitor-me-0123456789", "visitor-them-012345678"


def message(**fields: Any) -> dict[str, Any]:
    base = {
        "id": 7,
        "conversation_id": 3,
        "channel": "webchat",
        "direction": "inbound",
        "author_kind": "customer",
        "author_agent_id": None,
        "text": "hello",
        "attachments": [],
        "platform_message_id": f"{ME}:client-0001",
        "is_private": False,
        "delivery_state": None,
        "meta": {"delivery_error": "internal detail"},
        "sent_at": "2025-03-01T12:00:00Z",
        "created_at": "2025-03-01T12:00:00Z",
    }
    return {**base, **fields}


def event(kind: str, data: dict[str, Any], seq: int = 5) -> dict[str, Any]:
    return {"workspace_id": 1, "seq": seq, "type": kind, "data": data, "at": "2025-03-01T12:00:00Z"}


def created(msg: dict[str, Any]) -> dict[str, Any]:
    conversation = {"id": msg["conversation_id"], "assignee_id": 4, "tags": ["vip"], "customer_id": 9}
    return event("message.created", {"message": msg, "conversation": conversation})


def reply(state: str, **fields: Any) -> dict[str, Any]:
    defaults = {
        "id": 8,
        "direction": "outbound",
        "author_kind": "agent",
        "author_agent_id": 4,
        "text": "on its way",
        "platform_message_id": f"{ME}:r8",
    }
    return message(**{**defaults, **fields, "delivery_state": state})


def test_own_message_is_shown_without_internal_fields() -> None:
    seen = view.VisitorView(ME, set())(created(message()))
    assert seen == {
        "seq": 5,
        "type": "message",
        "data": {
            "id": 7,
            "ref": "client-0001",
            "from": "visitor",
            "text": "hello",
            "at": "2025-03-01T12:00:00Z",
        },
        "at": "2025-03-01T12:00:00Z",
    }


def test_a_reply_is_shown_once_when_sent_not_when_queued_nor_on_receipts() -> None:
    visible = view.VisitorView(ME, set())
    assert visible(created(reply("queued", platform_message_id=None))) is None
    sent = visible(event("message.updated", {"message": reply("sent")}))
    assert sent is not None and sent["data"]["from"] == "agent" and sent["data"]["ref"] == "r8"
    assert visible(event("message.updated", {"message": reply("delivered")})) is None
    assert visible(event("message.updated", {"message": reply("read")})) is None
    assistant = visible(event("message.updated", {"message": reply("sent", author_kind="assistant")}))
    assert assistant is not None and assistant["data"]["from"] == "assistant"


@pytest.mark.parametrize(
    "hidden",
    [
        created(message(direction="internal", is_private=True, platform_message_id=None)),  # a note
        created(message(is_private=True)),  # private, whatever its id
        created(message(platform_message_id=f"{THEM}:client-0001")),  # another visitor's
        created(message(platform_message_id=f"{ME}x:client-0001")),  # a look-alike prefix
        created(message(platform_message_id="client-0001", channel="api")),
        event("message.updated", {"message": reply("sent", platform_message_id=f"{THEM}:r8")}),
        event("message.updated", {"message": message()}),  # their own message is shown when created only
        event("conversation.created", {"id": 3, "customer_id": 9}),
        event("conversation.updated", {"conversation": {"id": 3}, "changed": ["assignee_id"]}),
        event("presence", {"agent_id": 4, "online": True}),
        event("typing", {"conversation_id": 99, "agent_id": 4, "is_typing": True}),  # not theirs
        event("typing", {"conversation_id": 3, "agent_id": None, "customer": True, "is_typing": True}),
        event("something.new", {"message": message()}),
    ],
)
def test_what_a_visitor_never_sees(hidden: dict[str, Any]) -> None:
    assert view.VisitorView(ME, {3})(hidden) is None


def test_agent_typing_in_their_conversation_shows_without_the_agent() -> None:
    visible = view.VisitorView(ME, set())
    typing = event("typing", {"conversation_id": 3, "agent_id": 4, "is_typing": True})
    assert visible(typing) is None  # not known to be theirs yet
    visible(created(message()))  # their message in conversation 3
    assert visible(typing) == {"seq": 5, "type": "typing", "data": {"is_typing": True}, "at": typing["at"]}


def test_origins_are_normalised_as_browsers_send_them() -> None:
    assert normalize_origin("HTTPS://Shop.Example.com:443/") == "https://shop.example.com"
    assert normalize_origin("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert normalize_origin("http://[::1]:80") == "http://[::1]"
    for bad in (
        "shop.example.com",
        "ftp://shop.example.com",
        "https://shop.example.com/path",
        "https://u@x.com",
        "https://x.com?q=1",
        "https://x.com:99999",
        "null",
        "",
    ):
        with pytest.raises(ValueError):
            normalize_origin(bad)


def test_config_checks_origins_and_refuses_unknown_settings() -> None:
    config = WebchatConfig(allowed_origins=["https://Shop.example.com/"])
    assert config.allowed_origins == ["https://shop.example.com"]
    assert config.allows("https://shop.example.com") and not config.allows("https://evil.example.com")
    assert not config.allows(None) and not config.allows("null")
    assert WebchatConfig().allows(None) and WebchatConfig().allows("https://anything.example")
    with pytest.raises(ValidationError):
        WebchatConfig.model_validate({"colour": "#fff"})
    with pytest.raises(ValidationError):
        WebchatConfig(accent="red; background: url(x)")


def test_languages_pass_on_only_the_shops() -> None:
    config = WebchatConfig(languages=["de", "fr"])
    assert config.language_of("de-AT") == "de" + "-AT" and config.language_of("en-US") is None
    assert WebchatConfig().language_of("en-US") == "en-US"


async def test_send_names_the_reply_for_its_visitor_and_refuses_other_threads() -> None:
    (adapter,) = ADAPTERS
    account = Account(1, 1, "webchat", "widget-1", "secret", {}, {})

    def outbound(thread_key: str | None) -> Outbound:
        return Outbound(42, 3, "webchat", "hi", [], thread_key, None, None, [], [], {}, {})

    async with httpx.AsyncClient() as client:
        assert await adapter.send(client, account, outbound(f"widget-1:{ME}"), "k") == f"{ME}:r42"
        for other in (None, f"widget-2:{ME}", "widget-1:"):
            with pytest.raises(PermanentError):
                await adapter.send(client, account, outbound(other), "k")
