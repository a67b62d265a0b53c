"""Position conversion through the unmodified ``kiteconnect`` client and paperdesk's own API,
against the real server and PostgreSQL, and across a restart.

Proves: ``convert_position`` moves part of an MIS long to CNC (``True``), the two positions
then show in Kite's positions and the funds block the CNC value in place of the MIS margin's
share, to the paisa; refusals are ``InputException`` naming what is wrong (no such position on
that side, more than is held, a product the instrument does not take); the native route
converts the rest, answers both positions (the MIS one closed ``CONVERTED``), and refuses bad
input naming the field; a restarted server replays the journal to the same positions and
funds, and the converted shares settle to a holding on the next trade day.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from engine.domain.instruments import InstrumentMaster
from gateway.kite.listener import KITE_LISTENER
from tests.e2e.conftest import APPS, Client, e2e_config, running_server
from tests.e2e.test_kite_connect import headless_app, place, wait_for
from tests.support.clocks import ShiftedClock

DAY_MS = 86_400_000
EMAIL = "converter@paperdesk.test"


def convert(kite: KiteConnect, quantity: int, old: str, new: str, side: str = "BUY") -> Any:
    return kite.convert_position(
        exchange=kite.EXCHANGE_NSE,
        tradingsymbol="RELIANCE",
        transaction_type=side,
        position_type=kite.POSITION_TYPE_DAY,
        quantity=quantity,
        old_product=old,
        new_product=new,
    )


def buy_and_convert(kite_url: str, api_key: str, access_token: str) -> dict[str, Any]:
    """Buy 10 RELIANCE MIS at market, convert 4 to CNC; the positions by product after."""
    kite = KiteConnect(api_key=api_key, access_token=access_token, root=kite_url)
    bought = place(kite, quantity=10)
    assert wait_for(lambda: kite.order_history(bought)[-1]["status"] == "COMPLETE")
    with pytest.raises(kite_errors.InputException, match="No open SELL MIS position"):
        convert(kite, 4, "MIS", "CNC", side="SELL")
    with pytest.raises(kite_errors.InputException, match="quantity"):
        convert(kite, 11, "MIS", "CNC")
    with pytest.raises(kite_errors.InputException, match="product is not allowed"):
        convert(kite, 4, "MIS", "NRML")
    with pytest.raises(kite_errors.InputException, match="position_type"):
        kite.convert_position("NSE", "RELIANCE", "BUY", "week", 4, "MIS", "CNC")
    assert convert(kite, 4, "MIS", "CNC") is True
    net = {p["product"]: p for p in kite.positions()["net"]}
    assert (net["MIS"]["quantity"], net["CNC"]["quantity"]) == (6, 4)
    assert net["MIS"]["average_price"] == net["CNC"]["average_price"]
    return net


def test_convert_position_when_kite_and_native_then_moves_units_and_survives_restart(
    master: InstrumentMaster, database: str
) -> None:
    clock = ShiftedClock()

    async def main() -> None:
        config = e2e_config(kite={"quotes_per_second": 100, "other_per_second": 100})
        async with (
            running_server(database, config, master, clock) as base,
            aiohttp.ClientSession() as session,
        ):
            app = await headless_app(session, base, EMAIL, 1_000_000)
            user = app.user
            _, funds, _ = await user.call("GET", "/api/trading/funds")
            used_before = round(funds["usedMargin"] * 100)
            net = await asyncio.to_thread(
                buy_and_convert, app.kite_url, app.api_key, app.access_token
            )
            price = round(net["CNC"]["average_price"] * 100)  # paise; all 10 filled at it
            _, funds, _ = await user.call("GET", "/api/trading/funds")
            # MIS blocked 20 % of 10 × price = 2 × price; 4 moved take 4 × price as CNC and
            # release their floor(4/10) share of the MIS block.
            expected = 4 * price + (2 * price - (2 * price * 4) // 10)
            assert round(funds["usedMargin"] * 100) - used_before == expected

            _, positions, _ = await user.call("GET", "/api/trading/positions?status=OPEN")
            mis = next(p for p in positions["items"] if p["productType"] == "MIS")
            body = {
                "tradingAccountId": mis["tradingAccountId"],
                "positionId": mis["id"],
                "productType": "CNC",
                "quantity": 0,
            }
            status, refused, _ = await user.call("POST", "/api/trading/positions/convert", body)
            assert status == 400 and refused["error"]["details"][0]["path"] == "$.quantity"
            body["quantity"] = 7
            status, refused, _ = await user.call("POST", "/api/trading/positions/convert", body)
            assert status == 422, refused
            assert refused["error"]["code"] == "INVALID_QUANTITY"
            assert refused["error"]["details"][0]["path"] == "$.quantity"
            body["quantity"] = 6
            status, moved, _ = await user.call("POST", "/api/trading/positions/convert", body)
            assert status == 200, moved
            assert moved["position"]["status"] == "CLOSED"
            assert moved["position"]["closeReason"] == "CONVERTED"
            converted = moved["convertedPosition"]
            assert (converted["productType"], converted["quantity"]) == ("CNC", 10)
            _, funds_before_restart, _ = await user.call("GET", "/api/trading/funds")
            _, closed, _ = await user.call("GET", "/api/trading/positions?status=CLOSED")
            assert [(p["id"], p["closeReason"]) for p in closed["items"]] == [
                (mis["id"], "CONVERTED")
            ]

        async with (
            running_server(database, config, master, clock) as base,
            aiohttp.ClientSession() as session,
        ):
            again = Client(session, base)
            await again.login(EMAIL, "password-123")
            _, positions, _ = await again.call("GET", "/api/trading/positions?status=OPEN")
            assert [(p["productType"], p["quantity"]) for p in positions["items"]] == [("CNC", 10)]
            _, funds, _ = await again.call("GET", "/api/trading/funds")
            assert funds["usedMargin"] == funds_before_restart["usedMargin"]
            assert funds["balance"] == funds_before_restart["balance"]
            clock.advance(3 * DAY_MS)  # Friday's shares, settled by Monday
            kite_url = APPS[base][KITE_LISTENER].url
            assert kite_url is not None
            kite = KiteConnect(api_key=app.api_key, access_token=app.access_token, root=kite_url)
            holdings = await asyncio.to_thread(
                wait_for, lambda: [(h["tradingsymbol"], h["quantity"]) for h in kite.holdings()]
            )
            assert holdings == [("RELIANCE", 10)]

    asyncio.run(main())
