"""In a real browser: an agent logs in through the form and sees a buyer's message arrive without a reload."""

from __future__ import annotations

import uuid

from tests.conftest import PASSWORD, Tenant
from tests.support import inbound


async def test_login_then_a_buyer_message_appears_live(page, tenant: Tenant) -> None:
    await page.goto(f"{tenant.server.url}/login")
    await page.fill("input[name=email]", tenant.owner_email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_function("document.getElementById('live').textContent === 'live'")
    text = f"<b>Where is parcel {uuid.uuid4().hex[:6]}?</b>"
    async with tenant.client() as client:
        assert (await inbound.post(client, tenant, inbound.message(text))).status_code == 201
    event = page.locator("#events li", has_text=text)
    await event.wait_for(timeout=10_000)
    assert await page.locator("#events b").count() == 0  # the buyer's markup is shown as text, never run


async def test_wrong_password_stays_on_the_form(page, tenant: Tenant) -> None:
    await page.goto(f"{tenant.server.url}/login")
    await page.fill("input[name=email]", tenant.owner_email)
    await page.fill("input[name=password]", "not the password")
    await page.click("button[type=submit]")
    assert "Wrong e-mail or password" in await page.locator("[role=alert]").inner_text()
