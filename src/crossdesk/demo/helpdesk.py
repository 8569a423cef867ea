"""What a working seller's helpdesk has besides its conversations: saved replies in the buyers' languages,
its best customers marked VIP, new conversations assigned round robin, and the assistant suggesting."""

from __future__ import annotations

from sqlalchemy import func, select

from crossdesk.assistant.policy import Policy
from crossdesk.commerce.models import Order
from crossdesk.conversations.models import Macro
from crossdesk.customers.models import CustomerTag
from crossdesk.db import Database
from crossdesk.workspaces.models import Workspace

VIP_SHARE = 0.02  # the most frequent buyers, as a seller would mark them by hand
# (name, language, body, tags it adds, status it sets)
MACROS: tuple[tuple[str, str | None, str, list[str], str | None], ...] = (
    (
        "Where is my order",
        "en",
        "Hi {{ customer.first_name }},\n\nyour order {{ order.number }} is on its way with "
        "{{ order.carrier }}. You can follow it here: {{ order.tracking_url }}\n\n"
        "Best regards,\n{{ agent.name }}",
        ["wismo"],
        "pending",
    ),
    (
        "Where is my order",
        "de",
        "Hallo {{ customer.first_name }},\n\nIhre Bestellung {{ order.number }} ist mit {{ order.carrier }} "
        "unterwegs. Hier können Sie sie verfolgen: {{ order.tracking_url }}\n\nViele Grüße\n{{ agent.name }}",
        ["wismo"],
        "pending",
    ),
    (
        "Where is my order",
        "fr",
        "Bonjour {{ customer.first_name }},\n\nvotre commande {{ order.number }} est en route avec "
        "{{ order.carrier }}. Suivi : {{ order.tracking_url }}\n\nCordialement,\n{{ agent.name }}",
        ["wismo"],
        "pending",
    ),
    (
        "Return instructions",
        "en",
        "Hi {{ customer.first_name }},\n\nsorry the item did not work out. Please send it back within "
        "30 days with your order number {{ order.number }} in the parcel; we refund as soon as it "
        "arrives.\n\n"
        "{{ agent.name }}",
        ["return"],
        None,
    ),
    (
        "Return instructions",
        "de",
        "Hallo {{ customer.first_name }},\n\nschade, dass der Artikel nicht passt. Bitte senden Sie ihn "
        "innerhalb von 30 Tagen mit der Bestellnummer {{ order.number }} zurück; wir erstatten nach "
        "Eingang.\n\n"
        "{{ agent.name }}",
        ["return"],
        None,
    ),
    (
        "Thanks, closing",
        None,
        "Thank you, {{ customer.first_name }}! I am closing this conversation; just reply if anything else "
        "comes up.\n\n{{ agent.name }}",
        [],
        "resolved",
    ),
)


async def seed(db: Database, workspace_id: int, author_id: int) -> None:
    async with db.transaction(workspace_id) as session:
        for name, language, body, tags, status in MACROS:
            session.add(
                Macro(
                    name=name,
                    language=language,
                    body=body,
                    add_tags=tags,
                    set_status=status,
                    created_by_id=author_id,
                )
            )
        buyers = await session.scalar(select(func.count(func.distinct(Order.customer_id))))
        frequent = await session.scalars(
            select(Order.customer_id)
            .where(Order.customer_id.is_not(None))
            .group_by(Order.customer_id)
            .order_by(func.count().desc(), Order.customer_id)
            .limit(max(1, round((buyers or 0) * VIP_SHARE)))
        )
        session.add_all(CustomerTag(customer_id=customer_id, tag="VIP") for customer_id in frequent)
        workspace = await session.get_one(Workspace, workspace_id)
        workspace.auto_assign = True
        # The assistant suggests (a private note with a reply to send) on every new buyer message.
        policy = Policy(default_mode="suggest", payment_methods=["Visa", "Mastercard", "PayPal", "Alipay"])
        workspace.assistant_policy = policy.model_dump(mode="json")
