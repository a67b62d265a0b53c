"""Resetting the account from the console, in a real browser (issue 23).

Proves the reset's confirmation: the dialog names the account, its button stays disabled
until that name is typed exactly (a wrong name cannot be sent), Cancel leaves everything as it
was; the confirmed reset closes the dialog, says what it did, and the views refresh by
themselves: the console shows the opening balance and "1 of 1" resets with the button now
disabled, and the trading view shows the working order CANCELLED, the position gone and
nothing blocked. Screenshots land in test-artifacts/browser/ (10-12).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp

from engine.domain.instruments import InstrumentMaster
from tests.browser.conftest import browser_on_server
from tests.e2e.conftest import Client, e2e_config, eventually
from tests.e2e.test_trading_journey import ltp, order_body

USER_EMAIL = "ravi@paperdesk.test"
USER_PASSWORD = "harbour-quill-58"
LAPTOP = {"width": 1366, "height": 900}
TIMEOUT_MS = 10_000
CONFIG = e2e_config(accounts={"opening_balance": "100000"})


def test_console_reset_when_name_typed_then_account_starts_over_and_views_refresh(
    chromium_path: str, artifacts: Path, master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        async with (
            browser_on_server(chromium_path, database, CONFIG, master) as (browser, base),
            aiohttp.ClientSession() as session,
        ):
            await journey(browser, base, session, artifacts)

    asyncio.run(main())


async def trade_over_api(session: aiohttp.ClientSession, base: str, account_id: str) -> None:
    """A filled MARKET buy (an open position) and a resting LIMIT buy, placed as the user."""
    api = Client(session, base)
    await api.login(USER_EMAIL, USER_PASSWORD)
    status, body, _ = await api.call("POST", "/api/trading/orders", order_body(account_id))
    assert status == 200, body
    resting = order_body(
        account_id, orderType="LIMIT", price=round(await ltp(api) * 0.95, 1), quantity=2
    )
    status, body, _ = await api.call("POST", "/api/trading/orders", resting)
    assert (status, body["order"]["status"]) == (200, "PENDING"), body

    async def position_open() -> bool:
        _, positions, _ = await api.call("GET", "/api/trading/positions?status=OPEN")
        return len(positions["items"]) == 1

    await eventually(position_open)


async def journey(browser: Any, base: str, session: aiohttp.ClientSession, artifacts: Path) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    problems: list[str] = []
    context = await browser.new_context(viewport=LAPTOP)
    page = await context.new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    await page.goto(base + "/")
    register = page.locator("#register-form")
    await register.get_by_label("Name").fill("Ravi Iyer")
    await register.get_by_label("Email").fill(USER_EMAIL)
    await register.get_by_label("Password").fill(USER_PASSWORD)
    await register.get_by_role("button", name="Create account").click()
    await expect(page.locator("#view-trade")).to_be_visible()
    await expect(page.locator('[data-fund="balance"]')).to_have_text("₹1,00,000.00")
    account_id = await page.evaluate(
        "fetch('/api/console').then((r) => r.json()).then((c) => c.tradingAccount.id)"
    )
    await trade_over_api(session, base, account_id)

    await page.locator("#nav").get_by_role("link", name="Console").click()
    await expect(page.locator("#view-console")).to_be_visible()
    await expect(page.locator("#reset-info")).to_contain_text("0 of 1")
    await page.get_by_role("button", name="Reset account").click()
    dialog = page.locator("#reset-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#reset-name")).to_have_text(account_id)
    confirm = dialog.get_by_label(re.compile("Type the account name"))
    submit = dialog.get_by_role("button", name="Reset account")
    await expect(submit).to_be_disabled()
    await confirm.fill("Ravi Iyer")  # not the account's name
    await expect(submit).to_be_disabled()
    await confirm.fill(account_id[:-1])
    await expect(submit).to_be_disabled()
    await page.screenshot(path=artifacts / "10-reset-dialog-wrong-name.png")
    await dialog.get_by_role("button", name="Keep my account").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#reset-info")).to_contain_text("0 of 1")  # nothing happened

    await page.get_by_role("button", name="Reset account").click()
    await confirm.fill(account_id)
    await expect(submit).to_be_enabled()
    await page.screenshot(path=artifacts / "11-reset-dialog-confirmed.png")
    await submit.click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#toasts")).to_contain_text("Account reset")
    await expect(page.locator("#reset-info")).to_contain_text("1 of 1")
    await expect(page.locator("#console-funds")).to_contain_text("₹1,00,000.00")
    await expect(page.locator("#ledger-table tbody tr").first).to_contain_text("reset")
    await expect(page.locator("#reset-open")).to_be_disabled()
    await page.screenshot(path=artifacts / "12-console-after-reset.png", full_page=True)

    await page.get_by_role("link", name="Trade").click()
    await expect(page.locator('[data-fund="balance"]')).to_have_text("₹1,00,000.00")
    await expect(page.locator('[data-fund="blockedMargin"]')).to_have_text("₹0.00")
    await expect(page.locator("#positions-table tbody")).to_contain_text("No open positions")
    cancelled = page.locator("#orders-table tbody tr[data-status='CANCELLED']")
    await expect(cancelled).to_have_count(1)
    await context.close()
    assert not problems, problems
