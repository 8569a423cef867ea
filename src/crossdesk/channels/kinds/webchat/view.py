"""What a visitor may see of the workspace's event stream, and how their messages are named.

Every message of a visitor's thread carries a platform id that starts with ``<visitor id>:``: their own
messages ``<visitor>:<client id>`` (the widget's id for it, so a resend is stored once), replies
``<visitor>:r<message id>`` (given by the adapter when it sends one). The id alone says whose a message is,
so the view needs no database: a private note (no platform id), another visitor's or another channel's
message never matches. Of a reply, the visitor sees the public text once it is sent; of typing, only the
agents' typing in their own conversations. Internal fields (assignee, tags, customer, agent ids, delivery
errors) never leave.
"""

from __future__ import annotations

import re
from typing import Any

Event = dict[str, Any]
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
REPLY_REF = re.compile(r"^r[0-9]{1,18}$")
SHOWN_REPLY_STATES = frozenset({"sent", "delivered", "read"})
_JUST_SENT = frozenset({"sent"})


def thread_key(public_id: str, visitor_id: str) -> str:
    """The conversation thread of one visitor at one widget."""
    return f"{public_id}:{visitor_id}"


def visitor_of_thread(public_id: str, thread: str | None) -> str | None:
    account, _, visitor = (thread or "").partition(":")
    return visitor if account == public_id and visitor else None


def platform_id(visitor_id: str, ref: str) -> str:
    """A message's platform id from the visitor-facing ``ref`` (a client id, or ``r<id>`` of a reply)."""
    return f"{visitor_id}:{ref}"


def reply_ref(message_id: int) -> str:
    return f"r{message_id}"


def public_message(visitor_id: str, message: dict[str, Any], reply_states: frozenset[str]) -> Event | None:
    """The visitor's view of a message (as ``message_out`` shows it), or None if it is not theirs to see."""
    pid = message.get("platform_message_id") or ""
    prefix = f"{visitor_id}:"
    if message.get("is_private") or not pid.startswith(prefix):
        return None
    inbound = message.get("direction") == "inbound"
    if not inbound and message.get("delivery_state") not in reply_states:
        return None
    author = "visitor" if inbound else "assistant" if message.get("author_kind") == "assistant" else "agent"
    return {
        "id": message["id"],
        "ref": pid[len(prefix) :],
        "from": author,
        "text": message.get("text", ""),
        "at": message.get("sent_at"),
    }


class VisitorView:
    """The hub's filter for one visitor's socket (see ``crossdesk.realtime.hub``)."""

    def __init__(self, visitor_id: str, conversations: set[int]) -> None:
        self.visitor_id = visitor_id
        self.conversations = conversations  # theirs, for typing; grows as their messages come by

    def __call__(self, event: Event) -> Event | None:
        kind, data = event.get("type"), event.get("data") or {}
        if kind in ("message.created", "message.updated"):
            return self._message(event, kind, data.get("message") or {})
        if kind == "typing" and data.get("conversation_id") in self.conversations:
            if data.get("customer"):
                return None  # their own typing, echoed to the agents
            return _frame(event, "typing", {"is_typing": bool(data.get("is_typing"))})
        return None

    def _message(self, event: Event, kind: str, message: dict[str, Any]) -> Event | None:
        # Their own message when it is stored; a reply when it is sent (not again for its receipts).
        shown = public_message(self.visitor_id, message, _JUST_SENT)
        if shown is None or (shown["from"] == "visitor") != (kind == "message.created"):
            return None
        self.conversations.add(message["conversation_id"])
        return _frame(event, "message", shown)


def _frame(event: Event, kind: str, data: dict[str, Any]) -> Event:
    return {"seq": event.get("seq"), "type": kind, "data": data, "at": event.get("at")}
