"""The Kite Connect facade driven by the unmodified PyPI ``kiteconnect`` client, against the
real server (its second listener) and PostgreSQL.

Proves: an app created in the console logs in the way Kite's does (the login form, and the
consent page for a user signed into the dashboard), with the checksum over the app's secret;
the client then reads the profile and margins, places a MARKET order that fills and shows in
orders, trades and positions, places, modifies and cancels a LIMIT order with the history of
each state, sees a margin rejection as a REJECTED order rather than a failed call, reads quotes
and the instrument master as Kite's CSV; a wrong or invalidated token raises
``TokenException``, and a variety paperdesk does not offer an ``InputException``.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from engine.domain.instruments import InstrumentMaster
from gateway.keys import ENGINE
from gateway.kite.listener import KITE_LISTENER
from tests.e2e.conftest import APPS, Client, e2e_config, running_server, scrape_metrics
from tests.e2e.test_kite_ticker import TickerProcess, by_token, modes_of
from tests.e2e.test_trading_journey import funded_user
from tests.support.clocks import ShiftedClock

DAY_MS = 86_400_000

REDIRECT = "http://127.0.0.1:9/callback"
PASSWORD = "password-123"


async def create_app(user: Client, account_id: str) -> tuple[str, str]:
    status, body, _ = await user.call(
        "POST",
        "/api/console/apps",
        {"name": "momentum", "tradingAccountId": account_id, "redirectUrl": REDIRECT},
    )
    assert status == 201, body
    assert body["app"]["tradingAccountId"] == account_id
    return body["app"]["apiKey"], body["apiSecret"]


@dataclass(frozen=True)
class HeadlessApp:
    """A funded user's API app with a console-issued access token, and where Kite is served."""

    kite_url: str
    api_key: str
    access_token: str
    user_id: str
    user: Client  # the same user on paperdesk's own API


async def headless_app(
    session: aiohttp.ClientSession, base: str, email: str, rupees: float
) -> HeadlessApp:
    kite_url = APPS[base][KITE_LISTENER].url
    assert kite_url is not None
    user, account_id = await funded_user(session, base, email, rupees)
    api_key, _ = await create_app(user, account_id)
    status, apps, _ = await user.call("GET", "/api/console/apps")
    assert status == 200, apps
    status, token, _ = await user.call("POST", f"/api/console/apps/{apps['apps'][0]['id']}/token")
    assert status == 200, token
    _, session_info, _ = await user.call("GET", "/api/auth/session")
    user_id = session_info["user"]["id"]
    return HeadlessApp(kite_url, api_key, token["accessToken"], user_id, user)


def place(kite: KiteConnect, **terms: Any) -> str:
    """Place an order as a strategy would: a MARKET MIS buy of one RELIANCE unless told
    otherwise."""
    order = {
        "variety": kite.VARIETY_REGULAR,
        "exchange": kite.EXCHANGE_NSE,
        "tradingsymbol": "RELIANCE",
        "transaction_type": kite.TRANSACTION_TYPE_BUY,
        "quantity": 1,
        "product": kite.PRODUCT_MIS,
        "order_type": kite.ORDER_TYPE_MARKET,
    }
    order_id: str = kite.place_order(**(order | terms))
    return order_id


def request_token_of(location: str) -> str:
    target = urlsplit(location)
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    query = parse_qs(target.query)
    assert query["action"] == ["login"] and query["status"] == ["success"]
    return query["request_token"][0]


async def login_with_form(kite_url: str, api_key: str, email: str) -> str:
    """The login form: email and password, then the redirect with a request token."""
    async with aiohttp.ClientSession() as browser:
        async with browser.get(
            f"{kite_url}/connect/login", params={"api_key": api_key, "v": "3"}
        ) as page:
            assert page.status == 200
            assert "password" in await page.text()
            assert page.headers["X-Frame-Options"] == "DENY"
        form = {"api_key": api_key, "email": email, "password": "wrong-password-1"}
        async with browser.post(
            f"{kite_url}/connect/login", data=form, allow_redirects=False
        ) as wrong:
            assert wrong.status == 401
        form["password"] = PASSWORD
        async with browser.post(
            f"{kite_url}/connect/login", data=form, allow_redirects=False
        ) as done:
            assert done.status == 302, await done.text()
            return request_token_of(done.headers["Location"])


async def login_with_consent(base: str, kite_url: str, api_key: str, email: str) -> str:
    """Signed into the dashboard (its cookie): the consent page, then the redirect."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(
            f"{base}/api/auth/login", json={"email": email, "password": PASSWORD}
        ) as signed:
            assert signed.status == 200
        async with browser.get(
            f"{kite_url}/connect/login", params={"api_key": api_key, "v": "3"}
        ) as page:
            text = await page.text()
            assert "Authorize" in text, text
        match = re.search(r"name='csrf_token' value='([^']+)'", text)
        assert match is not None
        forged = {"api_key": api_key, "csrf_token": "forged"}
        async with browser.post(
            f"{kite_url}/connect/consent", data=forged, allow_redirects=False
        ) as refused:
            assert refused.status == 403
        form = {"api_key": api_key, "csrf_token": match.group(1)}
        async with browser.post(
            f"{kite_url}/connect/consent", data=form, allow_redirects=False
        ) as done:
            assert done.status == 302, await done.text()
            return request_token_of(done.headers["Location"])


def wait_for(check: Any, timeout_s: float = 10) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def trade_with_the_client(kite_url: str, api_key: str, api_secret: str, request_token: str) -> None:
    """A strategy as written for Zerodha: only ``root`` differs."""
    kite = KiteConnect(api_key=api_key, root=kite_url)
    session = kite.generate_session(request_token, api_secret=api_secret)
    assert isinstance(session["login_time"], datetime)
    assert session["api_key"] == api_key
    kite.set_access_token(session["access_token"])
    with pytest.raises(kite_errors.TokenException):  # a request token is used once
        kite.generate_session(request_token, api_secret=api_secret)

    profile = kite.profile()
    assert profile["email"] == session["email"] and "NSE" in profile["exchanges"]
    margins = kite.margins()
    assert margins["equity"]["net"] == 1_000_000.0
    assert kite.margins("equity")["available"]["cash"] == 1_000_000.0

    quote = kite.quote(["NSE:RELIANCE"])["NSE:RELIANCE"]
    assert quote["last_price"] > 0 and len(quote["depth"]["buy"]) == 5
    assert quote["depth"]["buy"][0]["price"] < quote["depth"]["sell"][0]["price"]
    assert isinstance(quote["timestamp"], datetime)
    token = quote["instrument_token"]
    assert kite.ltp([token])[str(token)]["last_price"] > 0
    assert set(kite.ohlc(["NSE:RELIANCE"])["NSE:RELIANCE"]["ohlc"]) == {
        "open",
        "high",
        "low",
        "close",
    }

    instruments = kite.instruments("NSE")
    reliance = next(i for i in instruments if i["tradingsymbol"] == "RELIANCE")
    assert reliance["instrument_token"] == token
    assert reliance["segment"] == "NSE" and reliance["lot_size"] == 1
    assert reliance["tick_size"] == 0.1
    futures = [i for i in kite.instruments("NFO") if i["instrument_type"] == "FUT"]
    assert futures and all(i["expiry"] for i in futures)

    bought = place(kite, quantity=2, product=kite.PRODUCT_CNC)
    filled = wait_for(
        lambda: [o for o in kite.orders() if o["order_id"] == bought and o["status"] == "COMPLETE"]
    )[0]
    assert filled["filled_quantity"] == 2 and filled["average_price"] > 0
    assert isinstance(filled["order_timestamp"], datetime)
    trades = kite.order_trades(bought)
    assert sum(t["quantity"] for t in trades) == 2
    assert [t["trade_id"] for t in kite.trades()] == [t["trade_id"] for t in trades]
    net = kite.positions()["net"]
    assert [(p["tradingsymbol"], p["quantity"]) for p in net] == [("RELIANCE", 2)]
    assert net[0]["average_price"] == filled["average_price"]
    history = kite.order_history(bought)
    assert history[0]["status"] == "OPEN" and history[-1]["status"] == "COMPLETE"

    resting = place(
        kite,
        order_type=kite.ORDER_TYPE_LIMIT,
        price=round(quote["last_price"] * 0.95, 1),
        tag="meanrev01",
    )
    assert (
        kite.modify_order(kite.VARIETY_REGULAR, resting, price=round(quote["last_price"] * 0.94, 1))
        == resting
    )
    assert kite.cancel_order(kite.VARIETY_REGULAR, resting) == resting
    states = [h["status"] for h in kite.order_history(resting)]
    assert states[0] == "OPEN" and states[-1] == "CANCELLED"
    modified = next(o for o in kite.orders() if o["order_id"] == resting)
    assert modified["modified"] is True and modified["cancelled_quantity"] == 1
    assert modified["tag"] == "meanrev01" and filled["tag"] is None
    with pytest.raises(kite_errors.InputException, match="tag"):
        place(kite, tag="not a tag!")

    # A margin rejection is the order's status, not a failed call.
    too_big = place(kite, quantity=5_000, product=kite.PRODUCT_CNC)
    rejected = next(o for o in kite.orders() if o["order_id"] == too_big)
    assert rejected["status"] == "REJECTED" and rejected["status_message"]

    with pytest.raises(kite_errors.InputException, match="cover orders"):
        place(kite, variety=kite.VARIETY_CO)
    with pytest.raises(kite_errors.InputException, match="tradingsymbol"):
        place(kite, tradingsymbol="NOSUCHSTOCK")

    stranger = KiteConnect(api_key=api_key, access_token="not-a-token", root=kite_url)
    with pytest.raises(kite_errors.TokenException):
        stranger.profile()
    expired: list[bool] = []
    kite.set_session_expiry_hook(lambda: expired.append(True))
    kite.invalidate_access_token()
    with pytest.raises(kite_errors.TokenException):
        kite.profile()
    assert expired == [True]


def test_kite_client_when_logged_in_then_trades_as_at_zerodha(
    master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        config = e2e_config(kite={"quotes_per_second": 100, "other_per_second": 100})
        async with (
            running_server(database, config, master) as base,
            aiohttp.ClientSession() as session,
        ):
            kite_url = APPS[base][KITE_LISTENER].url
            assert kite_url is not None
            email = "kite@paperdesk.test"
            user, account_id = await funded_user(session, base, email, 1_000_000)
            api_key, api_secret = await create_app(user, account_id)
            status, body, _ = await user.call("GET", "/api/console/apps")
            assert status == 200 and "apiSecret" not in body["apps"][0]
            assert body["apps"][0]["apiKey"] == api_key
            await login_with_form(kite_url, api_key, email)
            request_token = await login_with_consent(base, kite_url, api_key, email)
            await asyncio.to_thread(
                trade_with_the_client, kite_url, api_key, api_secret, request_token
            )
            # The operator's metrics count the facade's requests by Kite's routes.
            scraped = await scrape_metrics(session, base)
            assert 'route="/orders/{variety}",status="200"' in scraped

    asyncio.run(main())


def place_market_buy(kite_url: str, api_key: str, access_token: str) -> str:
    return place(KiteConnect(api_key=api_key, access_token=access_token, root=kite_url))


def test_kite_ticker_with_a_headless_token_then_ticks_in_each_mode_and_order_updates(
    master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        async with (
            running_server(database, e2e_config(), master) as base,
            aiohttp.ClientSession() as session,
        ):
            app = await headless_app(session, base, "ticker@paperdesk.test", 100_000)
            reliance = master.get("NSE:RELIANCE")
            assert reliance is not None
            root = app.kite_url.replace("http://", "ws://")
            ticker = await TickerProcess.start(root, app.api_key, app.access_token)
            try:
                await ticker.next("connect")
                await ticker.send(do="subscribe", tokens=[reliance.instrument_token])
                quote = (await ticker.ticks(modes_of(reliance.instrument_token, "quote")))[0]
                assert quote["last_price"] > 0 and "depth" not in quote
                await ticker.send(do="mode", mode="full", tokens=[reliance.instrument_token])
                full = by_token(await ticker.ticks(modes_of(reliance.instrument_token, "full")))
                depth = full[reliance.instrument_token]["depth"]
                assert len(depth["buy"]) == len(depth["sell"]) == 5
                await ticker.send(do="mode", mode="ltp", tokens=[reliance.instrument_token])
                await ticker.ticks(modes_of(reliance.instrument_token, "ltp"))

                order_id = await asyncio.to_thread(
                    place_market_buy, app.kite_url, app.api_key, app.access_token
                )
                update = await ticker.next(
                    "order",
                    lambda line: (
                        line["data"]["order_id"] == order_id
                        and line["data"]["status"] == "COMPLETE"
                    ),
                )
                data = update["data"]
                assert (data["tradingsymbol"], data["filled_quantity"]) == ("RELIANCE", 1)
                assert data["average_price"] > 0 and data["transaction_type"] == "BUY"
                assert data["placed_by"] == app.user_id
            finally:
                await ticker.stop()

    asyncio.run(main())


def buy_for_delivery(kite_url: str, api_key: str, access_token: str) -> dict[str, Any]:
    kite = KiteConnect(api_key=api_key, access_token=access_token, root=kite_url)
    order_id = place(kite, quantity=3, product=kite.PRODUCT_CNC)
    done = wait_for(lambda: kite.order_history(order_id)[-1]["status"] == "COMPLETE")
    assert done
    assert kite.holdings() == []  # bought today: a CNC position until it settles
    for side in (kite.TRANSACTION_TYPE_BUY, kite.TRANSACTION_TYPE_SELL):  # an intraday round trip
        placed = place(kite, transaction_type=side)
        assert wait_for(lambda p=placed: kite.order_history(p)[-1]["status"] == "COMPLETE")
    net = {p["product"]: p for p in kite.positions()["net"]}
    closed = net["MIS"]  # closed today: listed with quantity 0 and what it realised
    assert (closed["quantity"], closed["unrealised"]) == (0, 0)
    assert closed["pnl"] == closed["realised"] != 0  # the spread and slippage paid
    return dict(net["CNC"])


def holdings_now(kite_url: str, api_key: str, access_token: str) -> tuple[list[Any], list[Any]]:
    kite = KiteConnect(api_key=api_key, access_token=access_token, root=kite_url)
    return kite.holdings(), kite.positions()["net"]


def test_kite_holdings_when_a_cnc_buy_settles_next_trade_day_then_listed(
    master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        async with (
            running_server(database, e2e_config(), master) as base,
            aiohttp.ClientSession() as session,
        ):
            app = await headless_app(session, base, "holder@paperdesk.test", 100_000)
            credentials = (app.kite_url, app.api_key, app.access_token)
            position = await asyncio.to_thread(buy_for_delivery, *credentials)
            assert (position["product"], position["quantity"]) == ("CNC", 3)
            clock = APPS[base][ENGINE].clock
            assert isinstance(clock, ShiftedClock)
            clock.advance(3 * DAY_MS)  # Friday's buy, read on Monday
            holdings, net = await asyncio.to_thread(holdings_now, *credentials)
            assert net == []  # the CNC position became a holding; Friday's closed one is gone
            assert [(h["tradingsymbol"], h["quantity"], h["product"]) for h in holdings] == [
                ("RELIANCE", 3, "CNC")
            ]
            assert holdings[0]["average_price"] == position["average_price"]
            assert holdings[0]["isin"] == "INE002A01018"

    asyncio.run(main())


def quote_twice(kite_url: str, api_key: str, access_token: str) -> None:
    guesser = KiteConnect(api_key=api_key, root=kite_url)
    for _ in range(2):  # [kite] session_exchanges_per_minute = 2 below
        with pytest.raises(kite_errors.TokenException):
            guesser.generate_session("not-a-request-token", api_secret="guess")
    with pytest.raises(kite_errors.NetworkException):
        guesser.generate_session("not-a-request-token", api_secret="guess")
    kite = KiteConnect(api_key=api_key, access_token=access_token, root=kite_url)
    assert kite.ltp(["NSE:RELIANCE"])
    with pytest.raises(kite_errors.NetworkException, match="Too many requests"):
        kite.ltp(["NSE:RELIANCE"])  # Kite allows one quote call a second
    assert kite.profile()  # another bucket: still allowed
    time.sleep(1.1)
    assert kite.ltp(["NSE:RELIANCE"])


def test_kite_rate_limits_when_quotes_or_token_exchanges_come_too_fast_then_network_exception(
    master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        async with (
            running_server(
                database, e2e_config(kite={"session_exchanges_per_minute": 2}), master
            ) as base,
            aiohttp.ClientSession() as session,
        ):
            app = await headless_app(session, base, "limits@paperdesk.test", 1_000)
            await asyncio.to_thread(quote_twice, app.kite_url, app.api_key, app.access_token)

    asyncio.run(main())
