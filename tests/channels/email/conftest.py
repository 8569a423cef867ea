"""E-mail channel fixtures: a crossdesk server with its SMTP receiver on a free loopback port, a real
``smtplib`` client to send to it, and an outgoing SMTP server (aiosmtpd) that checks the login and
records what crossdesk sends."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from crossdesk.config import Settings
from tests.conftest import LiveServer, Tenant, free_port, make_settings, make_tenant

FIXTURES = Path(__file__).parent.parent / "fixtures" / "email"
INBOUND_DOMAIN = "in.crossdesk.test"
MAX_MESSAGE_BYTES = 2_000_000


@dataclass
class MailServer:
    live: LiveServer
    smtp_port: int
    settings: Settings


def _wait_for_port(port: int, limit_s: float = 20) -> None:
    deadline = time.monotonic() + limit_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="session")
def mail_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    settings = make_settings(
        database_url,
        tmp_path_factory.mktemp("maildata"),
        smtp_listen_port=free_port(),
        smtp_max_message_bytes=MAX_MESSAGE_BYTES,
        email_inbound_domain=INBOUND_DOMAIN,
    )
    assert settings.smtp_listen_port is not None
    with LiveServer(settings) as live:
        _wait_for_port(settings.smtp_listen_port)
        yield MailServer(live, settings.smtp_listen_port, settings)


@pytest.fixture
async def shop(db: Any, mail_server: MailServer) -> Tenant:
    """A workspace served by the server that receives mail."""
    return await make_tenant(db, mail_server.live, "Mailshop")


@pytest.fixture
async def other_shop(db: Any, mail_server: MailServer) -> Tenant:
    return await make_tenant(db, mail_server.live, "Othershop")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def unique_address(prefix: str = "support") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@shop.example"


def smtp_send(port: int, recipient: str, raw: bytes, sender: str = "mta@example.net") -> tuple[int, str]:
    """Send as a mail server would; returns the final reply (RCPT's if it refused, else DATA's)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo("mta.example.net")
        client.mail(sender)
        code, reply = client.rcpt(recipient)
        if code >= 400:
            return code, reply.decode()
        code, reply = client.data(raw)
        return code, reply.decode()


async def deliver(mail_server: MailServer, recipient: str, raw: bytes) -> tuple[int, str]:
    return await asyncio.to_thread(smtp_send, mail_server.smtp_port, recipient, raw)


def mail(
    text: str,
    *,
    sender: str | None = None,
    subject: str = "Question about my order",
    message_id: str | None = None,
    to: str = "support@shop.example",
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender or f"Buyer <buyer-{uuid.uuid4().hex[:8]}@example.com>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id or uuid.uuid4().hex + '@mail.example.com'}>"
    message["Date"] = "Tue, 07 May 2024 10:00:00 +0000"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message.as_bytes(policy=policy.SMTP)


async def create_account(tenant: Tenant, address: str, **config: Any) -> dict[str, Any]:
    credentials = config.pop("credentials", {})
    async with tenant.client() as client:
        response = await client.post(
            "/api/v1/channels/email",
            json={
                "name": "Support mail",
                "config": {"addresses": [address], **config},
                "credentials": credentials,
            },
        )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def conversations(tenant: Tenant, **query: str) -> list[dict[str, Any]]:
    async with tenant.client() as client:
        response = await client.get("/api/v1/conversations", params={"limit": "100", **query})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def detail(tenant: Tenant, conversation_id: int) -> dict[str, Any]:
    async with tenant.client() as client:
        response = await client.get(f"/api/v1/conversations/{conversation_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def resolve(tenant: Tenant, conversation_id: int) -> None:
    async with tenant.client() as client:
        response = await client.patch(f"/api/v1/conversations/{conversation_id}", json={"status": "resolved"})
    assert response.status_code == 200 and response.json()["status"] == "resolved", response.text


async def only_conversation(tenant: Tenant) -> dict[str, Any]:
    (conversation,) = await conversations(tenant)
    return await detail(tenant, conversation["id"])


@dataclass
class Outgoing:
    """An SMTP submission server on loopback: AUTH required (checked), every accepted message recorded;
    ``refuse`` makes it answer RCPT with that reply instead."""

    username: str
    password: str
    received: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refuse: str | None = None
    port: int = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope, parsed))
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self.username.encode()
            and data.password == self.password.encode()
        )
        if ok:
            self.logins.append(self.username)
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself

    async def wait(self, count: int = 1, limit_s: float = 15) -> list[tuple[Envelope, EmailMessage]]:
        """What was received once ``count`` messages are in (or the time is up): polled, because the
        server runs in its own thread and event loop."""
        for _ in range(int(limit_s / 0.05)):
            if len(self.received) >= count:
                break
            await asyncio.sleep(0.05)
        return self.received


@pytest.fixture
def outgoing() -> Iterator[Outgoing]:
    server = Outgoing(username="shop-smtp-user", password="s3cret-smtp")
    server.port = free_port()
    controller = Controller(
        server,
        hostname="127.0.0.1",
        port=server.port,
        authenticator=server.authenticate,
        auth_required=True,
        auth_require_tls=False,  # loopback only; a real submission server wants STARTTLS first
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def smtp_config(outgoing: Outgoing) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": outgoing.port,
        "smtp_security": "none",
        "smtp_username": outgoing.username,
        "credentials": {"smtp_password": outgoing.password},
    }
