"""Mail sent by a real SMTP client to crossdesk's SMTP receiver: stored, threaded, trimmed, with its
attachments; bombs and unknown recipients refused with 5xx and nothing stored."""

from __future__ import annotations

import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.channels.email.conftest import (
    INBOUND_DOMAIN,
    MAX_MESSAGE_BYTES,
    MailServer,
    conversations,
    create_account,
    deliver,
    detail,
    fixture,
    mail,
    only_conversation,
    smtp_send,
    unique_address,
)
from tests.conftest import Tenant


async def test_plain_mail_is_stored_with_sender_subject_and_date(
    shop: Tenant, mail_server: MailServer
) -> None:
    address = unique_address()
    await create_account(shop, address)
    code, reply = await deliver(mail_server, address, fixture("quoted_en.eml"))
    assert code == 250, reply
    found = await only_conversation(shop)
    (message,) = found["messages"]
    assert found["conversation"]["channel"] == "email"
    assert found["conversation"]["subject"] == "Re: Your order #1001 has shipped"
    assert message["platform_message_id"] == "CAF7s0nkR2x1@mail.gmail.com"
    assert message["sent_at"].startswith("2024-05-07T08:12:44")
    assert message["text"] == (
        "Hi, the tracking link says the parcel was returned to sender. Can you\n"
        "send it again?\n\nThanks,\nBob"
    )
    assert found["customer"]["name"] == "Bob Smith"
    assert ("email", "bob.smith@example.com") in {
        (i["kind"], i["value"]) for i in found["customer"]["identities"]
    }
    # The same mail again (a sending server's retry) is acknowledged and stored once.
    assert (await deliver(mail_server, address, fixture("quoted_en.eml")))[0] == 250
    assert len((await only_conversation(shop))["messages"]) == 1


async def test_mail_to_the_public_id_address_reaches_the_account(
    shop: Tenant, mail_server: MailServer
) -> None:
    account = await create_account(shop, unique_address())
    code, _ = await deliver(mail_server, f"{account['public_id']}@{INBOUND_DOMAIN}", mail("Forwarded to you"))
    assert code == 250
    assert (await only_conversation(shop))["messages"][0]["text"] == "Forwarded to you"


async def test_unknown_recipient_is_refused_and_nothing_is_stored(
    shop: Tenant, mail_server: MailServer
) -> None:
    await create_account(shop, unique_address())
    for recipient in (unique_address(), f"nobody@{INBOUND_DOMAIN}", "postmaster@elsewhere.example"):
        code, reply = await deliver(mail_server, recipient, mail("Hello?"))
        assert code == 550, reply
    assert await conversations(shop) == []


async def test_html_only_mail_becomes_text_and_its_html_is_sanitised(
    shop: Tenant, mail_server: MailServer
) -> None:
    address = unique_address()
    await create_account(shop, address)
    assert (await deliver(mail_server, address, fixture("html_only.eml")))[0] == 250
    (message,) = (await only_conversation(shop))["messages"]
    assert message["text"].startswith(
        "Hello, I ordered the blue mug but got a green one.\n\nCan I exchange it?"
    )
    assert "* Order 1003" in message["text"]
    assert "document.location" not in message["text"] and "color: red" not in message["text"]
    html = message["meta"]["email"]["html"]
    assert "<b>blue</b>" in html
    for hostile in ("<script", "onload", "onerror", "javascript:", "document.cookie"):
        assert hostile not in html


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("quoted_en.eml", "Can you\nsend it again?\n\nThanks,\nBob"),
        (
            "quoted_de.eml",
            "Bitte um Ersatz.\n\nMit freundlichen Grüßen\nHans Müller",
        ),
        ("quoted_zh.eml", "你好，我的包裹还没到，请帮忙查一下物流。"),
        ("quoted_ja.eml", "商品がまだ届いていません。確認をお願いします。"),
    ],
)
async def test_quoted_history_is_trimmed(
    shop: Tenant, mail_server: MailServer, name: str, expected: str
) -> None:
    address = unique_address()
    await create_account(shop, address)
    assert (await deliver(mail_server, address, fixture(name)))[0] == 250
    (message,) = (await only_conversation(shop))["messages"]
    assert message["text"].endswith(expected)
    for history in ("wrote:", "Ursprüngliche", "Gesendet:", "原始邮件", "发件人", "発送しました", ">"):
        assert history not in message["text"]


async def test_reply_with_in_reply_to_joins_and_reopens_its_conversation(
    shop: Tenant, mail_server: MailServer
) -> None:
    address = unique_address()
    await create_account(shop, address)
    buyer = f"Ana <ana-{uuid.uuid4().hex[:6]}@example.pt>"
    first_id = f"{uuid.uuid4().hex}@example.pt"
    assert (await deliver(mail_server, address, mail("Is it in stock?", sender=buyer, message_id=first_id)))[
        0
    ] == 250
    (conversation,) = await conversations(shop)
    async with shop.client() as client:
        resolved = await client.patch(
            f"/api/v1/conversations/{conversation['id']}", json={"status": "resolved"}
        )
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    reply = mail(
        "And in blue?",
        sender=buyer,
        subject="Re: Question about my order",
        In_Reply_To=f"<{first_id}>",
        References=f"<{first_id}>",
    )
    assert (await deliver(mail_server, address, reply))[0] == 250
    (after,) = await conversations(shop)
    assert after["id"] == conversation["id"] and after["status"] == "open"
    texts = [m["text"] for m in (await detail(shop, conversation["id"]))["messages"]]
    assert texts == ["Is it in stock?", "And in blue?"]


async def test_attachments_are_stored_listed_and_downloadable_by_the_workspace_only(
    shop: Tenant, other_shop: Tenant, mail_server: MailServer
) -> None:
    address = unique_address()
    await create_account(shop, address)
    assert (await deliver(mail_server, address, fixture("attachments.eml")))[0] == 250
    (message,) = (await only_conversation(shop))["messages"]
    listed = {a["name"]: a for a in message["attachments"]}
    assert set(listed) == {"vase.png", "Rechnung 1004 (Kopie).pdf"}
    assert listed["vase.png"]["content_type"] == "image/png" and listed["vase.png"]["size"] == 70
    pdf = listed["Rechnung 1004 (Kopie).pdf"]
    async with shop.client() as client:
        got = await client.get(pdf["url"])
    assert got.status_code == 200
    assert got.content == b"%PDF-1.4\n% invoice 1004\n%%EOF\n"
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    async with httpx.AsyncClient(base_url=shop.server.url) as anonymous:
        assert (await anonymous.get(pdf["url"])).status_code == 401
    async with other_shop.client() as other:
        assert (await other.get(pdf["url"])).status_code == 404
        assert (await other.get("/api/v1/email/attachments/..%2F..%2Fcrossdesk.db/x")).status_code == 404


def _nested(depth: int) -> bytes:
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth)
    )
    tail = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return b"From: a@example.com\r\nSubject: nest\r\n" + head + b"Content-Type: text/plain\r\n\r\nhi" + tail


def _many_parts(count: int) -> bytes:
    parts = b"".join(b"--B\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(count))
    return b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" + parts + b"--B--\r\n"


def _huge() -> bytes:
    line = b"A" * 76 + b"\r\n"
    body = line * (MAX_MESSAGE_BYTES // len(line) + 10)
    return (
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + body
        + b"--B--\r\n"
    )


@pytest.mark.parametrize(
    ("bomb", "reason"),
    [
        (_nested(12), "nested deeper"),
        (_nested(2_000), "MIME parts"),
        (_many_parts(5_000), "MIME parts"),
        (_huge(), "Too much mail data"),
    ],
    ids=["nested", "deeply-nested", "thousands-of-parts", "huge"],
)
async def test_mail_bombs_are_refused_with_552_and_nothing_is_stored(
    shop: Tenant, mail_server: MailServer, bomb: bytes, reason: str
) -> None:
    address = unique_address()
    await create_account(shop, address)
    code, reply = await deliver(mail_server, address, bomb)
    assert code == 552 and reason in reply, (code, reply)
    assert await conversations(shop) == []
    # The receiver is fine afterwards.
    assert (await deliver(mail_server, address, mail("still here")))[0] == 250


async def test_mail_without_a_usable_sender_is_refused(shop: Tenant, mail_server: MailServer) -> None:
    address = unique_address()
    await create_account(shop, address)
    for raw in (b"Subject: no from\r\n\r\nhello\r\n", b"From: not an address\r\n\r\nhello\r\n"):
        code, reply = await deliver(mail_server, address, raw)
        assert code == 550 and "From" in reply, (code, reply)
    assert await conversations(shop) == []


async def test_amazon_relay_mail_is_an_amazon_conversation_with_its_order(
    shop: Tenant, mail_server: MailServer
) -> None:
    address = unique_address()
    await create_account(shop, address)
    assert (await deliver(mail_server, address, fixture("amazon_relay.eml")))[0] == 250
    found = await only_conversation(shop)
    (message,) = found["messages"]
    assert found["conversation"]["channel"] == "amazon" and message["channel"] == "amazon"
    assert message["text"] == "Hallo, meine Bestellung ist noch nicht angekommen. Können Sie bitte nachsehen?"
    assert message["meta"]["order_id"] == "302-1234567-7654321"
    assert found["customer"]["name"] == "Jane Doe"
    identities = {(i["kind"], i["value"]) for i in found["customer"]["identities"]}
    assert ("amazon_buyer", "kr3b15szg6bmv7w@marketplace.amazon.de") in identities


async def test_ebay_member_message_mail_is_an_ebay_conversation_with_its_item(
    shop: Tenant, mail_server: MailServer
) -> None:
    address = unique_address()
    await create_account(shop, address)
    assert (await deliver(mail_server, address, fixture("ebay_member_message.eml")))[0] == 250
    found = await only_conversation(shop)
    (message,) = found["messages"]
    assert found["conversation"]["channel"] == "ebay"
    assert message["meta"]["item_id"] == "325678901234"
    assert "Hi, does the lamp come with a UK plug? Thanks!" in message["text"]
    identities = {(i["kind"], i["value"]) for i in found["customer"]["identities"]}
    assert ("ebay_user", "jdoe_buyer") in identities
    assert ("email", "7affc8f543c9fd77e356@members.ebay.com") in identities


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=1_500))
def test_random_bytes_over_smtp_get_250_or_a_5xx(
    mail_server: MailServer, fuzz_address: str, raw: bytes
) -> None:
    code, reply = smtp_send(mail_server.smtp_port, fuzz_address, b"From: fuzz@example.com\r\n" + raw)
    assert code == 250 or 500 <= code < 600, (code, reply)


@pytest.fixture
async def fuzz_address(shop: Tenant) -> str:
    address = unique_address()
    await create_account(shop, address)
    return address
