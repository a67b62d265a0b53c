"""A new user's first minute in a real browser, with the default opening balance.

Proves, against the real server and PostgreSQL with ``accounts.opening_balance`` at its default
(₹10,00,000): a person who registers in the page is greeted with their balance and the first
steps (find an instrument, place an order, where the Console is), places a first order that
fills without any admin, and the greeting is gone once they have an order; an order too large
for the account says how to get more (a deposit request or a reset in the Console).
Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from engine.domain.instruments import InstrumentMaster
from tests.browser.conftest import browser_on_server
from tests.browser.test_dashboard import TIMEOUT_MS, register_on_page, watched_page
from tests.e2e.conftest import e2e_config

OPENING = {"accounts": {"opening_balance": "1000000"}}


def test_new_user_when_registered_then_greeted_funded_and_first_order_fills_unaided(
    chromium_path: str, artifacts: Path, master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        config = e2e_config(**OPENING)
        async with browser_on_server(chromium_path, database, config, master) as (browser, base):
            await first_minute(browser, base, artifacts)

    asyncio.run(main())


async def first_minute(browser: Any, base: str, artifacts: Path) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    problems: list[str] = []
    page = await watched_page(browser, problems)
    await register_on_page(
        page, base, "Vikram Iyer", "first-minute@paperdesk.test", "harbour-candle-31"
    )

    welcome = page.locator("#welcome")
    await expect(welcome).to_be_visible()
    await expect(welcome).to_contain_text("₹10,00,000.00")
    await expect(welcome.get_by_role("link", name="Console")).to_have_attribute("href", "#/console")
    await expect(page.locator('[data-fund="balance"]')).to_have_text("₹10,00,000.00")
    await page.screenshot(path=artifacts / "10-welcome-laptop.png", full_page=True)

    await page.get_by_label("Search instruments").fill("RELIANCE")
    await (
        page.locator("#search-results")
        .get_by_role("button", name=re.compile("RELIANCE"))
        .first.click()
    )
    ticket = page.locator("#ticket-form")
    await ticket.get_by_label("Quantity").fill("5000")  # MIS margin above ₹10 lakh
    note = ticket.locator('[data-preview="note"]')
    await expect(note).to_contain_text("Not enough funds")
    await expect(note).to_contain_text("request a deposit in the Console")
    await expect(note).to_contain_text("reset the account")

    await ticket.get_by_label("Quantity").fill("5")
    await expect(note).to_have_text("")
    await ticket.get_by_role("button", name="Buy 5 RELIANCE").click()
    executed = page.locator("#orders-table tbody tr[data-status='EXECUTED']", has_text="RELIANCE")
    await expect(executed).to_have_count(1)
    await expect(welcome).to_be_hidden()
    await page.screenshot(path=artifacts / "11-first-order-laptop.png", full_page=True)

    await page.context.close()
    assert not problems, problems
