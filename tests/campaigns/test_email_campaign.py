"""End to end by e-mail: a launched campaign leaves through the account's SMTP server with RFC 8058
one-click unsubscribe headers; posting to that link unsubscribes the buyer, whom the next campaign skips.
Only a genuine token of the buyer's own workspace does anything."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crossdesk.campaigns import unsubscribe
from crossdesk.campaigns.models import Unsubscribe
from crossdesk.channels.models import ChannelAccount
from crossdesk.db import Database
from tests.campaigns.conftest import add_customer
from tests.channels.email.conftest import Outgoing, create_account, smtp_config, unique_address
from tests.conftest import Tenant

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _campaign(account_id: int) -> dict[str, Any]:
    return {
        "name": "Spring restock",
        "channel_account_id": account_id,
        "templates": {
            "en": {
                "subject": "{{ customer.first_name }}, it is back",
                "body": "Hi {{ customer.first_name }}! Use {{ discount_code }}.\nStop: {{ unsubscribe_url }}",
            }
        },
        "discount_code": "SPRING15",
        "send_from_hour": 0,
        "send_until_hour": 24,
        "control_share": "0",
    }


async def _launch(client: httpx.AsyncClient, account_id: int) -> dict[str, Any]:
    created = await client.post("/api/v1/campaigns", json=_campaign(account_id))
    assert created.status_code == 201, created.text
    launched = await client.post(f"/api/v1/campaigns/{created.json()['id']}/launch")
    assert launched.status_code == 200, launched.text
    return dict(launched.json())


async def _account(db: Database, tenant: Tenant, account_id: int) -> ChannelAccount:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        return await session.get_one(ChannelAccount, account_id)


async def _unsubscribes(db: Database, tenant: Tenant, customer_id: int) -> list[str]:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        rows = await session.scalars(
            select(Unsubscribe.channel).where(Unsubscribe.customer_id == customer_id)
        )
        return list(rows)


async def test_email_campaign_unsubscribe_and_the_next_campaign(
    db: Database, shop: Tenant, outgoing: Outgoing
) -> None:
    account = await create_account(shop, unique_address(), from_name="Shop", **smtp_config(outgoing))
    buyer = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    customer = await add_customer(
        db, shop, name="Ana Lima", identities=(("email", buyer),), timezone="Asia/Tokyo"
    )
    async with shop.client() as client:
        launched = await _launch(client, account["id"])
    assert launched["recipients"] == 1

    ((envelope, sent),) = await outgoing.wait(1, limit_s=30)
    assert envelope.rcpt_tos == [buyer]
    assert sent["Subject"] == "Ana, it is back"
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = sent["List-Unsubscribe"].strip("<>")
    assert link.startswith("http://127.0.0.1:8000/u/")  # the configured public address
    body = sent.get_body(("plain",))
    assert body is not None and f"Use SPRING15.\nStop: {link}\n" in body.get_content().replace("\r\n", "\n")
    token = link.rpartition("/u/")[2]

    async with httpx.AsyncClient(base_url=shop.server.url) as public:  # no login, no cookies
        page = await public.get(f"/u/{token}")
        assert page.status_code == 200 and "Unsubscribe" in page.text and "set-cookie" not in page.headers
        assert await _unsubscribes(db, shop, customer) == []  # looking is not unsubscribing
        assert (await public.post(f"/u/{token}", data={"other": "x"})).status_code == 400
        for _ in range(2):  # one click, and a repeat: recorded once
            response = await public.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
            assert response.status_code == 200 and "You are unsubscribed" in response.text
    assert await _unsubscribes(db, shop, customer) == ["email"]

    async with shop.client() as client:
        again = await _launch(client, account["id"])
    assert again["recipients"] == 0 and again["skipped"] == {"unsubscribed": 1}
    assert again["campaign"]["state"] == "done"  # nobody to send to


async def test_forged_or_foreign_tokens_do_nothing(
    db: Database, shop: Tenant, other_shop: Tenant, outgoing: Outgoing
) -> None:
    mine = await _account(
        db, shop, (await create_account(shop, unique_address(), **smtp_config(outgoing)))["id"]
    )
    theirs = await _account(
        db, other_shop, (await create_account(other_shop, unique_address(), **smtp_config(outgoing)))["id"]
    )
    customer = await add_customer(db, shop)
    stranger = await add_customer(db, other_shop)
    genuine = unsubscribe.issue(mine.secret, unsubscribe.Claims("email", mine.public_id, customer, 1))
    tampered = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")
    forged = [
        tampered,
        # Another customer's id under this account's signature cannot be made without the secret.
        genuine.replace(f".{customer}.", f".{stranger}.", 1),
        # Another workspace's account named, signed with this one's secret.
        unsubscribe.issue(mine.secret, unsubscribe.Claims("email", theirs.public_id, stranger, 1)),
        # Genuinely signed by the other workspace's account, naming this workspace's customer.
        unsubscribe.issue(theirs.secret, unsubscribe.Claims("email", theirs.public_id, customer, 1)),
        "u1.email.nope.1.1.x",
        "x" * 500,
    ]
    async with httpx.AsyncClient(base_url=shop.server.url) as public:
        for token in forged:
            for method in ("GET", "POST"):
                response = await public.request(method, f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
                assert response.status_code in (400, 404), (token, method, response.status_code)
        assert (await public.post(f"/u/{genuine}", data={"List-Unsubscribe": "One-Click"})).status_code == 200
    assert await _unsubscribes(db, shop, customer) == ["email"]
    assert await _unsubscribes(db, other_shop, stranger) == []
