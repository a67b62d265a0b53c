"""Kite's GTT routes driven by the unmodified ``kiteconnect`` client, over paperdesk's own GTTs,
against the real server and PostgreSQL.

Proves: a single GTT placed with ``place_gtt`` is listed by ``get_gtts`` and read by ``get_gtt``
in Kite's shape (condition, orders, status ``active``), modified with ``modify_gtt`` and deleted
with ``delete_gtt`` (``cancelled``); a two-leg (OCO) GTT takes its stop-loss and target legs;
a GTT whose trigger the market crosses fires, its order placed through the account's checks
and named in the leg's ``result``; the same GTTs show in paperdesk's own API; bad input raises
``InputException`` naming the part at fault.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import e2e_config, running_server
from tests.e2e.test_kite_connect import HeadlessApp, headless_app, wait_for

SYMBOL = "RELIANCE"
# Kite allows 10 calls a second; this conversation makes them as fast as it can.
FAST_KITE = {"other_per_second": 1_000, "quotes_per_second": 1_000}


def leg(kite: KiteConnect, side: str, price: float, quantity: int = 1) -> dict[str, Any]:
    return {
        "exchange": kite.EXCHANGE_NSE,
        "tradingsymbol": SYMBOL,
        "transaction_type": side,
        "quantity": quantity,
        "order_type": kite.ORDER_TYPE_LIMIT,
        "product": kite.PRODUCT_CNC,
        "price": price,
    }


def round_trip(app: HeadlessApp) -> dict[str, str]:
    """The GTT conversation; the GTTs it left, by id, with their Kite statuses."""
    kite = KiteConnect(app.api_key, app.access_token, root=app.kite_url)
    ltp = kite.ltp([f"NSE:{SYMBOL}"])[f"NSE:{SYMBOL}"]["last_price"]
    low, high = round(ltp * 0.9, 1), round(ltp * 1.1, 1)

    single = kite.place_gtt(
        kite.GTT_TYPE_SINGLE,
        SYMBOL,
        kite.EXCHANGE_NSE,
        [low],
        ltp,
        [leg(kite, kite.TRANSACTION_TYPE_BUY, low)],
    )["trigger_id"]
    found = kite.get_gtt(single)
    assert (found["id"], found["type"], found["status"]) == (single, "single", "active")
    assert found["condition"]["trigger_values"] == [low]
    assert found["condition"]["tradingsymbol"] == SYMBOL
    assert found["orders"][0]["price"] == low and found["orders"][0]["result"] is None
    assert single in [g["id"] for g in kite.get_gtts()]

    lower = round(ltp * 0.85, 1)
    assert (
        kite.modify_gtt(
            single,
            kite.GTT_TYPE_SINGLE,
            SYMBOL,
            kite.EXCHANGE_NSE,
            [lower],
            ltp,
            [leg(kite, kite.TRANSACTION_TYPE_BUY, lower)],
        )["trigger_id"]
        == single
    )
    assert kite.get_gtt(single)["condition"]["trigger_values"] == [lower]
    assert kite.delete_gtt(single)["trigger_id"] == single
    assert kite.get_gtt(single)["status"] == "cancelled"
    with pytest.raises(kite_errors.InputException, match="not active"):
        kite.delete_gtt(single)

    oco = kite.place_gtt(
        kite.GTT_TYPE_OCO,
        SYMBOL,
        kite.EXCHANGE_NSE,
        [low, high],
        ltp,
        [leg(kite, kite.TRANSACTION_TYPE_SELL, low), leg(kite, kite.TRANSACTION_TYPE_SELL, high)],
    )["trigger_id"]
    both = kite.get_gtt(oco)
    assert both["type"] == "two-leg" and both["condition"]["trigger_values"] == [low, high]
    assert [o["price"] for o in both["orders"]] == [low, high]

    # Placed against a last price above the market with a trigger between the two: the
    # market is already at or under the trigger, so the next tick fires it.
    marketable = round(ltp * 1.02, 1)
    firing = kite.place_gtt(
        kite.GTT_TYPE_SINGLE,
        SYMBOL,
        kite.EXCHANGE_NSE,
        [round(ltp * 1.01, 1)],
        round(ltp * 1.03, 1),
        [leg(kite, kite.TRANSACTION_TYPE_BUY, marketable)],
    )["trigger_id"]
    fired = wait_for(lambda: (g := kite.get_gtt(firing))["status"] == "triggered" and g)
    result = fired["orders"][0]["result"]
    assert result["order_result"]["status"] == "success"
    order_id = result["order_result"]["order_id"]
    assert order_id in [o["order_id"] for o in kite.orders()]

    sell_low = leg(kite, kite.TRANSACTION_TYPE_SELL, low)
    sell_high = leg(kite, kite.TRANSACTION_TYPE_SELL, high)
    with pytest.raises(kite_errors.InputException, match="trigger_values"):
        kite.place_gtt(
            kite.GTT_TYPE_OCO,
            SYMBOL,
            kite.EXCHANGE_NSE,
            [high, low],
            ltp,
            [sell_high, sell_low],
        )
    with pytest.raises(kite_errors.InputException, match="tradingsymbol"):
        kite.place_gtt(
            kite.GTT_TYPE_SINGLE,
            "NOSUCH",
            kite.EXCHANGE_NSE,
            [low],
            ltp,
            [leg(kite, kite.TRANSACTION_TYPE_BUY, low) | {"tradingsymbol": "NOSUCH"}],
        )
    with pytest.raises(kite_errors.InputException):
        kite.get_gtt("no-such-trigger")
    return {g["id"]: g["status"] for g in kite.get_gtts()}


def test_kite_gtt_when_placed_modified_fired_and_deleted_then_as_at_kite(
    master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        async with (
            running_server(database, e2e_config(kite=FAST_KITE), master) as base,
            aiohttp.ClientSession() as session,
        ):
            app = await headless_app(session, base, "gtt@paperdesk.test", 1_000_000)
            placed = await asyncio.to_thread(round_trip, app)
            # The same GTTs in paperdesk's own API, with the same statuses.
            status, body, _ = await app.user.call("GET", "/api/trading/gtt?limit=50")
            assert status == 200, body
            native = {g["id"]: g["status"] for g in body["items"]}
            assert native == {gtt_id: status.upper() for gtt_id, status in placed.items()}

    asyncio.run(main())
