"""Trading accounts and API apps in the dashboard, in a real browser.

Proves the header's account switcher: a second account opens from "New account" (a taken name
and the accounts limit are said inline in the dialog), the trading views then act on it (an
order placed there shows there and not under the first account), and the choice survives a
reload. And the console's API apps: creating one shows its api_secret once, in a marked box
with the warning (a reload shows it nowhere), names are shown as typed (no markup), a
headless access token comes with its 06:00 IST expiry, and deleting asks first. Screenshots
land in test-artifacts/browser/ (20-23).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from engine.domain.instruments import InstrumentMaster
from tests.browser.conftest import browser_on_server
from tests.e2e.conftest import e2e_config

USER_EMAIL = "meera@paperdesk.test"
USER_PASSWORD = "lantern-orchid-73"
LAPTOP = {"width": 1366, "height": 900}
TIMEOUT_MS = 10_000
CONFIG = e2e_config(
    accounts={"opening_balance": "100000"},
    kite={"accounts_per_user_max": 2},
    # The test clicks through two accounts, the console and the apps in seconds, each view
    # loading its lists: far faster than a person, past the default 100 requests a minute.
    rate_limits={"general_per_minute": 1_000},
)
SECOND = "Momentum"
APP_NAME = "<i>Scalper</i>"  # shown as typed: markup in a name is text
REDIRECT = "http://127.0.0.1:5000/callback"


def test_accounts_and_apps_when_used_from_dashboard_then_views_follow_and_secret_shows_once(
    chromium_path: str, artifacts: Path, master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        async with browser_on_server(chromium_path, database, CONFIG, master) as (browser, base):
            context = await browser.new_context(viewport=LAPTOP)
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            await register(page, base)
            await accounts_journey(page, artifacts)
            await apps_journey(page, artifacts)
            await context.close()
            assert not problems, problems

    asyncio.run(main())


async def register(page: Any, base: str) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    await page.goto(base + "/")
    form = page.locator("#register-form")
    await form.get_by_label("Name").fill("Meera Nair")
    await form.get_by_label("Email").fill(USER_EMAIL)
    await form.get_by_label("Password").fill(USER_PASSWORD)
    await form.get_by_role("button", name="Create account").click()
    await expect(page.locator("#view-trade")).to_be_visible()
    await expect(page.locator('[data-fund="balance"]')).to_have_text("₹1,00,000.00")


async def accounts_journey(page: Any, artifacts: Path) -> None:
    from playwright.async_api import expect

    switch = page.locator("header").get_by_label("Trading account")
    await expect(switch.locator("option:checked")).to_have_text("Main")
    first_id = await switch.input_value()

    dialog = page.locator("#account-dialog")
    await page.get_by_role("button", name="New account").click()
    await expect(dialog).to_be_visible()
    name = dialog.get_by_label(re.compile("^Name"))
    await expect(name).to_be_focused()
    await name.fill("Main")  # taken: said next to the name
    await dialog.get_by_role("button", name="Open account").click()
    await expect(dialog.locator('[data-error-for="name"]')).to_have_text(
        re.compile("already have an account of that name")
    )
    await expect(name).to_have_attribute("aria-invalid", "true")
    await name.fill(SECOND)
    await dialog.get_by_role("button", name="Open account").click()
    await expect(dialog).to_be_hidden()
    await expect(switch.locator("option:checked")).to_have_text(SECOND)
    second_id = await switch.input_value()
    assert second_id != first_id
    await expect(page.locator('[data-fund="balance"]')).to_have_text("₹1,00,000.00")

    await page.get_by_role("button", name="New account").click()  # past the limit of 2
    await name.fill("Third")
    await dialog.get_by_role("button", name="Open account").click()
    await expect(dialog.locator(".form-error")).to_contain_text("as many trading accounts")
    await page.screenshot(path=artifacts / "20-new-account-limit.png")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()

    # An order on the second account shows there, not under the first.
    await page.get_by_label("Search instruments").fill("RELIANCE")
    await (
        page.locator("#search-results")
        .get_by_role("button", name=re.compile("RELIANCE"))
        .first.click()
    )
    await expect(page.locator("#chart-title")).to_have_text("RELIANCE · NSE")
    ticket = page.locator("#ticket-form")
    await ticket.get_by_label("Quantity").fill("10")
    await expect(ticket.locator('[data-preview="required"]')).to_have_text(re.compile("₹"))
    await ticket.get_by_role("button", name="Buy 10 RELIANCE").click()
    orders = page.locator("#orders-table tbody")
    executed = orders.locator("tr[data-status='EXECUTED']", has_text="RELIANCE")
    await expect(executed).to_have_count(1)
    await expect(page.locator("#positions-table tbody tr", has_text="RELIANCE")).to_have_count(1)
    await expect(page.locator('[data-fund="balance"]')).not_to_have_text("₹1,00,000.00")
    await page.screenshot(path=artifacts / "21-second-account-order.png")

    await switch.select_option(first_id)
    await expect(orders).to_contain_text("No orders yet.")
    await expect(page.locator("#positions-table tbody")).to_contain_text("No open positions")
    await expect(page.locator('[data-fund="balance"]')).to_have_text("₹1,00,000.00")

    await page.reload()  # the choice is kept
    await expect(page.locator("#view-trade")).to_be_visible()
    await expect(switch.locator("option:checked")).to_have_text("Main")
    await expect(orders).to_contain_text("No orders yet.")
    await switch.select_option(second_id)
    await expect(executed).to_have_count(1)
    await page.reload()
    await expect(switch.locator("option:checked")).to_have_text(SECOND)
    await expect(executed).to_have_count(1)


async def apps_journey(page: Any, artifacts: Path) -> None:
    from playwright.async_api import expect

    await page.locator("#nav").get_by_role("link", name="Console").click()
    panel = page.locator("section.apps")
    await expect(panel).to_contain_text("127.0.0.1:8081")
    rows = panel.locator("#apps-table tbody tr")
    await expect(rows).to_have_text(["No apps yet."])

    await panel.get_by_text("Create an app").click()
    form = panel.locator("#app-form")
    await form.get_by_label("Name").fill(APP_NAME)
    await form.get_by_label("Trading account").select_option(label=SECOND)
    await form.get_by_label(re.compile("^Redirect URL")).fill(REDIRECT)
    await form.get_by_role("button", name="Create app").click()

    box = panel.locator("#app-secret-box")
    await expect(box).to_be_visible()
    await expect(box).to_contain_text("it will not be shown again")
    await expect(box.locator("#app-secret-name")).to_have_text(APP_NAME)
    secret = (await box.locator("#app-secret").text_content() or "").strip()
    assert re.fullmatch(r"[0-9a-f]{32}", secret), secret
    await expect(box.get_by_role("button", name="Copy api_secret")).to_be_focused()
    row = rows.filter(has_text=APP_NAME)
    await expect(row).to_have_count(1)
    await expect(row.locator("td").nth(2)).to_have_text(SECOND)
    await expect(row.locator("td").nth(3)).to_have_text(REDIRECT)
    api_key = (await row.locator("code").text_content() or "").strip()
    await expect(box.locator("#app-secret-key")).to_have_text(api_key)
    assert await page.locator("i", has_text="Scalper").count() == 0  # no markup from the name
    await page.screenshot(path=artifacts / "22-app-secret-once.png", full_page=True)
    await box.get_by_role("button", name="I have copied it").click()
    await expect(box).to_be_hidden()

    await page.reload()  # the secret is nowhere any more
    await expect(page.locator("#view-console")).to_be_visible()
    await expect(row).to_have_count(1)
    await expect(box).to_be_hidden()
    assert secret not in await page.content()

    await row.get_by_role("button", name=f"Get an access token for {APP_NAME}").click()
    token_box = panel.locator("#app-token-box")
    await expect(token_box).to_be_visible()
    await expect(token_box.locator("#app-token-key")).to_have_text(api_key)
    await expect(token_box.locator("#app-token")).to_have_text(re.compile(r"^\S{20,}$"))
    await expect(token_box.locator("#app-token-expiry")).to_have_text(re.compile(r"06:00 IST$"))
    await page.screenshot(path=artifacts / "23-app-token.png", full_page=True)

    await row.get_by_role("button", name=f"Delete {APP_NAME}").click()
    dialog = page.locator("#app-delete-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text(APP_NAME)
    keep = dialog.get_by_role("button", name="Keep the app")
    await expect(keep).to_be_focused()
    await keep.click()
    await expect(dialog).to_be_hidden()
    await expect(row).to_have_count(1)
    await row.get_by_role("button", name=f"Delete {APP_NAME}").click()
    await dialog.get_by_role("button", name="Delete app").click()
    await expect(dialog).to_be_hidden()
    await expect(rows).to_have_text(["No apps yet."])
    await expect(token_box).to_be_hidden()

    # Signing out forgets a secret still on screen: no one signing in next reads it.
    await panel.get_by_text("Create an app").click()  # closed since the reload
    await form.get_by_label("Name").fill("swing")
    await expect(form.get_by_label("Trading account").locator("option:checked")).to_have_text(
        SECOND  # the header's account is the one offered
    )
    await form.get_by_label(re.compile("^Redirect URL")).fill(REDIRECT)
    await form.get_by_role("button", name="Create app").click()
    await expect(box).to_be_visible()
    await page.get_by_role("button", name="Log out").click()
    await expect(page.locator("#view-auth")).to_be_visible()
    await expect(box).to_be_hidden()
    await expect(box.locator("#app-secret")).to_have_text("")
