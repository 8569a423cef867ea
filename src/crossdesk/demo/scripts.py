"""Conversation scripts: who writes about which real order, on which channel, what the team does, and when.

A script is planned in memory (deterministic for the same data and moment); the builder then plays it
through the real inbox services, so events, threading, customer matching and SLA clocks are the product's.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from crossdesk.commerce.bulk import OrderRow
from crossdesk.demo import world
from crossdesk.demo.dataset import Buyer
from crossdesk.demo.phrases import BY_STATE, NOTES, PHRASES, TAGS

# Target shares of the final statuses; "open" splits into new, assigned and waiting-on-a-follow-up.
MIX = (("open", 0.40), ("pending", 0.15), ("snoozed", 0.05), ("resolved", 0.40))
VIP_ORDERS = 25
# The channel a buyer writes on follows where they bought: marketplace buyers write on the marketplace.
WEB_CHANNELS = (("email", 14), ("webchat", 10), ("whatsapp", 8), ("facebook", 4), ("instagram", 4))
AMAZON_DOMAINS = {
    "DE": "amazon.de", "FR": "amazon.fr", "ES": "amazon.es", "IT": "amazon.it", "NL": "amazon.nl",
    "PL": "amazon.pl", "SE": "amazon.se", "BE": "amazon.com.be", "JP": "amazon.co.jp", "US": "amazon.com",
    "CA": "amazon.ca", "AU": "amazon.com.au", "SG": "amazon.sg", "AE": "amazon.ae", "SA": "amazon.sa",
}  # fmt: skip
MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Agent:
    id: int
    name: str
    language: str  # "en" or "zh-CN": the language of their internal notes


@dataclass
class Action:
    kind: Literal["reply", "note", "patch"]
    text: str = ""
    patch: dict[str, Any] = field(default_factory=dict)


@dataclass
class Step:
    """A buyer's message (``text``), or an agent's turn: a few actions in one transaction."""

    at: dt.datetime
    text: str | None = None
    agent: Agent | None = None
    actions: list[Action] = field(default_factory=list)


@dataclass
class Script:
    buyer: Buyer
    order: OrderRow
    channel: str
    language: str
    intent: str
    status: str
    sender: dict[str, Any]
    thread_key: str
    subject: str | None
    steps: list[Step]

    @property
    def identities(self) -> list[tuple[str, str]]:
        return [(i["kind"], i["value"]) for i in self.sender.get("identities", [])]


def state(order: OrderRow) -> str:
    if not order["shipments"]:
        return "refunded"
    return "delivered" if order["shipments"][0]["status"] == "delivered" else "moving"


def _pick(rnd: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rnd.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def channel_for(order: OrderRow, rnd: random.Random) -> str:
    bought = order["channel"]
    if bought in ("amazon", "ebay", "tiktok"):
        return bought
    if bought == "shopify":
        return _pick(rnd, (("shopify", 2), ("email", 1)))
    return _pick(rnd, WEB_CHANNELS)


def sender_for(buyer: Buyer, channel: str) -> dict[str, Any]:
    """How the channel identifies this buyer; stable per buyer and channel, so they resolve to one profile."""
    p, code = buyer.person, buyer.country.code
    n = world.digest("identity", buyer.source_id, channel)
    sender: dict[str, Any] = {"name": p.name, "country": code, "language": buyer.language}
    handle = f"{world.ascii_name(p.first)}{world.ascii_name(p.last)[:1]}" or "buyer"
    identity: tuple[str, str] | None = None
    if channel == "email":
        sender["email"] = p.email
    elif channel == "shopify":
        sender["email"] = p.email
        identity = ("shopify_customer", str(6_100_000_000_000 + n % 10**12))
    elif channel == "webchat":
        sender["email"] = p.email  # the widget's pre-chat form asks for it
        identity = ("webchat_visitor", f"v_{n:016x}")
    elif channel == "amazon":
        alias = "".join("abcdefghijklmnopqrstuvwxyz0123456789"[(n >> (5 * i)) % 36] for i in range(12))
        sender["name"] = f"{p.first} {p.last[:1]}." if p.last else p.first
        identity = ("amazon_buyer", f"{alias}@marketplace.{AMAZON_DOMAINS.get(code or '', 'amazon.co.uk')}")
    elif channel == "ebay":
        identity = ("ebay_user", f"{handle}_{n % 9000 + 1000}")
    elif channel == "whatsapp":
        sender["phone"] = buyer.phone
        identity = ("whatsapp", buyer.phone or "")
    elif channel == "facebook":
        identity = ("facebook_psid", str(2_400_000_000_000_000 + n % 10**15))
    elif channel == "instagram":
        identity = ("instagram_id", str(17_840_000_000_000_000 + n % 10**15))
    elif channel == "tiktok":
        identity = ("tiktok_buyer", str(7_000_000_000_000_000_000 + n % 10**18))
    if identity is not None:
        sender["identities"] = [{"kind": identity[0], "value": identity[1]}]
    return sender


def _earliest(order: OrderRow) -> dt.datetime:
    """When a buyer could first write about this order."""
    kind = state(order)
    if kind == "delivered":
        return (order["shipments"][0]["delivered_at"] or order["placed_at"]) + dt.timedelta(hours=1)
    return order["placed_at"] + dt.timedelta(days=1 if kind == "refunded" else 2)


def _between(rnd: random.Random, lo: dt.datetime, hi: dt.datetime) -> dt.datetime:
    """A moment in [lo, hi]; a little before ``hi`` when the window is empty (the order is too recent)."""
    if lo >= hi:
        return hi - _minutes(rnd, 0, 120)
    return lo + (hi - lo) * rnd.random()


def _minutes(rnd: random.Random, lo: int, hi: int) -> dt.timedelta:
    return dt.timedelta(minutes=rnd.randint(lo, hi))


def candidates(buyers: list[Buyer], count: int) -> list[tuple[Buyer, OrderRow]]:
    """Which orders get a conversation: up to a third about parcels on their way, the newest order of each
    buyer who writes in a language other than English (so the inbox speaks several), then the newest."""

    def newest_first(pair: tuple[Buyer, OrderRow]) -> tuple[float, str]:
        return -pair[1]["placed_at"].timestamp(), pair[1]["external_id"]

    moving = sorted(((b, o) for b in buyers for o in b.orders if state(o) == "moving"), key=newest_first)
    foreign = sorted(
        ((b, b.orders[-1]) for b in buyers if b.language in PHRASES and b.language != "en"), key=newest_first
    )
    picked: list[tuple[Buyer, OrderRow]] = []
    chosen: set[str] = set()
    for buyer, order in moving[: count // 3] + foreign[: count // 3]:
        if order["external_id"] not in chosen:
            picked.append((buyer, order))
            chosen.add(order["external_id"])
    recent = sorted(buyers, key=lambda b: newest_first((b, b.orders[-1])))
    depth = 0
    while len(picked) < count and depth < max(len(b.orders) for b in buyers):
        for buyer in recent:
            if depth < len(buyer.orders) and len(picked) < count:
                order = buyer.orders[-1 - depth]
                if order["external_id"] not in chosen:
                    picked.append((buyer, order))
                    chosen.add(order["external_id"])
        depth += 1
    return picked


def plan(buyers: list[Buyer], agents: list[Agent], count: int, now: dt.datetime) -> list[Script]:
    """``count`` conversation scripts about the buyers' real orders, deterministic for the same input."""
    picked = candidates(buyers, count)
    statuses = [s for s, share in MIX for _ in range(round(share * len(picked)))]
    statuses = (statuses + ["resolved"] * len(picked))[: len(picked)]
    random.Random(len(picked)).shuffle(statuses)  # noqa: S311 - repeatable demo data, not secrets
    scripts = []
    urgent = 0
    for index, ((buyer, order), status) in enumerate(zip(picked, statuses, strict=True)):
        rnd = random.Random(world.digest("conversation", index, order["external_id"]))  # noqa: S311
        channel = channel_for(order, rnd)
        if channel == "whatsapp" and not buyer.phone:
            channel = "email"
        language = buyer.language if buyer.language in PHRASES else "en"
        intent = rnd.choice(BY_STATE[state(order)])
        if order["shipments"] and order["shipments"][0]["status"] == "exception":
            intent = "delay"
        agent = agents[rnd.randrange(len(agents))]
        steps = _steps(rnd, status, index, buyer, order, intent, language, agent, now)
        for step in steps:
            for action in step.actions:
                if action.patch.get("priority") == "high" and urgent < 2:
                    action.patch["priority"], urgent = "urgent", urgent + 1
        scripts.append(
            Script(
                buyer=buyer,
                order=order,
                channel=channel,
                language=language,
                intent=intent,
                status=status,
                sender=sender_for(buyer, channel),
                thread_key=f"{channel}:{order['external_id']}:{index}",
                subject=PHRASES[language]["subject"].format(order=order["external_id"])
                if channel == "email"
                else None,
                steps=steps,
            )
        )
    return scripts


def _steps(
    rnd: random.Random,
    status: str,
    index: int,
    buyer: Buyer,
    order: OrderRow,
    intent: str,
    language: str,
    agent: Agent,
    now: dt.datetime,
) -> list[Step]:
    phrases = PHRASES[language]
    shipment = order["shipments"][0] if order["shipments"] else None
    values = {
        "order": order["external_id"],
        "product": max(order["items"], key=lambda i: i["quantity"] * i["unit_price"])["title"],
        "name": buyer.person.last if language == "ja" else buyer.person.first,
        "tracking": shipment["tracking_number"] if shipment else "",
        "carrier": shipment["carrier"] if shipment else "",
        "orders": len(buyer.orders),
    }

    def say(key: str) -> str:
        return phrases[key].format(**values)

    def note(which: int) -> Action:
        return Action("note", NOTES[agent.language][which].format(**values))

    tags = TAGS[intent] + (["vip"] if len(buyer.orders) >= VIP_ORDERS else [])
    take = {"assignee_id": agent.id, "tags": tags}
    if intent in ("damaged", "delay") and status == "open":
        take["priority"] = "high"
    earliest = _earliest(order)
    opening, reply = say(intent), say(f"{intent}.reply")
    day = dt.timedelta(days=1)
    hour = dt.timedelta(hours=1)
    if status == "resolved":
        t0 = _between(rnd, max(earliest, now - 10 * day), now - 10 * hour)
        t1 = t0 + _minutes(rnd, 15, 240)
        steps = [
            Step(t0, opening),
            Step(t1, agent=agent, actions=[Action("patch", patch=take), Action("reply", reply)]),
        ]
        if len(buyer.orders) >= VIP_ORDERS and shipment:
            steps[-1].actions.append(note(1))
        if rnd.random() < 0.6:
            t2 = t1 + _minutes(rnd, 30, 720)
            steps.append(Step(t2, say("thanks")))
            close = [Action("reply", say("closing")), Action("patch", patch={"status": "resolved"})]
            steps.append(Step(t2 + _minutes(rnd, 5, 90), agent=agent, actions=close))
        else:
            steps.append(
                Step(
                    t1 + _minutes(rnd, 60, 600),
                    agent=agent,
                    actions=[Action("patch", patch={"status": "resolved"})],
                )
            )
    elif status == "pending":
        t0 = _between(rnd, max(earliest, now - 4 * day), now - 3 * hour)
        actions = [
            Action("patch", patch=take),
            Action("reply", reply),
            Action("patch", patch={"status": "pending"}),
        ]
        steps = [Step(t0, opening), Step(t0 + _minutes(rnd, 15, 150), agent=agent, actions=actions)]
    elif status == "snoozed":
        t0 = _between(rnd, max(earliest, now - 5 * day), now - 8 * hour)
        until = now + dt.timedelta(hours=rnd.randint(20, 72))
        actions = [Action("patch", patch=take)]
        actions += [note(0), Action("reply", say("holding"))] if shipment else [Action("reply", reply)]
        actions.append(Action("patch", patch={"status": "snoozed", "snoozed_until": until}))
        steps = [Step(t0, opening), Step(t0 + _minutes(rnd, 20, 300), agent=agent, actions=actions)]
    else:
        steps = _open_steps(rnd, index, earliest, opening, reply, say("followup"), agent, take, now)
        if intent == "damaged" and len(steps) > 1:
            steps[1].actions.append(note(2))
    _settle(rnd, steps, now)
    return steps


def _open_steps(
    rnd: random.Random,
    index: int,
    earliest: dt.datetime,
    opening: str,
    reply: str,
    followup: str,
    agent: Agent,
    take: dict[str, Any],
    now: dt.datetime,
) -> list[Step]:
    """Open conversations: new and unassigned, assigned and waiting for a first reply, or answered with the
    buyer asking again (some of these past their next-response target)."""
    kind = index % 3
    hour = dt.timedelta(hours=1)
    if kind == 0:
        return [Step(_between(rnd, max(earliest, now - 4 * hour), now - 3 * MINUTE), opening)]
    if kind == 1:
        t0 = _between(rnd, max(earliest, now - 30 * hour), now - hour)
        return [
            Step(t0, opening),
            Step(t0 + _minutes(rnd, 3, 45), agent=agent, actions=[Action("patch", patch=take)]),
        ]
    t0 = _between(rnd, max(earliest, now - 96 * hour), now - 26 * hour)
    t1 = t0 + _minutes(rnd, 20, 240)
    t2 = max(t1 + 30 * MINUTE, _between(rnd, now - 24 * hour, now - 10 * MINUTE))
    return [
        Step(t0, opening),
        Step(t1, agent=agent, actions=[Action("patch", patch=take), Action("reply", reply)]),
        Step(t2, followup),
    ]


def _settle(rnd: random.Random, steps: list[Step], now: dt.datetime) -> None:
    """Keep every step in the past and in order (a late order can push a script past ``now``)."""
    late = steps[-1].at - (now - _minutes(rnd, 1, 90))
    if steps[-1].at >= now - MINUTE:
        for step in steps:
            step.at -= late
