"""The assistant at work: what it sends, suggests or hands over by the seller's policy (``decide``), and,
through the running server, a buyer's message answered with real tracking facts, a dispute handed over to a
person with the priority raised, nothing at all when the mode is off, and one message handled once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from crossdesk.assistant import Understanding
from crossdesk.assistant.answers import Answer
from crossdesk.assistant.facts import Fact, Missing, OrderFacts, ShipmentFacts
from crossdesk.assistant.intents import Intent
from crossdesk.assistant.language import Detected
from crossdesk.assistant.policy import DEFAULT_POLICY, Policy
from crossdesk.assistant.runner import (
    HOLDING,
    INJECTION,
    LOW_CONFIDENCE,
    MISSING_FACT,
    NO_ANSWER,
    NO_LANGUAGE,
    NOT_ANSWERED,
    AssistantRunner,
    Case,
    Decision,
    HandOver,
    Send,
    Skip,
    Suggest,
    decide,
    in_business_hours,
)
from crossdesk.assistant.sentiment import DISPUTE, HUMAN
from crossdesk.db import Database
from crossdesk.workspaces.models import Workspace
from tests.conftest import Tenant
from tests.retention.test_standing import build_shop
from tests.support import inbound

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
SHIPMENT = ShipmentFacts("DHL", "JD014600003828", "https://www.dhl.com/track?id=JD014600003828", "in_transit")
ORDER = OrderFacts("1001", "fulfilled", NOW, Decimal("42.00"), "EUR", [("Mug", 1)], [SHIPMENT], "DE")
REPLY = Answer("Hi! Order 1001 is on its way: DHL JD014600003828.", "en", [ORDER], True)
HOLD = Answer("Hi! A colleague will get back to you.", "en", [], False)
POLICY_URL = "/api/v1/assistant/policy"


def case(
    intent: str | None = "track_order",
    confidence: float = 0.95,
    *,
    language: str | None = "en",
    reasons: tuple[str, ...] = (),
    injection: bool = False,
    facts: tuple[Fact, ...] = (ORDER,),
    answer: Answer | None = REPLY,
    channel: str = "api",
    business_hours: bool = True,
    note_language: str = "en",
) -> Case:
    understood = Understanding(
        Detected(language, 0.99 if language else 0.0),
        Intent(intent, confidence, "cancel_order", 0.01) if intent else None,
    )
    return Case(understood, reasons, injection, list(facts), answer, channel, business_hours, note_language)


def mode(name: str, **channels: str) -> Policy:
    return DEFAULT_POLICY.model_copy(update={"default_mode": name, "modes": channels})


CONFIDENT = mode("confident")

DECISIONS: list[tuple[str, Case, Policy, type[Decision], list[str]]] = [
    ("answered when confident", case(), CONFIDENT, Send, []),
    ("only suggested in suggest mode", case(), mode("suggest"), Suggest, []),
    ("off says nothing", case(reasons=(HUMAN,)), mode("off"), Skip, []),
    ("off per channel", case(channel="email"), mode("confident", email="off"), Skip, []),
    ("after hours: answered at night", case(business_hours=False), mode("after_hours"), Send, []),
    ("after hours: suggested by day", case(business_hours=True), mode("after_hours"), Suggest, []),
    ("a human asked for", case(reasons=(HUMAN,)), CONFIDENT, HandOver, [HUMAN]),
    ("a dispute", case(reasons=(DISPUTE,)), CONFIDENT, HandOver, [DISPUTE]),
    ("below the threshold", case(confidence=0.5), CONFIDENT, HandOver, [LOW_CONFIDENCE]),
    ("an intent it does not answer", case("complaint", answer=HOLD), CONFIDENT, HandOver,
     [NOT_ANSWERED, HOLDING]),
    ("no words to read", case(None, language=None, answer=None), CONFIDENT, HandOver,
     [NO_LANGUAGE, NO_ANSWER]),
    ("a fact it cannot phrase", case(facts=(Missing("no_policy"),), answer=HOLD), CONFIDENT, HandOver,
     [MISSING_FACT, HOLDING]),
    ("a missing order number is asked for", case(facts=(Missing("ask_order_number"),)), CONFIDENT, Send, []),
    ("injection with a refund", case("get_refund", injection=True), CONFIDENT, HandOver, [INJECTION]),
    ("injection without money is only data", case(injection=True), CONFIDENT, Send, []),
    ("compose found no words", case(answer=None), CONFIDENT, HandOver, [NO_ANSWER]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("title", "given", "policy", "kind", "reasons"), DECISIONS, ids=[d[0] for d in DECISIONS]
)
def test_decide(title: str, given: Case, policy: Policy, kind: type[Decision], reasons: list[str]) -> None:
    decision = decide(given, policy)
    assert type(decision) is kind, title
    if isinstance(decision, HandOver):
        assert decision.reasons == reasons
        assert decision.suggested == given.answer


def test_the_hand_over_note_is_in_the_agents_language_with_the_reply_in_the_buyers() -> None:
    handed = decide(case(reasons=(DISPUTE,), note_language="zh-CN"), CONFIDENT)
    assert isinstance(handed, HandOver)
    assert "助手：已转交人工处理。" in handed.note
    assert "订单 1001：fulfilled" in handed.note
    assert "物流：DHL JD014600003828（in_transit）" in handed.note
    assert "威胁发起争议或拒付" in handed.note
    assert handed.note.endswith(REPLY.text)  # under "suggested reply below", in the buyer's language
    english = decide(case(), mode("suggest"))
    assert isinstance(english, Suggest)
    assert "Intent: track_order (confidence 0.95)" in english.note and "Language: en" in english.note


def test_business_hours_in_the_workspaces_zone() -> None:
    shop = Workspace(timezone="Europe/Berlin", business_hours={"wed": [["09:00", "17:00"]]})
    assert in_business_hours(shop, NOW)  # 11:00 in Berlin on a Wednesday
    assert not in_business_hours(shop, NOW + dt.timedelta(hours=8))
    assert in_business_hours(Workspace(timezone="UTC", business_hours={}), NOW)  # no hours: always open


# --- through the server -----------------------------------------------------------------------------------


async def set_mode(client: httpx.AsyncClient, name: str) -> None:
    response = await client.put(
        POLICY_URL, json={**DEFAULT_POLICY.model_dump(mode="json"), "default_mode": name}
    )
    assert response.status_code == 200, response.text


async def import_order(client: httpx.AsyncClient, email: str, number: str, tracking: str) -> None:
    row = {
        "external_id": number,
        "customer": {"email": email},
        "currency": "EUR",
        "status": "fulfilled",
        "placed_at": (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).isoformat(),
        "country": "DE",
        "items": [{"sku": "MUG-1", "quantity": 1, "unit_price": "19.00"}],
        "shipments": [{"carrier": "DHL", "tracking_number": tracking, "status": "in_transit"}],
    }
    files = {"file": ("orders.json", json.dumps([row]).encode(), "application/json")}
    response = await client.post("/api/v1/import/orders", files=files)
    assert response.status_code == 200, response.text


async def detail(client: httpx.AsyncClient, conversation_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/conversations/{conversation_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def by_assistant(
    client: httpx.AsyncClient, conversation_id: int, wait_s: float = 20
) -> list[dict[str, Any]]:
    """The assistant's messages once it has written one (waits up to ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    while True:
        found = [
            m for m in (await detail(client, conversation_id))["messages"] if m["author_kind"] == "assistant"
        ]
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


def buyer() -> dict[str, str]:
    return {"name": "Hans Müller", "email": f"hans-{uuid.uuid4().hex[:8]}@example.de", "country": "DE"}


async def test_a_confident_assistant_answers_with_the_tracking_number(tenant: Tenant) -> None:
    sender, tracking = buyer(), f"JD{uuid.uuid4().int % 10**12:012d}"
    async with tenant.client() as client:
        await set_mode(client, "confident")
        await import_order(client, sender["email"], "1001", tracking)
        posted = await inbound.post(client, tenant, inbound.message("Where is my order 1001?", sender=sender))
        assert posted.status_code == 201, posted.text
        conversation_id = posted.json()["conversation_id"]
        [reply] = await by_assistant(client, conversation_id)
    assert reply["direction"] == "outbound" and not reply["is_private"]
    assert tracking in reply["text"] and "1001" in reply["text"]
    assert reply["meta"]["assistant"]["intent"] == "track_order"
    assert reply["meta"]["assistant"]["message_id"] == posted.json()["message_id"]


async def test_a_dispute_is_handed_over_with_a_note_and_high_priority(tenant: Tenant) -> None:
    text = "I want to talk to a human, this is a scam, I will open a PayPal dispute"
    async with tenant.client() as client:
        await set_mode(client, "confident")
        posted = await inbound.post(client, tenant, inbound.message(text))
        conversation_id = posted.json()["conversation_id"]
        [note] = await by_assistant(client, conversation_id)
        conversation = (await detail(client, conversation_id))["conversation"]
    assert note["is_private"] and note["direction"] == "internal"
    assert {HUMAN, DISPUTE} <= set(note["meta"]["assistant"]["reasons"])
    assert note["text"].startswith("Assistant: handed over to a person.")
    assert conversation["priority"] == "high"


async def test_off_by_default_says_nothing(tenant: Tenant) -> None:
    async with tenant.client() as client:
        assert (await client.get(POLICY_URL)).json()["default_mode"] == "off"
        posted = await inbound.post(client, tenant, inbound.message("Where is my order 1001?"))
        assert await by_assistant(client, posted.json()["conversation_id"], wait_s=3) == []


async def test_the_same_message_delivered_twice_is_handled_once(tenant: Tenant, db: Database) -> None:
    body = inbound.message("I want to talk to a human please")
    async with tenant.client() as client:
        await set_mode(client, "confident")
        first = await inbound.post(client, tenant, body)
        again = await inbound.post(client, tenant, body)
        assert again.json()["message_id"] == first.json()["message_id"]
        conversation_id = first.json()["conversation_id"]
        assert len(await by_assistant(client, conversation_id)) == 1
        # The same event noticed again (another delivery, a replay) is skipped: the message is marked.
        message_id = first.json()["message_id"]
        assert isinstance(
            await AssistantRunner(db).handle(tenant.workspace_id, conversation_id, message_id), Skip
        )
        assert len(await by_assistant(client, conversation_id, wait_s=0)) == 1


async def test_in_suggest_mode_it_only_suggests_in_a_private_note(tenant: Tenant) -> None:
    sender = buyer()
    async with tenant.client() as client:
        await set_mode(client, "suggest")
        await import_order(client, sender["email"], "1002", "JD000000000042")
        posted = await inbound.post(client, tenant, inbound.message("Where is my order 1002?", sender=sender))
        [note] = await by_assistant(client, posted.json()["conversation_id"])
    assert note["is_private"] and note["meta"]["assistant"]["decision"] == "suggest"
    assert "JD000000000042" in note["meta"]["assistant"]["suggested_reply"]
    assert note["text"].endswith(note["meta"]["assistant"]["suggested_reply"])


async def test_a_buyer_at_risk_gets_the_win_back_code_only_where_the_seller_allows_it(tenant: Tenant) -> None:
    shop = await build_shop(tenant)  # its lapsed buyer is at risk
    sender = {"name": "Lena", "email": shop.lapsed, "country": "DE"}
    policy = {
        **DEFAULT_POLICY.model_dump(mode="json"),
        "default_mode": "confident",
        "payment_methods": ["Visa"],
    }
    async with tenant.client() as client:
        # The server's scores, computed once (as the customers page does); answering only peeks at them.
        assert (await client.get("/api/v1/retention/segments")).status_code == 200
        replies = []
        for offers in ({}, {"win_back_code": "COMEBACK-10"}):
            assert (await client.put(POLICY_URL, json={**policy, "offers": offers})).status_code == 200
            posted = await inbound.post(
                client, tenant, inbound.message("Which payment methods do you accept?", sender=sender)
            )
            conversation_id, message_id = posted.json()["conversation_id"], posted.json()["message_id"]
            deadline = time.monotonic() + 20
            while not (
                answered := [
                    m
                    for m in await by_assistant(client, conversation_id)
                    if m["meta"]["assistant"]["message_id"] == message_id
                ]
            ):
                assert time.monotonic() < deadline, "no answer"
                await asyncio.sleep(0.2)
            replies += answered
    plain, offered = replies
    assert plain["meta"]["assistant"]["decision"] == offered["meta"]["assistant"]["decision"] == "send"
    assert "Visa" in plain["text"] and "COMEBACK" not in plain["text"], "offers are off by default"
    assert plain["meta"]["assistant"]["offer"] is None
    assert "here is a code for your next order: COMEBACK-10" in offered["text"]
    assert offered["meta"]["assistant"]["offer"] == {"products": [], "code": "COMEBACK-10"}
