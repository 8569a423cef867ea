"""Identity resolution: one customer whichever door they came in by; linked profiles are merged."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from crossdesk.commerce import service as commerce
from crossdesk.commerce.models import Order
from crossdesk.conversations import service as conversations
from crossdesk.conversations.ingest import ingest
from crossdesk.conversations.schemas import InboundMessage, IngestResult
from crossdesk.customers import service as customers
from crossdesk.db import Database
from tests.conftest import Tenant


async def receive(db: Database, tenant: Tenant, channel: str, **sender: Any) -> IngestResult:
    message = InboundMessage(channel=channel, platform_message_id=uuid.uuid4().hex, text="Hi", sender=sender)
    return await ingest(db, tenant.workspace_id, message)


def unique() -> str:
    return uuid.uuid4().hex[:10]


def phone() -> str:
    """A random Berlin number, national format."""
    return f"030 {uuid.uuid4().int % 10**7:07d}"


async def test_same_email_is_one_customer_across_channels(db: Database, tenant: Tenant) -> None:
    email = f"ana.{unique()}@example.com"
    api = await receive(db, tenant, "api", email=email, name="Ana")
    mail = await receive(db, tenant, "email", email=f"  {email.upper()} ")
    assert mail.customer_id == api.customer_id
    assert mail.conversation_id != api.conversation_id
    other = await receive(db, tenant, "email", email=f"bob.{unique()}@example.com")
    assert other.customer_id != api.customer_id


async def test_same_phone_in_any_format_is_one_customer(db: Database, tenant: Tenant) -> None:
    national = phone()
    whatsapp = await receive(db, tenant, "whatsapp", phone=national, country="DE")
    international = "+49 30 " + national.split()[1]
    webchat = await receive(db, tenant, "webchat", phone=international)
    assert webchat.customer_id == whatsapp.customer_id
    async with db.transaction(tenant.workspace_id) as session:
        customer = await customers.get(session, whatsapp.customer_id)
        assert customer is not None and customer.phone == "+4930" + national.split()[1]


async def test_same_platform_identity_is_one_customer(db: Database, tenant: Tenant) -> None:
    buyer_id = f"A{unique().upper()}"
    email = f"c.{unique()}@example.com"
    amazon = await receive(db, tenant, "amazon", identities=[{"kind": "amazon_buyer", "value": buyer_id}])
    # The same buyer id elsewhere, now with an e-mail: the e-mail joins the known profile ...
    api = await receive(
        db, tenant, "api", email=email, identities=[{"kind": "amazon_buyer", "value": buyer_id}]
    )
    assert api.customer_id == amazon.customer_id
    # ... so the e-mail alone now finds them too.
    assert (await receive(db, tenant, "webchat", email=email)).customer_id == amazon.customer_id
    async with db.transaction(tenant.workspace_id) as session:
        kinds = {(i.kind, i.value) for i in await customers.identities_of(session, amazon.customer_id)}
    assert kinds == {("amazon_buyer", buyer_id), ("email", email)}


def order(external_id: str, customer_id: int) -> Order:
    # Rows written directly, so that this test does not depend on the importer.
    amount = Decimal("9.90")
    return Order(
        external_id=external_id,
        customer_id=customer_id,
        currency="EUR",
        subtotal=amount,
        total=amount,
        placed_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
    )


async def test_a_message_carrying_two_customers_identities_merges_them(db: Database, tenant: Tenant) -> None:
    email, number = f"d.{unique()}@example.com", phone()
    older = await receive(db, tenant, "email", email=email, name="Dora")
    newer = await receive(db, tenant, "whatsapp", phone=number, country="DE")
    assert older.customer_id < newer.customer_id
    async with db.transaction(tenant.workspace_id) as session:
        session.add_all([order("O-old", older.customer_id), order("O-new", newer.customer_id)])

    both = await receive(db, tenant, "webchat", email=email, phone=number, country="DE")

    assert both.customer_id == older.customer_id  # the older profile keeps
    async with db.transaction(tenant.workspace_id) as session:
        keep = await customers.get(session, older.customer_id)
        gone = await customers.get(session, newer.customer_id)
        assert keep is not None and gone is not None
        assert keep.merged_into_id is None
        assert gone.merged_into_id == keep.id
        moved = await conversations.get_conversation(session, newer.conversation_id)
        assert moved.customer_id == keep.id
        orders = await commerce.orders_of_customer(session, keep.id)
        assert {o.external_id for o in orders} == {"O-old", "O-new"}
        assert await commerce.orders_of_customer(session, gone.id) == []
        identities = {i.kind for i in await customers.identities_of(session, keep.id)}
        assert identities == {"email", "phone"}
        assert await customers.identities_of(session, gone.id) == []
        assert [c.id for c in await customers.search(session, "Dora")] == [keep.id]
    # Afterwards either identity alone leads to the surviving profile.
    assert (await receive(db, tenant, "whatsapp", phone=number, country="DE")).customer_id == keep.id


async def test_identities_stay_inside_their_workspace(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    email = f"e.{unique()}@example.com"
    ours = await receive(db, tenant, "api", email=email)
    theirs = await receive(db, other_tenant, "api", email=email)
    assert ours.customer_id != theirs.customer_id
    async with db.transaction(tenant.workspace_id) as session:
        assert await customers.get(session, theirs.customer_id) is None
