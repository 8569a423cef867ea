"""A real browser for the end-to-end tests: Debian's Chromium driven by Playwright (never a downloaded
build), and a logged-in agent."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import PASSWORD, Tenant

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    if shutil.which("chromium") is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield await browser.new_page()
        await browser.close()


async def log_in(page: Any, tenant: Tenant) -> None:
    await page.goto(f"{tenant.server.url}/login")
    await page.fill("input[name=email]", tenant.owner_email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{tenant.server.url}/inbox")
