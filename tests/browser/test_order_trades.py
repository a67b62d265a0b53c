"""An order's fills on the dashboard, in a real browser (issue 19).

Proves that the orders table shows what has filled of each order and what is still pending
(a LIMIT order filled in part by the market, then again), that it refreshes by itself as fills
arrive, and that an order's Trades control opens the list of its fills (from its detail route)
with their quantities and prices; and that a GTT placed through the API appears in the GTT list
by itself and is deleted from it; and that an iceberg placed from the ticket shows its first
leg, then its second when the first has filled. Screenshots land in test-artifacts/browser/
(24-27).
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

    await iceberg_from_the_ticket(page, base, api, account_id, artifacts)
    await context.close()
    assert problems == []


async def iceberg_from_the_ticket(
    page: Any, base: str, api: Client, account_id: str, artifacts: Path
) -> None:
    """An iceberg placed from the ticket (10 RELIANCE in 2 legs): the orders table shows its
    first leg, and when the market fills that leg the second appears by itself. A number of
    legs the quantity does not split into is refused at the field before anything is sent."""
    from playwright.async_api import expect

    await page.locator("#watchlist .watch-item", has_text="RELIANCE").click()
    ticket = page.locator("#ticket-form")
    price = round(await ltp(api) * 0.9, 1)
    await ticket.get_by_label("Order type").select_option("LIMIT")
    await ticket.get_by_label("Price", exact=True).fill(f"{price:.2f}")
    await ticket.get_by_label("Quantity").fill("10")
    legs = ticket.get_by_label("Iceberg legs")
    await legs.fill("6")  # 10 in legs of 2 is 5 legs
    await page.locator("#ticket-submit").click()
    error = ticket.locator("[data-error-for='iceberg.legs']")
    await expect(error).to_have_text("10 splits into 5 legs of 2, not 6.")
    await legs.fill("2")
    await expect(page.locator("#ticket-submit")).to_have_text("Buy 10 RELIANCE in 2 legs")
    await page.locator("#ticket-submit").click()
    await expect(error).to_be_hidden()

    first = await iceberg_leg(api, 1)
    row = page.locator(f"#orders-table tbody tr[data-order-id='{first['id']}']")
    await expect(row).to_contain_text("leg 1/2")
    await expect(row).to_contain_text("0/5")
    fill_part(base, account_id, first["id"], 5, price)
    await expect(row).to_contain_text("5/5")
    second = await iceberg_leg(api, 2)
    assert second["iceberg"]["parentOrderId"] == first["id"]
    next_row = page.locator(f"#orders-table tbody tr[data-order-id='{second['id']}']")
    await expect(next_row).to_contain_text("leg 2/2")
    await expect(next_row).to_contain_text("5 pending")
    await page.screenshot(path=artifacts / "27-iceberg-legs.png")


async def iceberg_leg(api: Client, leg: int) -> dict[str, Any]:
    """The order that is leg ``leg`` of the account's iceberg, once it is there."""
    for _ in range(100):
        status, body, _ = await api.call("GET", "/api/trading/orders")
        assert status == 200, body
        for order in body["items"]:
            if order["iceberg"] and order["iceberg"]["leg"] == leg:
                return dict(order)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no leg {leg}")
