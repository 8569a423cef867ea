"""In a real browser: logging in lands on the inbox; a buyer's message shows up live (within a second of
the API's answer) with its markup as text; counters follow; rows leave a view they no longer belong in;
bulk assign and close by keyboard alone; search; the inbox in Chinese; and the phone layout."""

from __future__ import annotations

import time
import uuid
from typing import Any

from playwright.async_api import expect

from tests.conftest import Tenant
from tests.e2e.conftest import log_in, screenshot_path
from tests.support import inbound

WAIT_MS = 10_000


async def buyer_writes(tenant: Tenant, text: str, **fields: Any) -> int:
    async with tenant.client() as client:
        response = await inbound.post(client, tenant, inbound.message(text, **fields))
    assert response.status_code == 201, response.text
    return int(response.json()["conversation_id"])


async def open_inbox(page: Any, tenant: Tenant, query: str = "") -> None:
    await page.goto(f"{tenant.server.url}/inbox{query}")
    await page.wait_for_function("document.getElementById('live').dataset.state === 'live'")


async def count(page: Any, view: str) -> str:
    return str(await page.locator(f"#v-{view} .count").inner_text())


async def test_a_buyer_message_appears_live_and_counters_follow(page: Any, tenant: Tenant) -> None:
    older = await buyer_writes(tenant, "First question")
    await log_in(page, tenant)
    await open_inbox(page, tenant)
    assert await count(page, "open") == "1"
    text = f"<b>Where is parcel {uuid.uuid4().hex[:6]}?</b>"
    async with tenant.client() as client:
        response = await inbound.post(client, tenant, inbound.message(text))
        posted = time.monotonic()
        assert response.status_code == 201
        new = response.json()["conversation_id"]
        await page.locator(f"#c-{new}").wait_for(timeout=WAIT_MS)
        elapsed = time.monotonic() - posted
        assert elapsed < 1.0, f"the row took {elapsed:.2f} s"
        row = page.locator("#rows > li").first
        assert await row.get_attribute("id") == f"c-{new}"
        assert text in await row.inner_text() and await page.locator("#rows b").count() == 0
        await expect(page.locator("#v-open .count")).to_have_text("2", timeout=WAIT_MS)
        # The older conversation's buyer writes again: its row moves to the top.
        await inbound.post(
            client, tenant, inbound.message("Any news?", sender=await sender_of(client, older))
        )
        await expect(page.locator("#rows > li").first).to_have_id(f"c-{older}", timeout=WAIT_MS)
        await expect(page.locator(f"#c-{older} .preview")).to_have_text("Any news?", timeout=WAIT_MS)
        # Resolved elsewhere: it leaves the open view, and the counters follow.
        await client.patch(f"/api/v1/conversations/{new}", json={"status": "resolved"})
        await expect(page.locator(f"#c-{new}")).to_have_count(0, timeout=WAIT_MS)
        await expect(page.locator("#v-open .count")).to_have_text("1", timeout=WAIT_MS)
        await expect(page.locator("#v-resolved .count")).to_have_text("1", timeout=WAIT_MS)
    assert await page.locator("#rows > li").count() == 1
    await page.screenshot(path=screenshot_path("inbox"), full_page=True)


async def sender_of(client: Any, conversation_id: int) -> dict[str, Any]:
    """The buyer of a conversation, as a sender the API channel threads into it again."""
    customer = (await client.get(f"/api/v1/conversations/{conversation_id}")).json()["customer"]
    return {"name": customer["name"], "email": customer["email"]}


async def test_wrong_password_stays_on_the_form(page: Any, tenant: Tenant) -> None:
    await page.goto(f"{tenant.server.url}/login")
    await page.fill("input[name=email]", tenant.owner_email)
    await page.fill("input[name=password]", "not the password")
    await page.click("button[type=submit]")
    assert "Wrong e-mail or password" in await page.locator("[role=alert]").inner_text()


async def tab_to(page: Any, element_id: str, limit: int = 12) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


async def test_bulk_assign_and_close_by_keyboard(page: Any, tenant: Tenant) -> None:
    ids = [await buyer_writes(tenant, f"question {i}") for i in range(3)]
    await log_in(page, tenant)
    await open_inbox(page, tenant, "?view=unassigned")
    await page.locator("#c-" + str(ids[0])).wait_for()
    # j: the first row, x selects it; j x: the second too; then to the toolbar and "Assign to me".
    for key in ("j", "x", "j", "x"):
        await page.keyboard.press(key)
    await expect(page.locator("#selected-count")).not_to_be_empty()
    assert await page.locator("#rows .sel:checked").count() == 2
    await page.keyboard.press("/")
    await expect(page.locator("#inbox-q")).to_be_focused()
    await tab_to(page, "bulk-assign-button")
    await page.keyboard.press("Enter")
    await expect(page.locator("#rows > li")).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator("#v-mine .count")).to_have_text("2", timeout=WAIT_MS)
    assert await page.locator(f"#c-{ids[0]}").count() == 1  # the oldest, not selected, stays
    # In "Mine": select both by keyboard and close them.
    await open_inbox(page, tenant, "?view=mine")
    await expect(page.locator("#rows > li")).to_have_count(2)
    for key in ("j", "x", "j", "x"):
        await page.keyboard.press(key)
    await page.keyboard.press("/")
    await tab_to(page, "bulk-close")
    await page.keyboard.press("Enter")
    await expect(page.locator("#rows > li")).to_have_count(0, timeout=WAIT_MS)
    await expect(page.locator("#v-mine .count")).to_have_text("0", timeout=WAIT_MS)
    await expect(page.locator("#v-resolved .count")).to_have_text("2", timeout=WAIT_MS)
    # Enter on a row opens its conversation.
    await open_inbox(page, tenant, "?view=resolved")
    await page.keyboard.press("j")
    await page.keyboard.press("o")
    await page.wait_for_url("**/conversations/*")


async def test_search_from_the_keyboard(page: Any, tenant: Tenant) -> None:
    word = uuid.uuid4().hex[:8]
    wanted = await buyer_writes(tenant, f"My parcel {word} is 100% late")
    other = await buyer_writes(tenant, "Unrelated question")
    await log_in(page, tenant)
    await open_inbox(page, tenant)
    await page.keyboard.press("/")
    await page.keyboard.type(f"{word} is 100%")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/inbox?q=*")
    await expect(page.locator("#rows > li")).to_have_count(1)
    assert await page.locator("#rows > li").first.get_attribute("id") == f"c-{wanted}"
    assert await page.locator(f"#c-{other}").count() == 0
    await page.keyboard.press("/")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("%_ jkxo/")  # typed into the field: no shortcut fires, no wildcard matches
    await expect(page.locator("#inbox-q")).to_have_value("%_ jkxo/")
    await page.keyboard.press("Enter")
    await expect(page.locator("#inbox-empty")).to_be_visible()


async def test_the_inbox_in_chinese_and_on_a_phone(page: Any, tenant: Tenant) -> None:
    await buyer_writes(
        tenant, "Bonjour", sender={"name": "Amélie", "email": "amelie@example.fr", "country": "FR"}
    )
    await log_in(page, tenant)
    await page.select_option("#pref-language", "zh-CN")
    await page.click(".prefs button[type=submit]")
    await page.wait_for_url("**/inbox")
    await expect(page.locator("#v-mine .label")).to_have_text("我的")
    await expect(page.locator("#inbox-title")).to_have_text("全部待处理")
    assert "未分配" in await page.locator("#rows > li").first.inner_text()
    await page.set_viewport_size({"width": 390, "height": 800})
    row = page.locator("#rows > li").first
    box = await row.bounding_box()
    assert box is not None and box["width"] <= 390 and box["height"] < 80, box  # two short lines
    assert not await page.locator(".row-head").is_visible()
    await page.screenshot(path=screenshot_path("inbox-phone"), full_page=True)
