"""Agents' replies leave by the account's SMTP server (a real one on loopback that checks the login) as

proper e-mail replies, and the buyer's answers to them thread back, with or without headers."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from crossdesk.channels.kinds.email import tokens
from crossdesk.channels.models import ChannelAccount
from crossdesk.db import Database
from tests.channels.email.conftest import (
    MailServer,
    Outgoing,
    conversations,
    create_account,
    deliver,
    detail,
    fixture,
    mail,
    resolve,
    smtp_config,
    unique_address,
)
from tests.conftest import Tenant

# The outgoing test server takes AUTH without TLS (loopback only), which aiosmtpd warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


async def _reply(tenant: Tenant, conversation_id: int, text: str) -> dict[str, Any]:
    async with tenant.client() as client:
        response = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": text})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _settled(
    tenant: Tenant, conversation_id: int, message_id: int, limit_s: float = 15
) -> dict[str, Any]:
    """The reply once its delivery is no longer queued or sending."""
    for _ in range(int(limit_s / 0.05)):
        found = next(m for m in (await detail(tenant, conversation_id))["messages"] if m["id"] == message_id)
        if found["delivery_state"] not in ("queued", "sending"):
            return dict(found)
        await asyncio.sleep(0.05)
    raise AssertionError(f"reply {message_id} still {found['delivery_state']}")


async def _conversation_from(tenant: Tenant, mail_server: MailServer, address: str, raw: bytes) -> int:
    assert (await deliver(mail_server, address, raw))[0] == 250
    (conversation,) = await conversations(tenant)
    return int(conversation["id"])


async def test_reply_is_sent_by_smtp_as_a_threaded_reply(
    shop: Tenant, mail_server: MailServer, outgoing: Outgoing, db: Database
) -> None:
    address = unique_address()
    await create_account(shop, address, from_name="Shop Support", **smtp_config(outgoing))
    buyer = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    older, newer = f"{uuid.uuid4().hex}@example.com", f"{uuid.uuid4().hex}@example.com"
    conversation_id = await _conversation_from(
        shop, mail_server, address, mail("Where is it?", sender=f"Sam <{buyer}>", message_id=older)
    )
    later = mail("Any news? <b>&</b>", sender=f"Sam <{buyer}>", message_id=newer, In_Reply_To=f"<{older}>")
    assert (await deliver(mail_server, address, later))[0] == 250
    reply = await _reply(shop, conversation_id, "It left today.\nTracking: <1Z999> & more")
    assert reply["delivery_state"] == "queued"
    settled = await _settled(shop, conversation_id, reply["id"])
    assert settled["delivery_state"] == "sent", settled

    ((envelope, sent),) = await outgoing.wait()
    assert outgoing.logins == [outgoing.username]
    assert envelope.mail_from == address and envelope.rcpt_tos == [buyer]
    assert sent["From"] == f"Shop Support <{address}>" and sent["To"] == buyer
    assert sent["Subject"] == "Re: Question about my order"
    assert sent["In-Reply-To"] == f"<{newer}>"
    assert sent["References"] == f"<{older}> <{newer}>"
    message_id = str(sent["Message-ID"]).strip("<>")
    assert settled["platform_message_id"] == message_id
    reply_to = str(sent["Reply-To"])
    assert reply_to.startswith(address.split("@")[0] + "+r") and reply_to.endswith("@shop.example")
    assert tokens.referenced_id(await _secret(db, shop), reply_to) == message_id
    plain = sent.get_body(("plain",))
    html = sent.get_body(("html",))
    assert (
        plain is not None
        and plain.get_content().replace("\r\n", "\n").rstrip("\n")
        == "It left today.\nTracking: <1Z999> & more"
    )
    assert html is not None and "Tracking: &lt;1Z999&gt; &amp; more" in html.get_content()

    # The buyer answers it: by its headers...
    await resolve(shop, conversation_id)
    answer = mail("Thanks!", sender=f"Sam <{buyer}>", subject="Re: x", In_Reply_To=f"<{message_id}>")
    assert (await deliver(mail_server, address, answer))[0] == 250
    # ...or from a client that lost them, to the Reply-To plus-address, with another subject.
    await resolve(shop, conversation_id)
    bare = mail("One more thing", sender=f"Sam <{buyer}>", subject="hello", to=reply_to)
    assert (await deliver(mail_server, reply_to, bare))[0] == 250
    (after,) = await conversations(shop)
    assert after["id"] == conversation_id and after["status"] == "open"
    texts = [m["text"] for m in (await detail(shop, conversation_id))["messages"]]
    assert texts[-2:] == ["Thanks!", "One more thing"]


async def test_a_forged_reply_token_threads_nothing(shop: Tenant, mail_server: MailServer) -> None:
    address = unique_address()
    await create_account(shop, address)
    buyer = f"Kim <kim-{uuid.uuid4().hex[:8]}@example.kr>"
    conversation_id = await _conversation_from(shop, mail_server, address, mail("First", sender=buyer))
    await resolve(shop, conversation_id)
    forged = tokens.plus_address(address, "r1-aaaaaaaaaaaaaaaa")
    assert (await deliver(mail_server, forged, mail("Second", sender=buyer, to=forged)))[0] == 250
    assert len(await conversations(shop)) == 2  # a new conversation: the resolved one stays resolved


async def test_amazon_and_ebay_replies_go_to_the_relay_alias(
    shop: Tenant, mail_server: MailServer, outgoing: Outgoing
) -> None:
    address = unique_address()
    await create_account(shop, address, **smtp_config(outgoing))
    for name in ("amazon_relay.eml", "ebay_member_message.eml"):
        assert (await deliver(mail_server, address, fixture(name)))[0] == 250
    by_channel = {c["channel"]: c["id"] for c in await conversations(shop)}
    amazon = await _reply(shop, by_channel["amazon"], "Ihr Paket kommt morgen.")
    ebay = await _reply(shop, by_channel["ebay"], "Yes, it has a UK plug.")
    assert (await _settled(shop, by_channel["amazon"], amazon["id"]))["delivery_state"] == "sent"
    assert (await _settled(shop, by_channel["ebay"], ebay["id"]))["delivery_state"] == "sent"
    sent = {str(m["To"]): m for _, m in await outgoing.wait(2)}
    to_amazon = sent["kr3b15szg6bmv7w@marketplace.amazon.de"]
    assert to_amazon["Subject"] == (
        "Re: Anfrage zur Lieferung von Amazon-Kunde Jane Doe (Bestellung: 302-1234567-7654321)"
    )
    assert to_amazon["In-Reply-To"] == "<0100018f4a2b3c4d-amazon-relay@email.amazonses.com>"
    assert to_amazon["Reply-To"] is None and to_amazon["From"] == address  # Amazon takes the registered From
    to_ebay = sent["7affc8f543c9fd77e356@members.ebay.com"]
    assert to_ebay["In-Reply-To"] == "<1a2b3c4d.5e6f@ebay.com>"


async def test_a_refused_recipient_is_final_and_shown(
    shop: Tenant, mail_server: MailServer, outgoing: Outgoing
) -> None:
    address = unique_address()
    await create_account(shop, address, **smtp_config(outgoing))
    conversation_id = await _conversation_from(shop, mail_server, address, mail("Hello"))
    outgoing.refuse = "550 5.1.1 Mailbox unavailable"
    reply = await _reply(shop, conversation_id, "Hi")
    settled = await _settled(shop, conversation_id, reply["id"])
    assert settled["delivery_state"] == "dead"
    assert "550" in settled["meta"]["delivery_error"]
    assert outgoing.received == []


async def test_a_wrong_smtp_password_is_final_and_nothing_is_sent(
    shop: Tenant, mail_server: MailServer, outgoing: Outgoing
) -> None:
    address = unique_address()
    config = smtp_config(outgoing)
    config["credentials"] = {"smtp_password": "wrong"}
    await create_account(shop, address, **config)
    conversation_id = await _conversation_from(shop, mail_server, address, mail("Hello"))
    reply = await _reply(shop, conversation_id, "Hi")
    settled = await _settled(shop, conversation_id, reply["id"])
    assert settled["delivery_state"] == "dead", settled  # 535 is a 5xx: the server said no for good
    assert "535" in settled["meta"]["delivery_error"]
    assert outgoing.received == [] and outgoing.logins == []


async def test_without_smtp_settings_replies_are_not_queued(shop: Tenant, mail_server: MailServer) -> None:
    address = unique_address()
    account = await create_account(shop, address)
    assert account["ready"] is False
    conversation_id = await _conversation_from(shop, mail_server, address, mail("Hello"))
    assert (await _reply(shop, conversation_id, "Hi"))["delivery_state"] is None


async def _secret(db: Database, tenant: Tenant) -> str:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        row = await session.scalar(select(ChannelAccount).where(ChannelAccount.kind == "email"))
    assert row is not None
    return str(row.secret)
