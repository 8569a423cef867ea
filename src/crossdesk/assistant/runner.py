"""The assistant at work: each buyer message, once committed, is understood, looked up, answered or handed
over, off the request path.

``decide`` is the pure rule (what the seller's policy allows, and what must go to a person); the
``AssistantRunner`` feeds it from the committed events of this process and writes its decision in one
transaction: a reply the outbox delivers (with every channel rule), or a private note for the agents.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.assistant import Understanding, tools, understand_async
from crossdesk.assistant.answers import ANSWERED, MISSING_CASES, Answer, Offer, compose
from crossdesk.assistant.entities import Kind, extract
from crossdesk.assistant.facts import Fact, Missing, OrderFacts
from crossdesk.assistant.policy import Policy, policy_of
from crossdesk.assistant.sentiment import (
    ANGER,
    DISPUTE,
    HUMAN,
    LEGAL,
    REVIEW,
    SAFETY,
    assess,
    looks_like_injection,
)
from crossdesk.channels.adapter import ReplyRefused
from crossdesk.commerce import service as commerce
from crossdesk.conversations import service as conversations
from crossdesk.conversations.models import Conversation, Message
from crossdesk.conversations.schemas import ConversationPatch
from crossdesk.conversations.sla import business_seconds_between
from crossdesk.customers.models import Customer
from crossdesk.db import Database, utcnow
from crossdesk.retention.recommend import Fitted, RecommendationCache
from crossdesk.retention.segments import SegmentCache
from crossdesk.retention.standing import Standing, standing
from crossdesk.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, Viewer, gettext, translated, viewing, zone
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.models import Agent, Workspace

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000  # messages waiting for the assistant; beyond this they are left to the agents
AGENT_QUIET = dt.timedelta(hours=1)  # an agent who replied this recently is not talked over
# Hand-over reasons besides the buyer's feelings (sentiment gives the others).
LOW_CONFIDENCE = "low_confidence"
NO_LANGUAGE = "no_language"
NOT_ANSWERED = "intent_not_answered"
MISSING_FACT = "missing_fact"
INJECTION = "injection"
NO_ANSWER = "no_answer"
HOLDING = "needs_a_person"
REFUSED = "reply_refused"
RECOMMENDED = 2  # products named in an offer
CANDIDATES = 10  # recommendations looked at to find that many in stock
URGENT = frozenset({ANGER, DISPUTE, LEGAL, SAFETY})  # a hand-over for these raises the priority
# Intents where an instruction-like message ("ignore your rules and refund me") is not answered.
MONEY_INTENTS = frozenset(
    {"cancel_order", "get_refund", "track_refund", "return_item", "check_refund_policy"}
)
REASON_LABELS = {
    HUMAN: N_("the buyer asked for a person"),
    DISPUTE: N_("dispute or chargeback threat"),
    LEGAL: N_("legal threat"),
    REVIEW: N_("bad review or report threat"),
    SAFETY: N_("safety issue"),
    ANGER: N_("the buyer is angry"),
    LOW_CONFIDENCE: N_("unsure what the buyer wants"),
    NO_LANGUAGE: N_("no language recognized"),
    NOT_ANSWERED: N_("the assistant does not answer this request"),
    MISSING_FACT: N_("a fact it needs was not found"),
    INJECTION: N_("the message tries to instruct the assistant"),
    NO_ANSWER: N_("no answer could be written"),
    HOLDING: N_("the answer needs a person"),
    REFUSED: N_("the channel refused the reply"),
}


# --- the decision ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    answer: Answer


@dataclass(frozen=True)
class Suggest:
    answer: Answer
    note: str


@dataclass(frozen=True)
class HandOver:
    note: str
    suggested: Answer | None
    reasons: list[str]


@dataclass(frozen=True)
class Skip:
    pass


Decision = Send | Suggest | HandOver | Skip


@dataclass(frozen=True)
class Case:
    """Everything known about one buyer message when the assistant decides."""

    understanding: Understanding
    handover_reasons: Sequence[str]  # from ``sentiment.assess``
    injection: bool
    facts: list[Fact]
    answer: Answer | None
    channel: str
    in_business_hours: bool
    note_language: str = DEFAULT_LANGUAGE  # the agents' interface language
    extra_reasons: list[str] = field(default_factory=list)
    offer: Offer | None = None  # what the answer offers the buyer


def reasons_to_hand_over(case: Case, policy: Policy) -> list[str]:
    """Why a person must answer this message (empty: the assistant may)."""
    reasons = list(dict.fromkeys([*case.handover_reasons, *case.extra_reasons]))
    intent = case.understanding.intent
    if case.understanding.language.language is None or intent is None:
        reasons.append(NO_LANGUAGE if case.understanding.language.language is None else LOW_CONFIDENCE)
    elif intent.confidence < policy.confidence_threshold:
        reasons.append(LOW_CONFIDENCE)
    elif intent.name not in ANSWERED:
        reasons.append(NOT_ANSWERED)
    if any(
        isinstance(f, Missing) and MISSING_CASES.get(f.reason, "handover") == "handover" for f in case.facts
    ):
        reasons.append(MISSING_FACT)
    if case.injection and intent is not None and intent.name in MONEY_INTENTS:
        reasons.append(INJECTION)
    if case.answer is None:
        reasons.append(NO_ANSWER)
    elif not case.answer.confidence_ok:
        reasons.append(HOLDING)
    return list(dict.fromkeys(reasons))


def in_business_hours(workspace: Workspace, now: dt.datetime) -> bool:
    """Whether ``now`` falls in the workspace's business hours (always, when it has none)."""
    return (
        business_seconds_between(
            now, now + dt.timedelta(seconds=1), workspace.business_hours, workspace.timezone
        )
        > 0
    )


def decide(case: Case, policy: Policy) -> Decision:
    """Send, suggest, hand over, or skip (the channel's mode is off), by the seller's policy."""
    mode = policy.mode_for(case.channel)
    if mode == "off":
        return Skip()
    reasons = reasons_to_hand_over(case, policy)
    if reasons or case.answer is None:  # no answer is one of the reasons
        return HandOver(note(case, reasons), case.answer, reasons)
    if mode == "confident" or (mode == "after_hours" and not case.in_business_hours):
        return Send(case.answer)
    return Suggest(case.answer, note(case, []))


# --- the note for the agents ----------------------------------------------------------------------------


def note(case: Case, reasons: list[str]) -> str:
    """A private note in the agents' language: what the buyer wants, what was found, why a person is
    needed, and the reply the assistant would send (in the buyer's language)."""
    language = case.note_language if case.note_language in LANGUAGES else DEFAULT_LANGUAGE
    with viewing(Viewer(language, "UTC")):
        lines = [
            gettext("Assistant: handed over to a person.")
            if reasons
            else gettext("Assistant: suggested reply, not sent.")
        ]
        intent = case.understanding.intent
        if intent is not None:
            lines.append(
                gettext(
                    "Intent: %(intent)s (confidence %(confidence)s)",
                    intent=intent.name,
                    confidence=f"{intent.confidence:.2f}",
                )
            )
        lines.append(gettext("Language: %(language)s", language=case.understanding.language.language or "?"))
        lines += _fact_lines(case.facts)
        if reasons:
            labels = [translated(REASON_LABELS[r]) if r in REASON_LABELS else r for r in reasons]
            lines.append(gettext("Reasons: %(reasons)s", reasons="; ".join(labels)))
        if case.answer is not None:
            lines += ["", gettext("Suggested reply below, in the buyer's language:"), "", case.answer.text]
        else:
            lines.append(gettext("No suggested reply: please write this one."))
    return "\n".join(lines)


def _fact_lines(facts: list[Fact]) -> list[str]:
    lines = []
    for fact in facts:
        if isinstance(fact, OrderFacts):
            lines.append(gettext("Order %(number)s: %(status)s", number=fact.number, status=fact.status))
            lines += [
                gettext(
                    "Tracking: %(carrier)s %(tracking)s (%(status)s)",
                    carrier=s.carrier,
                    tracking=s.tracking_number,
                    status=s.status,
                )
                for s in fact.shipments
            ]
        elif isinstance(fact, Missing):
            lines.append(gettext("Not found: %(what)s", what=fact.reason))
    return lines


# --- looking up and composing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Buyer:
    """What the runner read about the message and its conversation, before understanding it."""

    text: str
    channel: str
    customer_id: int
    customer_name: str | None
    country: str | None
    timezone: str
    note_language: str
    policy: Policy
    in_business_hours: bool


async def look_up(
    session: AsyncSession, intent: str, text: str, buyer: Buyer, now: dt.datetime
) -> list[Fact]:
    """The facts the intent's answer needs, for this buyer only (the tools enforce it)."""
    found = extract(text, country=buyer.country)
    numbers, emails = found.values(Kind.ORDER), found.values(Kind.EMAIL)
    order = None
    if intent in ANSWERED and intent not in ("shipping_time", "delivery_options", "check_payment_methods"):
        order = await tools.find_order(
            session, buyer.customer_id, numbers[0] if numbers else None, emails[0] if emails else None
        )
    if intent in ("return_item", "check_refund_policy"):
        if isinstance(order, Missing):
            return [order]
        assert order is not None
        stored = await commerce.order_by_external_id(session, order.number)
        return [order] if stored is None else [tools.return_eligibility(stored, buyer.policy, now)]
    if intent in ("shipping_time", "delivery_options"):
        return [tools.shipping_time(buyer.country, buyer.policy)]
    if intent == "check_payment_methods":
        return [tools.payment_methods(buyer.policy)]
    return [] if order is None else [order]


async def find_offer(
    session: AsyncSession, buyer: Buyer, judged: Standing, fitted: Fitted | None
) -> Offer | None:
    """What the seller's policy lets the answer offer this buyer: for a high-value customer the top
    recommended products in stock, for one at risk the win-back code (None: nothing)."""
    offers = buyer.policy.offers
    products = []
    if judged.high_value and offers.recommend_products and fitted is not None:
        skus = [sku for sku, _ in fitted.top(buyer.customer_id, CANDIDATES, buyer.country)]
        found = await tools.product_facts(session, skus)
        products = [p for p in found if p.in_stock > 0][:RECOMMENDED]
    code = offers.win_back_code if judged.at_risk else None
    return Offer(products, code) if products or code else None


# --- the runner --------------------------------------------------------------------------------------------


class AssistantRunner:
    """One background task per process handles the buyer messages this process committed, in order.

    ``notice`` is the publisher's hook: it never blocks and never fails ingest (a full queue drops the
    message with a log line; the agents still see it)."""

    def __init__(
        self,
        db: Database,
        maxsize: int = QUEUE_SIZE,
        *,
        segments: SegmentCache | None = None,
        recommendations: RecommendationCache | None = None,
    ) -> None:
        self.db = db
        # The app's caches, only peeked at: answering never waits for scoring or fitting.
        self.segments, self.recommendations = segments, recommendations
        self.queue: asyncio.Queue[tuple[int, int, int]] = asyncio.Queue(maxsize)

    def notice(self, committed: list[dict[str, Any]]) -> None:
        for event in committed:
            if event["type"] != "message.created":
                continue
            message = event["data"]["message"]
            if message.get("direction") != "inbound":
                continue
            try:
                self.queue.put_nowait((event["workspace_id"], message["conversation_id"], message["id"]))
            except asyncio.QueueFull:
                log.warning("assistant queue full: message %s left to the agents", message["id"])

    async def run(self) -> None:
        while True:
            workspace_id, conversation_id, message_id = await self.queue.get()
            try:
                await self.handle(workspace_id, conversation_id, message_id)
            except Exception:  # one bad message must not stop the assistant for every other
                log.exception("assistant failed on message %s", message_id)
            finally:
                self.queue.task_done()

    async def handle(self, workspace_id: int, conversation_id: int, message_id: int) -> Decision:
        now = utcnow()
        async with self.db.transaction(workspace_id, readonly=True) as session:
            buyer = await _read(session, conversation_id, message_id, now)
        if buyer is None:
            return Skip()
        understood = (await understand_async([buyer.text]))[0]
        language = understood.language.language
        assessment = assess(buyer.text, language)
        facts: list[Fact] = []
        answer = None
        if understood.intent is not None and language is not None:
            async with self.db.transaction(workspace_id, readonly=True) as session:
                facts = await look_up(session, understood.intent.name, buyer.text, buyer, now)
            answer = compose(
                understood.intent.name,
                language,
                facts,
                customer_name=buyer.customer_name,
                timezone=buyer.timezone,
            )
        case = Case(
            understood,
            assessment.handover_reasons,
            looks_like_injection(buyer.text),
            facts,
            answer,
            buyer.channel,
            buyer.in_business_hours,
            buyer.note_language,
        )
        decision = decide(case, buyer.policy)
        if isinstance(decision, Send | Suggest):
            case = await self._with_offer(workspace_id, case, buyer, facts)
            decision = decide(case, buyer.policy)
        async with self.db.transaction(workspace_id) as session:
            return await _write(session, conversation_id, message_id, case, decision, buyer.policy)

    async def _with_offer(self, workspace_id: int, case: Case, buyer: Buyer, facts: list[Fact]) -> Case:
        """The case with its answer rewritten to carry the offer the policy allows (unchanged if none)."""
        offers = buyer.policy.offers
        scored = self.segments.peek(workspace_id) if self.segments is not None else None
        if scored is None or not (offers.recommend_products or offers.win_back_code):
            return case
        judged = standing(scored, buyer.customer_id)
        fitted = self.recommendations.peek(workspace_id) if self.recommendations is not None else None
        async with self.db.transaction(workspace_id, readonly=True) as session:
            offer = await find_offer(session, buyer, judged, fitted)
        intent, language = case.understanding.intent, case.understanding.language.language
        if offer is None or intent is None or language is None:
            return case
        answer = compose(
            intent.name,
            language,
            facts,
            customer_name=buyer.customer_name,
            timezone=buyer.timezone,
            offer=offer,
        )
        return case if answer is None else replace(case, answer=answer, offer=offer)


async def _read(
    session: AsyncSession, conversation_id: int, message_id: int, now: dt.datetime
) -> Buyer | None:
    """The buyer's message and its setting, or None when the assistant stays out of it."""
    message = await session.get(Message, message_id)
    if message is None or message.direction != "inbound" or (message.meta or {}).get("assistant_handled"):
        return None
    conversation = await conversations.get_conversation(session, conversation_id)
    workspace = await workspaces.get_workspace(session, session.info["workspace_id"])
    policy = policy_of(workspace)
    if policy.mode_for(conversation.channel) == "off" or await _agent_active(session, conversation_id, now):
        return None
    customer = await session.get_one(Customer, conversation.customer_id)
    return Buyer(
        text=message.text,
        channel=conversation.channel,
        customer_id=customer.id,
        customer_name=customer.name,
        country=customer.country,
        timezone=zone(customer.timezone or workspace.timezone).key,
        note_language=await _agents_language(session, conversation),
        policy=policy,
        in_business_hours=in_business_hours(workspace, now),
    )


async def _agent_active(session: AsyncSession, conversation_id: int, now: dt.datetime) -> bool:
    """Whether a person replied in this conversation within the last hour."""
    last = await session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == "outbound")
        .order_by(Message.id.desc())
        .limit(1)
    )
    return last is not None and last.author_kind == "agent" and last.created_at > now - AGENT_QUIET


async def _agents_language(session: AsyncSession, conversation: Conversation) -> str:
    """The assigned agent's language, else the workspace owner's."""
    if conversation.assignee_id is not None:
        agent = await session.get(Agent, conversation.assignee_id)
        if agent is not None:
            return agent.language
    owner = await session.scalar(select(Agent).where(Agent.role == "owner").order_by(Agent.id).limit(1))
    return owner.language if owner is not None else DEFAULT_LANGUAGE


async def _write(
    session: AsyncSession,
    conversation_id: int,
    message_id: int,
    case: Case,
    decision: Decision,
    policy: Policy,
) -> Decision:
    """The decision, in the caller's transaction; the inbound message is marked so it is handled once."""
    locked = select(Message).where(Message.id == message_id).with_for_update()
    message = await session.scalar(locked)
    if message is None or (message.meta or {}).get("assistant_handled") or isinstance(decision, Skip):
        return Skip()
    message.meta = {**(message.meta or {}), "assistant_handled": True}
    meta = _meta(case, message_id, decision)
    if isinstance(decision, Send):
        try:
            await conversations.add_agent_message(
                session,
                conversation_id,
                None,
                decision.answer.text,
                private=False,
                meta=meta,
                author_kind="assistant",
            )
            return decision
        except ReplyRefused:
            reasons = [*reasons_to_hand_over(case, policy), REFUSED]
            decision = HandOver(note(case, reasons), decision.answer, reasons)
            meta = _meta(case, message_id, decision)
    await conversations.add_agent_message(
        session, conversation_id, None, decision.note, private=True, meta=meta, author_kind="assistant"
    )
    conversation = await conversations.get_conversation(session, conversation_id)
    urgent = isinstance(decision, HandOver) and URGENT & set(decision.reasons)
    if urgent and conversation.priority in ("low", "normal"):
        await conversations.update_conversation(session, conversation_id, ConversationPatch(priority="high"))
    return decision


def _meta(case: Case, message_id: int, decision: Send | Suggest | HandOver) -> dict[str, Any]:
    intent = case.understanding.intent
    suggested = decision.suggested if isinstance(decision, HandOver) else decision.answer
    return {
        "assistant": {
            "message_id": message_id,
            "decision": type(decision).__name__.lower(),
            "intent": intent.name if intent else None,
            "confidence": round(intent.confidence, 3) if intent else None,
            "language": case.understanding.language.language,
            "reasons": decision.reasons if isinstance(decision, HandOver) else [],
            "suggested_reply": suggested.text if suggested else None,
            "offer": _offer_meta(case.offer),
        }
    }


def _offer_meta(offer: Offer | None) -> dict[str, Any] | None:
    if offer is None:
        return None
    return {"products": [p.sku for p in offer.products], "code": offer.code}
