"""In a real browser: an admin connects a channel from the settings page, sees its secret once, and
switches it off."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant
from tests.e2e.conftest import log_in


async def test_connect_a_channel_then_switch_it_off(page: Any, tenant: Tenant) -> None:
    await log_in(page, tenant)
    await page.click("a[href='/settings/team']")
    await page.click("nav.subnav a[href='/settings/channels']")
    await page.click("#connect-api summary")
    form = page.locator("#connect-api form")
    await form.locator("input[name=name]").fill("Warehouse ERP <script>alert(1)</script>")
    await form.locator("input[name=webhook_url]").fill("https://erp.example.com/replies")
    await form.locator("button[type=submit]").click()
    notice = page.locator("#created")
    await notice.wait_for()
    secret = await notice.locator("code.secret").inner_text()
    assert len(secret) >= 40
    row = page.locator("tr", has_text="Warehouse ERP")
    assert "ready" in await row.inner_text()
    assert "<script>" in await row.inner_text(), "the name is shown as text"
    await page.screenshot(path="/tmp/crossdesk-channels.png", full_page=True)

    await page.reload()
    assert secret not in await page.content(), "the secret is shown once"
    assert await row.count() == 1, "a reload connects nothing twice"
    await row.locator("input[name=is_active]").uncheck()
    await row.locator("button[type=submit]").click()
    await page.wait_for_url(f"{tenant.server.url}/settings/channels")
    assert "off" in await page.locator("tr", has_text="Warehouse ERP").inner_text()


async def test_a_bad_setting_is_explained_on_the_page(page: Any, tenant: Tenant) -> None:
    await log_in(page, tenant)
    await page.goto(f"{tenant.server.url}/settings/channels")
    await page.click("#connect-api summary")
    form = page.locator("#connect-api form")
    await form.locator("input[name=webhook_url]").fill("not a url")
    await form.locator("button[type=submit]").click()
    alert = page.locator("[role=alert]")
    await alert.wait_for()
    assert "webhook_url" in await alert.inner_text()
