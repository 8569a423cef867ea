"""eBay: buyers' questions polled with GetMemberMessages, answered with AddMemberMessageRTQ, against a fake
Trading API that checks the headers, the token and the request fields, and answers in eBay's XML."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import Response

from crossdesk.channels.adapter import PermanentError
from crossdesk.channels.kinds.ebay import NS, TradingError, question, read_answer
from tests.conftest import Tenant
from tests.support.platform import FakePlatform
from tests.support.replies import reply_reaching

FIXTURES = Path(__file__).parent / "fixtures" / "ebay"
TOKEN = "v^1.1#i^1#p^3#r^1#I^3#f^0#t^Ul4xMF8yOjAxRjc0test"
SITE_ID = "77"
E = {"e": NS}
PAGES = {"1": "get_member_messages_page1.xml", "2": "get_member_messages_page2.xml"}
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<GetMemberMessagesResponse xmlns="urn:ebay:apis:eBLBaseComponents">
<Ack>&lol2;</Ack></GetMemberMessagesResponse>"""
TRUNCATED = (
    b'<?xml version="1.0"?><GetMemberMessagesResponse xmlns="urn:ebay:apis:eBLBaseComponents"><Ack>Succ'
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def xml(raw: bytes) -> Response:
    return Response(raw, media_type="text/xml")


class FakeEbay:
    """The Trading API endpoint: refuses requests eBay would refuse (headers, token, required fields) and
    serves the question pages, or the queued answers first."""

    def __init__(self) -> None:
        self.get_answers: list[bytes] = []
        self.always: bytes | None = None  # an answer to every GetMemberMessages (a broken account)
        self.rtq_answers: list[bytes] = []
        self.calls: list[tuple[str, ET.Element]] = []
        self.platform = FakePlatform({("POST", "/ws/api.dll"): self.api})

    def of(self, call: str) -> list[ET.Element]:
        return [root for name, root in self.calls if name == call]

    async def api(self, request: Request, body: bytes) -> Response:
        call = request.headers.get("x-ebay-api-call-name", "")
        if request.headers.get("x-ebay-api-iaf-token") != TOKEN:
            return Response("invalid IAF token", status_code=401)
        if request.headers.get("x-ebay-api-siteid") != SITE_ID:
            return Response("wrong site", status_code=400)
        if not request.headers.get("x-ebay-api-compatibility-level", "").isdigit():
            return Response("compatibility level missing", status_code=400)
        root = ET.fromstring(body)
        if root.tag != f"{{{NS}}}{call}Request":
            return Response(f"the body is not a {call}Request", status_code=400)
        self.calls.append((call, root))
        if call == "GetMemberMessages":
            return self.get_member_messages(root)
        if call == "AddMemberMessageRTQ":
            return self.add_member_message_rtq(root)
        return Response("unsupported call", status_code=400)

    def get_member_messages(self, root: ET.Element) -> Response:
        fields = {
            name: root.findtext(f"e:{name}", namespaces=E) for name in ("MailMessageType", "MessageStatus")
        }
        start = dt.datetime.fromisoformat(root.findtext("e:StartCreationTime", "", E))
        end = dt.datetime.fromisoformat(root.findtext("e:EndCreationTime", "", E))
        page = root.findtext("e:Pagination/e:PageNumber", "", E)
        if (
            fields != {"MailMessageType": "AskSellerQuestion", "MessageStatus": "Unanswered"}
            or not start < end
        ):
            return Response(f"bad request {fields} {start} {end}", status_code=400)
        if root.findtext("e:Pagination/e:EntriesPerPage", "", E) != "200" or page not in PAGES:
            return Response("bad pagination", status_code=400)
        if self.always is not None:
            return xml(self.always)
        return xml(self.get_answers.pop(0) if self.get_answers else fixture(PAGES[page]))

    def add_member_message_rtq(self, root: ET.Element) -> Response:
        required = (
            "e:ItemID",
            "e:MemberMessage/e:Body",
            "e:MemberMessage/e:ParentMessageID",
            "e:MemberMessage/e:RecipientID",
        )
        if not all(root.findtext(path, "", E) for path in required):
            return Response("a required field is missing", status_code=400)
        return xml(
            self.rtq_answers.pop(0) if self.rtq_answers else fixture("add_member_message_rtq_success.xml")
        )


@pytest.fixture
async def ebay_accounts(tenant: Tenant) -> AsyncIterator[Callable[[str], Any]]:
    """Creates eBay accounts polling a given API base every 0.2 s; switched off afterwards, so the server's
    poller stops asking fakes that are gone."""
    created: list[int] = []

    async def create(api_base: str) -> dict[str, Any]:
        config = {"api_base": api_base, "site_id": int(SITE_ID), "poll_interval_s": 0.2}
        body = {"name": "eBay DE", "config": config, "credentials": {"user_token": TOKEN}}
        async with tenant.client() as client:
            response = await client.post("/api/v1/channels/ebay", json=body)
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
        return dict(response.json())

    yield create
    async with tenant.client() as client:
        for account_id in created:
            await client.patch(f"/api/v1/channels/{account_id}", json={"is_active": False})


async def eventually(check: Callable[[], bool], limit_s: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def threads(tenant: Tenant) -> list[dict[str, Any]]:
    """Every conversation of the workspace, with its messages, oldest first."""
    async with tenant.client() as client:
        items = (await client.get("/api/v1/conversations?limit=200")).json()["items"]
        details = [(await client.get(f"/api/v1/conversations/{i['id']}")).json() for i in items]
    return sorted(details, key=lambda d: d["conversation"]["id"])


async def questions_stored(tenant: Tenant, count: int) -> list[dict[str, Any]]:
    """The workspace's conversations once they hold ``count`` messages (or after 10 s)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        conversations = await threads(tenant)
        if sum(len(c["messages"]) for c in conversations) >= count:
            return conversations
        assert asyncio.get_running_loop().time() < deadline, conversations
        await asyncio.sleep(0.05)


def ebay_time(value: str | None) -> dt.datetime:
    assert value
    return dt.datetime.fromisoformat(value)


async def test_questions_are_stored_once_threaded_per_item_and_buyer(
    tenant: Tenant, ebay_accounts: Any
) -> None:
    fake = FakeEbay()
    with fake.platform.running() as api:
        await ebay_accounts(api.url)
        # Three full rounds (two pages each): the same questions come back every time.
        await eventually(lambda: len(fake.of("GetMemberMessages")) >= 6)
        conversations = await threads(tenant)
    by_item = {c["messages"][0]["meta"]["ebay_item_id"]: c for c in conversations}
    assert sorted(by_item) == ["110553460001", "110553460002"]
    pump, filter_ = by_item["110553460001"], by_item["110553460002"]
    assert [m["platform_message_id"] for m in pump["messages"]] == ["2298127371016", "2298127371033"]
    assert [m["text"] for m in filter_["messages"]] == ["Does this filter fit a 2002 Golf IV 1.9 TDI?"]
    first = pump["messages"][0]
    assert first["text"] == "Hallo, do you ship to Austria & how long does it take?"
    assert first["sent_at"].startswith("2024-05-02T07:58:41")
    assert (
        first["attachments"][0]["url"].endswith("$_1.JPG")
        and first["attachments"][0]["name"] == "old_pump.jpg"
    )
    assert first["meta"]["ebay_item_title"] == "Bosch Fuel Pump 0580254044 for VW Golf IV"
    assert pump["conversation"]["subject"] == "Question about item 110553460001"
    assert pump["customer"]["id"] == filter_["customer"]["id"]  # one buyer, two listings
    assert ("ebay_user", "hans_m_1987") in {(i["kind"], i["value"]) for i in pump["customer"]["identities"]}
    # The window moves on from where the last successful round ended (less the overlap).
    rounds = [
        r for r in fake.of("GetMemberMessages") if r.findtext("e:Pagination/e:PageNumber", "", E) == "1"
    ]
    first_end = ebay_time(rounds[0].findtext("e:EndCreationTime", None, E))
    assert ebay_time(rounds[0].findtext("e:StartCreationTime", None, E)) == first_end - dt.timedelta(hours=24)
    assert ebay_time(rounds[1].findtext("e:StartCreationTime", None, E)) == first_end - dt.timedelta(
        minutes=10
    )


async def test_agent_reply_answers_the_latest_question_and_refusals_are_dead(
    tenant: Tenant, ebay_accounts: Any
) -> None:
    fake = FakeEbay()
    text = "Yes, we ship to Austria: 2-3 days. The regulator <is> included & tested."
    with fake.platform.running() as api:
        await ebay_accounts(api.url)
        conversations = await questions_stored(tenant, 3)
        pump = next(c for c in conversations if c["messages"][0]["meta"]["ebay_item_id"] == "110553460001")
        conversation_id = pump["conversation"]["id"]
        async with tenant.client() as client:
            url = f"/api/v1/conversations/{conversation_id}/messages"
            assert (await client.post(url, json={"text": text})).status_code == 201
            sent = await reply_reaching(client, conversation_id, "sent")
            fake.rtq_answers = [fixture("add_member_message_rtq_failure.xml")]
            assert (await client.post(url, json={"text": "Second answer"})).status_code == 201
            dead = await reply_reaching(client, conversation_id, "dead")
            too_long = await client.post(url, json={"text": "x" * 2001})
    assert sent["delivery_state"] == "sent", sent
    answer = fake.of("AddMemberMessageRTQ")[0]
    assert answer.findtext("e:ItemID", None, E) == "110553460001"
    assert answer.findtext("e:MemberMessage/e:ParentMessageID", None, E) == "2298127371033"  # the newest
    assert answer.findtext("e:MemberMessage/e:RecipientID", None, E) == "hans_m_1987"
    assert answer.findtext("e:MemberMessage/e:Body", None, E) == text
    assert dead["delivery_state"] == "dead", dead
    assert "no longer in our database" in dead["meta"]["delivery_error"]
    assert len(fake.of("AddMemberMessageRTQ")) == 2  # a request error is not retried
    assert too_long.status_code == 422 and "2000" in too_long.text


async def test_bad_answers_do_not_stop_the_poller_or_other_accounts(
    tenant: Tenant, ebay_accounts: Any
) -> None:
    broken, good = FakeEbay(), FakeEbay()
    broken.always = b"<html><body>502 Bad Gateway</body></html>"
    good.get_answers = [TRUNCATED, BOMB, b"\x00\xff not xml", fixture("get_member_messages_system_error.xml")]
    with broken.platform.running() as broken_api, good.platform.running() as good_api:
        await ebay_accounts(broken_api.url)
        await ebay_accounts(good_api.url)
        await eventually(lambda: len(good.of("GetMemberMessages")) >= 6)  # four bad rounds, then two pages
        stored = await questions_stored(tenant, 3)
        calls_before = len(broken.of("GetMemberMessages"))
        await eventually(lambda: len(broken.of("GetMemberMessages")) > calls_before)  # still polled
    assert sum(len(c["messages"]) for c in stored) == 3
    # Each failed round was retried over the same window: nothing was skipped.
    starts = [r.findtext("e:StartCreationTime", None, E) for r in good.of("GetMemberMessages")[:5]]
    assert len(set(starts)) == 1


async def test_ebay_takes_no_webhooks(tenant: Tenant, ebay_accounts: Any) -> None:
    account = await ebay_accounts("http://127.0.0.1:9")
    async with httpx.AsyncClient(base_url=tenant.server.url) as client:
        response = await client.post(f"/hooks/ebay/{account['public_id']}", content=b"<x/>")
    assert response.status_code == 405 and response.json()["detail"]


# ---- the answer reader, directly ----


def test_answers_are_classified_as_eBay_documents_them() -> None:
    root = read_answer(fixture("get_member_messages_page1.xml"), "GetMemberMessages")
    assert len(root.findall("e:MemberMessage/e:MemberMessageExchange", E)) == 2
    with pytest.raises(TradingError, match="10007"):  # a system error: worth retrying
        read_answer(fixture("get_member_messages_system_error.xml"), "GetMemberMessages")
    with pytest.raises(PermanentError, match="17: The item 110553460001 is invalid"):
        read_answer(fixture("add_member_message_rtq_failure.xml"), "AddMemberMessageRTQ")
    unreadable = [
        BOMB,
        b'<?xml version="1.0" encoding="bogus"?><a/>',
        b'<?xml version="1.0" encoding="utf-32"?><a/>',
    ]
    for raw in unreadable:  # entities are never expanded; odd encodings are refused, not raised
        with pytest.raises(TradingError):
            read_answer(raw, "GetMemberMessages")
    with pytest.raises(TradingError, match="unexpected"):  # an answer to another call
        read_answer(fixture("add_member_message_rtq_success.xml"), "GetMemberMessages")


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_answer_is_read_or_refused_cleanly(raw: bytes) -> None:
    with contextlib.suppress(TradingError, PermanentError):
        read_answer(raw, "GetMemberMessages")


# XML 1.0 characters (what an answer can carry); surrounding whitespace is not the buyer's text.
XML_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=200)


@settings(max_examples=200, deadline=None)
@given(
    body=XML_TEXT,
    subject=XML_TEXT,
    buyer=XML_TEXT.filter(str.strip) | st.just(""),
    message_id=st.from_regex(r"[0-9]{1,15}", fullmatch=True) | XML_TEXT,
    item_id=st.from_regex(r"[0-9]{1,19}", fullmatch=True) | XML_TEXT,
)
def test_questions_round_trip_or_are_refused(
    body: str, subject: str, buyer: str, message_id: str, item_id: str
) -> None:
    exchange = ET.Element(f"{{{NS}}}MemberMessageExchange")
    ET.SubElement(ET.SubElement(exchange, f"{{{NS}}}Item"), f"{{{NS}}}ItemID").text = item_id
    asked = ET.SubElement(exchange, f"{{{NS}}}Question")
    for name, value in (("Body", body), ("Subject", subject), ("SenderID", buyer), ("MessageID", message_id)):
        ET.SubElement(asked, f"{{{NS}}}{name}").text = value
    try:
        message = question(exchange)
    except ValueError:
        return
    assert message.text == body.strip()
    assert message.thread_key == f"{item_id.strip()}:{buyer.strip()}"
    assert message.platform_message_id == message_id.strip()
