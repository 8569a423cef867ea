"""In a real browser: the customers page shows the segments (chart and table) and filters by segment;
the CSV export carries the same customers and cannot be read by a spreadsheet as formulas."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from tests.conftest import Tenant
from tests.e2e.conftest import log_in
from tests.retention.test_segments_api import import_orders, order


async def test_segments_chart_table_filter_and_export(page: Any, tenant: Tenant) -> None:
    run = uuid.uuid4().hex[:6]
    rows = [order(f"champ-{run}@example.com", d, "250.00") for d in (1, 9, 30, 60)]
    rows += [order(f"gone-{run}-{i}@example.com", 500 + i, "20.00") for i in range(3)]
    rows += [order(f"new-{run}@example.com", 0.1, "15.00")]
    rows[0]["customer"]["name"] = '=HYPERLINK("http://evil.example")'
    async with tenant.client() as client:
        await import_orders(client, rows)
        exported = await client.get("/api/v1/retention/customers.csv")
    await log_in(page, tenant)
    await page.click("a[href='/customers']")
    await page.wait_for_function("window.Chart && Chart.getChart(document.getElementById('segment-chart'))")
    table = page.locator(".segment-table")
    assert "Champions" in await table.inner_text()
    await page.screenshot(path="/tmp/crossdesk-customers.png", full_page=True)
    await table.locator("a", has_text="Lost").click()
    await page.wait_for_url("**/customers?segment=Lost")
    listed = page.locator(".customer-table tbody tr")
    assert await listed.count() == 1 and f"gone-{run}-2@" in await listed.inner_text(), "the oldest buyer"

    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(lines) == 5 and lines[0]["segment"] == "Champions"
    assert lines[0]["name"].startswith("'="), "a formula-looking name is quoted"
