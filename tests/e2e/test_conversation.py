"""In a real browser: two agents on one conversation (viewing, typing, a live reply), hostile buyer text
kept inert, the keyboard alone (reply, assign, close), a macro through ``m``, and a channel's refusal."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from crossdesk.channels import service as channels
from crossdesk.channels.adapter import Account, Adapter, Limits, Outbound
from crossdesk.channels.registry import ADAPTERS
from crossdesk.conversations.ingest import ingest
from crossdesk.conversations.schemas import InboundMessage
from crossdesk.db import Database
from tests.conftest import Tenant
from tests.e2e.conftest import add_agent, log_in, screenshot_path
from tests.support import inbound

WAIT = 10_000
HOSTILE = (
    '<script>window.__pwned=1</script>\n<img src=x onerror="window.__pwned=1">\n'
    '<a href="javascript:window.__pwned=1">x</a>\n'
    '<html><body><p style="color:red">Dear seller</p>'
    '<iframe src="javascript:window.__pwned=1"></iframe></body></html>'
)


async def _conversation(tenant: Tenant, text: str = "Where is my parcel?") -> int:
    async with tenant.client() as client:
        sender = {"name": "Hans Müller", "email": f"hans-{uuid.uuid4().hex[:8]}@example.de"}
        response = await inbound.post(client, tenant, inbound.message(text, sender=sender))
    assert response.status_code == 201, response.text
    return int(response.json()["conversation_id"])


async def test_two_agents_see_each_other_and_a_reply_live(browser: Any, page: Any, tenant: Tenant) -> None:
    conversation_id = await _conversation(tenant)
    emma = await add_agent(tenant, "Emma")
    url = f"{tenant.server.url}/conversations/{conversation_id}"
    other = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await log_in(page, tenant)
    await log_in(other, tenant, emma["email"])
    for p in (page, other):
        await p.goto(url)
        await p.wait_for_function("document.getElementById('live').dataset.state === 'live'", timeout=WAIT)
    await expect(page.locator("#presence")).to_contain_text("Emma is viewing", timeout=WAIT)
    await expect(other.locator("#presence")).to_contain_text("Owner is viewing", timeout=WAIT)
    await other.locator("#composer-text").press_sequentially("Hello Hans")
    await expect(page.locator("#presence")).to_contain_text("Emma is typing", timeout=WAIT)
    await other.locator("#composer-text").press("Control+Enter")
    reply = page.locator("#thread .message-agent", has_text="Hello Hans")
    await expect(reply).to_be_visible(timeout=WAIT)
    await expect(reply).to_contain_text("Emma")
    await page.screenshot(path=screenshot_path("conversation"), full_page=True)


async def test_hostile_buyer_message_stays_inert(page: Any, tenant: Tenant) -> None:
    conversation_id = await _conversation(tenant, HOSTILE)
    await log_in(page, tenant)
    await page.goto(f"{tenant.server.url}/conversations/{conversation_id}")
    text = page.locator("#thread .message-customer .message-text")
    await expect(text).to_contain_text("<script>window.__pwned=1</script>", timeout=WAIT)
    await expect(text).to_contain_text("<iframe src=")
    assert await page.locator("#thread .message-text a, #thread img, #thread iframe").count() == 0
    await text.click()
    await page.keyboard.press("?")
    await page.keyboard.press("Escape")
    await page.locator("#assign-me").click()
    await expect(page.locator("#current-assignee")).to_have_text("Owner", timeout=WAIT)
    assert await page.evaluate("window.__pwned") is None


async def test_reply_assign_and_close_with_the_keyboard(page: Any, tenant: Tenant) -> None:
    conversation_id = await _conversation(tenant)
    await log_in(page, tenant)
    await page.goto(f"{tenant.server.url}/conversations/{conversation_id}")
    await page.keyboard.press("r")
    await expect(page.locator("#composer-text")).to_be_focused()
    await page.keyboard.type("On its way!")
    await page.keyboard.press("Control+Enter")
    await expect(page.locator("#thread .message-agent", has_text="On its way!")).to_be_visible(timeout=WAIT)
    await page.locator("#composer-text").blur()
    await page.keyboard.press("a")
    await expect(page.locator("#current-assignee")).to_have_text("Owner", timeout=WAIT)
    await page.keyboard.press("e")
    await expect(page.locator("#current-status")).to_have_text("resolved", timeout=WAIT)
    async with tenant.client() as client:
        detail = (await client.get(f"/api/v1/conversations/{conversation_id}")).json()
    assert detail["conversation"]["status"] == "resolved"
    assert detail["conversation"]["assignee_id"] == tenant.owner_id


async def test_insert_a_macro_with_m(page: Any, tenant: Tenant) -> None:
    conversation_id = await _conversation(tenant)
    async with tenant.client() as client:
        body = {
            "name": "Greeting",
            "body": "Hi {{ customer.first_name }}, {{ agent.name }} here.",
            "add_tags": ["greeted"],
        }
        assert (await client.post("/api/v1/macros", json=body)).status_code == 201
    await log_in(page, tenant)
    await page.goto(f"{tenant.server.url}/conversations/{conversation_id}")
    await page.keyboard.press("m")
    await expect(page.locator("#macro-search")).to_be_focused()
    await page.keyboard.type("greet")
    await expect(page.locator(".macro-choice", has_text="Greeting")).to_have_count(1, timeout=WAIT)
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await expect(page.locator("#composer-text")).to_have_value("Hi Hans, Owner here.", timeout=WAIT)
    await expect(page.locator("#action-tags")).to_have_value("greeted", timeout=WAIT)


class Short(Adapter):
    """A channel that takes 20 characters at most."""

    kind = channel = "short_e2e"
    limits = Limits(max_text=20)

    async def send(self, client: Any, account: Account, outbound: Outbound, idempotency_key: str) -> str:
        return f"sent-{outbound.message_id}"


@pytest.fixture
def short_channel() -> Iterator[None]:
    ADAPTERS[Short.kind] = Short()
    yield
    del ADAPTERS[Short.kind]


async def test_a_refused_reply_shows_why(
    page: Any, db: Database, tenant: Tenant, short_channel: None
) -> None:
    async with db.transaction(tenant.workspace_id) as session:
        account, _ = await channels.create_account(session, Short.kind, "Short")
    message = InboundMessage(
        channel=Short.channel,
        platform_message_id=uuid.uuid4().hex,
        text="Hi",
        sender={"email": "s@example.com"},
    )
    stored = await ingest(db, tenant.workspace_id, message, account.id)
    await log_in(page, tenant)
    await page.goto(f"{tenant.server.url}/conversations/{stored.conversation_id}")
    long_text = "This reply is far too long for the channel"
    await page.fill("#composer-text", long_text)
    await page.click("#composer-send")
    await expect(page.locator("#composer-error")).to_contain_text("at most 20 characters", timeout=WAIT)
    await expect(page.locator("#composer-text")).to_have_value(long_text)
    await expect(page.locator("#composer-text")).to_have_attribute("aria-invalid", "true")
