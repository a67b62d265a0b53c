"""The trading dashboard in a real browser, against the real server and PostgreSQL.

Proves the page works end to end through the public API and the websocket only: a person
registers in the page (a too-short password is refused next to its field); an admin, in a
second browser context, approves the user's deposit request; the user places a MARKET order,
sees it execute and the position appear with P&L moving on live quotes; sets a target the
market will touch and sees the position close by itself; an order too large for the account is
rejected with its reason and the amounts; a resting LIMIT order is modified and cancelled; a
dropped websocket reconnects by itself; no page scrolls sideways at phone width. Screenshots
at laptop and phone widths land in test-artifacts/browser/.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

from engine.domain.instruments import InstrumentMaster
from tests.browser.conftest import browser_on_server
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, e2e_config

USER_EMAIL = "asha@paperdesk.test"
USER_PASSWORD = "monsoon-ledger-7"  # the policy refuses one containing "asha"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000


class Timings:
    """Wall-clock time of each step, written next to the screenshots."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last = self.started
        self.steps: list[tuple[str, float]] = []

    def mark(self, step: str) -> None:
        now = time.perf_counter()
        self.steps.append((step, now - self.last))
        self.last = now

    def report(self) -> str:
        lines = [f"{seconds:6.2f} s  {step}" for step, seconds in self.steps]
        lines.append(f"{time.perf_counter() - self.started:6.2f} s  total")
        return "\n".join(lines)


def test_dashboard_when_user_registers_funds_and_trades_then_page_follows_journey(
    chromium_path: str, artifacts: Path, master: InstrumentMaster, database: str
) -> None:
    timings = Timings()

    async def main() -> None:
        config = e2e_config()
        async with browser_on_server(chromium_path, database, config, master) as (browser, base):
            timings.mark("server and browser started")
            await journey(browser, base, artifacts, timings)

    try:
        asyncio.run(main())
    finally:
        (artifacts / "timings.txt").write_text(timings.report() + "\n")
    print(timings.report())


async def page_width(page: Any) -> int:
    """The document's width: wider than the viewport means the whole page scrolls sideways
    (wide tables must scroll inside their own box instead)."""
    return int(await page.evaluate("document.documentElement.scrollWidth"))


# The journey provokes these on purpose (a refused password, a rejected order); Chromium logs
# every non-2xx fetch as a console error.
EXPECTED_STATUSES = re.compile(r"Failed to load resource: .* status of (400|422) ")


def console_problem(message: Any, problems: list[str]) -> None:
    if message.type == "error" and not EXPECTED_STATUSES.search(message.text):
        problems.append(f"console {message.type}: {message.text}")


async def watched_page(browser: Any, problems: list[str]) -> Any:
    """A new laptop-sized page whose page errors and console errors go to ``problems``."""
    context = await browser.new_context(viewport=LAPTOP)
    page = await context.new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: console_problem(message, problems))
    return page


async def register_on_page(page: Any, base: str, name: str, email: str, password: str) -> None:
    """Open the dashboard and create an account through its form."""
    await page.goto(base + "/")
    register = page.locator("#register-form")
    await register.get_by_label("Name").fill(name)
    await register.get_by_label("Email").fill(email)
    await register.get_by_label("Password").fill(password)
    await register.get_by_role("button", name="Create account").click()


async def journey(browser: Any, base: str, artifacts: Path, timings: Timings) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    problems: list[str] = []

    page = await watched_page(browser, problems)

    # -- register (a refused password first: the reason sits next to the field) -------------
    await page.goto(base + "/")
    await expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    register = page.locator("#register-form")
    await register.get_by_label("Name").fill("Asha Rao")
    await register.get_by_label("Email").fill(USER_EMAIL)
    await register.get_by_label("Password").fill("short")
    await register.get_by_role("button", name="Create account").click()
    password_error = register.locator('[data-error-for="password"]')
    await expect(password_error).to_be_visible()
    await expect(password_error).to_contain_text("8")
    await expect(register.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    await page.screenshot(path=artifacts / "01-register-validation-laptop.png")
    await register.get_by_label("Password").fill(USER_PASSWORD)
    await register.get_by_role("button", name="Create account").click()
    await expect(page.locator("#view-trade")).to_be_visible()
    await expect(page.locator("#feed-status")).to_have_text(re.compile("live"))
    await expect(page.locator('[data-fund="balance"]')).to_have_text("₹0.00")
    timings.mark("registered and signed in")

    # -- request a deposit in the console ------------------------------------------------
    await page.locator("#nav").get_by_role("link", name="Console").click()
    await expect(page.locator("#view-console")).to_be_visible()
    deposit = page.locator("#deposit-form")
    await deposit.get_by_label("Amount (₹)").fill("100000")
    await deposit.get_by_label("Reference").fill("UTR-0001")
    await deposit.get_by_role("button", name="Request deposit").click()
    requests = page.locator("#requests-table tbody tr")
    await expect(requests.first).to_contain_text("PENDING")
    await expect(requests.first).to_contain_text("₹1,00,000.00")
    timings.mark("deposit requested")

    # -- the admin approves it, in a browser context of their own ----------------------------
    admin_context = await browser.new_context(viewport=LAPTOP)
    admin = await admin_context.new_page()
    admin.on("pageerror", lambda error: problems.append(f"admin page error: {error}"))
    await admin.goto(base + "/")
    login = admin.locator("#login-form")
    await login.get_by_label("Email").fill(ADMIN_EMAIL)
    await login.get_by_label("Password").fill(ADMIN_PASSWORD)
    await login.get_by_role("button", name="Log in").click()
    await expect(admin.locator("#view-trade")).to_be_visible()
    await admin.get_by_role("link", name="Admin").click()
    await expect(admin.locator("#health-status")).to_contain_text("Overall")
    pending = admin.locator("#pending-deposits tbody tr", has_text="Asha Rao")
    await expect(pending).to_contain_text("₹1,00,000.00")
    await admin.screenshot(path=artifacts / "02-admin-pending-laptop.png", full_page=True)
    await pending.get_by_role("button", name=re.compile("^Approve deposit")).click()
    await expect(admin.locator("#pending-deposits tbody")).to_contain_text("No pending deposits")
    users = admin.locator("#users-table tbody tr", has_text=USER_EMAIL)
    await expect(users).to_contain_text("₹1,00,000.00")
    timings.mark("admin approved the deposit")

    # -- the user sees the money and the request's new status --------------------------------
    await (
        page.locator("#nav").get_by_role("link", name="Console").click()
    )  # reload the console's data
    await page.evaluate("location.hash = '#/trade'; location.hash = '#/console'")
    await expect(requests.first).to_contain_text("APPROVED")
    await expect(page.locator("#ledger-table tbody")).to_contain_text("deposit")
    await page.screenshot(path=artifacts / "03-console-laptop.png", full_page=True)
    await page.get_by_role("link", name="Trade").click()
    await expect(page.locator('[data-fund="balance"]')).to_have_text("₹1,00,000.00")
    timings.mark("user saw the deposit")

    # -- search, select, and buy at market ---------------------------------------------------
    await page.get_by_label("Search instruments").fill("RELIANCE")
    results = page.locator("#search-results")
    await results.get_by_role("button", name=re.compile("RELIANCE")).first.click()
    await expect(page.locator("#chart-title")).to_have_text("RELIANCE · NSE")
    ticket = page.locator("#ticket-form")
    await ticket.get_by_label("Quantity").fill("10")
    await expect(ticket.locator('[data-preview="required"]')).to_have_text(re.compile("₹"))
    await expect(ticket.locator('[data-preview="charges"]')).to_have_text(re.compile("₹"))
    await ticket.get_by_role("button", name="Buy 10 RELIANCE").click()
    executed = page.locator("#orders-table tbody tr[data-status='EXECUTED']", has_text="RELIANCE")
    await expect(executed).to_have_count(1)
    position = page.locator("#positions-table tbody tr", has_text="RELIANCE")
    await expect(position).to_have_count(1)
    await expect(position.locator("td").nth(2)).to_have_text("10")
    # The margin bar: the intraday position's margin (20 % of about ₹15,400) of about ₹1 L.
    bar = page.locator("#margin-bar")
    await expect(bar).not_to_have_attribute("aria-valuenow", "0")
    await expect(page.locator("#margin-bar-text")).to_have_text(
        re.compile(r"^Margin used ₹[\d,]+\.\d\d of ₹[\d,]+\.\d\d \([1-9]%\)$")
    )
    await expect(page.locator("#margin-call")).to_be_hidden()
    timings.mark("MARKET order executed, position shown")

    pnl = position.locator("td.pnl")
    first = await pnl.text_content()
    await expect(pnl).not_to_have_text(first or "", timeout=TIMEOUT_MS)
    await expect(page.locator("#chart")).to_have_attribute("aria-label", re.compile("last"))
    await page.screenshot(path=artifacts / "04-trade-position-laptop.png", full_page=True)
    await page.locator("#mode-candles + label").click()
    await page.wait_for_timeout(300)
    await page.locator(".chart-panel").screenshot(path=artifacts / "05-chart-candles.png")
    timings.mark("P&L moved with live quotes")

    # -- a target just below the market closes the long position ------------------------------
    ltp_text = await position.locator("td").nth(4).text_content()
    ltp = float((ltp_text or "0").replace(",", ""))
    target = round(ltp * 0.995, 1)
    await position.get_by_label("Target for RELIANCE", exact=True).fill(f"{target:.1f}")
    await position.get_by_role("button", name="Save stop-loss and target for RELIANCE").click()
    await expect(page.locator("#positions-table tbody")).to_contain_text("No open positions")
    closed = page.locator("#closed-table tbody tr", has_text="RELIANCE")
    await expect(closed).to_have_count(1)
    await expect(page.locator('[data-fund="realizedPnl"]')).not_to_have_text("+₹0.00")
    timings.mark("target closed the position")

    # -- an order too large is rejected with its reason and the amounts ---------------------
    await ticket.get_by_label("Quantity").fill("400")
    await ticket.get_by_role("button", name="Buy 400 RELIANCE").click()
    error = ticket.locator(".form-error")
    await expect(error).to_contain_text("Insufficient funds")
    await expect(error).to_contain_text("margin")
    await expect(error).to_contain_text("estimated charges")
    await expect(error).to_contain_text("available")
    message = await error.text_content() or ""
    assert len(re.findall(r"₹[\d,]+\.\d\d", message)) >= 3, message
    rejected = page.locator("#orders-table tbody tr[data-status='REJECTED']")
    await expect(rejected).to_contain_text("insufficient funds")
    await page.screenshot(path=artifacts / "06-rejected-laptop.png", full_page=True)
    timings.mark("rejected order explained")

    # -- a LIMIT order rests; it is modified in the dialog, then cancelled ---------------------
    limit_price = round(ltp * 0.9, 1)
    await ticket.get_by_label("Order type").select_option("LIMIT")
    await ticket.get_by_label("Quantity").fill("2")
    await ticket.get_by_label("Price", exact=True).fill(f"{limit_price:.1f}")
    await ticket.get_by_role("button", name="Buy 2 RELIANCE").click()
    resting = page.locator("#orders-table tbody tr[data-status='PENDING']")
    await expect(resting).to_have_count(1)
    await resting.get_by_role("button", name="Modify BUY RELIANCE order").click()
    dialog = page.locator("#modify-dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Quantity").fill("3")
    await dialog.get_by_role("button", name="Save changes").click()
    await expect(dialog).to_be_hidden()
    await expect(resting).to_contain_text("0/3")
    await resting.get_by_role("button", name="Cancel BUY RELIANCE order").click()
    await expect(resting).to_have_count(0)
    cancelled = page.locator("#orders-table tbody tr[data-status='CANCELLED']")
    await expect(cancelled).to_have_count(1)
    await expect(page.locator('[data-fund="blockedMargin"]')).to_have_text("₹0.00")
    timings.mark("LIMIT order modified and cancelled")

    # -- a dropped websocket heals by itself -------------------------------------------------
    await page.evaluate("window.paperdesk.feed.drop()")
    await expect(page.locator("#feed-status")).not_to_have_text(re.compile("live"))
    await expect(page.locator("#feed-status")).to_have_text(re.compile("live"))
    timings.mark("websocket reconnected")

    # -- phone width -------------------------------------------------------------------------
    await page.set_viewport_size(PHONE)
    await page.wait_for_timeout(300)
    await page.screenshot(path=artifacts / "07-trade-phone.png", full_page=True)
    assert await page_width(page) <= PHONE["width"], "the trading screen scrolls sideways"
    await page.locator("#nav").get_by_role("link", name="Console").click()
    await expect(page.locator("#view-console")).to_be_visible()
    await page.screenshot(path=artifacts / "08-console-phone.png", full_page=True)
    assert await page_width(page) <= PHONE["width"], "the console scrolls sideways"
    await admin.set_viewport_size(PHONE)
    await admin.reload()  # the session survives a reload and the page stays on #/admin
    await expect(admin.locator("#view-admin")).to_be_visible()
    await expect(admin.locator("#users-table tbody")).to_contain_text(USER_EMAIL)
    await admin.screenshot(path=artifacts / "09-admin-phone.png", full_page=True)
    assert await page_width(admin) <= PHONE["width"], "the admin screen scrolls sideways"
    timings.mark("phone screenshots")

    await admin_context.close()
    await page.context.close()
    assert not problems, problems
