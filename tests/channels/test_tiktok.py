"""TikTok Shop: customer-service webhooks in (signed with the app secret over app key + body), replies out
through Send Message, signed as TikTok's API signs, against a fake TikTok Shop API that checks it all."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
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
from crossdesk.channels.kinds.tiktok import TikTokAdapter
from crossdesk.channels.models import OutboxItem
from crossdesk.channels.outbox import OutboxWorker
from crossdesk.conversations import service as conversations
from crossdesk.db import Database, utcnow
from tests.conftest import Tenant
from tests.support.platform import FakePlatform
from tests.support.replies import reply_reaching

FIXTURES = Path(__file__).parent / "fixtures" / "tiktok"
APP_KEY = "6a6k2m3t9pq1"
APP_SECRET = "4eb5c7f0a1d2e3b4c5d6e7f8a9b0c1d2e3f4a5b6"
ACCESS_TOKEN = "ROW_CBxxAAAAtestaccesstoken"
SHOP_CIPHER = "ROW_Y-vWxxAAAAtestcipher"
SEND_PATH = "/customer_service/202309/conversations/{conversation_id}/messages"
CONVERSATION_ID = "710688832392260838"
ADAPTER = TikTokAdapter()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signature(raw: bytes, secret: str = APP_SECRET, app_key: str = APP_KEY) -> str:
    return hmac.new(secret.encode(), app_key.encode() + raw, hashlib.sha256).hexdigest()


def signed(raw: bytes) -> dict[str, str]:
    return {"content-type": "application/json", "authorization": signature(raw)}


def reference_sign(secret: str, path: str, query: dict[str, str], body: bytes) -> str:
    """TikTok's "Sign your API request", written out step by step as the docs give it."""
    params = {k: v for k, v in query.items() if k not in ("sign", "access_token")}
    text = path + "".join(k + params[k] for k in sorted(params)) + body.decode()
    return hmac.new(secret.encode(), (secret + text + secret).encode(), hashlib.sha256).hexdigest()


async def make_account(tenant: Tenant, api_base: str | None = None) -> dict[str, Any]:
    config = {"app_key": APP_KEY, "shop_cipher": SHOP_CIPHER}
    if api_base:
        config["api_base"] = api_base
    credentials = {"app_secret": APP_SECRET, "access_token": ACCESS_TOKEN}
    async with tenant.client() as client:
        created = await client.post(
            "/api/v1/channels/tiktok",
            json={"name": "TikTok Shop", "config": config, "credentials": credentials},
        )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def post_hook(tenant: Tenant, public_id: str, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as client:
        return await client.post(f"/hooks/tiktok/{public_id}", content=raw, headers=headers)


async def stored(tenant: Tenant) -> tuple[int, int]:
    """What the workspace holds: (conversations, last event id)."""
    async with tenant.client() as client:
        items = (await client.get("/api/v1/conversations?limit=200")).json()["items"]
        events = (await client.get("/api/v1/events?limit=1000")).json()
    return len(items), events["last_id"]


async def only_conversation(client: httpx.AsyncClient) -> dict[str, Any]:
    (item,) = (await client.get("/api/v1/conversations")).json()["items"]
    return dict((await client.get(f"/api/v1/conversations/{item['id']}")).json())


def webhook(data: dict[str, Any]) -> bytes:
    body = json.loads(fixture("new_message_text.json"))
    body["data"].update(data)
    return json.dumps(body).encode()


def text_content(text: str) -> str:
    return json.dumps({"content": text})


# ---- inbound ----


async def test_buyer_message_is_stored_once_and_threaded_by_conversation(tenant: Tenant) -> None:
    account = await make_account(tenant)
    raw = fixture("new_message_text.json")
    first = await post_hook(tenant, account["public_id"], raw, signed(raw))
    again = await post_hook(tenant, account["public_id"], raw, signed(raw))
    assert (first.status_code, first.json()) == (200, {"received": 1, "stored": 1}), first.text
    assert (again.status_code, again.json()) == (200, {"received": 1, "stored": 0}), again.text
    image = fixture("new_message_image.json")
    assert (await post_hook(tenant, account["public_id"], image, signed(image))).json()["stored"] == 1
    async with tenant.client() as client:
        detail = await only_conversation(client)
    text, picture = detail["messages"]
    assert detail["conversation"]["channel"] == "tiktok"
    assert text["text"] == "Hi! Does the blue hoodie run small? I usually wear an M."
    assert text["platform_message_id"] == "722323407926368819"
    assert text["sent_at"].startswith("2023-04-18T03:57:26")
    assert picture["text"] == "" and picture["attachments"][0]["url"].startswith(
        "https://p16-oec-va.ibyteimg.com/"
    )
    assert picture["attachments"][0]["content_type"] == "image/*"
    identities = {(i["kind"], i["value"]) for i in detail["customer"]["identities"]}
    assert ("tiktok_buyer", "707885565181165594") in identities


async def test_shop_system_and_other_topics_store_nothing(tenant: Tenant) -> None:
    account = await make_account(tenant)
    system = webhook({"message_id": "9001", "sender": {"im_user_id": "1", "role": "SYSTEM"}})
    hidden = webhook({"message_id": "9002", "is_visible": False})
    card = webhook({"message_id": "9003", "type": "PRODUCT_CARD", "content": '{"product_id": "12345"}'})
    for raw in (
        fixture("new_message_from_shop.json"),
        fixture("order_status_change.json"),
        system,
        hidden,
        card,
    ):
        response = await post_hook(tenant, account["public_id"], raw, signed(raw))
        assert (response.status_code, response.json()) == (200, {"received": 0, "stored": 0}), response.text
    assert (await stored(tenant))[0] == 0


BAD_SIGNATURES = {
    "no header": lambda raw: {"content-type": "application/json"},
    "empty": lambda raw: {"authorization": ""},
    "other secret": lambda raw: {"authorization": signature(raw, secret="not-the-secret")},
    "other app key": lambda raw: {"authorization": signature(raw, app_key="other-app")},
    "other body": lambda raw: {"authorization": signature(raw + b" ")},
    "body only, no app key": lambda raw: {"authorization": signature(raw, app_key="")},
    "bearer prefix": lambda raw: {"authorization": "Bearer " + signature(raw)},
    "truncated": lambda raw: {"authorization": signature(raw)[:-2]},
    "garbage": lambda raw: {"authorization": "zz" * 32},
}


async def test_forged_or_missing_signature_is_401_and_stores_nothing(tenant: Tenant) -> None:
    account = await make_account(tenant)
    raw = fixture("new_message_text.json")
    before = await stored(tenant)
    failures = []
    for case, headers_for in BAD_SIGNATURES.items():
        response = await post_hook(tenant, account["public_id"], raw, headers_for(raw))
        if response.status_code != 401 or not response.json().get("detail"):
            failures.append(f"{case}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
    assert await stored(tenant) == before
    # Uppercase hex is the same signature; the message left no trace, so it is new now.
    ok = await post_hook(tenant, account["public_id"], raw, {"authorization": signature(raw).upper()})
    assert ok.json() == {"received": 1, "stored": 1}


def _account(config: dict[str, Any] | None = None, credentials: dict[str, str] | None = None) -> Account:
    return Account(
        id=1,
        workspace_id=1,
        kind="tiktok",
        public_id="p",
        secret="s",
        config=config if config is not None else {"app_key": APP_KEY},
        credentials=credentials if credentials is not None else {"app_secret": APP_SECRET},
    )


def _hook(raw: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(method="POST", headers=headers, query={}, body=raw)


def test_verify_refuses_what_no_account_could_have_signed() -> None:
    raw = fixture("new_message_text.json")
    cases = {
        "no secret set": (_account(credentials={}), signed(raw)),
        "no app key set": (_account(config={}), signed(raw)),
        "non-ASCII header": (_account(), {"authorization": "é" * 64}),
    }
    for case, (account, headers) in cases.items():
        with pytest.raises(Rejected) as refused:
            ADAPTER.verify(account, _hook(raw, headers))
        assert refused.value.status == 401, case
    ADAPTER.verify(_account(), _hook(raw, signed(raw)))  # and the right one passes


BAD_BODIES = {
    "empty": b"",
    "not JSON": b"new message!",
    "invalid UTF-8": b'{"type": 14, "data": "\xff"}',
    "JSON array": b"[]",
    "type missing": b'{"data": {}}',
    "data missing": b'{"type": 14}',
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "content not JSON": webhook({"content": "hello"}),
    "content a JSON string": webhook({"content": '"hello"'}),
    "text missing": webhook({"content": '{"text": "hello"}'}),
    "text a number": webhook({"content": '{"content": 5}'}),
    "image without url": webhook({"type": "IMAGE", "content": '{"width": 3}'}),
    "conversation id with a slash": webhook({"conversation_id": "../../orders"}),
    "conversation id a number": webhook({"conversation_id": 710688832392260838}),
    "sender missing": webhook({"sender": None}),
    "buyer id empty": webhook({"sender": {"im_user_id": "", "role": "BUYER"}}),
    "buyer id blank": webhook({"sender": {"im_user_id": "   ", "role": "BUYER"}}),
    "create_time absurd": webhook({"create_time": 10**15}),
    "text too long": webhook({"content": text_content("x" * 20_001)}),
    "NUL in text": webhook({"content": text_content("a\x00b")}),
}


async def test_malformed_webhooks_are_422_and_store_nothing(tenant: Tenant) -> None:
    account = await make_account(tenant)
    before = await stored(tenant)
    failures = []
    for case, raw in BAD_BODIES.items():
        response = await post_hook(tenant, account["public_id"], raw, signed(raw))
        if response.status_code != 422 or not response.json().get("detail"):
            failures.append(f"{case}: {response.status_code} {response.text[:200]}")
        elif APP_SECRET in response.text or ACCESS_TOKEN in response.text:
            failures.append(f"{case}: the refusal shows a secret")
    assert not failures, "\n".join(failures)
    assert await stored(tenant) == before


# ---- outbound ----


class FakeTikTok:
    """TikTok Shop's Send Message endpoint: checks the token, the parameters and the signature as TikTok
    does, and answers with the queued answers (fixtures), then with success."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.platform = FakePlatform({("POST", SEND_PATH): self.send_message})

    async def send_message(self, request: Request, body: bytes) -> Response:
        query = dict(request.query_params)
        if request.headers.get("x-tts-access-token") != ACCESS_TOKEN:
            return JSONResponse({"code": 105002, "message": "Invalid access token."}, status_code=401)
        if query.get("sign") != reference_sign(APP_SECRET, request.url.path, query, body):
            return Response(fixture("invalid_signature.json"), media_type="application/json")
        problems = []
        if query.get("app_key") != APP_KEY or query.get("shop_cipher") != SHOP_CIPHER:
            problems.append("app_key or shop_cipher")
        if abs(int(query.get("timestamp", "0")) - time.time()) > 300:
            problems.append("timestamp")
        if not request.headers.get("content-type", "").startswith("application/json"):
            problems.append("content-type")
        message = json.loads(body)
        if message.get("type") != "TEXT" or not isinstance(
            json.loads(message["content"]).get("content"), str
        ):
            problems.append("body")
        if problems:
            return JSONResponse({"code": 36009004, "message": f"Invalid parameters: {problems}"})
        name = self.answers.pop(0) if self.answers else "send_message_ok.json"
        return Response(fixture(name), media_type="application/json")


async def _conversation_through(tenant: Tenant, api_url: str) -> int:
    account = await make_account(tenant, api_url)
    raw = fixture("new_message_text.json")
    posted = await post_hook(tenant, account["public_id"], raw, signed(raw))
    assert posted.json()["stored"] == 1, posted.text
    async with tenant.client() as client:
        return int((await only_conversation(client))["conversation"]["id"])


async def test_agent_reply_is_sent_signed_to_the_conversation(tenant: Tenant) -> None:
    fake = FakeTikTok()
    text = "It runs true to size: an M fits you. Grüße & <thanks>! 👍"
    with fake.platform.running() as api:
        conversation_id = await _conversation_through(tenant, api.url)
        async with tenant.client() as client:
            posted = await client.post(
                f"/api/v1/conversations/{conversation_id}/messages", json={"text": text}
            )
            assert posted.status_code == 201, posted.text
            reply = await reply_reaching(client, conversation_id, "sent")
    assert reply["delivery_state"] == "sent", reply
    assert reply["platform_message_id"] == "7494560109732334999"
    (seen,) = fake.platform.seen
    assert seen.path == SEND_PATH.format(conversation_id=CONVERSATION_ID)
    assert seen.query["sign"] == reference_sign(APP_SECRET, seen.path, seen.query, seen.body)
    assert seen.headers["x-tts-access-token"] == ACCESS_TOKEN
    assert seen.json()["type"] == "TEXT"
    assert json.loads(seen.json()["content"]) == {"content": text}


async def test_a_reply_too_long_for_tiktok_is_refused_up_front(tenant: Tenant) -> None:
    with FakeTikTok().platform.running() as api:
        conversation_id = await _conversation_through(tenant, api.url)
        async with tenant.client() as client:
            url = f"/api/v1/conversations/{conversation_id}/messages"
            refused = await client.post(url, json={"text": "x" * 2001})
            accepted = await client.post(url, json={"text": "x" * 2000})
    assert refused.status_code == 422 and "2000" in refused.text
    assert accepted.status_code == 201, accepted.text


async def _make_due(db: Database, workspace_id: int, message_id: int) -> None:
    async with db.transaction(workspace_id) as session:
        await session.execute(
            update(OutboxItem).where(OutboxItem.message_id == message_id).values(next_attempt_at=utcnow())
        )


async def test_rate_limits_are_retried_and_refusals_are_dead_with_tiktoks_reason(
    tenant: Tenant, db: Database
) -> None:
    fake = FakeTikTok()
    worker = OutboxWorker(db, conversations.outbound_payload, conversations.set_delivery_state)
    with fake.platform.running() as api:
        conversation_id = await _conversation_through(tenant, api.url)
        url = f"/api/v1/conversations/{conversation_id}/messages"
        async with tenant.client() as client:
            fake.answers = ["send_message_rate_limited.json"]
            await client.post(url, json={"text": "Retry me"})
            failed = await reply_reaching(client, conversation_id, "failed")
            assert failed["delivery_state"] == "failed", failed
            assert "36009002" in failed["meta"]["delivery_error"]
            await _make_due(db, tenant.workspace_id, failed["id"])  # skip the backoff wait
            await worker.run_once()
            assert (await reply_reaching(client, conversation_id, "sent"))["delivery_state"] == "sent"
            fake.answers = ["send_message_refused.json"]
            await client.post(url, json={"text": "No"})
            dead = await reply_reaching(client, conversation_id, "dead")
    await worker.close()
    assert dead["delivery_state"] == "dead", dead
    assert "cannot receive messages from the seller" in dead["meta"]["delivery_error"]
    assert len(fake.platform.seen) == 3  # the refusal was not retried


# ---- property-based ----

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
CONTENTS = st.one_of(
    st.builds(text_content, st.text(max_size=40)),
    st.builds(lambda url: json.dumps({"url": url}), st.text(max_size=30)),
    JSON_VALUES.map(json.dumps),
    st.text(max_size=20),
)
NEAR_DATA = st.fixed_dictionaries(
    {
        "message_id": st.text(min_size=1, max_size=20) | JSON_VALUES,
        "conversation_id": st.from_regex(r"[0-9]{1,20}", fullmatch=True) | JSON_VALUES,
        "type": st.sampled_from(["TEXT", "IMAGE", "VIDEO", "ORDER_CARD", "OTHER"]) | JSON_VALUES,
        "content": CONTENTS | JSON_VALUES,
        "sender": st.fixed_dictionaries(
            {
                "im_user_id": st.text(max_size=20) | JSON_VALUES,
                "role": st.sampled_from(["BUYER", "SHOP", "ROBOT"]) | JSON_VALUES,
            }
        )
        | JSON_VALUES,
    },
    optional={"create_time": st.integers() | JSON_VALUES, "is_visible": st.booleans() | JSON_VALUES},
)
NEAR_WEBHOOKS = st.fixed_dictionaries(
    {"type": st.just(14) | JSON_VALUES, "data": NEAR_DATA | JSON_VALUES},
    optional={"shop_id": JSON_VALUES, "timestamp": JSON_VALUES},
)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200) | (JSON_VALUES | NEAR_WEBHOOKS).map(lambda v: json.dumps(v).encode()))
def test_parse_only_ever_raises_rejections(raw: bytes) -> None:
    try:
        parsed = ADAPTER.parse(_account(), _hook(raw, signed(raw)))
    except Rejected as exc:
        assert 400 <= exc.status < 500
        return
    for message in parsed.messages:
        assert message.channel == "tiktok" and message.thread_key


@pytest.fixture
async def tiktok_public_id(tenant: Tenant) -> str:
    return str((await make_account(tenant))["public_id"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=JSON_VALUES | NEAR_WEBHOOKS)
def test_signed_random_webhooks_never_5xx(tenant: Tenant, tiktok_public_id: str, payload: Any) -> None:
    raw = json.dumps(payload).encode()
    # No keep-alive: a connection the server drops after an error must not fail the next example.
    with httpx.Client(
        base_url=tenant.server.url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
    ) as c:
        response = c.post(f"/hooks/tiktok/{tiktok_public_id}", content=raw, headers=signed(raw))
    assert response.status_code in (200, 422), (response.status_code, response.text[:300], raw[:300])
    assert response.headers["content-type"].startswith("application/json")
