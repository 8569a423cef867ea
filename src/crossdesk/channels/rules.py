"""What a channel allows a reply to be, checked before the reply is stored (so the agent sees why)."""

from __future__ import annotations

import datetime as dt

from crossdesk.channels.adapter import Limits, ReplyRefused


def check_reply(
    limits: Limits, text: str, last_inbound_at: dt.datetime | None, now: dt.datetime, templated: bool
) -> None:
    """Raise ReplyRefused with the reason when the channel would refuse this reply."""
    if len(text) > limits.max_text:
        raise ReplyRefused(f"the channel takes at most {limits.max_text} characters, not {len(text)}")
    if templated and not limits.outside_window:
        raise ReplyRefused("the channel has no message templates: send the text alone")
    if limits.reply_window is None or templated:
        return
    if last_inbound_at is None or now - last_inbound_at > limits.reply_window:
        hours = limits.reply_window.total_seconds() / 3600
        reason = f"outside the {hours:g}-hour reply window since the buyer's last message"
        allowed = f"; only {limits.outside_window} can be sent now" if limits.outside_window else ""
        raise ReplyRefused(reason + allowed)
