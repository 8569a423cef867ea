"""In a real browser, with the keyboard alone: an admin writes a campaign draft, finds it in the list,
launches it through the confirmation, and sees its results chart."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from playwright.async_api import expect
from sqlalchemy import update

from crossdesk.campaigns.models import CampaignRecipient
from crossdesk.db import Database
from tests.campaigns.conftest import add_account, add_customer, add_order, recipients
from tests.conftest import Tenant
from tests.e2e.conftest import log_in, screenshot_path

WAIT = 10_000


async def _type_into(page: Any, selector: str, text: str) -> None:
    await page.locator(selector).focus()
    await page.keyboard.type(text)


async def test_an_admin_creates_and_launches_a_campaign_with_the_keyboard(
    page: Any, db: Database, tenant: Tenant
) -> None:
    await add_account(db, tenant)
    customers = [await add_customer(db, tenant, name=f"Buyer {i}") for i in range(12)]
    await log_in(page, tenant)
    await page.goto(f"{tenant.server.url}/campaigns")
    await page.locator("a", has_text="New campaign").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/campaigns/new", timeout=WAIT)

    await _type_into(page, "#f-name", "Autumn <win-back>")
    await page.locator("input[name=kind][value=win_back]").focus()
    await page.keyboard.press("Space")
    await page.locator("#f-channel_account_id").focus()
    await page.keyboard.type("Email")
    await _type_into(page, "#f-t0_subject", "We miss you, {{ customer.first_name }}")
    await _type_into(page, "#f-t0_body", "Here is {{ discount_code }} for your next order.")
    await _type_into(page, "#f-discount_code", "AUTUMN10")
    await page.locator("#f-control_share").focus()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("40")
    await page.locator("#f-starts_at").focus()  # the last field: Tab from it reaches the submit button
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/campaigns/\d+$"), timeout=WAIT)
    await expect(page.locator("h1")).to_contain_text("Autumn <win-back>", timeout=WAIT)
    campaign_id = int(page.url.rsplit("/", 1)[1])

    await page.locator("a", has_text="All campaigns").focus()
    await page.keyboard.press("Enter")
    row = page.locator(f'.campaigns-table tr[data-id="{campaign_id}"]')
    await expect(row).to_contain_text("Autumn <win-back>", timeout=WAIT)
    await expect(row).to_contain_text("draft")
    await row.locator("a").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/campaigns/{campaign_id}", timeout=WAIT)

    await page.locator("summary", has_text="Launch").focus()
    await page.keyboard.press("Enter")
    launch = page.locator("button", has_text="Launch now")
    await expect(launch).to_be_visible(timeout=WAIT)
    await page.keyboard.press("Tab")  # the confirmation's one button follows its summary
    await expect(launch).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("h1 .state")).to_have_text("sending", timeout=WAIT)

    # Give it results: the messages went out just after the launch, and two of the messaged buyers ordered.
    found = await recipients(db, tenant, campaign_id)
    assert set(found) == set(customers)
    treated = sorted(c for c, r in found.items() if not r.is_control)
    start = dt.datetime.now(dt.UTC)
    async with db.transaction(tenant.workspace_id) as session:
        await session.execute(
            update(CampaignRecipient)
            .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.customer_id.in_(treated))
            .values(state="sent", sent_at=start)
        )
        for customer in treated[:2]:
            await add_order(session, customer, start + dt.timedelta(hours=1), total="80.00")
    await page.reload()
    await page.wait_for_function(
        "window.Chart && Chart.getChart(document.getElementById('campaign-chart'))", timeout=WAIT
    )
    assert await page.locator(".row-ordered td").first.inner_text() == "2"
    await expect(page.locator(".sentence")).to_contain_text("points more buyers ordered")
    await page.screenshot(path=screenshot_path("campaign"), full_page=True)
