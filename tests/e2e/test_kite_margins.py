"""Kite's margin and charges routes driven by the unmodified ``kiteconnect`` client, against the
real server and PostgreSQL, compared with paperdesk's own API for the same orders.

Proves: ``order_margins`` and ``basket_order_margins`` for a hedged NIFTY call spread give
paperdesk's native basket figures to the paisa (each order alone, ``initial``, and ``final``
with the hedge benefit, below ``initial``), the charges the native margin preview estimates,
and the same on a flat account with ``consider_positions`` false; ``mode=compact`` trims each
figure; ``get_virtual_contract_note`` for an order that really filled gives that order's
charges as ``GET /api/trading/orders/{id}`` shows them; bad input raises ``InputException``
naming the order's index and field.

The market is held still (one tick, then none) and the clock frozen, so the two APIs value the
orders on the same prices at the same instant.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from engine.actors.clock import FakeClock
from engine.domain.instruments import InstrumentMaster
from gateway.keys import ENGINE
from gateway.kite.listener import KITE_LISTENER
from gateway.kite.margin_format import COMPACT_FIELDS
from tests.e2e.conftest import APPS, Client, e2e_config, eventually, running_server
from tests.e2e.test_kite_connect import create_app, login_with_form
from tests.e2e.test_trading_journey import RELIANCE, funded_user
from tests.support.clocks import SAMPLE_MASTER_DAY_MS

SHORT_ID, SHORT_SYMBOL = "NSE_FO|45430", "NIFTY26DEC26000CE"  # lot 65
LONG_ID, LONG_SYMBOL = "NSE_FO|45440", "NIFTY26DEC26500CE"
# The spread as Kite's client sends it, and as paperdesk's basket body.
SPREAD = [
    (SHORT_ID, SHORT_SYMBOL, "SELL", 441.45),
    (LONG_ID, LONG_SYMBOL, "BUY", 189.70),
]
PARTS = {
    "span": "span",
    "exposure": "exposure",
    "option_premium": "optionPremium",
    "additional": "additional",
    "var": "var",
    "total": "total",
}


def kite_order(symbol: str, side: str, price: float, **overrides: Any) -> dict[str, Any]:
    order = {
        "exchange": "NFO",
        "tradingsymbol": symbol,
        "transaction_type": side,
        "variety": "regular",
        "product": "NRML",
        "order_type": "LIMIT",
        "quantity": 65,
        "price": price,
        "trigger_price": 0,
    }
    return order | overrides


def native_order(instrument_id: str, side: str, price: float) -> dict[str, Any]:
    return {
        "instrumentId": instrument_id,
        "quantity": 65,
        "orderType": "LIMIT",
        "orderSide": side,
        "productType": "NRML",
        "price": price,
    }


def assert_same_figures(kite: dict[str, Any], native: dict[str, Any]) -> None:
    for kite_part, native_part in PARTS.items():
        assert kite[kite_part] == native[native_part], kite_part


async def native_basket(user: Client, account_id: str) -> dict[str, Any]:
    body = {
        "tradingAccountId": account_id,
        "orders": [native_order(i, side, price) for i, _, side, price in SPREAD],
    }
    status, reply, _ = await user.call("POST", "/api/trading/margins/basket", body)
    assert status == 200, reply
    return dict(reply)


async def compare_margins(kite: KiteConnect, user: Client, account_id: str) -> None:
    orders = [kite_order(symbol, side, price) for _, symbol, side, price in SPREAD]
    basket = await asyncio.to_thread(kite.basket_order_margins, orders)
    native = await native_basket(user, account_id)

    assert basket["final"]["total"] < basket["initial"]["total"]  # the spread's benefit
    assert_same_figures(basket["initial"], native["initial"])
    assert_same_figures(basket["final"], native["final"])
    assert basket["charges"]["total"] == native["charges"]
    for ours, theirs in zip(basket["orders"], native["orders"], strict=True):
        assert_same_figures(ours, theirs)
        assert ours["charges"]["total"] == theirs["charges"]
    short, long = basket["orders"]
    assert (short["tradingsymbol"], short["exchange"], short["type"]) == (
        SHORT_SYMBOL,
        "NFO",
        "equity",
    )
    assert short["span"] > 0 and short["exposure"] > 0  # SPAN and ELM apart
    assert long["option_premium"] == pytest.approx(189.70 * 65)
    charges = long["charges"]
    assert charges["brokerage"] == 20 and charges["transaction_tax_type"] == "stt"
    parts = (
        charges["transaction_tax"]
        + charges["exchange_turnover_charge"]
        + charges["sebi_turnover_charge"]
        + charges["brokerage"]
        + charges["stamp_duty"]
        + charges["gst"]["total"]
    )
    assert charges["total"] == pytest.approx(parts, abs=0.001)

    alone = await asyncio.to_thread(kite.order_margins, orders)
    for ours, theirs, (instrument_id, _, side, price) in zip(
        alone, native["orders"], SPREAD, strict=True
    ):
        assert_same_figures(ours, theirs)
        body = {"tradingAccountId": account_id} | native_order(instrument_id, side, price)
        status, single, _ = await user.call("POST", "/api/trading/margins", body)
        assert status == 200, single
        assert ours["charges"]["total"] == single["charges"]
        assert ours["leverage"] == single["leverage"]

    shares = {"exchange": "NSE", "tradingsymbol": "RELIANCE", "transaction_type": "BUY"}
    shares |= {"product": "MIS", "order_type": "MARKET", "quantity": 10}
    (equity,) = await asyncio.to_thread(kite.order_margins, [shares])
    body = {"tradingAccountId": account_id, "instrumentId": RELIANCE, "quantity": 10}
    body |= {"orderType": "MARKET", "orderSide": "BUY", "productType": "MIS"}
    status, single, _ = await user.call("POST", "/api/trading/margins", body)
    assert status == 200, single
    assert equity["var"] == equity["total"] == single["required"] > 0
    assert (equity["span"], equity["leverage"]) == (0, single["leverage"])
    assert equity["charges"]["total"] == single["charges"]

    flat = await asyncio.to_thread(kite.basket_order_margins, orders, False)
    assert flat["final"] == basket["final"]  # nothing held: positions change nothing
    compact = await asyncio.to_thread(kite.basket_order_margins, orders, True, "compact")
    assert set(compact["final"]) == set(COMPACT_FIELDS)
    assert compact["final"]["total"] == basket["final"]["total"]


async def contract_note_of_a_fill(kite: KiteConnect, user: Client, engine: Any) -> None:
    order_id = await asyncio.to_thread(
        kite.place_order,
        variety="regular",
        exchange="NFO",
        tradingsymbol=LONG_SYMBOL,
        transaction_type="BUY",
        quantity=650,
        product="NRML",
        order_type="MARKET",
    )
    order: dict[str, Any] = {}

    async def executed() -> bool:
        await asyncio.to_thread(engine.tick)  # the market moves only when told to
        status, detail, _ = await user.call("GET", f"/api/trading/orders/{order_id}")
        assert status == 200, detail
        order.update(detail["order"])
        return bool(order["status"] == "EXECUTED")

    await eventually(executed)
    note = await asyncio.to_thread(
        kite.get_virtual_contract_note,
        [
            {
                "order_id": order_id,
                "exchange": "NFO",
                "tradingsymbol": LONG_SYMBOL,
                "transaction_type": "BUY",
                "variety": "regular",
                "product": "NRML",
                "order_type": "MARKET",
                "quantity": 650,
                "average_price": order["averagePrice"],
            }
        ],
    )
    (charged,) = note
    assert charged["tradingsymbol"] == LONG_SYMBOL and charged["quantity"] == 650
    assert charged["charges"]["total"] == order["charges"]  # to the paisa
    assert charged["charges"]["brokerage"] == 20  # once per order, however many fills


def refuses_bad_input(kite: KiteConnect, orders_max: int) -> None:
    good = kite_order(LONG_SYMBOL, "BUY", 189.70)
    with pytest.raises(kite_errors.InputException, match="orders"):
        kite.order_margins([])
    with pytest.raises(kite_errors.InputException, match=rf"at most {orders_max}"):
        kite.basket_order_margins([good] * (orders_max + 1))
    with pytest.raises(kite_errors.InputException, match=r"orders\[1\]\.quantity"):
        kite.order_margins([good, good | {"quantity": "many"}])
    with pytest.raises(kite_errors.InputException, match=r"orders\[0\]\.tradingsymbol"):
        kite.basket_order_margins([good | {"tradingsymbol": "NOSUCHOPTION"}])
    with pytest.raises(kite_errors.InputException, match=r"orders\[1\]\.quantity"):
        kite.order_margins([good, good | {"quantity": 10}])  # not a whole lot
    with pytest.raises(kite_errors.InputException, match=r"orders\[0\]\.price"):
        kite.order_margins([good | {"price": 189.705}])
    with pytest.raises(kite_errors.InputException, match=r"orders\[0\]\.average_price"):
        kite.get_virtual_contract_note([good])


def test_kite_margins_and_charges_when_asked_then_paperdesks_own_to_the_paisa(
    master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        config = e2e_config(
            kite={"orders_per_second": 100, "other_per_second": 100},
            market={"jitter_interval_ms": 3_600_000},  # no tick but the ones the test runs
        )
        clock = FakeClock(SAMPLE_MASTER_DAY_MS)
        async with (
            running_server(database, config, master, clock) as base,
            aiohttp.ClientSession() as session,
        ):
            engine = APPS[base][ENGINE]
            await asyncio.to_thread(engine.tick)  # the market's first prices
            kite_url = APPS[base][KITE_LISTENER].url
            assert kite_url is not None
            email = "kite-margins@paperdesk.test"
            user, account_id = await funded_user(session, base, email, 1_000_000)
            api_key, api_secret = await create_app(user, account_id)
            request_token = await login_with_form(kite_url, api_key, email)
            kite = KiteConnect(api_key=api_key, root=kite_url)
            session_data = await asyncio.to_thread(kite.generate_session, request_token, api_secret)
            kite.set_access_token(session_data["access_token"])

            await compare_margins(kite, user, account_id)
            await contract_note_of_a_fill(kite, user, engine)
            await asyncio.to_thread(refuses_bad_input, kite, config.limits.basket_orders_max)

    asyncio.run(main())
