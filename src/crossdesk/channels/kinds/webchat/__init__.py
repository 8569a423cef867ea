"""The storefront chat widget (kind "webchat"): one ``<script>`` tag on any shop page opens a chat.

A visitor is anonymous until they leave an e-mail: the widget gets a signed visitor token (``tokens``),
talks over its own resumable WebSocket (``socket``) or HTTP (``routes``), and sees only its own thread
(``view``). Messages are ingested like every channel's (``chat``); replies leave through the outbox, where
``send`` only names them: the visitor's socket delivers them from the event log, and the widget's
acknowledgements come back as delivery receipts.
"""

from __future__ import annotations

import httpx

from crossdesk.channels.adapter import Account, Adapter, Outbound, PermanentError
from crossdesk.channels.kinds.webchat import view
from crossdesk.channels.kinds.webchat.config import KIND, WebchatConfig
from crossdesk.channels.kinds.webchat.routes import router as webchat_router


class WebchatAdapter(Adapter):
    kind = channel = KIND
    Config = WebchatConfig
    credential_names = ()  # the account's own secret signs visitor tokens
    router = webchat_router

    async def send(
        self, client: httpx.AsyncClient, account: Account, outbound: Outbound, idempotency_key: str
    ) -> str | None:
        """Nothing to call: once the reply is marked sent, the visitor's socket shows it. The id names the
        visitor, so that only their socket shows it and only they can acknowledge it."""
        visitor = view.visitor_of_thread(account.public_id, outbound.thread_key)
        if visitor is None:
            raise PermanentError("not a chat-widget conversation of this account")
        return view.platform_id(visitor, view.reply_ref(outbound.message_id))


ADAPTERS = [WebchatAdapter()]
