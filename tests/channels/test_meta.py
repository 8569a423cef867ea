"""Messenger and Instagram against the real app server and a fake Graph API on loopback: Meta's
verification handshake, signed webhooks (stored once; forged or unsigned ones refused and not stored),
echoes, delivery and read receipts, the Send API and its errors, the reply window, and hostile payloads.

The helpers here (``FakeGraph``, ``connect``, ``post_hook``...) serve ``test_whatsapp.py`` too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crossdesk.channels.adapter import Account, Rejected, WebhookRequest
from crossdesk.channels.models import OutboxItem
from crossdesk.channels.registry import ADAPTERS
from crossdesk.conversations.models import Message
from crossdesk.db import Database, utcnow
from tests.channels.test_api_channel_input import JSON_VALUES, stored
from tests.conftest import Tenant
from tests.support.platform import FakePlatform
from tests.support.replies import reply_reaching

FIXTURES = Path(__file__).parent / "fixtures"
VERSION = "v25.0"
APP_SECRET = "3f1c0e9a7b5d4c2e8f6a1b3c5d7e9f01"
VERIFY_TOKEN = "crossdesk-verify-4b1f9e"
TOKEN = "EAAGm0PX4ZCpsBAKZCfakeZCpagetoken0ZD"
PAGE_ID = "104729372841930"
PSID = "7034958120387465"
IGSID = "1254459154682919"
PHONE_NUMBER_ID = "106540352242922"
TOKEN_NAMES = {"messenger": "page_access_token", "instagram": "page_access_token", "whatsapp": "access_token"}
MESSAGING_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}


def fixture(name: str) -> dict[str, Any]:
    """A stored sample payload, e.g. ``fixture("meta/messenger_text.json")``."""
    return dict(json.loads((FIXTURES / name).read_text()))


def sign(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def now_ms() -> int:
    return int(utcnow().timestamp() * 1000)


# ---- a fake Graph API ----


def _send_api_ok(data: dict[str, Any]) -> bool:
    """What the Send API requires: a recipient, a messaging type and a message text."""
    recipient, message = data.get("recipient"), data.get("message")
    text = message.get("text") if isinstance(message, dict) else None
    return (
        isinstance(recipient, dict)
        and isinstance(recipient.get("id"), str)
        and data.get("messaging_type") in MESSAGING_TYPES
        and isinstance(text, str)
        and 0 < len(text) <= 2000
    )


def _template_ok(template: Any) -> bool:
    if not isinstance(template, dict) or not isinstance(template.get("name"), str):
        return False
    language = template.get("language")
    components = template.get("components", [])
    return (
        isinstance(language, dict)
        and isinstance(language.get("code"), str)
        and isinstance(components, list)
        and all(
            c.get("type") == "body" and all(p.get("type") == "text" for p in c.get("parameters", []))
            for c in components
        )
    )


def _whatsapp_ok(data: dict[str, Any]) -> bool:
    """What the Messages API requires: the product, a recipient, and a text body or a template."""
    to, kind = data.get("to"), data.get("type")
    if not isinstance(to, str) or not to.isdigit():
        return False
    if kind == "text":
        body = (data.get("text") or {}).get("body")
        return isinstance(body, str) and 0 < len(body) <= 4096
    return kind == "template" and _template_ok(data.get("template"))


class FakeGraph:
    """Meta's Graph API on loopback: the Send API (Messenger, Instagram) and WhatsApp's Messages API.

    It checks what Graph checks (the Bearer token, the node, the required fields) and answers as Graph
    does; ``refusals`` maps a recipient id to the (HTTP status, Graph error body) it is answered with.
    """

    nodes = frozenset({PAGE_ID, "me", PHONE_NUMBER_ID})

    def __init__(self) -> None:
        self.refusals: dict[str, tuple[int, dict[str, Any]]] = {}
        self.platform = FakePlatform({("POST", f"/{VERSION}/{{node}}/messages"): self.messages})

    @contextmanager
    def running(self) -> Iterator[FakeGraph]:
        with self.platform.running():
            yield self

    @property
    def api_base(self) -> str:
        return f"{self.platform.url}/{VERSION}"

    async def messages(self, request: Request, body: bytes) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse(fixture("meta/graph_error_token.json"), 400)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        whatsapp = isinstance(data, dict) and data.get("messaging_product") == "whatsapp"
        valid = isinstance(data, dict) and (_whatsapp_ok(data) if whatsapp else _send_api_ok(data))
        if request.path_params["node"] not in self.nodes or not valid:
            return JSONResponse(fixture("meta/graph_error_parameter.json"), 400)
        assert isinstance(data, dict)
        recipient = data["to"] if whatsapp else data["recipient"]["id"]
        if recipient in self.refusals:
            status, error = self.refusals[recipient]
            return JSONResponse(error, status)
        return JSONResponse(self._accepted(recipient, whatsapp))

    @staticmethod
    def _accepted(recipient: str, whatsapp: bool) -> dict[str, Any]:
        if whatsapp:
            answer = fixture("whatsapp/messages_response.json")
            answer["contacts"] = [{"input": recipient, "wa_id": recipient}]
            answer["messages"] = [{"id": f"wamid.{uuid.uuid4().hex}"}]
            return answer
        return {
            **fixture("meta/send_api_response.json"),
            "recipient_id": recipient,
            "message_id": f"m_{uuid.uuid4().hex}",
        }

    def sent(self) -> list[tuple[str, dict[str, str], Any]]:
        """Every request Graph got: (path, headers, JSON body)."""
        return [(s.path, s.headers, s.json()) for s in self.platform.seen]


@pytest.fixture(name="graph")
def fake_graph() -> Iterator[FakeGraph]:
    with FakeGraph().running() as fake:
        yield fake


# ---- talking to crossdesk ----


async def connect(tenant: Tenant, kind: str, graph: FakeGraph | None = None, **config: Any) -> str:
    """Create a channel account of ``kind`` (replying through ``graph``); returns its public id."""
    if graph is not None:
        config["api_base"] = graph.api_base
    credentials = {"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, TOKEN_NAMES[kind]: TOKEN}
    async with tenant.client() as client:
        response = await client.post(
            f"/api/v1/channels/{kind}", json={"name": kind, "config": config, "credentials": credentials}
        )
    assert response.status_code == 201, response.text
    return str(response.json()["public_id"])


async def post_hook(
    tenant: Tenant,
    kind: str,
    public_id: str,
    body: dict[str, Any] | bytes,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Post a webhook as Meta does: the raw body, signed with the app secret (unless ``headers`` say)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if headers is None:
        headers = {"content-type": "application/json", "x-hub-signature-256": sign(raw)}
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as client:
        return await client.post(f"/hooks/{kind}/{public_id}", content=raw, headers=headers)


async def conversation_of(tenant: Tenant) -> dict[str, Any]:
    """The workspace's only conversation, in full."""
    async with tenant.client() as client:
        (item,) = (await client.get("/api/v1/conversations")).json()["items"]
        return dict((await client.get(f"/api/v1/conversations/{item['id']}")).json())


async def reply(tenant: Tenant, conversation_id: int, text: str, **extra: Any) -> httpx.Response:
    async with tenant.client() as client:
        return await client.post(
            f"/api/v1/conversations/{conversation_id}/messages", json={"text": text, **extra}
        )


async def settled(tenant: Tenant, conversation_id: int, message_id: int, state: str) -> dict[str, Any]:
    """The reply once its delivery state is ``state`` (or as it is after 10 s)."""
    async with tenant.client() as client:
        return await reply_reaching(client, conversation_id, state, message_id)


async def age_inbound(db: Database, tenant: Tenant, conversation_id: int, hours: float) -> None:
    """Make the buyer's messages as old as if crossdesk had stored them ``hours`` ago."""
    async with db.transaction(tenant.workspace_id) as session:
        await session.execute(
            update(Message)
            .where(Message.conversation_id == conversation_id, Message.direction == "inbound")
            .values(created_at=utcnow() - dt.timedelta(hours=hours))
        )


# ---- accounts ----


async def test_account_settings_and_secrets_are_checked(tenant: Tenant) -> None:
    refused = [
        ("messenger", {"page_id": "my-page"}, {}),
        ("messenger", {"webhook_url": "https://example.com"}, {}),
        ("instagram", {}, {"access_token": TOKEN}),
        ("whatsapp", {}, {}),
        ("whatsapp", {"phone_number_id": PHONE_NUMBER_ID}, {"page_access_token": TOKEN}),
    ]
    async with tenant.client() as client:
        for kind, config, credentials in refused:
            body = {"name": kind, "config": config, "credentials": credentials}
            response = await client.post(f"/api/v1/channels/{kind}", json=body)
            assert response.status_code == 422, (kind, config, response.text)
        half = await client.post(
            "/api/v1/channels/whatsapp", json={"name": "wa", "config": {"phone_number_id": PHONE_NUMBER_ID}}
        )
    assert half.status_code == 201, half.text
    assert half.json()["config"]["api_base"] == f"https://graph.facebook.com/{VERSION}"
    assert half.json()["ready"] is False  # no access token yet: replies cannot go out
    await connect(tenant, "whatsapp", phone_number_id=PHONE_NUMBER_ID)
    async with tenant.client() as client:
        accounts = (await client.get("/api/v1/channels")).json()
    assert [a["ready"] for a in accounts if a["kind"] == "whatsapp"] == [False, True]


# ---- handshake and signatures ----


@pytest.mark.parametrize("kind", ["messenger", "instagram"])
async def test_handshake_answers_only_the_accounts_verify_token(tenant: Tenant, kind: str) -> None:
    public_id = await connect(tenant, kind)
    right = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    wrong = [
        {**right, "hub.verify_token": "guessed"},
        {**right, "hub.verify_token": ""},
        {**right, "hub.mode": "unsubscribe"},
        {k: v for k, v in right.items() if k != "hub.mode"},
        {k: v for k, v in right.items() if k != "hub.verify_token"},
    ]
    async with httpx.AsyncClient(base_url=tenant.server.url) as client:
        ok = await client.get(f"/hooks/{kind}/{public_id}", params=right)
        refused = [await client.get(f"/hooks/{kind}/{public_id}", params=q) for q in wrong]
        unknown = await client.get(f"/hooks/{kind}/not-an-account", params=right)
    assert ok.status_code == 200 and ok.text == "1158201444"
    assert [r.status_code for r in refused] == [403] * len(wrong)
    assert all("1158201444" not in r.text for r in refused)
    assert unknown.status_code == 404


async def test_signed_delivery_is_stored_once_when_posted_twice(tenant: Tenant) -> None:
    public_id = await connect(tenant, "messenger")
    body = fixture("meta/messenger_text.json")
    first = await post_hook(tenant, "messenger", public_id, body)
    again = await post_hook(tenant, "messenger", public_id, body)
    assert (first.status_code, first.json()) == (200, {"received": 1, "stored": 1})
    assert (again.status_code, again.json()) == (200, {"received": 1, "stored": 0})
    detail = await conversation_of(tenant)
    (message,) = detail["messages"]
    assert message["text"] == "Hi! Has my order #A-1042 shipped yet?"
    assert message["channel"] == "messenger"
    assert message["platform_message_id"].startswith("m_AG5Hz2Uq7tuwNEhX")
    assert message["sent_at"].startswith("2024-06-11T16:00:00.312")
    identities = {(i["kind"], i["value"]) for i in detail["customer"]["identities"]}
    assert identities == {("messenger_psid", PSID)}


def _forgeries(raw: bytes) -> dict[str, dict[str, str]]:
    good = sign(raw)
    return {
        "no signature": {},
        "empty signature": {"x-hub-signature-256": ""},
        "other secret": {"x-hub-signature-256": sign(raw, "not-the-app-secret")},
        "other body": {"x-hub-signature-256": sign(raw + b" ")},
        "sha1 scheme": {"x-hub-signature-256": "sha1=" + good.removeprefix("sha256=")},
        "bare hex": {"x-hub-signature-256": good.removeprefix("sha256=")},
        "truncated": {"x-hub-signature-256": good[:-2]},
        "not hex": {"x-hub-signature-256": "sha256=" + "zz" * 32},
        "old header only": {
            "x-hub-signature": "sha1=" + hmac.new(APP_SECRET.encode(), raw, "sha1").hexdigest()
        },
    }


async def test_forged_or_missing_signatures_are_401_and_store_nothing(tenant: Tenant) -> None:
    public_id = await connect(tenant, "messenger")
    raw = json.dumps(fixture("meta/messenger_text.json")).encode()
    failures = []
    for case, headers in _forgeries(raw).items():
        response = await post_hook(
            tenant, "messenger", public_id, raw, {"content-type": "application/json", **headers}
        )
        if response.status_code != 401 or not response.json().get("detail"):
            failures.append(f"{case}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
    assert await stored(tenant) == (0, 0)
    # Signed, the very same delivery is new: the refused ones left no trace.
    assert (await post_hook(tenant, "messenger", public_id, raw)).json() == {"received": 1, "stored": 1}


async def test_an_account_without_app_secret_takes_no_webhooks(tenant: Tenant) -> None:
    async with tenant.client() as client:
        created = await client.post(
            "/api/v1/channels/messenger", json={"name": "half set up", "credentials": {"verify_token": "x"}}
        )
    raw = json.dumps(fixture("meta/messenger_text.json")).encode()
    response = await post_hook(tenant, "messenger", created.json()["public_id"], raw)
    assert response.status_code == 401
    assert "app secret" in response.json()["detail"]
    assert await stored(tenant) == (0, 0)


# ---- what webhooks carry ----


async def test_text_and_attachments_from_several_entries(tenant: Tenant) -> None:
    public_id = await connect(tenant, "messenger")
    response = await post_hook(tenant, "messenger", public_id, fixture("meta/messenger_attachments.json"))
    assert response.json() == {"received": 3, "stored": 3}
    messages = (await conversation_of(tenant))["messages"]  # one buyer, one page: one conversation
    assert [m["text"] for m in messages] == [
        "The parcel arrived damaged, photos below",
        "",
        "Can you send a replacement?",
    ]
    image, document = messages[1]["attachments"]
    assert image["content_type"] == "image/*"
    assert image["name"] == "448213790_10223401_n.jpg"
    assert image["url"].startswith("https://scontent.xx.fbcdn.net/v/t1.15752-9/448213790_10223401_n.jpg?")
    assert (document["name"], document["content_type"]) == ("delivery-note.pdf", "application/octet-stream")
    assert messages[0]["attachments"] == messages[2]["attachments"] == []


async def test_echoes_of_the_pages_own_messages_are_skipped(tenant: Tenant) -> None:
    public_id = await connect(tenant, "messenger")
    response = await post_hook(tenant, "messenger", public_id, fixture("meta/messenger_echo.json"))
    assert response.json() == {"received": 0, "stored": 0}
    assert await stored(tenant) == (0, 0)


async def test_events_from_no_page_scoped_user_are_acknowledged(tenant: Tenant) -> None:
    public_id = await connect(tenant, "messenger")
    response = await post_hook(tenant, "messenger", public_id, fixture("meta/messenger_optin.json"))
    assert (response.status_code, response.json()) == (200, {"received": 0, "stored": 0})
    assert await stored(tenant) == (0, 0)


async def test_a_webhook_of_another_product_is_422(tenant: Tenant) -> None:
    public_id = await connect(tenant, "messenger")
    response = await post_hook(tenant, "messenger", public_id, fixture("meta/instagram_text.json"))
    assert response.status_code == 422
    assert "'page'" in response.json()["detail"]
    assert await stored(tenant) == (0, 0)


# ---- replies and receipts ----


async def _buyer_wrote(tenant: Tenant, kind: str, public_id: str, name: str) -> int:
    response = await post_hook(tenant, kind, public_id, fixture(name))
    assert response.json()["stored"] >= 1, response.text
    return int((await conversation_of(tenant))["conversation"]["id"])


async def test_reply_goes_out_through_the_send_api_and_receipts_move_it(
    tenant: Tenant, graph: FakeGraph
) -> None:
    public_id = await connect(tenant, "messenger", graph, page_id=PAGE_ID)
    conversation_id = await _buyer_wrote(tenant, "messenger", public_id, "meta/messenger_text.json")
    created = await reply(tenant, conversation_id, "It left our warehouse this morning.")
    assert created.status_code == 201, created.text
    sent = await settled(tenant, conversation_id, created.json()["id"], "sent")
    assert sent["delivery_state"] == "sent"
    ((path, headers, body),) = graph.sent()
    assert path == f"/{VERSION}/{PAGE_ID}/messages"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert body == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "It left our warehouse this morning."},
    }
    assert sent["platform_message_id"].startswith("m_")

    delivery = fixture("meta/messenger_delivery.json")
    delivery["entry"][0]["messaging"][0]["delivery"]["mids"] = [sent["platform_message_id"]]
    assert (await post_hook(tenant, "messenger", public_id, delivery)).status_code == 200
    assert (await settled(tenant, conversation_id, sent["id"], "delivered"))["delivery_state"] == "delivered"

    read = fixture("meta/messenger_read.json")
    read["entry"][0]["messaging"][0]["read"]["watermark"] = now_ms()
    assert (await post_hook(tenant, "messenger", public_id, read)).status_code == 200
    assert (await settled(tenant, conversation_id, sent["id"], "read"))["delivery_state"] == "read"

    # A delivery naming no message marks every reply of the thread sent before its watermark.
    second = (await reply(tenant, conversation_id, "Tracking: DHL 00340434161094042557")).json()
    await settled(tenant, conversation_id, second["id"], "sent")
    del delivery["entry"][0]["messaging"][0]["delivery"]["mids"]
    delivery["entry"][0]["messaging"][0]["delivery"]["watermark"] = now_ms()
    assert (await post_hook(tenant, "messenger", public_id, delivery)).status_code == 200
    assert (await settled(tenant, conversation_id, second["id"], "delivered"))[
        "delivery_state"
    ] == "delivered"
    assert (await settled(tenant, conversation_id, sent["id"], "read"))["delivery_state"] == "read"


async def test_instagram_reply_limit_send_and_seen(tenant: Tenant, graph: FakeGraph) -> None:
    public_id = await connect(tenant, "instagram", graph)
    conversation_id = await _buyer_wrote(tenant, "instagram", public_id, "meta/instagram_text.json")
    too_long = await reply(tenant, conversation_id, "x" * 1001)
    assert too_long.status_code == 422
    assert "at most 1000 characters" in too_long.json()["detail"]
    created = (await reply(tenant, conversation_id, "Yes, size M is in stock.")).json()
    sent = await settled(tenant, conversation_id, created["id"], "sent")
    ((path, _, body),) = graph.sent()
    assert path == f"/{VERSION}/me/messages"  # no page id set: the token's own page
    assert body["recipient"] == {"id": IGSID}
    seen = fixture("meta/instagram_seen.json")
    seen["entry"][0]["messaging"][0]["read"]["mid"] = sent["platform_message_id"]
    assert (await post_hook(tenant, "instagram", public_id, seen)).status_code == 200
    assert (await settled(tenant, conversation_id, sent["id"], "read"))["delivery_state"] == "read"


async def test_reply_outside_the_24_hour_window_is_refused(
    tenant: Tenant, graph: FakeGraph, db: Database
) -> None:
    public_id = await connect(tenant, "messenger", graph, page_id=PAGE_ID)
    conversation_id = await _buyer_wrote(tenant, "messenger", public_id, "meta/messenger_text.json")
    await age_inbound(db, tenant, conversation_id, hours=25)
    refused = await reply(tenant, conversation_id, "Sorry for the late answer")
    assert refused.status_code == 422
    assert "outside the 24-hour reply window" in refused.json()["detail"]
    await age_inbound(db, tenant, conversation_id, hours=23)
    assert (await reply(tenant, conversation_id, "Still within the day")).status_code == 201
    messages = (await conversation_of(tenant))["messages"]
    assert [m["text"] for m in messages if m["direction"] == "outbound"] == ["Still within the day"]


async def test_graph_refusals_are_final_and_throttling_is_retried(
    tenant: Tenant, graph: FakeGraph, db: Database
) -> None:
    public_id = await connect(tenant, "messenger", graph, page_id=PAGE_ID)
    conversation_id = await _buyer_wrote(tenant, "messenger", public_id, "meta/messenger_text.json")
    graph.refusals[PSID] = (400, fixture("meta/graph_error_unavailable.json"))
    refused = (await reply(tenant, conversation_id, "Are you there?")).json()
    dead = await settled(tenant, conversation_id, refused["id"], "dead")
    assert dead["delivery_state"] == "dead"
    assert "(#551) This person isn't available right now." in dead["meta"]["delivery_error"]
    assert TOKEN not in json.dumps(dead)
    graph.refusals[PSID] = (400, fixture("meta/graph_error_rate_limit.json"))
    throttled = (await reply(tenant, conversation_id, "Try again")).json()
    failed = await settled(tenant, conversation_id, throttled["id"], "failed")
    assert failed["delivery_state"] == "failed"  # queued for another attempt, not dead
    assert "613" in failed["meta"]["delivery_error"]
    del graph.refusals[PSID]  # the limit is lifted; skip the backoff wait and the retry goes out
    async with db.transaction(tenant.workspace_id) as session:
        await session.execute(
            update(OutboxItem)
            .where(OutboxItem.message_id == throttled["id"])
            .values(next_attempt_at=utcnow())
        )
    assert (await settled(tenant, conversation_id, throttled["id"], "sent"))["delivery_state"] == "sent"
    assert [body["message"]["text"] for _, _, body in graph.sent()] == [
        "Are you there?",
        "Try again",
        "Try again",
    ]


# ---- hostile payloads ----


def _text_body(text: str = "hi", **event: Any) -> bytes:
    body = fixture("meta/messenger_text.json")
    found = body["entry"][0]["messaging"][0]
    found["message"]["text"] = text
    found.update(event)
    return json.dumps(body).encode()


HOSTILE = {
    "lone surrogate": _text_body().replace(b'"hi"', b'"\\ud800"'),
    "NUL in text": _text_body("before\x00after"),
    "text too long": _text_body("x" * 20_001),
    "timestamp past year 9999": _text_body(timestamp=10**20),
    "negative timestamp": _text_body(timestamp=-1),
    "sender id with spaces": _text_body(sender={"id": "12 34"}),
    "sender id a number": _text_body(sender={"id": 7034958120387465}),
    "NUL in attachment name": _text_body(
        message={"mid": "m_1", "attachments": [{"type": "file", "payload": {"url": "https://x/%00"}}]}
    ),
    "deeply nested": b'{"object": "page", "entry": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "entry not a list": b'{"object": "page", "entry": {}}',
    "no object": b'{"entry": []}',
    "not JSON": b"hub.mode=subscribe",
}


async def test_hostile_deliveries_are_422_and_store_nothing(tenant: Tenant) -> None:
    public_id = await connect(tenant, "messenger")
    failures = []
    for case, raw in HOSTILE.items():
        response = await post_hook(tenant, "messenger", public_id, raw)
        if response.status_code != 422 or not response.json().get("detail"):
            failures.append(f"{case}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
    assert await stored(tenant) == (0, 0)


IDS = st.sampled_from([PSID, PAGE_ID, "", "x" * 101, "12 34", "é", "1:2"]) | JSON_VALUES
TIMES = st.integers() | st.sampled_from([0, 1718121600312, 10**20, -1]) | JSON_VALUES
URLS = (
    st.sampled_from(
        ["http://[::1/a.jpg", "https://x/%00.jpg", "https://x/%FF%FE", "https://x/" + "a" * 2100, ""]
    )
    | st.text(max_size=30)
    | JSON_VALUES
)
ATTACHMENTS = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["image", "file", "video", "fallback", "template"]) | JSON_VALUES},
        optional={"payload": st.fixed_dictionaries({}, optional={"url": URLS})},
    ),
    max_size=3,
)
MESSAGES = st.fixed_dictionaries(
    {"mid": st.text(max_size=40) | JSON_VALUES},
    optional={
        "text": st.text(max_size=50) | JSON_VALUES,
        "is_echo": st.booleans() | JSON_VALUES,
        "attachments": ATTACHMENTS | JSON_VALUES,
        "reply_to": st.fixed_dictionaries({"mid": IDS}) | JSON_VALUES,
    },
)
EVENTS = st.fixed_dictionaries(
    {"sender": st.fixed_dictionaries({"id": IDS}), "recipient": st.fixed_dictionaries({"id": IDS})},
    optional={
        "timestamp": TIMES,
        "message": MESSAGES | JSON_VALUES,
        "delivery": st.fixed_dictionaries(
            {}, optional={"mids": st.lists(IDS, max_size=2), "watermark": TIMES}
        ),
        "read": st.fixed_dictionaries({}, optional={"watermark": TIMES, "mid": IDS}),
    },
)
NEAR_DELIVERIES = st.fixed_dictionaries(
    {
        "object": st.sampled_from(["page", "instagram"]) | JSON_VALUES,
        "entry": st.lists(
            st.fixed_dictionaries(
                {"id": IDS}, optional={"messaging": st.lists(EVENTS, max_size=3) | JSON_VALUES}
            ),
            max_size=2,
        )
        | JSON_VALUES,
    }
)


def parse_only_rejects(kind: str, raw: bytes, config: dict[str, Any]) -> None:
    """The adapter's verify and parse on a properly signed body: they may refuse it, nothing else."""
    adapter = ADAPTERS[kind]
    account = Account(1, 1, kind, "p", "s", config, {"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN})
    request = WebhookRequest("POST", {"x-hub-signature-256": sign(raw)}, {}, raw)
    adapter.verify(account, request)
    try:
        adapter.parse(account, request)
    except Rejected as exc:
        assert 400 <= exc.status < 500


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=200) | NEAR_DELIVERIES.map(lambda p: json.dumps(p).encode()))
def test_parse_only_ever_refuses(payload: bytes) -> None:
    for kind in ("messenger", "instagram"):
        parse_only_rejects(kind, payload, {})


@pytest.fixture
async def messenger_hook(tenant: Tenant) -> str:
    return f"/hooks/messenger/{await connect(tenant, 'messenger')}"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=JSON_VALUES | NEAR_DELIVERIES)
def test_random_signed_payloads_get_2xx_or_4xx(tenant: Tenant, messenger_hook: str, payload: Any) -> None:
    assert_4xx_at_worst(tenant, messenger_hook, json.dumps(payload).encode())


def assert_4xx_at_worst(tenant: Tenant, path: str, raw: bytes) -> None:
    headers = {"content-type": "application/json", "x-hub-signature-256": sign(raw)}
    # No keep-alive: a connection the server drops after an error must not fail the next example.
    with httpx.Client(base_url=tenant.server.url, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        response = client.post(path, content=raw, headers=headers)
    assert response.status_code in (200, 422), (response.status_code, response.text[:300], raw[:300])
    assert response.headers["content-type"].startswith("application/json")
