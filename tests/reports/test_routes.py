"""The reports API (JSON and CSV) and the page, over HTTP: figures, isolation, formula-safe CSV, 422s."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import httpx
import pytest

from crossdesk.db import Database
from tests.conftest import PASSWORD, Tenant
from tests.reports.test_service import alpha_shop, beta_shop

PERIOD = {"from": "2026-03-28", "to": "2026-03-30", "tz": "Europe/Berlin"}
HOSTILE_NAME = '=HYPERLINK("http://evil.example","x")'


async def log_in(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """Give a browser-like client the owner's session cookie."""
    form = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    data = {"email": tenant.owner_email, "password": PASSWORD, "csrf_token": token.group(1)}
    assert (await client.post("/login", data=data)).status_code == 303


async def test_report_json_counts_only_the_callers_workspace(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    await alpha_shop(db, tenant)
    await beta_shop(db, other_tenant)
    async with tenant.client() as client:
        mine = (await client.get("/api/v1/reports", params=PERIOD)).json()
    async with other_tenant.client() as client:
        theirs = (await client.get("/api/v1/reports", params=PERIOD)).json()
    assert mine["period"]["start"] == "2026-03-27T23:00:00Z" and mine["period"]["timezone"] == "Europe/Berlin"
    assert mine["totals"] == {"conversations": 5, "inbound": 6, "replies": 4, "resolved": 2}
    assert mine["first_response"]["median"] == 1800 and mine["resolution"]["median"] == 44100
    # Asked after the period, the conversation that was still pending at noon on the 30th is now missed.
    assert mine["sla"] == {"met": 2, "missed": 3, "pending": 0, "attainment": 0.4}
    assert [d["backlog"] for d in mine["by_day"]] == [1, 3, 4]
    assert {a["name"] for a in mine["by_agent"]} == {"Owner", "Bea", "Cy", None}
    assert theirs["totals"] == {"conversations": 3, "inbound": 3, "replies": 3, "resolved": 3}
    assert {a["name"] for a in theirs["by_agent"]} == {"Owner", "Zed"}


async def test_default_period_is_the_last_seven_days_in_the_workspace_zone(tenant: Tenant) -> None:
    async with tenant.client() as client:
        report = (await client.get("/api/v1/reports")).json()
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()  # a new workspace's zone; a token has no agent
    assert report["period"]["timezone"] == "Asia/Shanghai"
    assert report["period"]["last_day"] == today.isoformat()
    assert (
        len(report["by_day"]) == 7
        and report["by_day"][0]["date"] == (today - dt.timedelta(days=6)).isoformat()
    )


async def test_csv_tables_are_formula_safe(db: Database, tenant: Tenant) -> None:
    shop = await alpha_shop(db, tenant)
    await shop.add_agent(HOSTILE_NAME)
    async with tenant.client() as client:
        agents = await client.get("/api/v1/reports.csv", params={**PERIOD, "table": "by_agent"})
        days = await client.get("/api/v1/reports.csv", params={**PERIOD, "table": "by_day"})
        hours = await client.get("/api/v1/reports.csv", params={**PERIOD, "table": "by_hour"})
    assert agents.status_code == 200 and agents.headers["content-type"].startswith("text/csv")
    assert 'filename="crossdesk-by_agent-2026-03-28-2026-03-30.csv"' in agents.headers["content-disposition"]
    names = [row["name"] for row in csv.DictReader(io.StringIO(agents.text))]
    assert "'" + HOSTILE_NAME in names and HOSTILE_NAME not in names
    assert next(csv.reader(io.StringIO(days.text))) == [
        "date", "conversations", "inbound", "replies", "resolved", "backlog"
    ]  # fmt: skip
    last_day = list(csv.DictReader(io.StringIO(days.text)))[2]
    assert last_day == {"date": "2026-03-30", "conversations": "2", "inbound": "2", "replies": "2",
                        "resolved": "1", "backlog": "4"}  # fmt: skip
    by_hour = {int(r["hour"]): r["conversations"] for r in csv.DictReader(io.StringIO(hours.text))}
    assert (by_hour[1], by_hour[2], by_hour[3]) == ("2", "0", "1")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"from": "2026-03-30", "to": "2026-03-28"}, "on or before its end"),
        ({"from": "2024-01-01", "to": "2026-03-28"}, "at most 366 days"),
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
        ({"tz": "/etc/passwd"}, "unknown time zone"),
        ({"from": "28/03/2026"}, "date"),
        ({"table": "by_customer"}, "by_day"),
    ],
)
async def test_invalid_requests_are_422_with_the_reason(
    tenant: Tenant, params: dict[str, str], reason: str
) -> None:
    async with tenant.client() as client:
        answers = [await client.get("/api/v1/reports.csv", params={"table": "by_day", **params})]
        if "table" not in params:
            answers.append(await client.get("/api/v1/reports", params=params))
    for answer in answers:
        assert answer.status_code == 422 and reason in answer.text, answer.text


async def test_reports_need_a_login(tenant: Tenant) -> None:
    async with httpx.AsyncClient(base_url=tenant.server.url) as anonymous:
        assert (await anonymous.get("/api/v1/reports")).status_code == 401
        page = await anonymous.get("/reports")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


async def test_the_page_shows_tiles_tables_and_csv_links(db: Database, tenant: Tenant) -> None:
    await alpha_shop(db, tenant)
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as client:
        await log_in(client, tenant)
        page = await client.get("/reports", params={"from": PERIOD["from"], "to": PERIOD["to"]})
        wrong = await client.get("/reports", params={"from": "2026-03-30", "to": "2026-03-28"})
        garbled = await client.get("/reports", params={"from": "yesterday"})
    assert page.status_code == 200
    html = page.text
    assert 'id="report-data"' in html and html.count('role="img"') == 5
    assert "/api/v1/reports.csv?from=2026-03-28&amp;to=2026-03-30&amp;tz=UTC&amp;table=by_agent" in html
    # The page counts by the owner's zone, UTC: on the 28th, anna's conversation, her two messages, one reply.
    day_28 = re.search(r'<time datetime="2026-03-28">[^<]*</time></th>(.*?)</tr>', html, re.S)
    assert day_28 is not None and re.findall(r"<td>([^<]*)</td>", day_28.group(1))[:3] == ["1", "2", "1"]
    assert "Bea" in html and "Cy" in html
    assert wrong.status_code == 422 and 'aria-invalid="true" aria-describedby="report-to-error"' in wrong.text
    assert "The end must be on or after the start." in wrong.text and 'id="report-data"' not in wrong.text
    assert garbled.status_code == 422 and 'id="report-from-error"' in garbled.text
