"""``crossdesk demo``: a realistic workspace built from the real UCI Online Retail invoices.

Real products and prices, real customers in their real countries with every one of their invoices as an
order (shipments and tracking made up to match), and a few hundred conversations in the buyers' languages
across channels, played through the real inbox services so that events and SLA clocks are the product's.
Loading is idempotent: a workspace with the demo's slug is never loaded twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.commerce import bulk
from crossdesk.commerce.models import Order, OrderItem, Product, Shipment
from crossdesk.conversations import service as inbox
from crossdesk.conversations.ingest import Inbound, ingest_many
from crossdesk.conversations.models import Conversation, ConversationTag, Macro, Message
from crossdesk.conversations.schemas import ConversationPatch, InboundMessage, SenderIn
from crossdesk.conversations.sla import add_business_minutes
from crossdesk.customers import service as customers_service
from crossdesk.customers.models import Customer, CustomerIdentity, CustomerTag
from crossdesk.db import Database, UTCDateTime, utcnow
from crossdesk.demo import dataset, helpdesk, scripts, world
from crossdesk.realtime.models import Event
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.models import Workspace

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Seller"
DEMO_EMAIL = "owner@demo.crossdesk.local"
DEMO_PASSWORD = "crossdesk-demo"  # noqa: S105 - printed by the CLI: a local demo, not a secret
BUSINESS_HOURS = {day: [["09:00", "21:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}
SLA_FIRST, SLA_NEXT = 60, 240
INGEST_BATCH = 200
# (e-mail local part, name, role, interface language, time zone, buyers' languages they answer in):
# a Shanghai team with colleagues in Europe.
TEAM = (
    ("owner", "Chen Jing", "owner", "zh-CN", "Asia/Shanghai", ["zh", "en"]),
    ("emma", "Emma Clarke", "admin", "en", "Europe/London", ["en", "fr"]),
    ("lukas", "Lukas Becker", "agent", "en", "Europe/Berlin", ["de", "en", "nl"]),
    ("wang.fang", "Wang Fang", "agent", "zh-CN", "Asia/Shanghai", ["zh", "en", "es", "it"]),
    ("zhang.wei", "Zhang Wei", "agent", "zh-CN", "Asia/Singapore", ["ja", "zh", "en", "pt"]),
)


def owner_email(slug: str) -> str:
    return f"owner@{slug}.crossdesk.local"


def default_conversations(customers: int) -> int:
    """320 for the default 1,500 customers; fewer for a small demo."""
    return min(320, 20 + customers // 5)


def _progress(console: Console | None) -> Progress:
    return Progress(console=console, disable=console is None)


@dataclass
class _Played:
    """What a script did, with the moments it was meant to happen at."""

    conversation_id: int
    messages: list[tuple[int, dt.datetime]] = field(default_factory=list)
    # (what, at) with what one of buyer, reply, note, patch, resolve
    timeline: list[tuple[str, dt.datetime]] = field(default_factory=list)


async def build(
    db: Database,
    *,
    customers: int = 1500,
    console: Console | None = None,
    slug: str = DEMO_SLUG,
    name: str = DEMO_NAME,
    conversations: int | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Load the demo workspace (unless one with ``slug`` exists) and return a summary of what it holds.

    The owner logs in with ``owner@<slug>.crossdesk.local`` (``DEMO_EMAIL`` for the default slug) and
    ``DEMO_PASSWORD``; so do the other agents, with their own local parts.
    """
    started = time.perf_counter()
    async with db.transaction(system=True) as session:
        existing = await workspaces.workspace_by_slug(session, slug)
    if existing is not None:
        counts = await _counts(db, existing.id)
        return f'Demo workspace "{existing.name}" ({slug}) is already loaded.\n{_describe(counts)}'
    now = now or utcnow()
    lines = dataset.load_lines()
    buyers = dataset.build_buyers(
        lines, dataset.choose_customers(lines, customers), dataset.date_offset(lines, now), now
    )
    products = dataset.load_products()

    async with db.transaction(system=True) as session:
        ws = await workspaces.create_workspace(
            session,
            slug,
            base_currency="GBP",
            timezone="Asia/Shanghai",
            default_language="en",
            business_hours=BUSINESS_HOURS,
            sla_first_response_minutes=SLA_FIRST,
            sla_next_response_minutes=SLA_NEXT,
        )
        if ws.slug != slug:
            raise RuntimeError(f"the slug {slug!r} is not a valid workspace slug (it became {ws.slug!r})")
        ws.name = name
        team = []
        for local, agent_name, role, language, timezone, speaks in TEAM:
            agent = await workspaces.create_agent(
                session,
                ws.id,
                email=f"{local}@{slug}.crossdesk.local",
                name=agent_name,
                password=DEMO_PASSWORD,
                role=role,
                language=language,
                timezone=timezone,
            )
            agent.languages = speaks
            team.append(scripts.Agent(agent.id, agent_name, language))
    try:
        plans = scripts.plan(buyers, team[1:], conversations or default_conversations(customers), now)
        with _progress(console) as progress:
            await _load_commerce(db, ws.id, products, buyers, plans, progress)
            played = await _play(db, ws.id, plans, progress)
        await _backdate(db, ws.id, played)
        await helpdesk.seed(db, ws.id, team[0].id)
    except BaseException:
        # Half a demo would make the next run think it is loaded: take the workspace away again.
        await _discard(db, ws.id)
        raise
    counts = await _counts(db, ws.id)
    took = time.perf_counter() - started
    return (
        f'Demo workspace "{name}" ({slug}) built from UCI Online Retail in {took:.1f} s.\n{_describe(counts)}'
    )


async def _discard(db: Database, workspace_id: int) -> None:
    """Delete a workspace, its biggest tables first: left to ON DELETE, SQLite would scan the order items
    once per product (``order_items.product_id`` has no index) and take minutes."""
    async with db.transaction(system=True) as session:
        for model in (
            Macro,
            CustomerTag,
            Message,
            ConversationTag,
            Conversation,
            Event,
            OrderItem,
            Shipment,
            Order,
            CustomerIdentity,
        ):
            await session.execute(delete(model).where(model.workspace_id == workspace_id))
        await session.execute(
            update(Customer).where(Customer.workspace_id == workspace_id).values(merged_into_id=None)
        )
        await session.execute(delete(Customer).where(Customer.workspace_id == workspace_id))
        await session.execute(delete(Product).where(Product.workspace_id == workspace_id))
        await session.execute(delete(Workspace).where(Workspace.id == workspace_id))


def _advance(progress: Progress, label: str, total: int) -> Callable[[int], None]:
    task = progress.add_task(label, total=total)
    return lambda n: progress.advance(task, n)


async def _load_commerce(
    db: Database,
    workspace_id: int,
    products: list[dict[str, Any]],
    buyers: list[dataset.Buyer],
    plans: list[scripts.Script],
    progress: Progress,
) -> None:
    async with db.transaction(workspace_id) as session:
        await bulk.insert_products(session, products, _advance(progress, "products", len(products)))

    # Every way the buyers will write in is known up front, so each profile gets all its identities now
    # and the conversations find the customer instead of making a stranger.
    extra: dict[int, list[tuple[str, str]]] = {}
    for plan in plans:
        extra.setdefault(plan.buyer.source_id, []).extend(plan.identities)
    advance = _advance(progress, "customers", len(buyers))
    async with db.transaction(workspace_id) as session:
        profiles = [
            customers_service.Profile(
                name=b.person.name,
                email=b.person.email,
                phone=b.phone if any(kind == "whatsapp" for kind, _ in extra.get(b.source_id, [])) else None,
                country=b.country.code,
                language=b.language,
            )
            for b in buyers
        ]
        rows = [
            {
                **asdict(profile),
                "timezone": buyer.country.timezone,
                "notes": f"Customer {buyer.source_id} of the UCI Online Retail data set",
                "created_at": buyer.since,
            }
            for buyer, profile in zip(buyers, profiles, strict=True)
        ]
        ids = await bulk.insert_rows(session, Customer, rows)
        identities = []
        for buyer, profile, customer_id in zip(buyers, profiles, ids, strict=True):
            keys = customers_service.identity_keys(profile, extra.get(buyer.source_id, []))
            identities += [{"customer_id": customer_id, "kind": k, "value": v} for k, v in keys]
            for order in buyer.orders:
                order["customer_id"] = customer_id
        await bulk.insert_rows(session, CustomerIdentity, identities)
        advance(len(buyers))

    orders = [o for b in buyers for o in b.orders]
    async with db.transaction(workspace_id) as session:
        await bulk.insert_orders(session, orders, progress=_advance(progress, "orders", len(orders)))


async def _play(
    db: Database, workspace_id: int, plans: list[scripts.Script], progress: Progress
) -> list[_Played]:
    """Play the scripts through the inbox services, in rounds: the n-th step of every script together.

    A round's buyer messages go through batched ingest and its agent turns (replies, notes, patches)
    share one transaction: on SQLite a write costs per statement and per commit, so this is what makes a
    few hundred conversations take seconds.
    """
    advance = _advance(progress, "conversations", sum(len(p.steps) for p in plans))
    played: dict[int, _Played] = {}
    for round_ in range(max(len(p.steps) for p in plans)):
        due = [
            (number, plan, plan.steps[round_])
            for number, plan in enumerate(plans)
            if round_ < len(plan.steps)
        ]
        buyers = [d for d in due if d[2].text is not None]
        for start in range(0, len(buyers), INGEST_BATCH):
            batch = buyers[start : start + INGEST_BATCH]
            inbound = [Inbound.prepare(_inbound(plan, number, round_, step)) for number, plan, step in batch]
            for (number, _, step), result in zip(
                batch, await ingest_many(db, workspace_id, inbound), strict=True
            ):
                record = played.setdefault(number, _Played(result.conversation_id))
                record.messages.append((result.message_id, step.at))
                record.timeline.append(("buyer", step.at))
        turns = [d for d in due if d[2].text is None]
        if turns:
            async with db.transaction(workspace_id) as session:
                for number, _, step in turns:
                    await _agent_turn(session, played[number], step)
        advance(len(due))
    return [played[number] for number in range(len(plans))]


def _inbound(plan: scripts.Script, number: int, round_: int, step: scripts.Step) -> InboundMessage:
    return InboundMessage(
        channel=plan.channel,
        platform_message_id=_message_id(plan.channel, number, round_),
        text=step.text or "",
        sender=SenderIn.model_validate(plan.sender),
        sent_at=step.at,
        thread_key=plan.thread_key,
        subject=plan.subject,
        language=plan.language,
    )


async def _agent_turn(session: AsyncSession, record: _Played, step: scripts.Step) -> None:
    assert step.agent is not None
    for action in step.actions:
        if action.kind == "patch":
            await inbox.update_conversation(
                session, record.conversation_id, ConversationPatch(**action.patch)
            )
            record.timeline.append(
                ("resolve" if action.patch.get("status") == "resolved" else "patch", step.at)
            )
        else:
            private = action.kind == "note"
            out = await inbox.add_agent_message(
                session, record.conversation_id, step.agent.id, action.text, private=private
            )
            record.messages.append((out["id"], step.at))
            record.timeline.append((action.kind, step.at))


def _message_id(channel: str, conversation: int, step: int) -> str:
    """A platform message id in the style of the channel."""
    n = f"{world.digest('message', channel, conversation, step):016x}"
    styles = {"email": f"<{n}@mail.example.com>", "whatsapp": f"wamid.{n.upper()}", "facebook": f"m_{n}"}
    return styles.get(channel, f"{channel}-{conversation:04d}-{step}-{n[:8]}")


async def _backdate(db: Database, workspace_id: int, played: list[_Played]) -> None:
    """Move each conversation's clock to its scripted moments.

    The services stamp "now" (right for live traffic); a demo inbox where everything happened in the last
    minute would show no SLA breaches and no history, so the times are set to the script's, and the SLA
    targets recomputed from them with the workspace's business hours, as ingest would have.
    """

    def due(start: dt.datetime, minutes: int) -> dt.datetime:
        return add_business_minutes(start, minutes, BUSINESS_HOURS, "Asia/Shanghai")

    conversation_rows, message_rows = [], []
    for record in played:
        times = record.timeline
        created = times[0][1]
        replies = [at for kind, at in times if kind == "reply"]
        next_due = None
        for kind, at in times[1:]:
            if kind == "buyer" and replies and replies[0] < at and next_due is None:
                next_due = due(at, SLA_NEXT)
            elif kind == "reply":
                next_due = None
        conversation_rows.append(
            {
                "b_id": record.conversation_id,
                "b_created_at": created,
                "b_updated_at": times[-1][1],
                "b_last_message_at": max(at for kind, at in times if kind in ("buyer", "reply")),
                "b_first_response_due_at": due(created, SLA_FIRST),
                "b_first_response_at": replies[0] if replies else None,
                "b_next_response_due_at": next_due,
                "b_resolved_at": next((at for kind, at in times if kind == "resolve"), None),
            }
        )
        message_rows += [{"b_id": m, "b_sent_at": at, "b_created_at": at} for m, at in record.messages]
    async with db.transaction(workspace_id) as session:
        for model, rows in ((Conversation, conversation_rows), (Message, message_rows)):
            table: Table = model.__table__  # type: ignore[assignment]
            columns = [key[2:] for key in rows[0] if key != "b_id"]
            stmt = (
                update(table)
                .where(table.c.id == bindparam("b_id"), table.c.workspace_id == workspace_id)
                .values({c: bindparam(f"b_{c}", type_=UTCDateTime()) for c in columns})
            )
            await session.execute(stmt, rows)


async def _counts(db: Database, workspace_id: int) -> dict[str, Any]:
    async with db.transaction(workspace_id) as session:

        async def count(column: Any, *where: Any) -> int:
            return int(await session.scalar(select(func.count(column)).where(*where)) or 0)

        rows = await session.execute(select(Conversation.status, func.count()).group_by(Conversation.status))
        statuses = {status: int(n) for status, n in rows.all()}
        languages = await session.scalars(select(Conversation.language).distinct())
        channels = await session.scalars(select(Conversation.channel).distinct())
        return {
            "products": await count(Product.id),
            "customers": await count(Customer.id),
            "countries": await count(Customer.country.distinct()),
            "orders": await count(Order.id),
            "refunded": await count(Order.id, Order.status == "refunded"),
            "shipments": await count(Shipment.id),
            "moving": await count(Shipment.id, Shipment.status.in_(("in_transit", "out_for_delivery"))),
            "exceptions": await count(Shipment.id, Shipment.status == "exception"),
            "statuses": Counter(statuses),
            "languages": len(set(languages.all())),
            "channels": len(set(channels.all())),
        }


def _describe(c: dict[str, Any]) -> str:
    statuses: Counter[str] = c["statuses"]
    by_status = ", ".join(f"{statuses[s]:,} {s}" for s in ("open", "pending", "snoozed", "resolved"))
    return (
        f"  {c['products']:,} products\n"
        f"  {c['customers']:,} customers in {c['countries']} countries\n"
        f"  {c['orders']:,} orders ({c['refunded']:,} refunded)\n"
        f"  {c['shipments']:,} shipments ({c['moving']:,} on their way, {c['exceptions']} with a problem)\n"
        f"  {statuses.total():,} conversations: {by_status},\n"
        f"    on {c['channels']} channels in {c['languages']} languages"
    )
