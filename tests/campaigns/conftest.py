"""Campaign fixtures: customers with orders, consent and addresses written straight to the database, and
the e-mail fixtures (crossdesk's mail server, a recording outgoing SMTP server) for the end-to-end test."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from crossdesk.campaigns import service
from crossdesk.campaigns.models import CampaignRecipient
from crossdesk.campaigns.schemas import CampaignIn, LaunchOut
from crossdesk.channels import service as channels
from crossdesk.commerce.models import Order
from crossdesk.customers.models import Customer, CustomerIdentity
from crossdesk.db import Database, utcnow
from crossdesk.retention.segments import score_workspace
from crossdesk.workspaces import service as workspaces
from tests.channels.email.conftest import mail_server, other_shop, outgoing, shop  # noqa: F401 (fixtures)
from tests.conftest import Tenant

# Far enough ahead that a running server's sender leaves these campaigns to the test's own rounds.
LATER = dt.timedelta(days=400)


async def add_customer(
    db: Database,
    tenant: Tenant,
    *,
    name: str = "Ana Lima",
    consent: bool | None = True,
    identities: tuple[tuple[str, str], ...] | None = None,
    last_order_days_ago: float = 30,
    **fields: Any,
) -> int:
    """A customer who bought (one paid order) ``last_order_days_ago`` days ago; an e-mail address unless
    ``identities`` says otherwise."""
    if identities is None:
        identities = (("email", f"buyer-{uuid.uuid4().hex[:10]}@example.com"),)
    async with db.transaction(tenant.workspace_id) as session:
        customer = Customer(name=name, marketing_consent=consent, **fields)
        session.add(customer)
        await session.flush()
        session.add_all(CustomerIdentity(customer_id=customer.id, kind=k, value=v) for k, v in identities)
        await add_order(session, customer.id, utcnow() - dt.timedelta(days=last_order_days_ago))
        return customer.id


async def add_order(
    session: Any, customer_id: int, placed_at: dt.datetime, total: str = "50.00", **fields: Any
) -> None:
    values = {"status": "paid", "currency": "USD", **fields}
    session.add(
        Order(
            external_id=f"o-{uuid.uuid4().hex[:12]}",
            customer_id=customer_id,
            subtotal=Decimal(total),
            total=Decimal(total),
            placed_at=placed_at,
            **values,
        )
    )
    await session.flush()


# Where test accounts send when a test does not care: a closed loopback port (a refused connection).
NOWHERE = "http://127.0.0.1:9"
META_CREDENTIALS = {"app_secret": "s", "verify_token": "v"}
ACCOUNTS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "email": ({"smtp_host": "127.0.0.1", "smtp_port": 9, "smtp_security": "none"}, {}),
    "whatsapp": (
        {"phone_number_id": "5550001", "api_base": NOWHERE},
        {**META_CREDENTIALS, "access_token": "t"},
    ),
    "messenger": ({"page_id": "123", "api_base": NOWHERE}, {**META_CREDENTIALS, "page_access_token": "t"}),
}


async def add_account(db: Database, tenant: Tenant, kind: str = "email", **config: Any) -> int:
    """An active account of ``kind`` that can send (to ``config``'s server, else nowhere)."""
    defaults, credentials = ACCOUNTS[kind]
    if kind == "email":
        defaults = {**defaults, "addresses": [f"shop-{uuid.uuid4().hex[:8]}@shop.example"]}
    credentials = {**credentials, **config.pop("credentials", {})}
    async with db.transaction(tenant.workspace_id) as session:
        account, _ = await channels.create_account(
            session, kind, kind.title(), config={**defaults, **config}, credentials=credentials
        )
        return account.id


def campaign_in(account_id: int, **fields: Any) -> CampaignIn:
    values: dict[str, Any] = {
        "name": "Come back",
        "channel_account_id": account_id,
        "templates": {"en": {"subject": "Hi {{ customer.first_name }}", "body": "Code {{ discount_code }}"}},
        "discount_code": "BACK10",
        "send_from_hour": 0,
        "send_until_hour": 24,
        "control_share": "0",
        "starts_at": utcnow() + LATER,
        **fields,
    }
    return CampaignIn.model_validate(values)


async def create_and_launch(
    db: Database, tenant: Tenant, data: CampaignIn, now: dt.datetime | None = None
) -> tuple[int, LaunchOut]:
    now = now or utcnow()
    async with db.transaction(tenant.workspace_id) as session:
        workspace = await workspaces.get_workspace(session, tenant.workspace_id)
        campaign = await service.create_campaign(session, workspace, data, tenant.owner_id)
        scored = await score_workspace(session, workspace, now)
        return campaign.id, await service.launch(session, workspace, campaign.id, scored, now)


async def recipients(db: Database, tenant: Tenant, campaign_id: int) -> dict[int, CampaignRecipient]:
    """The campaign's recipients by customer id."""
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        rows = await session.scalars(
            select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
        )
        return {r.customer_id: r for r in rows}
