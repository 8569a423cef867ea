"""The campaigns pages over HTTP: agents read and cannot write, the form's errors sit next to their fields,
drafts are created, edited and launched through the pages, and the results show both groups' numbers."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import update

from crossdesk.campaigns import service
from crossdesk.campaigns.models import Campaign, CampaignRecipient
from crossdesk.db import Database
from crossdesk.workspaces.models import Agent
from tests.campaigns.conftest import (
    add_account,
    add_customer,
    add_order,
    campaign_in,
    create_and_launch,
    recipients,
)
from tests.conftest import Tenant
from tests.e2e.conftest import add_agent
from tests.web.test_settings_pages import browser, error_of


async def _draft(db: Database, tenant: Tenant, account: int, **fields: Any) -> int:
    from crossdesk.workspaces import service as workspaces

    async with db.transaction(tenant.workspace_id) as session:
        workspace = await workspaces.get_workspace(session, tenant.workspace_id)
        campaign = await service.create_campaign(
            session, workspace, campaign_in(account, **fields), tenant.owner_id
        )
        return campaign.id


async def _campaign(db: Database, tenant: Tenant, campaign_id: int) -> Campaign:
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        return await service.get_campaign(session, campaign_id)


def _form(csrf: str, account: int, **fields: str | list[str]) -> dict[str, Any]:
    return {
        "csrf_token": csrf,
        "name": "Spring back",
        "kind": "win_back",
        "channel_account_id": str(account),
        "t0_language": "en",
        "t0_subject": "Hi {{ customer.first_name }}",
        "t0_body": "Use {{ discount_code }}",
        "t1_language": "",
        "t1_body": "",
        "discount_code": "SPRING5",
        "send_from_hour": "9",
        "send_until_hour": "20",
        "frequency_cap_days": "5",
        "control_share": "12.5",
        "attribution_days": "10",
        "starts_at": "",
        **fields,
    }


async def test_agents_read_without_write_buttons_and_their_writes_are_403(
    db: Database, tenant: Tenant
) -> None:
    account = await add_account(db, tenant)
    campaign_id = await _draft(db, tenant, account, name="<i>Sale</i>")
    agent = await add_agent(tenant, "Plain")
    async with browser(tenant, tenant.owner_email) as (client, _csrf):
        listed = await client.get("/campaigns")
        assert listed.status_code == 200 and 'href="/campaigns/new"' in listed.text
        assert "&lt;i&gt;Sale&lt;/i&gt;" in listed.text and "<i>Sale</i>" not in listed.text
        shown = await client.get(f"/campaigns/{campaign_id}")
        assert f'action="/campaigns/{campaign_id}/launch"' in shown.text
        assert "&lt;i&gt;Sale&lt;/i&gt;" in shown.text and "<i>Sale</i>" not in shown.text
        assert (await client.get("/campaigns/new")).status_code == 200
    async with browser(tenant, agent["email"]) as (client, csrf):
        listed = await client.get("/campaigns")
        assert listed.status_code == 200 and "&lt;i&gt;Sale&lt;/i&gt;" in listed.text
        assert "/campaigns/new" not in listed.text
        shown = await client.get(f"/campaigns/{campaign_id}")
        assert shown.status_code == 200 and "/launch" not in shown.text and "/cancel" not in shown.text
        assert "/edit" not in shown.text
        for path in ("/campaigns/new", f"/campaigns/{campaign_id}/edit"):
            assert (await client.get(path)).status_code == 403, path
        for path in ("/campaigns", f"/campaigns/{campaign_id}", f"/campaigns/{campaign_id}/launch"):
            assert (await client.post(path, data=_form(csrf, account))).status_code == 403, path
        assert (
            await client.post(f"/campaigns/{campaign_id}/cancel", data={"csrf_token": csrf})
        ).status_code == 403
    assert (await _campaign(db, tenant, campaign_id)).state == "draft"


async def test_form_errors_sit_next_to_their_fields_and_keep_the_values(db: Database, tenant: Tenant) -> None:
    account = await add_account(db, tenant)
    async with browser(tenant, tenant.owner_email) as (client, csrf):
        answer = await client.post(
            "/campaigns",
            data=_form(
                csrf,
                account,
                name="",
                discount_code="no spaces!",
                send_from_hour="20",
                send_until_hour="9",
                control_share="70",
                starts_at="soon",
            ),
        )
        assert answer.status_code == 422
        html = answer.text
        for field in ("f-name", "f-discount_code", "f-control_share", "f-starts_at"):
            assert error_of(html, field), field
        assert 'value="no spaces!"' in html and 'value="70"' in html, "what was typed is kept"
        assert "Use {{ discount_code }}</textarea>" in html

        # The service's own checks (the template's variables, the segments) land on their field too.
        answer = await client.post(
            "/campaigns",
            data=_form(csrf, account, name="<b>Bold</b>", t0_body="Hi {{ secret }}"),
        )
        assert answer.status_code == 422
        assert "unknown variable: secret" in answer.text
        assert re.search(r'<textarea id="f-t0_body"[^>]*aria-invalid="true"', answer.text)
        assert '<span id="f-t0_body-error" class="field-error">' in answer.text
        assert 'value="&lt;b&gt;Bold&lt;/b&gt;"' in answer.text

        answer = await client.post("/campaigns", data=_form(csrf, account, segments=["Champions", "Nope"]))
        assert answer.status_code == 422 and "unknown segment: Nope" in answer.text
        assert '<span id="f-segments-error" class="field-error">' in answer.text
        answer = await client.post("/campaigns", data=_form(csrf, account, send_from_hour="20"))
        assert answer.status_code == 422 and error_of(answer.text, "f-send_until_hour")
        answer = await client.post("/campaigns", data=_form(csrf, account, channel_account_id=""))
        assert answer.status_code == 422 and error_of(answer.text, "f-channel_account_id")
    async with db.transaction(tenant.workspace_id, readonly=True) as session:
        assert await service.list_campaigns(session) == []


async def test_a_draft_is_created_and_edited_through_the_form(db: Database, tenant: Tenant) -> None:
    account = await add_account(db, tenant)
    await add_customer(db, tenant)
    async with db.transaction(tenant.workspace_id) as session:
        await session.execute(
            update(Agent).where(Agent.id == tenant.owner_id).values(timezone="Europe/Berlin")
        )
    async with browser(tenant, tenant.owner_email) as (client, csrf):
        form = await client.get("/campaigns/new")
        assert form.status_code == 200 and 'name="segments" value="Champions"' in form.text
        assert "{{ customer.first_name }}" in form.text, "the variables are listed"
        body = _form(
            csrf,
            account,
            segments=["New", "Lost"],
            t1_language="de",
            t1_subject="Hallo",
            t1_body="Hallo {{ customer.name }}",
            starts_at="2031-07-01T10:30",
        )
        answer = await client.post("/campaigns", data=body)
        assert answer.status_code == 303, answer.text
        campaign_id = int(answer.headers["location"].rsplit("/", 1)[1])
        campaign = await _campaign(db, tenant, campaign_id)
        assert (campaign.name, campaign.kind, campaign.segments) == (
            "Spring back",
            "win_back",
            ["New", "Lost"],
        )
        assert campaign.default_language == "en" and set(campaign.templates) == {"en", "de"}
        assert campaign.templates["de"] == {"subject": "Hallo", "body": "Hallo {{ customer.name }}"}
        assert (campaign.send_from_hour, campaign.send_until_hour, campaign.frequency_cap_days) == (9, 20, 5)
        assert str(campaign.control_share) in ("0.125", "0.1250") and campaign.attribution_days == 10
        assert campaign.starts_at == dt.datetime(2031, 7, 1, 8, 30, tzinfo=dt.UTC), "Berlin summer time"

        edit = await client.get(f"/campaigns/{campaign_id}/edit")
        assert edit.status_code == 200
        assert 'value="2031-07-01T10:30"' in edit.text and 'value="12.5"' in edit.text
        assert re.search(r'value="Lost"\s+checked', edit.text)
        changed = _form(csrf, account, name="Renamed", t1_language="de", t1_subject="", t1_body="")
        answer = await client.post(f"/campaigns/{campaign_id}", data=changed)
        assert answer.status_code == 303, answer.text
    campaign = await _campaign(db, tenant, campaign_id)
    assert campaign.name == "Renamed" and set(campaign.templates) == {"en"} and campaign.segments == []
    assert campaign.starts_at is None


async def test_launch_and_cancel_through_the_page(db: Database, tenant: Tenant) -> None:
    account = await add_account(db, tenant)
    customers = [await add_customer(db, tenant) for _ in range(4)]
    campaign_id = await _draft(db, tenant, account)
    async with browser(tenant, tenant.owner_email) as (client, csrf):
        answer = await client.post(f"/campaigns/{campaign_id}/launch", data={"csrf_token": csrf})
        assert answer.status_code == 303, answer.text
        found = await recipients(db, tenant, campaign_id)
        assert set(found) == set(customers) and {r.state for r in found.values()} == {"pending"}
        again = await client.post(f"/campaigns/{campaign_id}/launch", data={"csrf_token": csrf})
        assert again.status_code == 409 and "Only a draft can be launched." in again.text
        answer = await client.post(f"/campaigns/{campaign_id}/cancel", data={"csrf_token": csrf})
        assert answer.status_code == 303
        shown = await client.get(f"/campaigns/{campaign_id}")
        assert "/launch" not in shown.text and "/cancel" not in shown.text
    assert (await _campaign(db, tenant, campaign_id)).state == "cancelled"
    assert {r.skip_reason for r in (await recipients(db, tenant, campaign_id)).values()} == {"cancelled"}


async def test_results_show_both_groups_numbers(db: Database, tenant: Tenant) -> None:
    account = await add_account(db, tenant)
    sample = await add_customer(db, tenant, name="<script>alert(1)</script> Eve")  # the preview's: first
    customers = [sample] + [await add_customer(db, tenant, name=f"Buyer {i}") for i in range(16)]
    data = campaign_in(account, name="Back <b>soon</b>", control_share="0.5", attribution_days=14)
    campaign_id, _ = await create_and_launch(db, tenant, data)
    found = await recipients(db, tenant, campaign_id)
    treated = sorted(c for c, r in found.items() if not r.is_control)
    control = sorted(c for c, r in found.items() if r.is_control)
    assert len(treated) >= 3 and len(control) >= 2
    start = data.starts_at
    assert start is not None
    async with db.transaction(tenant.workspace_id) as session:
        # Messages handed over at the start (no sender round needed); three buyers ordered, one of control.
        await session.execute(
            update(CampaignRecipient)
            .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.customer_id.in_(treated))
            .values(state="sent", sent_at=start)
        )
        for customer in treated[:3]:
            await add_order(session, customer, start + dt.timedelta(days=2), total="40.00")
        await add_order(session, control[0], start + dt.timedelta(days=3), total="25.50")
        await add_order(session, control[1], start + dt.timedelta(days=30), total="99.00")  # too late
    async with browser(tenant, tenant.owner_email) as (client, _csrf):
        html = (await client.get(f"/campaigns/{campaign_id}")).text
        listed = (await client.get("/campaigns")).text

    def cells(key: str) -> list[str]:
        row = re.search(rf'<tr class="row-{key}">(.*?)</tr>', html, re.S)
        assert row is not None, key
        return re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)

    assert cells("recipients") == [str(len(treated)), str(len(control))]
    assert cells("ordered") == ["3", "1"]
    assert cells("revenue") == ["$120.00", "$25.50"]
    rate = 3 / len(treated) * 100
    assert cells("conversion")[0] == f"{rate:.1f}%"
    assert "points more buyers ordered than in the control group" in html
    assert 'id="campaign-data"' in html and "Control group" in html
    assert "Back &lt;b&gt;soon&lt;/b&gt;" in html and "<b>soon</b>" not in html
    assert "$120.00" in listed and len(customers) == len(found)
    # The preview is written for the first customer of the audience, whose name stays text.
    assert "Preview for &lt;script&gt;alert(1)&lt;/script&gt; Eve" in html and "Code BACK10" in html
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
