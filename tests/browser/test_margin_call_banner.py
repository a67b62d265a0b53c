"""The margin-call state on the dashboard, in a real browser (issue 18).

A server configured to call margin as soon as the equity is below 50 times the required margin
(and never to liquidate) calls any account that holds a position at its next revaluation: the
trading view, fed by the websocket's ``marginCall`` frame, shows the banner and paints the
margin bar red; the funds say ``marginCall``. Closing the position meets the call and the
banner goes. Screenshot 13 in test-artifacts/browser/.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from engine.domain.instruments import InstrumentMaster
from tests.browser.conftest import browser_on_server
from tests.e2e.conftest import Client, e2e_config
from tests.e2e.test_trading_journey import order_body

USER_EMAIL = "meera@paperdesk.test"
USER_PASSWORD = "lantern-orchid-73"
TIMEOUT_MS = 15_000
CONFIG = e2e_config(
    accounts={"opening_balance": "100000"},
    risk={
        "margin_call_level_pct": "5000",
        "liquidation_level_pct": "0",
        "revaluation_interval_ms": 500,
    },
)


def test_margin_call_when_equity_below_the_level_then_banner_shown_and_cleared_on_close(
    chromium_path: str, artifacts: Path, master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        async with (
            browser_on_server(chromium_path, database, CONFIG, master) as (browser, base),
            aiohttp.ClientSession() as session,
        ):
            await journey(browser, base, session, artifacts)

    asyncio.run(main())


async def journey(browser: Any, base: str, session: aiohttp.ClientSession, artifacts: Path) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    problems: list[str] = []
    page = await (await browser.new_context(viewport={"width": 1366, "height": 900})).new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    await page.goto(base + "/")
    register = page.locator("#register-form")
    await register.get_by_label("Name").fill("Meera Nair")
    await register.get_by_label("Email").fill(USER_EMAIL)
    await register.get_by_label("Password").fill(USER_PASSWORD)
    await register.get_by_role("button", name="Create account").click()
    await expect(page.locator("#view-trade")).to_be_visible()
    banner = page.locator("#margin-call")
    await expect(banner).to_be_hidden()

    account_id = await page.evaluate(
        "fetch('/api/console').then((r) => r.json()).then((c) => c.tradingAccount.id)"
    )
    api = Client(session, base)
    await api.login(USER_EMAIL, USER_PASSWORD)
    status, body, _ = await api.call("POST", "/api/trading/orders", order_body(account_id))
    assert status == 200, body

    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Margin call")
    await expect(page.locator("#margin-bar")).to_have_class("margin-bar called")
    _, funds, _ = await api.call("GET", f"/api/trading/funds?tradingAccountId={account_id}")
    assert funds["marginCall"] is True, funds
    await page.screenshot(path=artifacts / "13-margin-call.png", full_page=False)

    _, positions, _ = await api.call("GET", "/api/trading/positions?status=OPEN")
    (position,) = positions["items"]
    status, body, _ = await api.call(
        "POST",
        "/api/trading/positions",
        {"positionId": position["id"], "tradingAccountId": account_id},
    )
    assert status == 200, body
    await expect(banner).to_be_hidden()
    assert problems == []
