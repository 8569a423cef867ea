"""In a real browser, on the demo workspace (``crossdesk demo``'s builder, small): a working seller's day.

The owner (whose interface is in Chinese) opens the inbox full of buyers' conversations, walks it with the
keyboard into a conversation with the buyer's orders beside it, replies, and looks at the reports; then
switches the interface to English. Screenshots of each page go to the tests' output folder."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.async_api import expect

from crossdesk.db import Database
from crossdesk.demo.builder import DEMO_PASSWORD, build, owner_email
from tests.conftest import LiveServer
from tests.e2e.conftest import screenshot_path

WAIT = 15_000


async def test_a_day_in_the_demo_workspace(page: Any, db: Database, server: LiveServer) -> None:
    slug = f"demo-{uuid.uuid4().hex[:8]}"
    await build(db, customers=150, conversations=40, slug=slug, name="Demo Seller")
    await page.goto(f"{server.url}/login")
    await page.fill("input[name=email]", owner_email(slug))
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server.url}/inbox")
    await page.wait_for_function("document.getElementById('live').dataset.state === 'live'", timeout=WAIT)

    # The inbox in the owner's language, full of real-looking conversations.
    await expect(page.locator("nav.nav a[aria-current=page]")).to_have_text("收件箱")
    rows = page.locator("#rows > li")
    assert await rows.count() >= 10
    await page.screenshot(path=screenshot_path("demo-inbox-zh"), full_page=True)

    # j, then Enter: the first conversation opens, with its buyer's profile and orders beside it.
    await page.locator("body").press("j")
    first = await rows.first.get_attribute("data-id")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{server.url}/conversations/{first}", timeout=WAIT)
    await expect(page.locator("#customer-sidebar .cs-orders, #customer-sidebar h2").first).to_be_visible(
        timeout=WAIT
    )
    await page.keyboard.press("r")
    await page.keyboard.type("Thank you, we are on it.")
    await page.keyboard.press("Control+Enter")
    await expect(page.locator("#thread .message-agent", has_text="Thank you, we are on it.")).to_be_visible(
        timeout=WAIT
    )
    await page.screenshot(path=screenshot_path("demo-conversation-zh"), full_page=True)

    # The reports over the last 30 days, drawn.
    await page.goto(f"{server.url}/reports")
    await page.wait_for_function(
        "window.Chart && Chart.getChart(document.getElementById('volume-chart'))", timeout=WAIT
    )
    await page.screenshot(path=screenshot_path("demo-reports-zh"), full_page=True)

    # Switched to English from the top bar, and back on the inbox.
    await page.goto(f"{server.url}/inbox")
    await page.select_option("#pref-language", "en")
    await page.locator("form.prefs button").click()
    await expect(page.locator("nav.nav a[aria-current=page]")).to_have_text("Inbox", timeout=WAIT)
    await page.screenshot(path=screenshot_path("demo-inbox-en"), full_page=True)
