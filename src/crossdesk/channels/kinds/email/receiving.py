"""The built-in SMTP receiver (aiosmtpd, RFC 5321): mail for an e-mail channel is delivered straight to
crossdesk, by the shop's mail server forwarding to ``<public id>@<inbound domain>`` or by an MX record.

It relays nothing: a recipient that is no active e-mail channel's address is refused at RCPT (550). A
message is acknowledged (250) only once it is stored; a mail bomb is refused (552), a message without a
usable sender too (550); a failure of ours asks the sender to try again later (451), which is what sending
servers do anyway, and a repeat is stored once (its Message-ID is the key).

An address claimed by several accounts (of different workspaces, say) belongs to the earliest: a later
account cannot take over mail that already reaches another one. ``<public id>@<inbound domain>`` is
unguessable and always unambiguous.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import ValidationError

from crossdesk.channels.adapter import Account, Context, Malformed, Rejected
from crossdesk.channels.kinds.email import inbound, tokens
from crossdesk.channels.kinds.email.config import EmailConfig
from crossdesk.channels.kinds.email.parsing import TooComplex, parse
from crossdesk.customers.identities import InvalidIdentity

log = logging.getLogger(__name__)
MAX_RECIPIENTS = 50
REFRESH_S = 10.0  # how long a known address's account (settings, secret) is trusted
KIND = "email"


class AddressBook:
    """Which account each address belongs to (base addresses: ``+tags`` are stripped), from the active
    accounts. An unknown address is looked up again in a read that started after it was asked for (so an
    account created a moment ago gets its mail); concurrent misses share one read, so a flood of made-up
    recipients costs one query at a time."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.routes: dict[str, Account] = {}
        self.read_at = -REFRESH_S
        self.lock = asyncio.Lock()

    async def find(self, address: str) -> Account | None:
        base, _ = tokens.split(address)
        asked = time.monotonic()
        if base in self.routes and asked - self.read_at < REFRESH_S:
            return self.routes[base]
        async with self.lock:
            if self.read_at < asked:
                await self._refresh()
        return self.routes.get(base)

    async def _refresh(self) -> None:
        self.read_at = time.monotonic()
        domain = (self.context.settings.email_inbound_domain or "").lower()
        routes: dict[str, Account] = {}
        for account in await self.context.accounts(KIND):  # oldest first: the earliest claim wins
            if domain:
                routes[f"{account.public_id.lower()}@{domain}"] = account
            for address in _addresses(account):
                routes.setdefault(address, account)
        self.routes = routes


def _addresses(account: Account) -> list[str]:
    try:
        config = EmailConfig.model_validate(account.config)
    except ValidationError:
        log.warning("e-mail channel with invalid settings", extra={"account_id": account.id})
        return []
    return [tokens.split(str(a))[0] for a in config.addresses]


async def deliver(context: Context, raw: bytes, accounts: dict[int, tuple[Account, list[str]]]) -> None:
    """Parse once, then store for each account the message was addressed to (raises Rejected)."""
    mail = await asyncio.to_thread(parse, raw)
    for account, recipients in accounts.values():
        message = await inbound.message(mail, account, context.settings.data_dir, recipients)
        try:
            await context.ingest(account.workspace_id, message, account.id)
        except InvalidIdentity as exc:
            raise Malformed(str(exc)) from exc


class Handler:
    """aiosmtpd's hooks: RCPT routes, DATA stores."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.book = AddressBook(context)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        if await self.book.find(address) is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        accounts: dict[int, tuple[Account, list[str]]] = {}
        for address in envelope.rcpt_tos:
            account = await self.book.find(address)
            if account is not None:
                accounts.setdefault(account.id, (account, []))[1].append(address)
        try:
            await deliver(self.context, raw, accounts)
        except TooComplex as exc:
            return f"552 5.3.4 {exc}"
        except Rejected as exc:
            return f"550 5.6.0 {exc}"
        except Exception:  # ours (the database, the disk): the sender keeps the mail and tries again
            log.exception("storing an e-mail failed")
            return "451 4.3.0 Temporary failure, please try again later"
        return "250 2.0.0 Stored"


class Server(SMTP):
    # RFC 5321 allows 1,000 octets a line; mail with longer lines exists and is taken (up to 64 KiB).
    line_length_limit = 65_536


async def serve(context: Context) -> None:
    """Run the receiver until cancelled (one per server process; they share the port)."""
    settings = context.settings
    loop = asyncio.get_running_loop()
    handler = Handler(context)

    def protocol() -> Any:
        return Server(
            handler,
            data_size_limit=settings.smtp_max_message_bytes,
            enable_SMTPUTF8=True,
            ident="crossdesk",
            timeout=120,
            loop=loop,
        )

    try:
        server = await loop.create_server(
            protocol, host=settings.smtp_listen_host, port=settings.smtp_listen_port, reuse_port=True
        )
    except OSError:  # the port is taken or not ours: say so, and let the rest of crossdesk run
        log.exception("smtp receiver cannot listen", extra={"port": settings.smtp_listen_port})
        return
    log.info("smtp receiver listening", extra={"port": settings.smtp_listen_port})
    try:
        await server.serve_forever()
    finally:
        server.close()
        await server.wait_closed()
