"""The option chain and the payoff in a real browser, against the real server and PostgreSQL.

Proves that a person who opens the Option chain tab sees NIFTY's strikes with calls on the left
and puts on the right, exactly one row marked ATM, IV and delta filled on both sides and prices
moving live; that choosing an ask opens the order ticket on that contract set to BUY and a bid
sets it to SELL; that an option bought from there fills, and the Payoff tab then draws both
curves for it (the chart says so in its accessible name) and lists the position; that a call
then sold against it shows in the ticket the hedge benefit the long call gives; and that the
chain scrolls inside its own box at phone width. Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from engine.domain.instruments import InstrumentMaster
from tests.browser.conftest import browser_on_server
from tests.browser.test_dashboard import (
    PHONE,
    TIMEOUT_MS,
    page_width,
    register_on_page,
    watched_page,
)
from tests.e2e.conftest import e2e_config

OPENING = {"accounts": {"opening_balance": "1000000"}}
NUMBER = re.compile(r"^-?\d+\.\d\d$")


def test_option_chain_when_ask_chosen_and_bought_then_ticket_preset_and_payoff_drawn(
    chromium_path: str, artifacts: Path, master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        config = e2e_config(**OPENING)
        async with browser_on_server(chromium_path, database, config, master) as (browser, base):
            await chain_journey(browser, base, artifacts, master)

    asyncio.run(main())


async def chain_journey(browser: Any, base: str, artifacts: Path, master: InstrumentMaster) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    problems: list[str] = []
    page = await watched_page(browser, problems)
    await register_on_page(page, base, "Meera Nair", "chain@paperdesk.test", "saffron-delta-58")
    await expect(page.locator("#feed-status")).to_have_text(re.compile("live"))

    # -- the chain: strikes in the middle, one ATM row, IV and delta on both sides -----------
    await page.get_by_role("tab", name="Option chain").click()
    await expect(page.get_by_role("tab", name="Option chain")).to_have_attribute(
        "aria-selected", "true"
    )
    await expect(page.locator("#chain-underlying")).to_have_value("NIFTY")
    rows = page.locator("#chain-table tbody tr[data-strike]")
    strikes = sorted(i.strike_paise for i in master if i.underlying == "NIFTY" and i.is_option)
    await expect(rows).to_have_count(len(set(strikes)))
    atm = page.locator("#chain-table tbody tr.atm")
    await expect(atm).to_have_count(1)
    await expect(atm.locator("th.strike")).to_contain_text("ATM")
    await expect(page.locator('[data-chain="atmStrike"]')).not_to_have_text("—")
    for side in ("call", "put"):
        await expect(atm.locator(f"td.{side}.iv")).to_have_text(NUMBER)
        await expect(atm.locator(f"td.{side}.delta")).to_have_text(NUMBER)
    first = [await rows.nth(n).get_attribute("data-strike") for n in range(2)]
    assert float(first[0] or 0) < float(first[1] or 0), first  # ascending strikes
    assert float(await atm.locator("td.call.delta").text_content() or 0) > 0
    assert float(await atm.locator("td.put.delta").text_content() or 0) < 0
    ltp = atm.locator("td.call.ltp")
    before = await ltp.text_content()
    await expect(ltp).not_to_have_text(before or "", timeout=TIMEOUT_MS)  # live over the socket
    await page.locator(".chart-panel").screenshot(path=artifacts / "20-option-chain-laptop.png")

    # -- an ask opens the ticket to BUY that contract; a bid to SELL -------------------------
    ask = atm.locator("td.call.ask button")
    label = await ask.get_attribute("aria-label") or ""
    symbol = re.match(r"Buy (\S+) at ask", label)
    assert symbol is not None, label
    call = symbol[1]
    await atm.locator("td.put.bid button").click()
    ticket = page.locator("#ticket-form")
    await expect(ticket.locator("#side-sell")).to_be_checked()
    await expect(page.locator("#ticket-submit")).to_have_text(re.compile(r"^Sell 65 NIFTY\S+PE$"))
    await ask.click()
    await expect(ticket.locator("#side-buy")).to_be_checked()
    await expect(page.locator("#ticket-instrument")).to_contain_text(call)
    await expect(page.locator("#ticket-submit")).to_have_text(f"Buy 65 {call}")
    await expect(ticket.locator("#ticket-preview")).not_to_have_class(re.compile(r"\bstale\b"))
    premium = float((await ask.text_content() or "0").replace(",", "")) * 65
    required = await ticket.locator('[data-preview="required"]').text_content() or ""
    # A bought option blocks its premium: the new contract's figures, not the last one's.
    assert premium * 0.9 < float(required.strip("₹").replace(",", "")) < premium * 1.2, required
    await page.screenshot(path=artifacts / "21-chain-ticket-laptop.png", full_page=True)

    # -- bought: the payoff draws both curves for it ----------------------------------------
    await page.locator("#ticket-submit").click()
    executed = page.locator("#orders-table tbody tr[data-status='EXECUTED']", has_text=call)
    await expect(executed).to_have_count(1)
    await page.get_by_role("tab", name="Payoff").click()
    await expect(page.locator("#payoff-underlying")).to_have_value("NIFTY")
    chart = page.locator("#payoff-chart")
    await expect(chart).to_have_attribute("data-points", "101")
    await expect(chart).to_have_attribute("aria-label", re.compile("Payoff of 1 NIFTY position"))
    await expect(chart).to_have_attribute("aria-label", re.compile("at expiry from -"))
    await expect(page.locator("#payoff-table tbody tr", has_text=call)).to_have_count(1)
    await expect(page.locator("#payoff-summary")).to_contain_text("Spot")
    await page.locator(".chart-panel").screenshot(path=artifacts / "22-payoff-laptop.png")

    # -- a call sold against the one held: the ticket shows what the long call saves --------
    await page.get_by_role("tab", name="Option chain").click()
    await page.locator("#chain-table tbody tr.atm + tr td.call.bid button").click()
    await expect(page.locator("#ticket-submit")).to_have_text(re.compile(r"^Sell 65 NIFTY\S+CE$"))
    hedge = ticket.locator('[data-preview="hedge"]')
    await expect(hedge).to_have_text(re.compile(r"^Hedge benefit ₹[\d,.]+: ₹[\d,.]+ on its own\.$"))

    # -- phone width: the chain scrolls in its own box ----------------------------------------
    await page.set_viewport_size(PHONE)
    await page.get_by_role("tab", name="Option chain").click()
    await expect(atm).to_have_count(1)
    await page.wait_for_timeout(300)
    await page.screenshot(path=artifacts / "23-option-chain-phone.png", full_page=True)
    assert await page_width(page) <= PHONE["width"], "the option chain scrolls the page sideways"

    await page.context.close()
    assert not problems, problems
