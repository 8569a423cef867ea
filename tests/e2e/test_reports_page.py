"""In a real browser, with the keyboard only: pick a period on the reports page, see its charts and the tables
with the same numbers, and download a table as CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

from crossdesk.db import Database
from tests.conftest import Tenant
from tests.e2e.conftest import log_in, screenshot_path
from tests.reports.test_service import alpha_shop


async def tab_to(page: Any, element_id: str) -> None:
    """Press Tab until the element has the focus, as a keyboard user would."""
    for _ in range(40):
        if await page.evaluate("document.activeElement.id") == element_id:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


CHARTS = ("volume-chart", "backlog-chart", "hour-chart", "channel-chart", "language-chart")


async def test_pick_a_period_with_the_keyboard_see_charts_and_download_csv(
    page: Any, db: Database, tenant: Tenant
) -> None:
    await alpha_shop(db, tenant)
    await log_in(page, tenant)
    await page.goto(f"{tenant.server.url}/reports")
    assert await page.locator(".presets a[aria-current=page]").inner_text() == "7 days"

    await tab_to(page, "report-from")
    await page.keyboard.type("03282026")  # Chromium's date field, en-US: month, day, year
    await tab_to(page, "report-to")  # Tab walks through the field's parts first
    await page.keyboard.type("03302026")
    await tab_to(page, "report-show")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/reports?from=2026-03-28&to=2026-03-30", timeout=10_000)

    for chart in CHARTS:
        await page.wait_for_function(
            f"window.Chart && Chart.getChart(document.getElementById('{chart}'))", timeout=10_000
        )
    drawn = await page.evaluate(
        "Chart.getChart(document.getElementById('volume-chart')).data.datasets[0].data"
    )
    assert drawn == [1, 2, 2]  # conversations per UTC day (the owner's zone), as the table says
    rows = page.locator("#by-day-table tbody tr")
    assert await rows.count() == 3
    first_day = [await c.inner_text() for c in await rows.nth(0).locator("td").all()]
    assert first_day == ["1", "2", "1", "1", "1"]
    assert "Bea" in await page.locator("#agent-table").inner_text()
    await page.screenshot(path=screenshot_path("reports"), full_page=True)

    link = page.locator("a.csv[href*='table=by_day']")
    await link.focus()
    async with page.expect_download(timeout=10_000) as info:
        await page.keyboard.press("Enter")
    download = await info.value
    lines = list(csv.DictReader(io.StringIO(await asyncio.to_thread(Path(await download.path()).read_text))))
    assert [(r["date"], r["conversations"]) for r in lines] == [
        ("2026-03-28", "1"),
        ("2026-03-29", "2"),
        ("2026-03-30", "2"),
    ]
