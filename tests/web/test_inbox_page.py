"""The inbox page over HTTP: rows with the buyer's text escaped, views and counters, the row and counter
partials the live script fetches, the bulk form (CSRF-checked), and a query count that does not grow
with the rows."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import event

from crossdesk.web import i18n, inbox
from tests.conftest import PASSWORD, Tenant
from tests.retention.test_standing import build_shop
from tests.support import inbound


@pytest.fixture
async def agent(tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    """The tenant's owner, logged in through the form (cookie session; CSRF token in ``headers``)."""
    async with httpx.AsyncClient(base_url=tenant.server.url, timeout=30) as client:
        form = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        body = {"email": tenant.owner_email, "password": PASSWORD, "csrf_token": token.group(1)}
        assert (await client.post("/login", data=body)).status_code == 303
        page = await client.get("/inbox")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        client.headers["x-csrf-token"] = csrf.group(1)
        yield client


async def post(tenant: Tenant, text: str, **fields: object) -> int:
    async with tenant.client() as client:
        response = await inbound.post(client, tenant, inbound.message(text, **fields))
    assert response.status_code == 201, response.text
    return int(response.json()["conversation_id"])


def count_of(html: str, view: str) -> int:
    found = re.search(
        rf'id="v-{view}"[^>]*>\s*<span class="label">[^<]*</span> <span class="count"[^>]*>(\d+)<', html
    )
    assert found is not None, view
    return int(found.group(1))


async def test_rows_show_buyer_text_as_text(agent: httpx.AsyncClient, tenant: Tenant) -> None:
    evil = f"<script>alert('{uuid.uuid4().hex[:6]}')</script>"
    sender = {"name": "<img src=x onerror=alert(1)>", "email": "evil@example.com", "country": "DE"}
    conversation_id = await post(tenant, evil, sender=sender, subject="<b>bold</b>")
    page = await agent.get("/inbox")
    assert page.status_code == 200
    assert f'id="c-{conversation_id}"' in page.text
    assert "&lt;script&gt;alert(" in page.text and "<script>alert(" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text and "<img src=x" not in page.text
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text
    row = await agent.get(f"/inbox/rows/{conversation_id}", params={"view": "open"})
    assert row.text.startswith(f'<li id="c-{conversation_id}"') and "<script>alert(" not in row.text


async def test_views_counters_and_partials(
    agent: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    first = await post(tenant, "Where is my order?")
    second = await post(tenant, "Do you ship to Norway?")
    await post(other_tenant, "Not yours")
    page = (await agent.get("/inbox")).text
    assert count_of(page, "open") == 2 and count_of(page, "unassigned") == 2 and count_of(page, "mine") == 0
    assert page.index(f'id="c-{second}"') < page.index(f'id="c-{first}"')  # newest activity first
    async with tenant.client() as client:
        await client.patch(f"/api/v1/conversations/{first}", json={"assignee_id": tenant.owner_id})
    counts = (await agent.get("/inbox/counts", params={"view": "mine"})).text
    assert count_of(counts, "mine") == 1 and count_of(counts, "unassigned") == 1
    assert 'id="v-mine" href="/inbox?view=mine" aria-current="page"' in counts
    assert f'id="c-{first}"' in (await agent.get(f"/inbox/rows/{first}", params={"view": "mine"})).text
    assert (await agent.get(f"/inbox/rows/{second}", params={"view": "mine"})).text == ""
    mine = (await agent.get("/inbox", params={"view": "mine"})).text
    assert f'id="c-{first}"' in mine and f'id="c-{second}"' not in mine
    found = (await agent.get("/inbox", params={"q": "norway"})).text
    assert f'id="c-{second}"' in found and f'id="c-{first}"' not in found
    assert (await agent.get("/inbox", params={"view": "nonsense"})).status_code == 422
    assert (await agent.get("/inbox", params={"cursor": "garbage"})).status_code == 400


async def test_bulk_form_needs_the_csrf_token(agent: httpx.AsyncClient, tenant: Tenant) -> None:
    ids = [await post(tenant, "one"), await post(tenant, "two")]
    form = {"action": "close", "ids": [str(i) for i in ids], "back": "view=open"}
    forged = await agent.post("/inbox/bulk", data=form, headers={"x-csrf-token": "wrong"})
    assert forged.status_code == 403
    answer = await agent.post("/inbox/bulk", data=form, headers={"hx-request": "true"})
    assert answer.status_code == 200 and answer.text.startswith('<div id="inbox-body">')
    assert "Conversations updated: 2." in answer.text and 'id="c-' not in answer.text
    async with tenant.client() as client:
        for i in ids:
            assert (await client.get(f"/api/v1/conversations/{i}")).json()["conversation"][
                "status"
            ] == "resolved"
    plain = await agent.post("/inbox/bulk", data={**form, "action": "assign", "assignee": "me"})
    assert plain.status_code == 303 and plain.headers["location"] == "/inbox?view=open"
    empty = await agent.post(
        "/inbox/bulk", data={"action": "close", "back": ""}, headers={"hx-request": "true"}
    )
    assert 'role="alert"' in empty.text


async def test_the_page_costs_the_same_queries_for_any_number_of_rows(
    agent: httpx.AsyncClient, tenant: Tenant
) -> None:
    engine = tenant.server.server.config.app.state.db.read_engine.sync_engine
    statements: list[str] = []

    def count(*args: object) -> None:
        statement = str(args[2])
        # Only the inbox's own reads: the server's background loops may query meanwhile.
        if any(
            f"FROM {t}" in statement for t in ("conversations", "conversation_tags", "messages", "customers")
        ):
            statements.append(statement)

    async def queries() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert (await agent.get("/inbox")).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    await post(tenant, "first")
    few = await queries()
    assert few >= 5  # conversations, tags, last messages, customers, counters
    for i in range(6):
        await post(tenant, f"more {i}")
    assert await queries() == few


def test_the_response_clock_shows_what_is_due_next() -> None:
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    at = (now + dt.timedelta(minutes=20)).isoformat()
    base = {
        "status": "open",
        "first_response_at": None,
        "first_response_due_at": at,
        "next_response_due_at": None,
    }
    with i18n.viewing(i18n.Viewer("en", "UTC")):
        soon = inbox.sla_clock(base, now)
        assert soon is not None and (soon.kind, soon.state, soon.text) == (
            "first",
            "soon",
            "first response due in 20 min",
        )
        late = inbox.sla_clock(base, now + dt.timedelta(hours=27, minutes=25))
        assert late is not None and (late.state, late.text) == (
            "overdue",
            "first response overdue by 1 d 3 h",
        )
        answered = {
            **base,
            "first_response_at": at,
            "next_response_due_at": (now + dt.timedelta(hours=2)).isoformat(),
        }
        later = inbox.sla_clock(answered, now)
        assert later is not None and (later.kind, later.state, later.text) == (
            "next",
            "ok",
            "next response due in 2 h 0 min",
        )
        assert inbox.sla_clock({**base, "status": "pending"}, now) is None
        assert inbox.sla_clock({**answered, "next_response_due_at": None}, now) is None
    with i18n.viewing(i18n.Viewer("zh-CN", "UTC")):
        assert inbox.sla_clock(base, now).text == "首次响应剩余 20 分钟"  # type: ignore[union-attr]


def row_html(page: str, conversation_id: int) -> str:
    found = re.search(rf'<li id="c-{conversation_id}".*?</li>', page, re.S)
    assert found is not None, conversation_id
    return found.group(0)


async def test_rows_mark_high_value_and_at_risk_customers_and_list_them_first(
    agent: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    shop = await build_shop(tenant)
    await build_shop(other_tenant)  # its customers are never counted here
    star = await post(tenant, "Big order coming", sender={"name": "Star", "email": shop.star})
    lapsed = await post(tenant, "Remember me?", sender={"name": "Lapsed", "email": shop.lapsed})
    plain = await post(tenant, "Just asking", sender={"name": "Plain", "email": shop.plain[0]})
    await post(other_tenant, "Elsewhere", sender={"name": "Star", "email": shop.star})
    page = (await agent.get("/inbox")).text
    star_row, lapsed_row, plain_row = (row_html(page, c) for c in (star, lapsed, plain))
    assert (
        'class="mark high-value" title="Segment: Champions · Lifetime value among the top tenth' in star_row
    )
    assert 'class="mark at-risk"' not in star_row and " important" in star_row
    assert 'class="mark at-risk" title="Churn risk high"' in lapsed_row and "high-value" not in lapsed_row
    assert 'class="mark' not in plain_row and " important" not in plain_row
    assert count_of(page, "high_value") == 1 and count_of(page, "at_risk") == 1
    assert [page.index(f'id="c-{c}"') for c in (plain, lapsed, star)] == sorted(
        page.index(f'id="c-{c}"') for c in (plain, lapsed, star)
    ), "newest activity first by default"
    high = (await agent.get("/inbox", params={"view": "high_value"})).text
    risk = (await agent.get("/inbox", params={"view": "at_risk"})).text
    assert re.findall(r'<li id="c-(\d+)"', high) == [str(star)]
    assert re.findall(r'<li id="c-(\d+)"', risk) == [str(lapsed)]
    assert 'id="v-at_risk" href="/inbox?view=at_risk" aria-current="page"' in risk
    assert (await agent.get(f"/inbox/rows/{plain}", params={"view": "at_risk"})).text == ""
    assert "mark at-risk" in (await agent.get(f"/inbox/rows/{lapsed}", params={"view": "at_risk"})).text
    # Important first: the marked customers' conversations on top, each part newest first; the choice is
    # a link, kept by the views' links.
    important = (await agent.get("/inbox", params={"sort": "important"})).text
    assert re.findall(r'<li id="c-(\d+)"', important) == [str(lapsed), str(star), str(plain)]
    assert 'id="sort-important" href="/inbox?view=open&amp;sort=important" aria-current="true"' in important
    assert 'id="v-mine" href="/inbox?view=mine&amp;sort=important"' in important
    assert 'id="sort-important" href="/inbox?view=open&amp;sort=important"' in page
    assert (await agent.get("/inbox", params={"sort": "loudest"})).status_code == 422
    chinese = await agent.post("/me/preferences", data={"language": "zh-CN", "timezone": "UTC"})
    assert chinese.status_code in (200, 303), chinese.text
    translated = row_html((await agent.get("/inbox")).text, lapsed)
    assert "有流失风险" in translated and "流失风险高" in translated


async def test_the_marked_inbox_stays_fast_once_the_scores_are_kept(
    agent: httpx.AsyncClient, tenant: Tenant
) -> None:
    shop = await build_shop(tenant)
    for address in (shop.star, shop.lapsed, *shop.others[:20]):
        await post(tenant, "Hello", sender={"name": "Buyer", "email": address})
    await agent.get("/inbox")  # computes the scores once
    took = []
    for _ in range(5):
        start = time.perf_counter()
        assert (await agent.get("/inbox", params={"sort": "important"})).status_code == 200
        took.append(time.perf_counter() - start)
    assert sorted(took)[2] < 0.5, took  # the orders did not change: nothing is recomputed
