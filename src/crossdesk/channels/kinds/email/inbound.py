"""One received e-mail, for one channel account, as the normalized ``InboundMessage`` ingest stores.

The text is the buyer's new words (quoted history and signature trimmed, a marketplace's wrapper cut
away), at most ``MAX_TEXT`` characters; ``references`` are In-Reply-To, then References newest first, then
the reply named by a plus-address token; marketplace mail gets its channel, identity and order or item."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crossdesk.channels.adapter import Account, Malformed
from crossdesk.channels.kinds.email import attachments, quotes, tokens
from crossdesk.channels.kinds.email.marketplaces import recognise
from crossdesk.channels.kinds.email.parsing import MAX_REFERENCES, Mail
from crossdesk.conversations.schemas import MAX_TEXT, AttachmentIn, IdentityIn, InboundMessage, SenderIn

TRUNCATED = "\n\n[… the message was longer and was cut here]"


def references(mail: Mail, account: Account, delivered_to: Iterable[str]) -> list[str]:
    """In-Reply-To, References newest first, then our replies named by tokens in the addresses the mail
    was delivered to (the SMTP envelope's) or written to (its headers)."""
    refs = [*mail.in_reply_to, *reversed(mail.references)]
    for address in [*delivered_to, *mail.recipients]:
        ours = tokens.referenced_id(account.secret, address)
        if ours is not None:
            refs.append(ours)
    return list(dict.fromkeys(r for r in refs if r))[:MAX_REFERENCES]


def _text(body: str, notes: list[str]) -> str:
    footer = "".join(f"\n[{note}]" for note in notes)
    text = quotes.trim(body)
    room = MAX_TEXT - len(footer)
    if len(text) > room:
        text = text[: room - len(TRUNCATED)] + TRUNCATED
    return text + footer


async def message(
    mail: Mail, account: Account, data_dir: Path, delivered_to: Iterable[str] = ()
) -> InboundMessage:
    """The message as ingest takes it; attachments are written to disk first."""
    listed = await attachments.store(data_dir, account.workspace_id, mail.attachments)
    try:
        return _normalized(mail, account, listed, delivered_to)
    except ValidationError as exc:  # a field past the normalized message's limits
        raise Malformed("message cannot be stored") from exc


def _normalized(
    mail: Mail, account: Account, listed: list[AttachmentIn], delivered_to: Iterable[str]
) -> InboundMessage:
    relayed = recognise(mail)
    meta: dict[str, Any] = {"email": {"message_id": mail.message_id}}
    if mail.html is not None:
        meta["email"]["html"] = mail.html
    if relayed is None:
        channel, body = "email", mail.text
        sender = SenderIn(name=mail.sender_name, email=mail.sender)
    else:
        channel, body = relayed.channel, relayed.text or mail.text
        meta.update(relayed.meta)
        meta["email"]["relay"] = relayed.reply_to
        sender = SenderIn(
            name=relayed.name,
            # eBay's alias is where replies go; Amazon's is the buyer's identity itself.
            email=relayed.reply_to if relayed.channel == "ebay" else None,
            identities=[IdentityIn(kind=kind, value=value) for kind, value in relayed.identities],
        )
    return InboundMessage(
        channel=channel,
        platform_message_id=mail.message_id,
        text=_text(body, mail.notes),
        sender=sender,
        sent_at=mail.sent_at,
        subject=mail.subject,
        attachments=listed,
        references=references(mail, account, delivered_to),
        meta=meta,
    )
