"""Replies leave through the outbox to the API channel's webhook: signed, retried, idempotent, never lost."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from crossdesk.channels import signing
from crossdesk.channels.models import OutboxItem
from crossdesk.channels.outbox import OutboxWorker
from crossdesk.conversations import service as conversations
from crossdesk.db import utcnow
from tests.support import inbound
from tests.support.replies import reply_reaching


class Receiver:
    """An integration's webhook endpoint on loopback: checks signatures, answers with scripted statuses."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.statuses: list[int] = []
        self.received: list[dict] = []
        self.keys: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["content-length"]))
                try:
                    signing.verify(
                        receiver.secret,
                        self.headers.get(signing.TIMESTAMP_HEADER),
                        self.headers.get(signing.SIGNATURE_HEADER),
                        raw,
                        300,
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                except signing.BadSignature:
                    status = 401
                if status == 200:
                    receiver.received.append(json.loads(raw))
                    receiver.keys.append(self.headers["idempotency-key"])
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()


@pytest.fixture
def receiver(tenant) -> Iterator[Receiver]:
    with Receiver(tenant.channel_secret) as r:
        yield r


async def _conversation_with_webhook(tenant, url: str) -> int:
    async with tenant.client() as client:
        accounts = (await client.get("/api/v1/channels")).json()
        account_id = next(a["id"] for a in accounts if a["public_id"] == tenant.channel_public_id)
        patched = await client.patch(f"/api/v1/channels/{account_id}", json={"config": {"webhook_url": url}})
        assert patched.status_code == 200, patched.text
        posted = await inbound.post(client, tenant, inbound.message("Where is my parcel?"))
        return int(posted.json()["conversation_id"])


async def _make_due(db, workspace_id: int, message_id: int) -> None:
    async with db.transaction(workspace_id) as session:
        await session.execute(
            update(OutboxItem).where(OutboxItem.message_id == message_id).values(next_attempt_at=utcnow())
        )


async def test_reply_is_posted_signed_to_the_webhook(tenant, receiver) -> None:
    conversation_id = await _conversation_with_webhook(tenant, receiver.url)
    async with tenant.client() as client:
        url = f"/api/v1/conversations/{conversation_id}/messages"
        reply = (await client.post(url, json={"text": "Tomorrow!"})).json()
        assert reply["delivery_state"] == "queued"
        assert (await reply_reaching(client, conversation_id, "sent"))["delivery_state"] == "sent"
        events = (await client.get("/api/v1/events")).json()["events"]
    assert receiver.received[0]["message"]["text"] == "Tomorrow!"
    assert receiver.received[0]["conversation"]["id"] == conversation_id
    assert receiver.keys == [f"crossdesk-message-{reply['id']}"]
    updates = [
        e for e in events if e["type"] == "message.updated" and e["data"]["message"]["id"] == reply["id"]
    ]
    assert updates[-1]["data"]["message"]["delivery_state"] == "sent"


async def test_notes_and_channels_without_webhook_send_nothing(tenant, receiver) -> None:
    async with tenant.client() as client:
        posted = await inbound.post(client, tenant, inbound.message("Hi"))
        conversation_id = posted.json()["conversation_id"]
        base = f"/api/v1/conversations/{conversation_id}"
        reply = (await client.post(f"{base}/messages", json={"text": "Hello"})).json()
        note = (await client.post(f"{base}/notes", json={"text": "VIP"})).json()
    assert reply["delivery_state"] is None
    assert note["delivery_state"] is None
    await asyncio.sleep(0.3)
    assert receiver.received == []


async def test_server_errors_are_retried_and_refusals_are_dead(tenant, receiver, db) -> None:
    conversation_id = await _conversation_with_webhook(tenant, receiver.url)
    worker = OutboxWorker(db, conversations.outbound_payload, conversations.set_delivery_state)
    receiver.statuses = [503] * 6
    async with tenant.client() as client:
        url = f"/api/v1/conversations/{conversation_id}/messages"
        await client.post(url, json={"text": "Retry me"})
        reply = await reply_reaching(client, conversation_id, "failed")
        assert reply["delivery_state"] == "failed"
        receiver.statuses = [200]
        await _make_due(db, tenant.workspace_id, reply["id"])  # skip the backoff wait
        await worker.run_once()
        assert (await reply_reaching(client, conversation_id, "sent"))["delivery_state"] == "sent"
        assert [r["message"]["text"] for r in receiver.received] == ["Retry me"]
        receiver.statuses = [400]
        refused = (await client.post(url, json={"text": "No"})).json()
        final = await reply_reaching(client, conversation_id, "dead")
    await worker.close()
    assert final["id"] == refused["id"]
    assert final["delivery_state"] == "dead"


async def test_a_reply_committed_without_a_wake_up_is_still_sent_once(tenant, receiver, db) -> None:
    """As if the process died right after the commit: the outbox row is there, and a worker sends it."""
    conversation_id = await _conversation_with_webhook(tenant, receiver.url)
    async with db.transaction(tenant.workspace_id) as session:
        message = await conversations.add_agent_message(
            session, conversation_id, tenant.owner_id, "Saved", private=False
        )
    worker = OutboxWorker(db, conversations.outbound_payload, conversations.set_delivery_state)
    for _ in range(50):
        if any(r["message"]["id"] == message["id"] for r in receiver.received):
            break
        await worker.run_once()
        await asyncio.sleep(0.05)
    await worker.close()
    assert [r["message"]["id"] for r in receiver.received].count(message["id"]) == 1
