"""Replies by SMTP (aiosmtplib; RFC 5321 submission, RFC 5322 threading headers).

A reply answers the buyer's newest message: In-Reply-To names it, References lists the buyer's messages
oldest first, the subject is "Re: " the conversation's. Its Message-ID is ours and the same on every
retry (``tokens.our_message_id``): it is returned as the platform id, so a buyer's answer that cites it
threads, and a duplicate delivery after a retry is recognisable as one. Plain e-mail gets a Reply-To
plus-address with a signed token (see ``tokens``). Marketplace relays get none: Amazon accepts mail only
from the seller's registered address, and both relays answer from the buyer's alias anyway.

The body is text, with an HTML alternative that is the same text escaped (nothing the agent typed is
markup). A 5xx answer is final (PermanentError); connection errors, timeouts and 4xx are retried.
"""

from __future__ import annotations

import html
import re
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from crossdesk.channels.adapter import Account, Outbound, PermanentError
from crossdesk.channels.kinds.email import tokens
from crossdesk.channels.kinds.email.config import EmailConfig
from crossdesk.customers.identities import InvalidIdentity, normalize_email

TIMEOUT_S = 30
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|antw|r|回复|回覆|答复)\s*[:：]", re.I)
_EBAY_ALIAS = re.compile(r"@members\.ebay\.[a-z.]+$", re.I)


def recipient(outbound: Outbound) -> str:
    """Where the reply goes: the relay alias for marketplace conversations, else the buyer's address."""
    if outbound.channel == "amazon":
        found = outbound.identity("amazon_buyer")
    elif outbound.channel == "ebay":
        found = next((v for k, v in outbound.identities if k == "email" and _EBAY_ALIAS.search(v)), None)
    else:
        found = outbound.identity("email")
    try:
        return normalize_email(found or "")
    except InvalidIdentity as exc:
        raise PermanentError(f"no valid address to send this {outbound.channel} reply to") from exc


def subject(original: str | None) -> str:
    text = " ".join((original or "").split()) or "Your message"
    return text if _REPLY_PREFIX.match(text) else f"Re: {text}"


def compose(account: Account, config: EmailConfig, outbound: Outbound) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(display_name=config.from_name or "", addr_spec=config.from_address)
    message["To"] = recipient(outbound)
    if outbound.channel == "email":
        tag = tokens.token(account.secret, outbound.message_id)
        message["Reply-To"] = tokens.plus_address(config.from_address, tag)
    # A campaign message starts a thread: its subject is the campaign's own, not a "Re:".
    campaign = "campaign_id" in outbound.meta
    message["Subject"] = (outbound.subject or "") if campaign else subject(outbound.subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = (
        f"<{tokens.our_message_id(account.secret, outbound.message_id, config.from_address)}>"
    )
    if outbound.meta.get("unsubscribe_url"):
        # RFC 8058 one-click unsubscribe (campaign messages): the mailbox provider POSTs to the link.
        message["List-Unsubscribe"] = f"<{outbound.meta['unsubscribe_url']}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if outbound.replying_to:
        message["In-Reply-To"] = f"<{outbound.replying_to[0]}>"
        message["References"] = " ".join(f"<{r}>" for r in reversed(outbound.replying_to))
    message.set_content(outbound.text)
    escaped = html.escape(outbound.text).replace("\n", "<br>\n")
    message.add_alternative(f"<!doctype html><html><body><p>{escaped}</p></body></html>", subtype="html")
    return message


async def send(account: Account, config: EmailConfig, outbound: Outbound) -> str:
    """Send the reply; returns its Message-ID (without brackets)."""
    message = compose(account, config, outbound)
    assert config.smtp_host is not None
    try:
        await aiosmtplib.send(
            message,
            hostname=config.smtp_host,
            port=config.smtp_port,
            username=config.smtp_username,
            password=account.credentials.get("smtp_password") if config.smtp_username else None,
            use_tls=config.smtp_security == "ssl",
            start_tls=config.smtp_security == "starttls",
            timeout=TIMEOUT_S,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        if all(r.code >= 500 for r in exc.recipients):
            first = exc.recipients[0]
            raise PermanentError(f"recipient refused: {first.code} {first.message[:200]}") from exc
        raise
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code >= 500:
            raise PermanentError(f"SMTP {exc.code}: {exc.message[:200]}") from exc
        raise
    return str(message["Message-ID"]).strip().strip("<>")
