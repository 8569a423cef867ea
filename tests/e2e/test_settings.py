"""In a real browser, keyboard only: an admin adds an agent and edits the business hours; a bad time shows
its error next to its field."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Tenant
from tests.e2e.conftest import add_agent, log_in, screenshot_path

TIMEOUT = 10_000


async def tab_to(page: Any, selector: str, limit: int = 200) -> None:
    """Press Tab until ``selector`` has the focus (it must be reachable by keyboard)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


async def type_into(page: Any, selector: str, text: str) -> None:
    await tab_to(page, selector)
    await page.keyboard.press("Control+A")
    await page.keyboard.type(text)


async def test_admin_adds_an_agent_and_edits_hours_with_the_keyboard(page: Any, tenant: Tenant) -> None:
    admin = await add_agent(tenant, "Ada Admin", role="admin")
    await log_in(page, tenant, admin["email"])
    await tab_to(page, "a[href='/settings/team']")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{tenant.server.url}/settings/team", timeout=TIMEOUT)

    email = f"kenji-{uuid.uuid4().hex[:6]}@example.com"
    await type_into(page, "#add-name", "Kenji")
    await type_into(page, "#add-email", email)
    await type_into(page, "#add-password", "a long enough secret")
    await tab_to(page, "#add-role")
    await type_into(page, "#add-languages", "ja, en")
    await type_into(page, "#add-timezone", "Asia/Tokyo")
    await page.keyboard.press("Enter")
    row = page.locator("#agents tr", has_text=email)
    await row.wait_for(timeout=TIMEOUT)
    assert "ja, en" in await row.inner_text() and "Asia/Tokyo" in await row.inner_text()

    await tab_to(page, "a[href='/settings/hours']")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{tenant.server.url}/settings/hours", timeout=TIMEOUT)
    await type_into(page, "#day-mon", "09:00-12:00, 13:00-25:00")
    await type_into(page, "#day-sat", "10:00-14:00")
    await page.keyboard.press("Enter")
    error = page.locator("#day-mon-error")
    await error.wait_for(timeout=TIMEOUT)
    assert "25:00" in await error.inner_text()
    assert await page.get_attribute("#day-mon", "aria-invalid") == "true"
    assert "day-mon-error" in (await page.get_attribute("#day-mon", "aria-describedby") or "")
    assert await page.input_value("#day-sat") == "10:00-14:00", "the other values stay as typed"
    await page.screenshot(path=screenshot_path("settings-hours-error"), full_page=True)

    await type_into(page, "#day-mon", "09:00-12:00, 13:00-18:00")
    await page.keyboard.press("Enter")
    await page.locator("[role=status]", has_text="Saved").wait_for(timeout=TIMEOUT)
    assert await page.input_value("#day-mon") == "09:00-12:00, 13:00-18:00"
    assert await page.input_value("#day-sat") == "10:00-14:00"


async def test_an_agent_is_refused_the_settings(page: Any, tenant: Tenant) -> None:
    agent = await add_agent(tenant, "Plain agent")
    await log_in(page, tenant, agent["email"])
    assert await page.locator("a[href='/settings/team']").count() == 0
    answer = await page.goto(f"{tenant.server.url}/settings/team")
    assert answer.status == 403
