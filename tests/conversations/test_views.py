"""The inbox's views, counters and search: each view holds what it says, counters agree with the views,
search matches literally, and another workspace's conversations are never shown or counted."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from crossdesk.conversations import service, views
from crossdesk.conversations.ingest import ingest
from crossdesk.conversations.schemas import ConversationPatch, InboundMessage
from crossdesk.customers.models import CustomerTag
from crossdesk.db import Database, utcnow
from crossdesk.retention.standing import Standings, standings
from tests.conftest import Tenant
from tests.retention.test_standing import Shop, build_shop, customer_id, scored_of


def inbound(
    text: str = "Hello", name: str = "Buyer", email: str | None = None, **fields: Any
) -> InboundMessage:
    return InboundMessage(
        channel=fields.pop("channel", "api"),
        platform_message_id=uuid.uuid4().hex,
        text=text,
        sender={"name": name, "email": email or f"buyer-{uuid.uuid4().hex[:10]}@example.com"},
        **fields,
    )


async def receive(db: Database, tenant: Tenant, text: str = "Hello", **fields: Any) -> tuple[int, int]:
    """One buyer message; its (conversation id, customer id)."""
    result = await ingest(db, tenant.workspace_id, inbound(text, **fields))
    return result.conversation_id, result.customer_id


async def change(db: Database, tenant: Tenant, conversation_id: int, **fields: Any) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        await service.update_conversation(session, conversation_id, ConversationPatch(**fields))


async def set_due(db: Database, tenant: Tenant, conversation_id: int, first: dt.timedelta) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        conversation = await service.get_conversation(session, conversation_id)
        conversation.first_response_due_at = utcnow() + first


async def tag_customer(db: Database, tenant: Tenant, customer_id: int, tag: str) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        session.add(CustomerTag(customer_id=customer_id, tag=tag))


async def ids_in(db: Database, tenant: Tenant, view: views.View) -> set[int]:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        rows, _ = await views.page_of(session, view, tenant.owner_id, utcnow(), None, 200)
    return {r.conversation["id"] for r in rows}


async def counts_of(db: Database, tenant: Tenant) -> views.Counts:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        return await views.counts(session, tenant.owner_id, utcnow())


async def populate(db: Database, tenant: Tenant) -> dict[str, int]:
    """One conversation for each interesting case; SLA clocks far away unless a case sets one."""
    names = ["mine", "plain", "pending", "snoozed", "resolved", "vip", "overdue", "soon"]
    made = {}
    for name in names:
        made[name], customer = await receive(db, tenant, language="de" if name == "plain" else "en")
        await set_due(db, tenant, made[name], dt.timedelta(hours=5))
        made[f"customer-{name}"] = customer
    await change(db, tenant, made["mine"], assignee_id=tenant.owner_id)
    await change(db, tenant, made["plain"], tags=["refund"])
    await change(db, tenant, made["pending"], status="pending")
    await change(db, tenant, made["snoozed"], status="snoozed", snoozed_until=utcnow() + dt.timedelta(days=1))
    await change(db, tenant, made["resolved"], status="resolved")
    await tag_customer(db, tenant, made["customer-vip"], "Vip")  # the VIP tag in any case
    await set_due(db, tenant, made["overdue"], -dt.timedelta(minutes=5))
    await set_due(db, tenant, made["soon"], dt.timedelta(minutes=20))
    return made


async def test_each_view_holds_its_conversations_and_counts_agree(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    made = await populate(db, tenant)
    await populate(db, other_tenant)  # the same shapes next door: never shown, never counted
    open_ = {made[n] for n in ("mine", "plain", "vip", "overdue", "soon")}
    expected = {
        "mine": {made["mine"]},
        "unassigned": open_ - {made["mine"]},
        "open": open_,
        "pending": {made["pending"]},
        "snoozed": {made["snoozed"]},
        "resolved": {made["resolved"]},
        "vip": {made["vip"]},
        "high_value": set(),  # no orders: no standing (tests/retention/test_standing.py has some)
        "at_risk": set(),
        "sla": {made["overdue"], made["soon"]},
    }
    for name, ids in expected.items():
        assert await ids_in(db, tenant, views.View(name)) == ids, name
    counts = await counts_of(db, tenant)
    assert counts.views == {name: len(ids) for name, ids in expected.items()}
    active = open_ | {made["pending"]}
    assert counts.channels == {"api": len(active)}
    assert counts.languages == {"de": 1, "en": len(active) - 1}
    assert counts.tags == {"refund": 1}
    assert await ids_in(db, tenant, views.View("channel", channel="api")) == active
    assert await ids_in(db, tenant, views.View("language", language="de")) == {made["plain"]}
    assert await ids_in(db, tenant, views.View("tag", tag="refund")) == {made["plain"]}
    # Answering stops the first-response clock: the conversation leaves "SLA breaching soon".
    async with db.transaction(tenant.workspace_id) as session:
        await service.add_agent_message(session, made["overdue"], tenant.owner_id, "On it", private=False)
    assert await ids_in(db, tenant, views.View("sla")) == {made["soon"]}


async def test_row_in_view_answers_only_rows_that_belong(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine, _ = await receive(db, tenant, "Where is <b>my</b> parcel?")
    theirs, _ = await receive(db, other_tenant)
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        now = utcnow()
        row = await views.row_in_view(session, views.View("open"), tenant.owner_id, now, mine)
        assert row is not None and row.last_message is not None
        assert row.last_message.text == "Where is <b>my</b> parcel?" and row.customer is not None
        assert await views.row_in_view(session, views.View("resolved"), tenant.owner_id, now, mine) is None
        assert await views.row_in_view(session, views.View("open"), tenant.owner_id, now, theirs) is None


async def test_search_matches_text_and_customers_literally(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    word = uuid.uuid4().hex[:8]
    percent, _ = await receive(db, tenant, f"{word} is 100% cotton")
    plain, _ = await receive(db, tenant, f"{word} is 1000 cotton")
    underscore, _ = await receive(db, tenant, f"ref {word}_a1")
    other, _ = await receive(db, tenant, f"ref {word}xa1")
    by_name, _ = await receive(db, tenant, "hi", name=f"Zoë {word} Weber")
    by_mail, _ = await receive(db, tenant, "hi", email=f"{word}@shop.example")
    elsewhere, _ = await receive(db, other_tenant, f"{word} is 100% cotton")

    async def search(text: str) -> set[int]:
        return await ids_in(db, tenant, views.make_view({"q": text}))

    assert await search(f"{word} is 100%") == {percent}
    assert await search(f"{word}_a") == {underscore}
    assert await search(f"{word}") == {percent, plain, underscore, other, by_name, by_mail}
    assert await search(f"zoë {word.upper()}") == {by_name}
    assert await search(f"{word}@shop") == {by_mail}
    assert await search("%") >= {percent} and elsewhere not in await search("%")
    assert await search("'; drop table messages; --") == set()
    await change(db, tenant, percent, status="resolved")  # a search looks at every status
    assert await search(f"{word} is 100%") == {percent}


def test_make_view_refuses_malformed_parameters() -> None:
    assert views.make_view({}) == views.View("open")
    assert views.make_view({"q": " x "}) == views.View("all", query="x")
    assert views.make_view({"view": "mine", "channel": "email"}) == views.View("mine")
    assert views.make_view({"view": "tag", "tag": " vip "}).tag == "vip"
    for bad in (
        {"view": "everything"},
        {"view": "channel", "channel": "E MAIL"},
        {"view": "language", "language": "german!"},
        {"view": "tag", "tag": " "},
        {"q": "x" * 201},
        {"q": "a\x00b"},
    ):
        try:
            views.make_view(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")


async def marked_conversations(db: Database, tenant: Tenant) -> tuple[dict[str, int], Standings, Shop]:
    """A shop whose orders make a high-value and an at-risk customer; a conversation of each, of a VIP and
    of two plain customers (oldest first), the workspace's standings, and the shop."""
    shop = await build_shop(tenant)
    made = {}
    for name, address in (
        ("star", shop.star),
        ("plain_a", shop.plain[0]),
        ("lapsed", shop.lapsed),
        ("vip", None),
        ("plain_b", shop.plain[1]),
    ):
        made[name], made[f"customer-{name}"] = await receive(db, tenant, email=address)
    await tag_customer(db, tenant, made["customer-vip"], "VIP")
    assert made["customer-star"] == await customer_id(db, tenant, shop.star), "one customer per e-mail"
    return made, standings(await scored_of(db, tenant)), shop


async def test_high_value_and_at_risk_views_hold_their_customers_conversations(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    made, marked, shop = await marked_conversations(db, tenant)
    theirs, their_marked, _ = await marked_conversations(db, other_tenant)
    assert made["customer-star"] in marked.high_value and made["customer-lapsed"] in marked.at_risk
    resolved, _ = await receive(db, tenant, email=shop.star, channel="email")
    await change(db, tenant, resolved, status="resolved")  # nothing left to do: not in the view

    async def listed(name: str, standing: Standings) -> set[int]:
        async with db.transaction(tenant.workspace_id, readonly=True) as session:
            rows, _ = await views.page_of(
                session, views.View(name), tenant.owner_id, utcnow(), None, 200, standing
            )
        return {r.conversation["id"] for r in rows}

    assert await listed("high_value", marked) == {made["star"]}
    assert await listed("at_risk", marked) == {made["lapsed"]}
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        counts = await views.counts(session, tenant.owner_id, utcnow(), marked)
        now = utcnow()
        row = await views.row_in_view(
            session, views.View("at_risk"), tenant.owner_id, now, made["lapsed"], marked
        )
        assert row is not None
        assert (
            await views.row_in_view(
                session, views.View("at_risk"), tenant.owner_id, now, made["star"], marked
            )
            is None
        )
    assert (counts.views["high_value"], counts.views["at_risk"], counts.views["vip"]) == (1, 1, 1)
    # Another workspace's customers, even when named in the list, are never shown nor counted here.
    both = Standings(marked.high_value | their_marked.high_value, marked.at_risk | their_marked.at_risk)
    assert await listed("high_value", both) == {made["star"]}
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        counted = await views.counts(session, tenant.owner_id, utcnow(), both)
    assert (counted.views["high_value"], counted.views["at_risk"]) == (1, 1)
    assert theirs["star"] not in await listed("high_value", both)


async def test_important_first_lists_marked_customers_first_on_every_page(
    db: Database, tenant: Tenant
) -> None:
    made, marked, _ = await marked_conversations(db, tenant)
    expected = [made["vip"], made["lapsed"], made["star"], made["plain_b"], made["plain_a"]]
    view = views.make_view({"sort": "important"})
    assert view.params() == {"view": "open", "sort": "important"}
    for limit in range(1, 7):  # every place a page can end, the important ones' last row included
        seen, cursor = [], None
        async with db.transaction(tenant.workspace_id, readonly=True) as session:
            while True:
                rows, cursor = await views.page_of(
                    session, view, tenant.owner_id, utcnow(), cursor, limit, marked
                )
                seen += [r.conversation["id"] for r in rows]
                if cursor is None:
                    break
        assert seen == expected, limit
    newest = await ids_in_order(db, tenant, views.View("open"), marked)
    assert newest == list(reversed([made[n] for n in ("star", "plain_a", "lapsed", "vip", "plain_b")]))
    for bad in ("2.x", "1.garbage", "nonsense"):
        async with db.transaction(tenant.workspace_id, readonly=True) as session:
            try:
                await views.page_of(session, view, tenant.owner_id, utcnow(), bad, 2, marked)
            except ValueError:
                continue
        raise AssertionError(f"accepted the cursor {bad!r}")
    try:
        views.make_view({"sort": "loudest"})
    except ValueError:
        return
    raise AssertionError("accepted an unknown order")


async def ids_in_order(db: Database, tenant: Tenant, view: views.View, marked: Standings) -> list[int]:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        rows, _ = await views.page_of(session, view, tenant.owner_id, utcnow(), None, 200, marked)
    return [r.conversation["id"] for r in rows]
