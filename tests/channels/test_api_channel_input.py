"""The API channel's inbound endpoint under bad input.

Acknowledged (2xx) only after the commit; stored once however often it is posted; every bad request
(signature, shape, size, unknown channel) gets a clear 4xx with a JSON error and stores nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from crossdesk.channels.signing import sign
from crossdesk.conversations.models import Message
from crossdesk.db import Database
from tests.conftest import Tenant
from tests.support import inbound

LIMIT = 1_000_000  # Settings.max_body_bytes default


def raw_of(body: dict[str, Any] | bytes) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


async def post_raw(
    tenant: Tenant, raw: bytes, headers: dict[str, str], url: str | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=60) as client:
        return await client.post(url or tenant.inbound_url(), content=raw, headers=headers)


async def stored(tenant: Tenant) -> tuple[int, int]:
    """What the workspace holds: (conversations, last event id)."""
    async with tenant.client() as client:
        conversations = (await client.get("/api/v1/conversations?limit=200")).json()["items"]
        events = (await client.get("/api/v1/events?limit=1000")).json()
    return len(conversations), events["last_id"]


def is_json_error(response: httpx.Response) -> bool:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return False
    body = response.json()
    return isinstance(body, dict) and bool(body.get("detail"))


def assert_json_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json"), response.headers
    assert response.json()["detail"], response.text


async def messages_with(db: Database, tenant: Tenant, platform_message_id: str) -> int:
    async with db.transaction(tenant.workspace_id) as session:
        stmt = (
            select(func.count())
            .select_from(Message)
            .where(Message.platform_message_id == platform_message_id)
        )
        return int(await session.scalar(stmt) or 0)


# ---- acknowledged after commit, stored once ----


async def test_acknowledged_message_is_already_committed(tenant: Tenant, db: Database) -> None:
    async with tenant.client() as client:
        response = await inbound.post(client, tenant, inbound.message("Is it shipped?"))
    assert response.status_code == 201, response.text
    # A separate connection sees the row the moment the 201 arrives: the commit came first.
    async with db.transaction(tenant.workspace_id) as session:
        message = await session.get(Message, response.json()["message_id"])
    assert message is not None and message.text == "Is it shipped?"


async def test_posted_ten_times_or_concurrently_is_stored_once(tenant: Tenant, db: Database) -> None:
    async with tenant.client() as client:
        serial = inbound.message("Posted ten times")
        statuses = [(await inbound.post(client, tenant, serial)).status_code for _ in range(10)]
        concurrent = inbound.message("Posted ten times at once")
        responses = await asyncio.gather(*(inbound.post(client, tenant, concurrent) for _ in range(10)))
    assert statuses == [201] + [200] * 9
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["message_id"] for r in responses}) == 1
    assert await messages_with(db, tenant, serial["platform_message_id"]) == 1
    assert await messages_with(db, tenant, concurrent["platform_message_id"]) == 1


# ---- signatures ----


def _signed(secret: str, ts: int | str, raw: bytes, signature: str | None = None) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-crossdesk-timestamp": str(ts),
        "x-crossdesk-signature": signature if signature is not None else sign(secret, int(ts), raw),
    }


BAD_SIGNATURES: dict[str, Callable[[str, bytes], dict[str, str]]] = {
    "no headers": lambda secret, raw: {"content-type": "application/json"},
    "no signature": lambda secret, raw: {"x-crossdesk-timestamp": str(int(time.time()))},
    "no timestamp": lambda secret, raw: {"x-crossdesk-signature": sign(secret, int(time.time()), raw)},
    "other secret": lambda secret, raw: _signed("not-the-secret", int(time.time()), raw),
    "other body": lambda secret, raw: _signed(
        secret, int(time.time()), raw, sign(secret, int(time.time()), b"{}")
    ),
    "garbage signature": lambda secret, raw: _signed(secret, int(time.time()), raw, "sha256=zz"),
    "expired": lambda secret, raw: _signed(secret, int(time.time()) - 400, raw),
    "from the future": lambda secret, raw: _signed(secret, int(time.time()) + 400, raw),
    "timestamp not an integer": lambda secret, raw: _signed(secret, "soon", raw, sign(secret, 0, raw)),
    "timestamp a float": lambda secret, raw: _signed(secret, f"{time.time():.3f}", raw, "sha256=00"),
    "timestamp empty": lambda secret, raw: _signed(secret, "", raw, "sha256=00"),
}


async def test_bad_signatures_are_401_and_store_nothing(tenant: Tenant) -> None:
    bodies = {case: raw_of(inbound.message(f"signature case: {case}")) for case in BAD_SIGNATURES}
    failures = []
    for case, headers_for in BAD_SIGNATURES.items():
        response = await post_raw(tenant, bodies[case], headers_for(tenant.channel_secret, bodies[case]))
        if response.status_code != 401 or not is_json_error(response):
            failures.append(f"{case}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
    assert await stored(tenant) == (0, 0)
    # Signed properly, the very same messages are new (201, not 200): the refused ones left no trace.
    for raw in bodies.values():
        good = await post_raw(tenant, raw, inbound.signed_headers(tenant.channel_secret, raw))
        assert good.status_code == 201, good.text


async def test_unknown_or_inactive_channel_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    raw = raw_of(inbound.message("to nowhere"))
    headers = inbound.signed_headers(tenant.channel_secret, raw)
    for public_id in ("does-not-exist", "", "x" * 300, tenant.channel_public_id.upper()):
        response = await post_raw(tenant, raw, headers, f"/api/v1/channels/api/{public_id}/messages")
        assert response.status_code == 404, (public_id, response.text)  # "" does not match the route
        assert response.json()["detail"]
    async with tenant.client() as client:
        channel_id = (await client.get("/api/v1/channels")).json()[0]["id"]
        off = await client.patch(f"/api/v1/channels/{channel_id}", json={"is_active": False})
        assert off.status_code == 200, off.text
    assert_json_error(await post_raw(tenant, raw, headers), 404)
    assert await stored(tenant) == (0, 0)
    # The other workspace's channel does not take this workspace's signature either.
    other = await post_raw(tenant, raw, headers, other_tenant.inbound_url())
    assert_json_error(other, 401)
    assert await stored(other_tenant) == (0, 0)


# ---- shape ----


def _with(**changes: Any) -> bytes:
    body = inbound.message("shape case")
    for key, value in changes.items():
        if key.startswith("sender_"):
            body["sender"][key[len("sender_") :]] = value
        else:
            body[key] = value
    return raw_of(body)


BAD_BODIES: dict[str, bytes] = {
    "empty body": b"",
    "truncated JSON": b'{"platform_message_id": "x", "text": "hi"',
    "not JSON": b"Where is my order?",
    "invalid UTF-8": b'{"text": "\xff\xfe"}',
    "JSON array": b"[]",
    "JSON null": b"null",
    "JSON string": b'"hello"',
    "NaN": b'{"platform_message_id": NaN}',
    "text is a number": _with(text=123),
    "text is null": _with(text=None),
    "sender is a string": _with(sender="hans@example.de"),
    "platform id is a number": _with(platform_message_id=5),
    "platform id empty": _with(platform_message_id=""),
    "attachments not a list": _with(attachments="file.pdf"),
    "identities not a list": _with(sender_identities={"kind": "ebay", "value": "x"}),
    "identity kind invalid": _with(sender_identities=[{"kind": "Bad Kind!", "value": "x"}]),
    "identity value blank": _with(sender_identities=[{"kind": "ebay_user", "value": "   "}]),
    "country not ISO": _with(sender_country="Germany"),
    "language not a code": _with(language="English please"),
    "extra field": _with(is_admin=True),
    "text too long": _with(text="x" * 20_001),
    "subject too long": _with(subject="s" * 501),
    "invalid e-mail": _with(sender_email="not-an-email"),
    "e-mail without domain": _with(sender_email="hans@"),
    "phone too short": _with(sender_email=None, sender_phone="1"),
    "phone with unknown country code": _with(sender_phone="+999 1234 5678"),
    "phone of letters": _with(sender_phone="call me maybe"),
    "naive datetime": _with(sent_at="2024-05-01T10:00:00"),
    "datetime nonsense": _with(sent_at="yesterday"),
    "sender without identity": _with(sender={"name": "Only A Name"}),
    "empty sender": _with(sender={}),
}


async def test_bad_bodies_are_422_and_store_nothing(tenant: Tenant) -> None:
    failures = []
    for case, raw in BAD_BODIES.items():
        before = await stored(tenant)
        response = await post_raw(tenant, raw, inbound.signed_headers(tenant.channel_secret, raw))
        after = await stored(tenant)
        if response.status_code != 422 or not is_json_error(response) or after != before:
            failures.append(
                f"{case}: {response.status_code} {response.text[:200]} stored {before} -> {after}"
            )
    assert not failures, "\n".join(failures)
    assert await stored(tenant) == (0, 0)


async def test_longest_text_is_accepted_whole(tenant: Tenant) -> None:
    text = "ü" * 20_000
    async with tenant.client() as client:
        response = await inbound.post(client, tenant, inbound.message(text))
        assert response.status_code == 201, response.text
        detail = (await client.get(f"/api/v1/conversations/{response.json()['conversation_id']}")).json()
    assert detail["messages"][0]["text"] == text


async def test_nul_characters_are_stored_exactly_or_refused(tenant: Tenant) -> None:
    """PostgreSQL text cannot hold NUL: refusing it (422) is fine, a 500 is not."""
    body = inbound.message(
        "before\x00after", sender={"name": "N\x00L", "email": f"n-{uuid.uuid4().hex}@example.com"}
    )
    async with tenant.client() as client:
        response = await inbound.post(client, tenant, body)
        assert response.status_code in (201, 422), response.text[:300]
        if response.status_code == 422:
            assert await stored(tenant) == (0, 0)
            return
        detail = (await client.get(f"/api/v1/conversations/{response.json()['conversation_id']}")).json()
    assert detail["messages"][0]["text"] == "before\x00after"


# ---- size ----


def _oversize() -> bytes:
    return raw_of(inbound.message("x" * (LIMIT + 10)))


async def test_oversize_body_with_length_is_413(tenant: Tenant) -> None:
    raw = _oversize()
    response = await post_raw(tenant, raw, inbound.signed_headers(tenant.channel_secret, raw))
    assert_json_error(response, 413)
    assert await stored(tenant) == (0, 0)


async def test_oversize_chunked_body_is_413(tenant: Tenant) -> None:
    raw = _oversize()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 64 * 1024):
            yield raw[start : start + 64 * 1024]

    headers = inbound.signed_headers(tenant.channel_secret, raw)
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=60) as client:
        request = client.build_request("POST", tenant.inbound_url(), content=chunks(), headers=headers)
        assert "content-length" not in request.headers and request.headers["transfer-encoding"] == "chunked"
        response = await client.send(request)
    assert_json_error(response, 413)
    assert await stored(tenant) == (0, 0)
    # The server is fine afterwards.
    async with tenant.client() as client:
        assert (await inbound.post(client, tenant, inbound.message("still here"))).status_code == 201


# ---- property-based: random payloads, signed, never a 5xx; valid ones stored exactly ----

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
NEAR_SENDER = st.fixed_dictionaries(
    {},
    optional={
        "name": st.none() | st.text(max_size=20) | JSON_VALUES,
        "email": st.sampled_from(["a@example.com", "bad", "", "x@y"]) | JSON_VALUES,
        "phone": st.sampled_from(["+4930123456", "12", "", "+1 (555) 010-0000"]) | JSON_VALUES,
        "country": st.sampled_from(["DE", "de", "XX", ""]) | JSON_VALUES,
        "identities": st.lists(
            st.fixed_dictionaries({"kind": st.sampled_from(["ebay_user", "x", "Bad"]), "value": JSON_VALUES}),
            max_size=3,
        )
        | JSON_VALUES,
    },
)
NEAR_MESSAGES = st.fixed_dictionaries(
    {
        "platform_message_id": st.text(min_size=1, max_size=20) | JSON_VALUES,
        "text": st.text(max_size=50) | JSON_VALUES,
        "sender": NEAR_SENDER | JSON_VALUES,
    },
    optional={
        "sent_at": st.sampled_from(["2024-05-01T10:00:00Z", "2024-05-01T10:00:00", "x"]) | JSON_VALUES,
        "attachments": st.lists(st.fixed_dictionaries({"name": st.text(max_size=10)}), max_size=2)
        | JSON_VALUES,
        "thread_key": st.text(max_size=10) | JSON_VALUES,
        "language": st.sampled_from(["de", "zh-CN", "??"]) | JSON_VALUES,
        "unknown": JSON_VALUES,
    },
)


def _sync_client(tenant: Tenant) -> httpx.Client:
    # No keep-alive: a connection the server drops after an error must not fail the next example.
    return httpx.Client(
        base_url=tenant.server.url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
    )


def _post_sync(client: httpx.Client, tenant: Tenant, raw: bytes) -> httpx.Response:
    return client.post(
        tenant.inbound_url(), content=raw, headers=inbound.signed_headers(tenant.channel_secret, raw)
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=JSON_VALUES | NEAR_MESSAGES)
def test_random_payloads_never_5xx(tenant: Tenant, payload: Any) -> None:
    raw = json.dumps(payload).encode()  # NaN and Infinity come out as invalid JSON, which is fine too
    with _sync_client(tenant) as client:
        response = _post_sync(client, tenant, raw)
    assert response.status_code in (200, 201, 422), (response.status_code, response.text[:300], raw[:300])
    assert response.headers["content-type"].startswith("application/json")


# NUL is left to test_nul_characters_are_stored_exactly_or_refused; every other code point must round-trip.
CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
HTML = [
    "<script>alert(1)</script>",
    "<b>bold</b>",
    "&amp; &lt;",
    "<img src=x onerror=alert(1)>",
    "]]>",
    "{{ 7*7 }}",
]
TEXTS = st.text(CHARS, max_size=300) | st.tuples(
    st.text(CHARS, max_size=40), st.sampled_from(HTML), st.text(CHARS, max_size=40)
).map("".join)
NAMES = st.none() | st.text(CHARS, max_size=200) | st.sampled_from(HTML)
IDENTITY = st.tuples(
    st.from_regex(r"[a-z][a-z0-9_]{1,39}", fullmatch=True).filter(lambda k: k not in ("email", "phone")),
    st.text(CHARS, min_size=1, max_size=60).filter(lambda v: v == v.strip()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=TEXTS,
    name=NAMES,
    subject=st.none() | st.text(CHARS, max_size=500),
    identities=st.lists(IDENTITY, max_size=3, unique_by=lambda i: i[0]),
)
def test_valid_messages_are_stored_exactly(
    tenant: Tenant, text: str, name: str | None, subject: str | None, identities: list[tuple[str, str]]
) -> None:
    # Fresh e-mail and identity values, so each example is a new customer whose profile shows these values.
    tag = uuid.uuid4().hex
    ids = [{"kind": kind, "value": f"{tag}{value}"} for kind, value in identities]
    sender = {"name": name, "email": f"p-{tag}@example.com", "identities": ids}
    body = inbound.message(text, sender=sender, subject=subject)
    with _sync_client(tenant) as client:
        response = _post_sync(client, tenant, raw_of(body))
        assert response.status_code == 201, (response.status_code, response.text[:300])
        conversation_id = response.json()["conversation_id"]
        detail = client.get(f"/api/v1/conversations/{conversation_id}", headers=tenant.auth).json()
    assert [m["text"] for m in detail["messages"]] == [text]
    assert detail["conversation"]["subject"] == subject
    assert detail["customer"]["name"] == name
    stored_ids = {(i["kind"], i["value"]) for i in detail["customer"]["identities"]}
    assert {(i["kind"], i["value"]) for i in ids} <= stored_ids
