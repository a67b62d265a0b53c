"""An order's fills on the dashboard, in a real browser (issue 19).

Proves that the orders table shows what has filled of each order and what is still pending
(a LIMIT order filled in part by the market, then again), that it refreshes by itself as fills
arrive, and that an order's Trades control opens the list of its fills (from its detail route)
with their quantities and prices; and that a GTT placed through the API appears in the GTT list
by itself and is deleted from it. Screenshots land in test-artifacts/browser/ (24-26).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from engine.domain.instruments import InstrumentMaster
from tests.browser.conftest import browser_on_server
from tests.e2e.conftest import Client, e2e_config
from tests.e2e.test_trades_routes import fill_part
from tests.e2e.test_trading_journey import ltp, order_body

USER_EMAIL = "meera@paperdesk.test"
USER_PASSWORD = "lantern-sorrel-71"
LAPTOP = {"width": 1366, "height": 900}
TIMEOUT_MS = 10_000
CONFIG = e2e_config(accounts={"opening_balance": "100000"})


def test_orders_table_when_order_fills_in_parts_then_pending_shown_and_trades_open(
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
    context = await browser.new_context(viewport=LAPTOP)
    page = await context.new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    await page.goto(base + "/")
    register = page.locator("#register-form")
    await register.get_by_label("Name").fill("Meera Nair")
    await register.get_by_label("Email").fill(USER_EMAIL)
    await register.get_by_label("Password").fill(USER_PASSWORD)
    await register.get_by_role("button", name="Create account").click()
    await expect(page.locator("#view-trade")).to_be_visible()
    account_id = await page.evaluate(
        "fetch('/api/console').then((r) => r.json()).then((c) => c.tradingAccount.id)"
    )

    api = Client(session, base)
    await api.login(USER_EMAIL, USER_PASSWORD)
    price = round(await ltp(api) * 0.9, 1)
    resting = order_body(account_id, orderType="LIMIT", price=price, quantity=10)
    status, body, _ = await api.call("POST", "/api/trading/orders", resting)
    assert status == 200, body
    order_id = body["order"]["id"]

    row = page.locator(f"#orders-table tbody tr[data-order-id='{order_id}']")
    await expect(row).to_contain_text("0/10")
    await expect(row).to_contain_text("10 pending")
    await expect(row.get_by_role("button", name="Trades of BUY RELIANCE order")).to_have_count(0)
    fill_part(base, account_id, order_id, 3, price)
    await expect(row).to_contain_text("3/10")
    await expect(row).to_contain_text("7 pending")
    fill_part(base, account_id, order_id, 4, price)
    await expect(row).to_contain_text("7/10")
    await expect(row).to_contain_text("3 pending")
    await page.screenshot(path=artifacts / "24-orders-partly-filled.png")

    await row.get_by_role("button", name="Trades of BUY RELIANCE order").click()
    dialog = page.locator("#trades-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#trades-summary")).to_contain_text("7/10 filled")
    trades = dialog.locator("#trades-table tbody tr")
    await expect(trades).to_have_count(2)
    shown = f"{price:,.2f}"
    for index, quantity in enumerate((3, 4)):
        await expect(trades.nth(index).locator("td").nth(1)).to_have_text(str(quantity))
        await expect(trades.nth(index).locator("td").nth(2)).to_have_text(shown)
    await page.screenshot(path=artifacts / "25-order-trades.png")
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()

    # A GTT placed through the API is listed by itself (its websocket frame), and deleted
    # from the list it shows CANCELLED with nothing left to delete.
    now = await ltp(api)
    low, high = round(now * 0.9, 1), round(now * 1.1, 1)
    gtt_body = {
        "tradingAccountId": account_id,
        "instrumentId": resting["instrumentId"],
        "type": "TWO_LEG",
        "triggerValues": [low, high],
        "orders": [
            {"orderSide": "SELL", "quantity": 1, "productType": "MIS", "price": trigger}
            for trigger in (low, high)
        ],
    }
    status, body, _ = await api.call("POST", "/api/trading/gtt", gtt_body)
    assert status == 200, body
    gtt_id = body["gtt"]["id"]
    gtt_row = page.locator(f"#gtts-table tbody tr[data-gtt-id='{gtt_id}']")
    await expect(gtt_row).to_contain_text("ACTIVE")
    await expect(gtt_row).to_contain_text("OCO")
    await expect(gtt_row).to_contain_text(f"{low:,.2f} / {high:,.2f}")
    await page.screenshot(path=artifacts / "26-gtt-listed.png")
    delete = gtt_row.get_by_role("button", name=f"Delete GTT RELIANCE {low:,.2f} / {high:,.2f}")
    await delete.click()
    await expect(gtt_row).to_contain_text("CANCELLED")
    await expect(gtt_row.get_by_role("button")).to_have_count(0)
    status, body, _ = await api.call("GET", f"/api/trading/gtt/{gtt_id}")
    assert (status, body["gtt"]["status"]) == (200, "CANCELLED"), body
    await context.close()
    assert problems == []
