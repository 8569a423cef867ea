"""The widget's HTTP endpoints on a live server: visitor tokens, CORS, rate limits, the message fallback,
and the script and stylesheet a shop page loads."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossdesk.channels.kinds.webchat import tokens
from crossdesk.db import Database
from tests.channels.webchat.support import (
    SHOP,
    Widget,
    make_widget,
    message_frame,
    post_message,
    session,
    visitor,
)
from tests.conftest import LiveServer, Tenant, make_tenant

EVIL = "https://evil.example.net"


# ---- visitor tokens ----


async def test_a_session_issues_a_token_for_a_new_visitor_and_renews_it(tenant: Tenant) -> None:
    widget = await make_widget(tenant, title="Ask Hans", greeting="Moin!", accent="#ff6600", languages=["de"])
    first = await session(widget)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["config"] == {
        "title": "Ask Hans",
        "greeting": "Moin!",
        "accent": "#ff6600",
        "languages": ["de"],
    }
    visitor = tokens.verify(widget.secret, widget.public_id, body["token"])
    assert visitor.expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(days=29)
    renewed = await session(widget, token=body["token"])
    assert (
        tokens.verify(widget.secret, widget.public_id, renewed.json()["token"]).visitor_id
        == visitor.visitor_id
    )
    another = await session(widget)
    assert (
        tokens.verify(widget.secret, widget.public_id, another.json()["token"]).visitor_id
        != visitor.visitor_id
    )


async def test_forged_expired_and_foreign_tokens_are_refused(tenant: Tenant, other_tenant: Tenant) -> None:
    widget, theirs = await make_widget(tenant), await make_widget(other_tenant)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    expired, _ = tokens.issue(widget.secret, widget.public_id, tokens.new_visitor_id(), now=past)
    forged, _ = tokens.issue("a guessed secret", widget.public_id, tokens.new_visitor_id())
    foreign = await visitor(theirs)  # a real token, of another workspace's widget
    for bad in (expired, forged, foreign, "not-a-token"):
        renewal = await session(widget, token=bad)
        assert renewal.status_code == 401, renewal.text
        assert "invalid visitor token" in renewal.json()["detail"]
        posted = await post_message(widget, bad, message_frame("let me in"))
        assert posted.status_code == 401, posted.text
    assert (await post_message(widget, None, message_frame("no token"))).status_code == 401


async def test_unknown_or_disabled_widgets_are_404(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    async with httpx.AsyncClient(timeout=30) as client:
        unknown = await client.post(f"{tenant.server.url}/widget/api/{uuid.uuid4().hex}/session")
        assert unknown.status_code == 404
        async with tenant.client() as admin:
            accounts = (await admin.get("/api/v1/channels")).json()
            account_id = next(a["id"] for a in accounts if a["public_id"] == widget.public_id)
            assert (
                await admin.patch(f"/api/v1/channels/{account_id}", json={"is_active": False})
            ).status_code == 200
    assert (await session(widget)).status_code == 404


# ---- the message fallback over HTTP ----


async def test_a_posted_message_is_stored_once(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    token = await visitor(widget)
    frame = message_frame("Do you ship to Norway?")
    first, again = await post_message(widget, token, frame), await post_message(widget, token, frame)
    assert (first.status_code, again.status_code) == (201, 200), (first.text, again.text)
    assert first.json()["id"] == again.json()["id"] and again.json()["duplicate"] is True
    async with tenant.client() as client:
        items = (await client.get("/api/v1/conversations", params={"channel": "webchat"})).json()["items"]
        (conversation,) = items
        detail = (await client.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert [m["text"] for m in detail["messages"]] == ["Do you ship to Norway?"]
    visitor_id = tokens.verify(widget.secret, widget.public_id, token).visitor_id
    assert {"kind": "webchat_visitor", "value": visitor_id} in [
        {"kind": i["kind"], "value": i["value"]} for i in detail["customer"]["identities"]
    ]


async def test_bad_messages_get_a_clear_4xx_and_store_nothing(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    token = await visitor(widget)
    bad = {
        "too long": message_frame("x" * 4001),
        "blank": message_frame("   \n "),
        "no client id": {"type": "message", "text": "hi"},
        "bad client id": message_frame("hi", client_id="../../etc"),
        "unknown field": message_frame("hi", assignee_id=1),
        "NUL": message_frame("a\x00b"),
        "bad e-mail": message_frame("hi", email="not an address"),
    }
    for why, frame in bad.items():
        response = await post_message(widget, token, frame)
        assert response.status_code == 422, (why, response.text)
        assert response.json()["detail"], why
    assert (await post_message(widget, token, b"{not json")).status_code == 422
    async with tenant.client() as client:
        assert (await client.get("/api/v1/conversations", params={"channel": "webchat"})).json()[
            "items"
        ] == []


@pytest.fixture(scope="module")
async def fuzzed_widget(db: Database, server: LiveServer) -> Widget:
    return await make_widget(await make_tenant(db, server, "Fuzz"))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=40),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
        max_leaves=12,
    )
    | st.fixed_dictionaries(
        {"client_id": st.text(max_size=70), "text": st.text(max_size=60)},
        optional={
            "email": st.text(max_size=40),
            "name": st.text(max_size=40),
            "language": st.text(max_size=12),
        },
    )
)
async def test_random_bodies_get_2xx_or_4xx_never_5xx(fuzzed_widget: Widget, body: object) -> None:
    widget = fuzzed_widget
    token, _ = tokens.issue(widget.secret, widget.public_id, tokens.new_visitor_id())  # a visitor each time
    response = await post_message(widget, token, json.dumps(body).encode())
    assert response.status_code in (200, 201, 422), response.text


# ---- CORS ----


async def test_cors_answers_only_allowed_origins(tenant: Tenant) -> None:
    widget = await make_widget(tenant, allowed_origins=[SHOP, "http://localhost:8000"])
    allowed = await session(widget, origin=SHOP)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == SHOP
    assert "Origin" in allowed.headers["vary"]
    refused = await session(widget, origin=EVIL)
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    assert (await session(widget, origin=None)).status_code == 403  # a list is set: the origin must be on it
    token = allowed.json()["token"]
    posted = await post_message(widget, token, message_frame("from a stolen token"), origin=EVIL)
    assert posted.status_code == 403 and "access-control-allow-origin" not in posted.headers
    ok = await post_message(widget, token, message_frame("from the shop"), origin="http://localhost:8000")
    assert ok.status_code == 201 and ok.headers["access-control-allow-origin"] == "http://localhost:8000"


async def test_preflight(tenant: Tenant) -> None:
    widget = await make_widget(tenant, allowed_origins=[SHOP])
    ask = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    async with httpx.AsyncClient(timeout=30) as client:
        for endpoint in ("session", "messages"):
            ok = await client.options(f"{widget.api}/{endpoint}", headers={"origin": SHOP, **ask})
            assert ok.status_code == 204, ok.text
            assert ok.headers["access-control-allow-origin"] == SHOP
            assert "POST" in ok.headers["access-control-allow-methods"]
            allowed_headers = ok.headers["access-control-allow-headers"].lower()
            assert "authorization" in allowed_headers and "content-type" in allowed_headers
            assert int(ok.headers["access-control-max-age"]) > 0
            refused = await client.options(f"{widget.api}/{endpoint}", headers={"origin": EVIL, **ask})
            assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
        assert (await client.options(f"{widget.api}/ws", headers={"origin": SHOP, **ask})).status_code == 404


async def test_no_list_means_any_origin(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    response = await session(widget, origin=EVIL)
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == EVIL


async def test_origins_are_validated_when_the_widget_is_set_up(tenant: Tenant) -> None:
    async with tenant.client() as client:
        for config in ({"allowed_origins": ["https://shop.example.com/checkout"]}, {"colour": "red"}):
            response = await client.post("/api/v1/channels/webchat", json={"name": "chat", "config": config})
            assert response.status_code == 422, response.text
        secret = await client.post(
            "/api/v1/channels/webchat", json={"name": "c", "credentials": {"token": "x"}}
        )
        assert secret.status_code == 422  # the widget takes no platform secrets


# ---- rate limits ----


async def test_too_many_messages_from_one_visitor_get_429_with_retry_after(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    token = await visitor(widget)
    statuses: list[int] = []
    while len(statuses) < 20 and 429 not in statuses:
        statuses.append(
            (await post_message(widget, token, message_frame(f"spam {len(statuses)}"))).status_code
        )
    assert statuses[-1] == 429 and set(statuses[:-1]) == {201}
    assert len(statuses) > 10  # the burst of 10 (plus what refilled meanwhile) went through
    refused = await post_message(widget, token, message_frame("one more"))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["access-control-allow-origin"] == SHOP  # the widget can read why
    assert (
        await post_message(widget, await visitor(widget), message_frame("another visitor"))
    ).status_code == 201


async def test_too_many_sessions_from_one_address_get_429(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    responses = []
    async with httpx.AsyncClient(timeout=30) as client:
        while len(responses) < 45 and (not responses or responses[-1].status_code == 200):
            responses.append(await client.post(f"{widget.api}/session", headers={"origin": SHOP}))
    refused = responses[-1]
    assert refused.status_code == 429, refused.text
    assert len(responses) > 30  # the burst of 30 (plus what refilled meanwhile) went through
    assert int(refused.headers["retry-after"]) >= 1


# ---- the assets ----


async def test_the_script_and_stylesheet_are_served_to_any_page(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as client:
        by_key = await client.get(f"/widget/{widget.public_id}.js")
        by_attribute = await client.get("/widget.js")
        style = await client.get("/widget/widget.css")
    assert by_key.status_code == by_attribute.status_code == style.status_code == 200
    assert by_key.headers["content-type"].startswith("text/javascript")
    assert style.headers["content-type"].startswith("text/css")
    assert by_key.headers["x-content-type-options"] == "nosniff"
    assert "attachShadow" in by_key.text and "innerHTML" not in by_key.text
