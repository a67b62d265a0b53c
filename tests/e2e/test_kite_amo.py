"""After-market orders over HTTP against the real server and PostgreSQL, hours enforced, the clock
on the sample master's Friday at 08:00 IST, before the open (docs/DOMAIN.md §3, docs/KITE.md).

Proves, with the unmodified PyPI ``kiteconnect`` client: ``place_order(variety=amo)`` answers an
order id and ``orders()`` shows it as variety ``amo`` with status ``AMO REQ RECEIVED``, as does
its history; it is modified and cancelled by variety ``amo``; once the session opens a MARKET
AMO fills (``COMPLETE``) and a LIMIT AMO below the market shows ``OPEN``, both still variety
``amo``; and an AMO placed while the session is open is a ``REJECTED`` order with the reason
as its ``status_message``. On paperdesk's own API ``afterMarket`` is taken, answered in the
order views, refused 422 ``AMO_WHILE_OPEN`` naming the field while open, and a 400 naming it
when it is not a boolean.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from kiteconnect import KiteConnect

from engine.domain.enums import Rejection
from engine.domain.instruments import InstrumentMaster
from gateway.errors import REJECTION_MESSAGES
from gateway.keys import ENGINE
from tests.e2e.conftest import APPS, e2e_config, running_server
from tests.e2e.test_kite_connect import headless_app, place, wait_for
from tests.e2e.test_trading_journey import funded_user, order_body
from tests.support.clocks import SAMPLE_MASTER_DAY_MS, ShiftedClock

HOUR_MS = 3_600_000
BEFORE_OPEN_MS = SAMPLE_MASTER_DAY_MS - 2 * HOUR_MS  # Friday 2026-12-04 08:00 IST
AMO_MESSAGE = REJECTION_MESSAGES[Rejection.AMO_WHILE_OPEN]


def config() -> Any:
    return e2e_config(
        sessions={"enforce_hours": True},
        kite={"quotes_per_second": 100, "other_per_second": 100},
    )


def kite_of(kite_url: str, api_key: str, access_token: str) -> KiteConnect:
    return KiteConnect(api_key=api_key, access_token=access_token, root=kite_url)


def by_id(kite: KiteConnect) -> dict[str, dict[str, Any]]:
    return {order["order_id"]: order for order in kite.orders()}


def place_while_closed(kite_url: str, api_key: str, access_token: str) -> tuple[str, str]:
    """Before the open: AMOs placed, shown waiting, one modified and cancelled; two left to
    meet the open (a MARKET buy and a LIMIT buy far below the market)."""
    kite = kite_of(kite_url, api_key, access_token)
    last = kite.ltp(["NSE:RELIANCE"])["NSE:RELIANCE"]["last_price"]
    below = round(last * 0.9, 1)
    amo = {"variety": kite.VARIETY_AMO, "product": kite.PRODUCT_CNC}
    limit_id = place(kite, **amo, order_type=kite.ORDER_TYPE_LIMIT, price=below)
    market_id = place(kite, **amo)
    assert isinstance(limit_id, str) and isinstance(market_id, str)

    orders = by_id(kite)
    for order_id in (limit_id, market_id):
        order = orders[order_id]
        assert (order["variety"], order["status"], order["status_message"]) == (
            "amo",
            "AMO REQ RECEIVED",
            None,
        )
        assert order["pending_quantity"] == 1 and order["filled_quantity"] == 0
    history = kite.order_history(limit_id)
    assert [(h["variety"], h["status"]) for h in history] == [("amo", "AMO REQ RECEIVED")]

    # A regular order is still refused while the market is closed.
    regular = place(kite, product=kite.PRODUCT_CNC)
    rejected = by_id(kite)[regular]
    assert (rejected["variety"], rejected["status"], rejected["status_message"]) == (
        "regular",
        "REJECTED",
        REJECTION_MESSAGES[Rejection.MARKET_CLOSED],
    )

    # Modified and cancelled by variety amo while it waits.
    dropped = place(kite, **amo, order_type=kite.ORDER_TYPE_LIMIT, price=below)
    assert kite.modify_order(kite.VARIETY_AMO, dropped, quantity=2, price=below) == dropped
    modified = by_id(kite)[dropped]
    assert (modified["quantity"], modified["modified"], modified["status"]) == (
        2,
        True,
        "AMO REQ RECEIVED",
    )
    assert kite.cancel_order(kite.VARIETY_AMO, dropped) == dropped
    cancelled = by_id(kite)[dropped]
    assert (cancelled["variety"], cancelled["status"], cancelled["cancelled_quantity"]) == (
        "amo",
        "CANCELLED",
        2,
    )
    return limit_id, market_id


def after_the_open(
    kite_url: str, api_key: str, access_token: str, limit_id: str, market_id: str
) -> None:
    """Live since the open: as any order at Kite; a new AMO is refused as a REJECTED order."""
    kite = kite_of(kite_url, api_key, access_token)
    filled = wait_for(lambda: by_id(kite)[market_id]["status"] == "COMPLETE")
    assert filled
    orders = by_id(kite)
    assert (orders[market_id]["variety"], orders[market_id]["filled_quantity"]) == ("amo", 1)
    assert (orders[limit_id]["variety"], orders[limit_id]["status"]) == ("amo", "OPEN")
    history = kite.order_history(limit_id)
    assert [h["status"] for h in history] == ["AMO REQ RECEIVED"]  # nothing changed at the open
    trades = kite.order_trades(market_id)
    assert [t["quantity"] for t in trades] == [1]

    refused = place(kite, variety=kite.VARIETY_AMO)
    order = by_id(kite)[refused]
    assert (order["variety"], order["status"], order["status_message"]) == (
        "amo",
        "REJECTED",
        AMO_MESSAGE,
    )


def test_kite_amo_when_placed_before_the_open_then_waits_and_goes_live_at_it(
    master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        async with (
            running_server(database, config(), master, ShiftedClock(BEFORE_OPEN_MS)) as base,
            aiohttp.ClientSession() as session,
        ):
            app = await headless_app(session, base, "amo@paperdesk.test", 100_000)
            credentials = (app.kite_url, app.api_key, app.access_token)
            limit_id, market_id = await asyncio.to_thread(place_while_closed, *credentials)
            clock = APPS[base][ENGINE].clock
            assert isinstance(clock, ShiftedClock)
            clock.advance(2 * HOUR_MS)  # 10:00: the session opened at 09:15
            await asyncio.to_thread(after_the_open, *credentials, limit_id, market_id)

    asyncio.run(main())


def test_native_after_market_when_placed_then_flagged_and_refused_while_open_or_malformed(
    master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        async with (
            running_server(database, config(), master, ShiftedClock(BEFORE_OPEN_MS)) as base,
            aiohttp.ClientSession() as session,
        ):
            user, account_id = await funded_user(session, base, "amo-api@paperdesk.test", 100_000)
            body = order_body(account_id, quantity=1, productType="CNC", afterMarket=True)
            status, placed, _ = await user.call("POST", "/api/trading/orders", body)
            assert status == 200, placed
            assert (placed["order"]["afterMarket"], placed["order"]["status"]) == (True, "PENDING")
            order_id = placed["order"]["id"]
            status, read, _ = await user.call("GET", f"/api/trading/orders/{order_id}")
            assert status == 200, read
            assert read["order"]["afterMarket"] is True

            regular = order_body(account_id, quantity=1, productType="CNC")
            status, closed, _ = await user.call("POST", "/api/trading/orders", regular)
            assert (status, closed["error"]["code"]) == (422, "MARKET_CLOSED")
            assert closed["error"]["details"]["order"]["afterMarket"] is False

            malformed = body | {"afterMarket": "yes"}
            status, refused, _ = await user.call("POST", "/api/trading/orders", malformed)
            assert status == 400, refused
            assert [d["path"] for d in refused["error"]["details"]] == ["$.afterMarket"]

            clock = APPS[base][ENGINE].clock
            assert isinstance(clock, ShiftedClock)
            clock.advance(2 * HOUR_MS)  # 10:00: open
            status, open_now, _ = await user.call("POST", "/api/trading/orders", body)
            assert status == 422, open_now
            error = open_now["error"]
            assert (error["code"], error["message"]) == ("AMO_WHILE_OPEN", AMO_MESSAGE)
            assert error["details"]["path"] == "$.afterMarket"
            refused_order = error["details"]["order"]
            assert (refused_order["status"], refused_order["afterMarket"]) == ("REJECTED", True)

    asyncio.run(main())
