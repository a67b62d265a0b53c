"""``POST /api/trading/margins/basket`` on the real server, over HTTP, against PostgreSQL.

Proves: a call spread's answer has the documented shape (``replies.BasketMargin``), needs less
together than its legs alone and says the difference as its benefit, each order alone being
what ``/api/trading/margins`` requires; after a real short call position opens, a long call
needs less than it would on a flat account (its ``standalone``), the dashboard's hedge benefit;
an order short of funds is flagged, not refused; a bad lot answers 422 naming
``$.orders[1].quantity``, other bad orders 400 naming their field; another user's account
answers 404 and another user's ``userId`` 403; a basket holds 1 to ``limits.basket_orders_max``
orders.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec
import pytest

from engine.domain.instruments import InstrumentMaster
from gateway import replies
from tests.e2e.conftest import Client, eventually, run_scenario
from tests.e2e.test_option_routes import ticked
from tests.e2e.test_trading_journey import RELIANCE, funded_user

CALL_26000 = "NSE_FO|45430"  # NIFTY26DEC26000CE, lot 65
CALL_26500 = "NSE_FO|45440"  # NIFTY26DEC26500CE
BASKET = "/api/trading/margins/basket"


def leg(instrument_id: str, side: str, price: float, **overrides: Any) -> dict[str, Any]:
    """A LIMIT order of one lot (valued at its price, whatever the market does)."""
    order = {
        "instrumentId": instrument_id,
        "quantity": 65,
        "orderType": "LIMIT",
        "orderSide": side,
        "productType": "NRML",
        "price": price,
    }
    return order | overrides


SHORT = leg(CALL_26000, "SELL", 441.45)
LONG = leg(CALL_26500, "BUY", 189.70)


async def basket(user: Client, account_id: str, *orders: dict[str, Any]) -> dict[str, Any]:
    status, reply, _ = await user.call(
        "POST", BASKET, {"tradingAccountId": account_id, "orders": list(orders)}
    )
    assert status == 200, reply
    msgspec.convert(reply, replies.BasketMargin)  # every key documented, of its type
    return dict(reply)


def test_basket_when_call_spread_then_together_below_alone_by_the_benefit(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "spread@paperdesk.test", 1_000_000)
        await ticked(session, base)
        answer = await basket(user, account_id, SHORT, LONG)

        initial, final = answer["initial"], answer["final"]
        assert final["blocked"] < initial["blocked"]
        assert answer["benefit"] == pytest.approx(initial["total"] - final["total"], abs=0.011)
        assert answer["benefit"] > 0
        assert answer["availableMargin"] == 1_000_000
        short, long = answer["orders"]
        assert (short["instrumentId"], short["orderSide"], short["quantity"]) == (
            CALL_26000,
            "SELL",
            65,
        )
        assert short["premiumCredit"] == pytest.approx(441.45 * 65)
        assert long["optionPremium"] == long["blocked"] == pytest.approx(189.70 * 65)
        assert short["sufficient"] and long["sufficient"]
        assert short["rejection"] is None and long["rejection"] is None
        assert answer["charges"] == pytest.approx(short["charges"] + long["charges"], abs=0.011)
        for part in ("span", "exposure", "optionPremium", "premiumCredit", "blocked"):
            assert initial[part] == pytest.approx(short[part] + long[part], abs=0.011), part
        # Each order alone is what the margin preview requires of it.
        for order in (SHORT, LONG):
            body = {"tradingAccountId": account_id} | order
            status, single, _ = await user.call("POST", "/api/trading/margins", body)
            assert status == 200, single
            alone = answer["orders"][0 if order is SHORT else 1]
            assert single["required"] == alone["blocked"]
            assert single["charges"] == alone["charges"]
            # A flat account: nothing to offset, so alone is standalone.
            assert alone["standalone"] == {k: alone[k] for k in alone["standalone"]}

    run_scenario(database, master, scenario)


def test_basket_when_short_call_held_then_long_call_needs_less_than_standalone(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "hedge@paperdesk.test", 1_000_000)
        await ticked(session, base)
        flat = await basket(user, account_id, LONG)
        sell = {
            "tradingAccountId": account_id,
            "instrumentId": CALL_26000,
            "quantity": 65,
            "orderType": "MARKET",
            "orderSide": "SELL",
            "productType": "NRML",
        }
        status, placed, _ = await user.call("POST", "/api/trading/orders", sell)
        assert status == 200, placed

        async def short_open() -> bool:
            _, listed, _ = await user.call("GET", "/api/trading/positions?status=OPEN")
            return [p["quantity"] for p in listed["items"]] == [-65]

        await eventually(short_open)
        hedged = await basket(user, account_id, LONG)

        (alone,) = flat["orders"]
        assert alone["blocked"] == alone["standalone"]["blocked"] == pytest.approx(189.70 * 65)
        (hedge,) = hedged["orders"]
        assert hedge["standalone"] == alone["standalone"]
        assert hedge["blocked"] < hedge["standalone"]["blocked"]  # the hedge benefit
        assert hedge["span"] < 0  # it lowers the short's SPAN
        assert hedged["initial"] == hedged["final"]  # one order: together is alone
        assert hedged["benefit"] == 0

    run_scenario(database, master, scenario)


def test_basket_when_funds_short_then_orders_flagged_not_refused(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "short@paperdesk.test", 20_000)
        shares = {
            "instrumentId": RELIANCE,
            "quantity": 1,
            "orderType": "LIMIT",
            "orderSide": "BUY",
            "productType": "CNC",
            "price": 1500,
        }
        answer = await basket(user, account_id, SHORT, LONG, shares)

        short, long, stock = answer["orders"]
        assert (short["sufficient"], short["rejection"]) == (False, "INSUFFICIENT_FUNDS")
        assert short["blocked"] > answer["availableMargin"] == 20_000
        assert (long["sufficient"], long["rejection"]) == (True, None)
        assert stock["var"] == stock["blocked"] == stock["total"] == 1500
        assert answer["final"]["var"] == 1500
        assert answer["benefit"] > 0

    run_scenario(database, master, scenario)


def test_basket_when_an_order_is_invalid_then_the_whole_basket_refused_naming_it(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "invalid@paperdesk.test", 100_000)

        async def refused(*orders: dict[str, Any]) -> tuple[int, str, str]:
            body = {"tradingAccountId": account_id, "orders": list(orders)}
            status, reply, _ = await user.call("POST", BASKET, body)
            error = reply["error"]
            return status, error["code"], error["details"][0]["path"]

        odd_lot = SHORT | {"quantity": 64}
        assert await refused(LONG, odd_lot) == (422, "INVALID_QUANTITY", "$.orders[1].quantity")
        unknown = LONG | {"instrumentId": "NSE_FO|1"}
        assert await refused(LONG, LONG, unknown) == (
            400,
            "VALIDATION_ERROR",
            "$.orders[2].instrumentId",
        )
        off_tick = LONG | {"price": 189.72}
        assert await refused(off_tick) == (422, "INVALID_PRICE", "$.orders[0]")
        three_decimals = LONG | {"price": 189.705}
        assert await refused(three_decimals) == (400, "VALIDATION_ERROR", "$.orders[0].price")
        index = LONG | {"instrumentId": "NSE_INDEX|NIFTY 50"}
        assert await refused(index) == (422, "NOT_TRADABLE", "$.orders[0].instrumentId")
        with_client_id = LONG | {"clientOrderId": "c-1"}
        assert await refused(with_client_id) == (
            400,
            "VALIDATION_ERROR",
            "$.orders[0].clientOrderId",
        )

    run_scenario(database, master, scenario)


def test_basket_when_another_users_account_then_404_and_their_user_id_403(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        _, theirs = await funded_user(session, base, "owner@paperdesk.test", 100_000)
        intruder, mine = await funded_user(session, base, "intruder@paperdesk.test", 100_000)

        body = {"tradingAccountId": theirs, "orders": [LONG]}
        status, reply, _ = await intruder.call("POST", BASKET, body)
        assert (status, reply["error"]["code"]) == (404, "NOT_FOUND")
        body = {"tradingAccountId": mine, "orders": [LONG], "userId": "someone-else"}
        status, reply, _ = await intruder.call("POST", BASKET, body)
        assert (status, reply["error"]["code"]) == (403, "FORBIDDEN")

    run_scenario(database, master, scenario)


def test_basket_when_empty_or_past_the_limit_then_400_naming_orders(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "limit@paperdesk.test", 1_000_000)
        for count in (0, 51):
            body = {"tradingAccountId": account_id, "orders": [LONG] * count}
            status, reply, _ = await user.call("POST", BASKET, body)
            assert (status, reply["error"]["code"]) == (400, "VALIDATION_ERROR"), count
            assert reply["error"]["details"][0]["path"] == "$.orders", count
        answer = await basket(user, account_id, *[LONG] * 50)  # limits.basket_orders_max
        assert len(answer["orders"]) == 50
        assert answer["final"]["blocked"] == pytest.approx(50 * 189.70 * 65)

    run_scenario(database, master, scenario)
