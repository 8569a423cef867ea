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
    await page.goto(f"{tenant.server.url}/customers")
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


async def test_value_and_churn_charts_once_customers_bought_again(page: Any, tenant: Tenant) -> None:
    run = uuid.uuid4().hex[:6]
    regular = [f"reg-{run}-{i}@example.com" for i in range(25)]
    lapsed = [f"lapsed-{run}-{i}@example.com" for i in range(8)]
    # Each at their own pace (15 to 87 days between orders), some gone quiet long ago, some bought once.
    rows = [order(e, d, "60.00") for i, e in enumerate(regular) for d in range(2 + i, 400, 15 + 3 * i)]
    rows += [order(e, d, "45.00") for e in lapsed for d in (600, 570, 540, 510)]
    rows += [order(f"once-{run}-{i}@example.com", 20 + 25 * i, "30.00") for i in range(12)]
    async with tenant.client() as client:
        await import_orders(client, rows)
    await log_in(page, tenant)
    await page.goto(f"{tenant.server.url}/customers")
    for chart in ("clv-chart", "churn-chart"):
        await page.wait_for_function(f"Chart.getChart(document.getElementById('{chart}'))")
    assert await page.locator("#value-note").count() == 0
    assert await page.locator(".customer-table td.risk-high").count() == len(lapsed)
    await page.screenshot(path="/tmp/crossdesk-customers-value.png", full_page=True)
