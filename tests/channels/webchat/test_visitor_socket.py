"""The visitor's socket on a live server: messages in exactly once, replies out live (notes never), resume
without gaps or repeats, one visitor never sees another's thread, typing both ways, receipts, the origin
check, and the e-mail that ties a visitor to a known customer."""

from __future__ import annotations

import json
import uuid

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from crossdesk.channels.kinds.webchat import tokens
from tests.channels.webchat.support import (
    SHOP,
    Frame,
    frames_until,
    is_reply,
    make_widget,
    message_frame,
    next_frame,
    opened,
    post_message,
    quiet,
    reply,
    send_and_store,
    until_state,
    visitor,
    visitor_socket,
    webchat_conversation,
)
from tests.conftest import Tenant
from tests.support import inbound

PUBLIC_FIELDS = {"id", "ref", "from", "text", "at"}


def messages(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f.get("type") == "message"]


async def test_a_message_sent_on_the_socket_is_stored_once_even_when_resent(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    token = await visitor(widget)
    frame = message_frame("Is the blue one in stock?")
    async with visitor_socket(widget, token) as ws:
        _, thread = await opened(ws)
        assert thread == []
        stored, echo = await send_and_store(ws, frame)
        echo = messages(echo)
        assert stored["duplicate"] is False
        assert echo[-1]["data"] == {
            "id": stored["id"],
            "ref": frame["client_id"],
            "from": "visitor",
            "text": "Is the blue one in stock?",
            "at": echo[-1]["data"]["at"],
        }
        last_id = echo[-1]["id"]
        ws.transport.abort()  # dropped before the widget saw the answer: it sends the message again
    async with visitor_socket(widget, token, last_event_id=last_id) as ws:
        assert await next_frame(ws) == {"type": "hello", "last_id": last_id}
        again, _ = await send_and_store(ws, frame)
        assert again == {**stored, "duplicate": True}
        assert messages(await quiet(ws)) == []  # nothing new was stored, so nothing is echoed
    assert (await post_message(widget, token, frame)).json()["duplicate"] is True
    async with tenant.client() as client:
        detail = await webchat_conversation(tenant, client, "Is the blue one in stock?")
    assert [m["text"] for m in detail["messages"]] == ["Is the blue one in stock?"]


async def test_an_agent_reply_reaches_the_visitor_and_a_private_note_never_does(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    token = await visitor(widget)
    marker = uuid.uuid4().hex[:8]
    async with visitor_socket(widget, token) as ws, tenant.client() as client:
        await opened(ws)
        await send_and_store(ws, message_frame("Where is my parcel?"))
        conversation = (await webchat_conversation(tenant, client, "Where is my parcel?"))["conversation"]
        await client.patch(f"/api/v1/conversations/{conversation['id']}", json={"tags": [f"tag-{marker}"]})
        await reply(client, conversation["id"], f"note-{marker}: refund fraud suspected", note=True)
        sent = await reply(client, conversation["id"], "It left our warehouse today.")
        frames = await frames_until(ws, is_reply("It left our warehouse today."))
        frames += await quiet(ws)
        got = messages(frames)[-1]["data"]
        assert got["from"] == "agent" and got["id"] == sent["id"] and set(got) == PUBLIC_FIELDS
        everything = json.dumps(frames)
        assert marker not in everything  # neither the note nor the tag
        assert "assignee" not in everything and "customer_id" not in everything
        assert "workspace_id" not in everything and "agent_id" not in everything
        # The widget acknowledges what it showed: delivered, then read with the panel open.
        await ws.send(json.dumps({"type": "ack", "state": "delivered", "refs": [got["ref"]]}))
        await until_state(client, conversation["id"], sent["id"], "delivered")
        await ws.send(json.dumps({"type": "ack", "state": "read", "refs": [got["ref"]]}))
        await until_state(client, conversation["id"], sent["id"], "read")
        assert messages(await quiet(ws)) == []  # the receipts are not shown again as messages


async def test_resume_with_last_event_id_misses_nothing_and_repeats_nothing(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    token = await visitor(widget)
    async with tenant.client() as client:
        async with visitor_socket(widget, token) as ws:
            await opened(ws)
            _, echo = await send_and_store(ws, message_frame("hello?"))
            conversation_id = (await webchat_conversation(tenant, client, "hello?"))["conversation"]["id"]
            for i in range(3):
                await reply(client, conversation_id, f"before {i}")
            before = messages(echo + await frames_until(ws, is_reply("before 2")))
            ws.transport.abort()
        # While the visitor is away: replies, other customers' messages, another visitor's message.
        for i in range(4):
            await reply(client, conversation_id, f"away {i}")
            assert (
                await inbound.post(client, tenant, inbound.message(f"other buyer {i}"))
            ).status_code == 201
        await post_message(widget, await visitor(widget), message_frame("someone else"))
        async with visitor_socket(widget, token, last_event_id=before[-1]["id"]) as ws:
            assert await next_frame(ws) == {"type": "hello", "last_id": before[-1]["id"]}
            await reply(client, conversation_id, "live again")
            after = messages(await frames_until(ws, is_reply("live again")))
            after += messages(await quiet(ws))
    texts = [f["data"]["text"] for f in before + after]
    assert texts == [
        "hello?",
        "before 0",
        "before 1",
        "before 2",
        "away 0",
        "away 1",
        "away 2",
        "away 3",
        "live again",
    ]
    ids = [f["id"] for f in before + after]
    assert ids == sorted(set(ids))  # in order, once each


async def test_a_reconnect_without_an_id_or_past_the_log_gets_the_whole_thread(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    token = await visitor(widget)
    async with tenant.client() as client:
        await post_message(widget, token, message_frame("first"))
        conversation_id = (await webchat_conversation(tenant, client, "first"))["conversation"]["id"]
        await reply(client, conversation_id, "secret note", note=True)
        sent = await reply(client, conversation_id, "answer")
        await until_state(client, conversation_id, sent["id"], "sent")
        async with visitor_socket(widget, token) as ws:
            _, thread = await opened(ws)
        assert [(m["from"], m["text"]) for m in thread] == [("visitor", "first"), ("agent", "answer")]
        async with visitor_socket(widget, token, last_event_id=10**9) as ws:  # an id this log never gave out
            reload, again = await next_frame(ws), await next_frame(ws)
        assert reload["type"] == "reload" and again == {"type": "thread", "messages": thread}


async def test_another_visitor_never_sees_this_conversation(tenant: Tenant, other_tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    mine, theirs = await visitor(widget), await visitor(widget)
    async with tenant.client() as client:
        async with visitor_socket(widget, theirs) as spy:
            await opened(spy)
            await post_message(widget, mine, message_frame("my address is Elm St 5"))
            conversation_id = (await webchat_conversation(tenant, client, "my address is Elm St 5"))[
                "conversation"
            ]["id"]
            sent = await reply(client, conversation_id, "thanks, Elm St 5 noted")
            await until_state(client, conversation_id, sent["id"], "sent")
            await client.post(f"/api/v1/conversations/{conversation_id}/typing", json={"is_typing": True})
            # The spy acknowledges the other visitor's reply by its ref: nothing happens.
            await spy.send(json.dumps({"type": "ack", "state": "read", "refs": [f"r{sent['id']}"]}))
            _, seen = await send_and_store(spy, message_frame("just browsing"))
            seen += await quiet(spy)
        async with visitor_socket(widget, theirs) as spy:
            _, thread = await opened(spy)
        assert "Elm St" not in json.dumps(seen + thread)
        assert [f["type"] for f in seen if f.get("type") not in ("stored",)] == [
            "message"
        ]  # own echo; no typing
        assert [m["text"] for m in thread] == ["just browsing"]
        assert (await client.get(f"/api/v1/conversations/{conversation_id}")).json()["messages"][-1][
            "delivery_state"
        ] == "sent"
    # A token of this widget means nothing at another workspace's widget.
    elsewhere = await make_widget(other_tenant)
    async with visitor_socket(elsewhere, mine) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await next_frame(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_forged_missing_or_late_tokens_close_the_socket(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    forged, _ = tokens.issue("not the secret", widget.public_id, tokens.new_visitor_id())
    for first in (
        {"type": "auth", "token": forged},
        {"type": "message", "client_id": "abcdefgh12", "text": "hi"},
    ):
        async with visitor_socket(widget, None) as ws:
            await ws.send(json.dumps(first))
            with pytest.raises(ConnectionClosed) as closed:
                await next_frame(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_bad_frames_are_answered_not_fatal(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    async with visitor_socket(widget, await visitor(widget)) as ws:
        await opened(ws)
        answers = []
        for raw in (
            "{",
            "[]",
            json.dumps({"type": "nope"}),
            json.dumps(message_frame("x" * 4001, client_id="too-long-1")),
        ):
            await ws.send(raw)
            answers.append(await next_frame(ws))
        await ws.send(b"\x00binary")
        answers.append(await next_frame(ws))
        assert [a["type"] for a in answers] == ["error"] * 5
        assert answers[3]["ref"] == "too-long-1" and answers[3]["status"] == 422
        assert "4000" in answers[3]["reason"]
        stored, _ = await send_and_store(ws, message_frame("still here"))  # the socket lives on
        assert stored["duplicate"] is False


async def test_typing_goes_both_ways(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    token = await visitor(widget)
    async with tenant.client() as client, visitor_socket(widget, token) as ws:
        await opened(ws)
        await send_and_store(ws, message_frame("typing test"))
        conversation_id = (await webchat_conversation(tenant, client, "typing test"))["conversation"]["id"]
        headers = {**tenant.auth}
        async with connect(
            f"{tenant.server.ws_url}/api/v1/ws", additional_headers=headers, proxy=None
        ) as agent:
            assert (await next_frame(agent))["type"] == "hello"
            await ws.send(json.dumps({"type": "typing", "is_typing": True}))
            seen = await frames_until(agent, lambda f: f["type"] == "typing")
            assert seen[-1]["data"] == {
                "conversation_id": conversation_id,
                "agent_id": None,
                "customer": True,
                "is_typing": True,
            }
        await client.post(f"/api/v1/conversations/{conversation_id}/typing", json={"is_typing": True})
        typing = await frames_until(ws, lambda f: f.get("type") == "typing")
        assert typing[-1]["data"] == {"is_typing": True}


async def test_the_socket_checks_the_origin(tenant: Tenant) -> None:
    widget = await make_widget(tenant, allowed_origins=[SHOP])
    token = await visitor(widget)
    with pytest.raises(InvalidStatus) as refused:
        async with visitor_socket(widget, token, origin="https://evil.example.net"):
            pass
    assert refused.value.response.status_code == 403
    async with visitor_socket(widget, token, origin=SHOP) as ws:
        await opened(ws)


async def test_too_many_messages_on_the_socket_are_refused_with_a_wait(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    answers: list[Frame] = []
    async with visitor_socket(widget, await visitor(widget)) as ws:
        await opened(ws)
        while len(answers) < 20 and not (answers and answers[-1]["type"] == "error"):
            frame = message_frame(f"flood {len(answers)}")
            await ws.send(json.dumps(frame))
            answers += await frames_until(ws, lambda f, ref=frame["client_id"]: f.get("ref") == ref)
            answers = [a for a in answers if a["type"] in ("stored", "error")]
    assert len(answers) > 10 and {a["type"] for a in answers[:-1]} == {"stored"}
    assert answers[-1]["status"] == 429 and answers[-1]["retry_after"] >= 1


async def test_leaving_an_email_joins_the_customer_who_wrote_from_another_channel(tenant: Tenant) -> None:
    widget = await make_widget(tenant)
    email, stranger = (f"{who}-{uuid.uuid4().hex[:8]}@example.com" for who in ("erika", "stranger"))
    async with tenant.client() as client:
        api = await inbound.post(client, tenant, inbound.message("order 1234?", sender={"email": email}))
        other = await inbound.post(client, tenant, inbound.message("order 999?", sender={"email": stranger}))
        assert api.status_code == other.status_code == 201
        known_customer = api.json()["customer_id"]
        async with visitor_socket(widget, await visitor(widget)) as ws:
            await opened(ws)
            await send_and_store(ws, message_frame("anonymous first"))
            anonymous = await webchat_conversation(tenant, client, "anonymous first")
            assert anonymous["conversation"]["customer_id"] != known_customer
            await send_and_store(ws, message_frame("it's me", email=email.upper(), name="Erika"))
            # Typing someone else's address next must not merge that stranger into this profile.
            await send_and_store(ws, message_frame("or maybe this one", email=stranger))
        joined = await webchat_conversation(tenant, client, "it's me")
        stranger_profile = (await client.get(f"/api/v1/customers/{other.json()['customer_id']}")).json()[
            "customer"
        ]
    assert joined["conversation"]["id"] == anonymous["conversation"]["id"]  # still the visitor's thread
    assert joined["conversation"]["customer_id"] == known_customer
    kinds = {i["kind"] for i in joined["customer"]["identities"]}
    assert {"email", "webchat_visitor"} <= kinds
    assert stranger not in json.dumps(joined["customer"])
    assert "webchat_visitor" not in {i["kind"] for i in stranger_profile["identities"]}
    claims = {m["text"]: m["meta"] for m in joined["messages"]}
    assert claims["it's me"] == {
        "claimed_email": email.upper(),
        "email_linked": True,
        "email_verified": False,
    }
    assert claims["or maybe this one"]["email_linked"] is False


async def test_a_socket_that_never_authenticates_is_closed(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crossdesk.channels.kinds.webchat import socket

    monkeypatch.setattr(socket, "AUTH_TIMEOUT_S", 0.2)
    widget = await make_widget(tenant)
    async with visitor_socket(widget, None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await next_frame(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
