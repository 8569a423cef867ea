"""In a real browser: a shop page on another origin embeds the widget with one script tag; the visitor
writes, an agent (through the API) answers, the answer appears live, and markup in it stays text."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.channels.webchat.support import make_widget, reply, until_state, webchat_conversation
from tests.conftest import LiveServer, Tenant

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = "/tmp/webchat-widget.png"
pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)"
)
WAIT_MS = 30_000  # a guard against hanging under a loaded CI machine, not a timing assertion
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script> Your parcel ships today!'


class Shop:
    """A tiny shop site on its own port (another origin than crossdesk's), with the widget's script tag."""

    def __init__(self) -> None:
        self.script_src = ""
        self.server = LiveServer(None, Starlette(routes=[Route("/", self.page)]))

    async def page(self, request: Request) -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><html><head><title>Hans' Bike Shop</title>"
            "<style>body{font-family:Georgia,serif;margin:40px;background:#fdf6e3}"
            "div,button,li{color:red!important;background:yellow!important}</style></head>"
            "<body><h1>Hans' Bike Shop</h1><p>Touring bikes, shipped worldwide.</p>"
            f'<script src="{self.script_src}" async></script></body></html>'
        )


@pytest.fixture
def shop() -> Iterator[Shop]:
    site = Shop()
    with site.server:
        yield site


@pytest.fixture
async def page() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield await browser.new_page(viewport={"width": 1000, "height": 720})
        await browser.close()


async def test_a_visitor_chats_with_an_agent_from_a_shop_page(page, tenant: Tenant, shop: Shop) -> None:  # type: ignore[no-untyped-def]
    widget = await make_widget(
        tenant, allowed_origins=[shop.server.url], title="Hans' Bike Shop", greeting="Moin! Ask us anything."
    )
    shop.script_src = f"{tenant.server.url}/widget/{widget.public_id}.js"
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(shop.server.url)

    await page.click("crossdesk-webchat .bubble")
    await page.locator("crossdesk-webchat .greeting", has_text="Moin!").wait_for(timeout=WAIT_MS)
    await page.fill("crossdesk-webchat textarea", "Does the Tourer 2 come in 56 cm?")
    await page.press("crossdesk-webchat textarea", "Enter")
    mine = page.locator("crossdesk-webchat .message.visitor", has_text="Does the Tourer 2 come in 56 cm?")
    await mine.wait_for(timeout=WAIT_MS)
    await expect(mine.locator(".meta")).not_to_contain_text("sending", timeout=WAIT_MS)  # stored, echoed back

    async with tenant.client() as client:
        detail = await webchat_conversation(tenant, client, "Does the Tourer 2 come in 56 cm?")
        conversation_id = detail["conversation"]["id"]
        await client.post(f"/api/v1/conversations/{conversation_id}/typing", json={"is_typing": True})
        await page.locator("crossdesk-webchat .typing").wait_for(state="visible", timeout=WAIT_MS)
        answer = await reply(client, conversation_id, "Yes, 56 cm is in stock in blue and black.")
        await until_state(client, conversation_id, answer["id"], "sent", "delivered", "read")
        await page.locator("crossdesk-webchat .message.agent", has_text="56 cm is in stock").wait_for(
            timeout=WAIT_MS
        )
        hostile = await reply(client, conversation_id, HOSTILE)
        shown = page.locator("crossdesk-webchat .message.agent .text", has_text="Your parcel ships today!")
        await shown.wait_for(timeout=WAIT_MS)
        # The panel is open and visible: the widget acknowledged both replies as read.
        await until_state(client, conversation_id, answer["id"], "read")
        await until_state(client, conversation_id, hostile["id"], "read")

    assert await shown.inner_text() == HOSTILE  # shown as text ...
    assert await page.evaluate("window.__pwned") is None  # ... and nothing in it ran
    assert (
        await page.locator("crossdesk-webchat .message img, crossdesk-webchat .message script").count() == 0
    )
    # The shop's loud CSS for div/button/li does not reach into the widget.
    color = await page.locator("crossdesk-webchat .message.agent .text").first.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert color != "rgb(255, 255, 0)"
    await page.screenshot(path=SCREENSHOT)
    assert errors == []
