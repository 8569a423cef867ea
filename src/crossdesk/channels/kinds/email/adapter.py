"""The e-mail channel: mail arrives by the built-in SMTP receiver or by polling an IMAP mailbox, and
replies leave by the account's SMTP server. It takes no webhooks."""

from __future__ import annotations

import functools
import socket
from typing import ClassVar

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, ValidationError

from crossdesk.channels.adapter import Account, Adapter, Context, Outbound, PermanentError, Service
from crossdesk.channels.kinds.email import attachments, polling, receiving, sending
from crossdesk.channels.kinds.email.config import EmailConfig


def _config(account: Account) -> EmailConfig | None:
    try:
        return EmailConfig.model_validate(account.config)
    except ValidationError:
        return None


class EmailAdapter(Adapter):
    kind = channel = receiving.KIND
    Config: ClassVar[type[BaseModel]] = EmailConfig
    credential_names = ("smtp_password", "imap_password")
    router: ClassVar[APIRouter | None] = attachments.router

    def ready(self, account: Account) -> bool:
        config = _config(account)
        if config is None or not config.smtp_host:
            return False
        return not config.smtp_username or bool(account.credentials.get("smtp_password"))

    async def send(
        self, client: httpx.AsyncClient, account: Account, outbound: Outbound, idempotency_key: str
    ) -> str | None:
        config = _config(account)
        if config is None or not config.smtp_host:
            raise PermanentError("the e-mail channel has no valid SMTP settings")
        return await sending.send(account, config, outbound)

    def services(self, context: Context) -> list[Service]:
        services = [Service("email-poller", polling.Poller(context).run)]
        settings = context.settings
        if settings.smtp_listen_port is not None:
            # One listener per machine and port (the processes of one machine cannot share the port).
            where = f"{socket.gethostname()}:{settings.smtp_listen_host}:{settings.smtp_listen_port}"
            services.append(Service(f"smtp-listener:{where}", functools.partial(receiving.serve, context)))
        return services
