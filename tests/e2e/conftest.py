"""A real browser for the end-to-end tests: Debian's Chromium driven by Playwright (never a downloaded
build), logged-in agents, and the folder the tests' screenshots go to."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD, Tenant

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Screenshots the tests take, to be looked at by a person (CI keeps the folder with its output).
SCREENSHOTS = Path(os.environ.get("CROSSDESK_TEST_OUTPUT", "test-output")) / "screenshots"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if shutil.which("chromium") is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Any) -> Any:
    """A page in a browser context of its own (its own cookies: one agent)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    return await context.new_page()


async def log_in(page: Any, tenant: Tenant, email: str | None = None, password: str = PASSWORD) -> None:
    await page.goto(f"{tenant.server.url}/login")
    await page.fill("input[name=email]", email or tenant.owner_email)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{tenant.server.url}/inbox")


async def add_agent(tenant: Tenant, name: str, **fields: Any) -> dict[str, Any]:
    """A second agent of the tenant's workspace (through the API); its e-mail is in the answer."""
    body = {"email": f"{uuid.uuid4().hex[:10]}@example.com", "name": name, "password": PASSWORD, **fields}
    async with tenant.client() as client:
        response = await client.post("/api/v1/agents", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def screenshot_path(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")
