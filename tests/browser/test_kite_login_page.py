"""Kite's login in a real browser: the unmodified client's flow begins with a person in a
browser at ``/connect/login``.

Proves: signed out, the page is a login form; a wrong password says so on the page; the right
one redirects to the app's redirect URL with Kite's query (``action=login``, ``status=success``,
a ``request_token``). Signed into the dashboard (same host, another port), the page is a
consent page naming the account, and "Authorize" redirects the same way. Screenshots land in
test-artifacts/browser/ (30, 31).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp

from engine.domain.instruments import InstrumentMaster
from gateway.kite.listener import KITE_LISTENER
from tests.browser.conftest import browser_on_server
from tests.e2e.conftest import APPS, Client, e2e_config

EMAIL = "kite-login@paperdesk.test"
PASSWORD = "lantern-orchid-73"
TIMEOUT_MS = 10_000


def assert_redirected_with_token(url: str, base: str) -> None:
    target = urlsplit(url)
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{base}/callback", url
    query = parse_qs(target.query)
    assert query["action"] == ["login"] and query["status"] == ["success"], url
    assert len(query["request_token"][0]) >= 20, url


def test_kite_login_when_signed_out_then_form_and_when_signed_in_then_consent(
    chromium_path: str, artifacts: Path, master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        async with (
            browser_on_server(chromium_path, database, e2e_config(), master) as (browser, base),
            aiohttp.ClientSession() as session,
        ):
            kite_url = APPS[base][KITE_LISTENER].url
            user = Client(session, base)
            registered = await user.register(EMAIL, PASSWORD)
            app = {
                "name": "Momentum bot",
                "tradingAccountId": registered["tradingAccount"]["id"],
                "redirectUrl": f"{base}/callback",  # the dashboard's host: a page that loads
            }
            status, created, _ = await user.call("POST", "/api/console/apps", app)
            assert status == 201, created
            login_url = f"{kite_url}/connect/login?api_key={created['app']['apiKey']}&v=3"

            page = await (await browser.new_context()).new_page()
            await page.goto(login_url)
            await page.get_by_label("Email").fill(EMAIL)
            await page.get_by_label("Password").fill("not-the-password-1")
            await page.get_by_role("button", name="Sign in and authorize").click()
            await page.get_by_text("The email or password is wrong.").wait_for(timeout=TIMEOUT_MS)
            await page.screenshot(path=artifacts / "30-kite-login-wrong-password.png")
            await page.get_by_label("Email").fill(EMAIL)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in and authorize").click()
            await page.wait_for_url(f"{base}/callback?**", timeout=TIMEOUT_MS)
            assert_redirected_with_token(page.url, base)

            # Signed into the dashboard: the same link asks for consent.
            context = await browser.new_context()
            signed = await context.request.post(
                f"{base}/api/auth/login", data={"email": EMAIL, "password": PASSWORD}
            )  # the browser's own request: its pd_session cookie lands in this context
            assert signed.status == 200
            consent = await context.new_page()
            await consent.goto(login_url)
            await consent.get_by_text("Main").wait_for(timeout=TIMEOUT_MS)
            await consent.screenshot(path=artifacts / "31-kite-consent.png")
            await consent.get_by_role("button", name="Authorize").click()
            await consent.wait_for_url(f"{base}/callback?**", timeout=TIMEOUT_MS)
            assert_redirected_with_token(consent.url, base)

    asyncio.run(main())
