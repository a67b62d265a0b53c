"""Iceberg orders over HTTP, against one real server and PostgreSQL for the module
(docs/KITE.md "Orders", docs/API.md "Trading").

Proves, with the unmodified PyPI ``kiteconnect`` client: ``place_order(variety="iceberg")``
answers the first leg's id and the legs trade one at a time, each an order of its own in
``orders()`` with variety ``iceberg``, its quantity, ``parent_order_id`` (null on the first
leg, then the first leg's id) and ``meta.iceberg``, with its own trades and history; a working
leg's price is modified (and the next leg takes it) but not its quantity, and cancelling it
ends the iceberg; a leg the funds left by the one before cannot cover is REJECTED and ends it
(margin is blocked per leg); bad iceberg terms raise ``InputException`` naming Kite's
parameter while a regular order ignores them; a NIFTY future iceberg above the freeze
quantity in legs within it is taken where the same regular order is not; margins and charges
price variety iceberg as the same regular order. On paperdesk's own API ``iceberg`` is taken,
answered in every order view, priced by the margin preview as its first leg, and each bad
term refused 422 naming it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from engine.domain import commands as cmd
from engine.domain.enums import Rejection
from engine.domain.instruments import InstrumentMaster
from gateway.errors import REJECTION_MESSAGES
from gateway.keys import ENGINE
from tests.e2e.conftest import APPS, e2e_config
from tests.e2e.test_kite_connect import HeadlessApp, headless_app, place, wait_for
from tests.e2e.test_trading_journey import RELIANCE, funded_user, ltp, order_body
from tests.integration.conftest import _new_database
from tests.support.server_thread import ServerThread

NIFTY_FUT = "NFO:NIFTY26DECFUT"  # lot 65, freeze quantity 1800
ORDERS = "/api/trading/orders"
UNLIMITED = 1_000_000


@pytest.fixture(scope="module")
def server(
    pg_server: str, template_database: str, master: InstrumentMaster
) -> Iterator[ServerThread]:
    """The server every test of the module trades on, each as a user of its own."""
    databases = _new_database(pg_server, template_database)
    config = e2e_config(
        kite={"quotes_per_second": 100, "other_per_second": 100, "orders_per_second": 100},
        rate_limits={
            "orders_per_minute": UNLIMITED,
            "general_per_minute": UNLIMITED,
            "login_per_15_minutes": UNLIMITED,  # the admin funds each test's user
        },
    )
    thread = ServerThread(next(databases), master, config)
    try:
        yield thread
    finally:
        thread.close()
        next(databases, None)


def kite_for(server: ServerThread, email: str, rupees: float) -> KiteConnect:
    """The client a strategy would make of a funded user's app."""

    async def make() -> HeadlessApp:
        async with aiohttp.ClientSession() as session:
            return await headless_app(session, server.base, email, rupees)

    app = server.run(make())
    return KiteConnect(api_key=app.api_key, access_token=app.access_token, root=app.kite_url)


def legs_of(kite: KiteConnect, first_id: str) -> list[dict[str, Any]]:
    """The legs of the iceberg whose first leg is ``first_id``, first first."""
    return [
        order
        for order in kite.orders()
        if first_id in (order["order_id"], order["parent_order_id"])
    ]


def iceberg_meta(legs: int, leg_quantity: int, total: int) -> list[dict[str, int]]:
    """``meta.iceberg`` of each leg of an iceberg of ``total`` in ``legs`` of ``leg_quantity``."""
    return [
        {
            "leg": leg,
            "legs": legs,
            "leg_quantity": leg_quantity,
            "total_quantity": total,
            "remaining_quantity": max(0, total - leg * leg_quantity),
        }
        for leg in range(1, legs + 1)
    ]


def fill_leg(
    server: ServerThread, order_id: str, quantity: int, price: float, version: int
) -> None:
    """Have the market fill ``quantity`` of a resting LIMIT leg at ``price`` (rupees), as it
    would when the price came to it."""
    engine = APPS[server.base][ENGINE]
    instrument = engine.master.get(RELIANCE)
    account_id = engine.locator.account_of_order(order_id)
    assert instrument is not None and account_id is not None
    fill = cmd.FillOrderRequest(
        order_id=order_id,
        instrument=instrument,
        quantity=quantity,
        price_paise=round(price * 100),
        order_version=version,
    )
    engine.submit(account_id, fill, None)


def test_kite_iceberg_when_market_then_every_leg_completes_in_turn(server: ServerThread) -> None:
    kite = kite_for(server, "iceberg-market@paperdesk.test", 100_000)
    first = place(
        kite, variety=kite.VARIETY_ICEBERG, quantity=7, iceberg_legs=3, iceberg_quantity=3
    )

    def all_complete() -> list[dict[str, Any]] | None:
        legs = legs_of(kite, first)
        done = len(legs) == 3 and all(leg["status"] == "COMPLETE" for leg in legs)
        return legs if done else None

    legs = wait_for(all_complete)
    assert [leg["variety"] for leg in legs] == ["iceberg"] * 3
    assert [leg["order_id"] == first for leg in legs] == [True, False, False]
    assert [leg["quantity"] for leg in legs] == [3, 3, 1]
    assert [leg["filled_quantity"] for leg in legs] == [3, 3, 1]
    assert [leg["parent_order_id"] for leg in legs] == [None, first, first]
    assert [leg["meta"]["iceberg"] for leg in legs] == iceberg_meta(3, 3, 7)
    assert [leg["meta"]["iceberg"]["remaining_quantity"] for leg in legs] == [4, 1, 0]
    assert len({leg["order_id"] for leg in legs}) == 3

    for leg in legs:
        trades = kite.order_trades(leg["order_id"])
        assert sum(trade["quantity"] for trade in trades) == leg["quantity"]
    history = kite.order_history(legs[1]["order_id"])
    assert [h["status"] for h in history][-1] == "COMPLETE"
    assert {(h["variety"], h["parent_order_id"]) for h in history} == {("iceberg", first)}
    net = kite.positions()["net"]
    assert [(p["tradingsymbol"], p["product"], p["quantity"]) for p in net] == [
        ("RELIANCE", "MIS", 7)
    ]


def test_kite_iceberg_when_leg_modified_filled_and_cancelled_then_next_leg_follows_and_ends(
    server: ServerThread,
) -> None:
    kite = kite_for(server, "iceberg-limit@paperdesk.test", 100_000)
    last = kite.ltp(["NSE:RELIANCE"])["NSE:RELIANCE"]["last_price"]
    below, lower = round(last * 0.9, 1), round(last * 0.88, 1)
    first = place(
        kite,
        variety=kite.VARIETY_ICEBERG,
        order_type=kite.ORDER_TYPE_LIMIT,
        price=below,
        quantity=5,
        iceberg_legs=3,
        iceberg_quantity=2,
    )
    (leg,) = legs_of(kite, first)
    assert (leg["status"], leg["quantity"], leg["price"], leg["variety"]) == (
        "OPEN",
        2,
        below,
        "iceberg",
    )
    assert leg["meta"]["iceberg"] == iceberg_meta(3, 2, 5)[0]

    with pytest.raises(kite_errors.OrderException):
        kite.modify_order(kite.VARIETY_ICEBERG, first, quantity=4)
    assert kite.modify_order(kite.VARIETY_ICEBERG, first, price=lower) == first
    (leg,) = legs_of(kite, first)
    assert (leg["price"], leg["quantity"], leg["modified"]) == (lower, 2, True)

    fill_leg(server, first, 2, lower, version=1)
    legs = wait_for(lambda: len(legs_of(kite, first)) == 2 and legs_of(kite, first))
    done, working = legs
    assert (done["order_id"], done["status"]) == (first, "COMPLETE")
    assert (working["status"], working["quantity"], working["price"]) == ("OPEN", 2, lower)
    assert (working["parent_order_id"], working["meta"]["iceberg"]) == (
        first,
        iceberg_meta(3, 2, 5)[1],
    )

    second = working["order_id"]
    assert kite.cancel_order(kite.VARIETY_ICEBERG, second) == second
    time.sleep(0.5)  # nothing follows a cancelled leg
    legs = legs_of(kite, first)
    assert [(leg["order_id"], leg["status"]) for leg in legs] == [
        (first, "COMPLETE"),
        (second, "CANCELLED"),
    ]
    assert legs[1]["cancelled_quantity"] == 2
    net = kite.positions()["net"]
    assert [(p["tradingsymbol"], p["quantity"]) for p in net] == [("RELIANCE", 2)]


def test_kite_iceberg_when_funds_cover_one_leg_then_the_next_is_rejected_and_ends_it(
    server: ServerThread,
) -> None:
    pricing = kite_for(server, "iceberg-pricing@paperdesk.test", 100_000)
    terms = {
        "exchange": "NSE",
        "tradingsymbol": "RELIANCE",
        "transaction_type": "BUY",
        "variety": "regular",
        "product": "MIS",
        "order_type": "MARKET",
        "quantity": 3,
    }
    (margin,) = pricing.order_margins([terms])
    one_leg = margin["total"] + margin["charges"]["total"]
    kite = kite_for(server, "iceberg-short@paperdesk.test", round(one_leg * 1.5, 2))
    first = place(
        kite, variety=kite.VARIETY_ICEBERG, quantity=9, iceberg_legs=3, iceberg_quantity=3
    )

    def ended() -> list[dict[str, Any]] | None:
        legs = legs_of(kite, first)
        return legs if [leg["status"] for leg in legs] == ["COMPLETE", "REJECTED"] else None

    _, refused = wait_for(ended)
    assert (refused["variety"], refused["parent_order_id"], refused["quantity"]) == (
        "iceberg",
        first,
        3,
    )
    assert refused["meta"]["iceberg"] == iceberg_meta(3, 3, 9)[1]
    assert refused["status_message"] == REJECTION_MESSAGES[Rejection.INSUFFICIENT_FUNDS]
    time.sleep(0.5)  # nothing follows a refused leg
    assert [leg["order_id"] for leg in legs_of(kite, first)] == [first, refused["order_id"]]
    assert [p["quantity"] for p in kite.positions()["net"]] == [3]


# Bad iceberg terms of a 7-unit order, and the Kite parameter each is refused for.
BAD_TERMS: list[tuple[dict[str, Any], str]] = [
    ({"iceberg_legs": 1, "iceberg_quantity": 4}, "iceberg_legs"),
    ({"iceberg_legs": 51, "iceberg_quantity": 1}, "iceberg_legs"),
    ({"iceberg_legs": 2}, "iceberg_quantity"),
    ({"iceberg_quantity": 4}, "iceberg_legs"),
    ({"iceberg_legs": 2, "iceberg_quantity": 2.5}, "iceberg_quantity"),
    ({"iceberg_legs": 2, "iceberg_quantity": 0}, "iceberg_quantity"),
    ({"iceberg_legs": 3, "iceberg_quantity": 4}, "iceberg_legs"),  # 7 in legs of 4 is 2 legs
]


def test_kite_iceberg_when_terms_bad_then_input_exception_and_regular_orders_ignore_them(
    server: ServerThread,
) -> None:
    kite = kite_for(server, "iceberg-bad@paperdesk.test", 100_000)
    for terms, field in BAD_TERMS:
        with pytest.raises(kite_errors.InputException, match=f"`{field}`"):
            place(kite, variety=kite.VARIETY_ICEBERG, quantity=7, **terms)
    assert kite.orders() == []

    regular = place(kite, quantity=7, iceberg_legs=1, iceberg_quantity=4)
    (order,) = kite.orders()
    assert order["order_id"] == regular
    assert (order["variety"], order["quantity"], order["parent_order_id"], order["meta"]) == (
        "regular",
        7,
        None,
        {},
    )


def test_kite_iceberg_when_nfo_total_above_freeze_then_taken_in_legs_within_it(
    server: ServerThread, master: InstrumentMaster
) -> None:
    future = master.get(NIFTY_FUT)
    assert future is not None and (future.lot_size, future.freeze_quantity) == (65, 1800)
    kite = kite_for(server, "iceberg-nfo@paperdesk.test", 10_000_000)
    (listed,) = [i for i in kite.instruments("NFO") if i["tradingsymbol"] == future.symbol]
    assert listed["lot_size"] == future.lot_size
    leg_quantity, total = 15 * future.lot_size, 30 * future.lot_size  # 975 and 1950
    assert leg_quantity <= future.freeze_quantity < total
    last = kite.ltp([NIFTY_FUT])[NIFTY_FUT]["last_price"]
    terms = {
        "exchange": kite.EXCHANGE_NFO,
        "tradingsymbol": future.symbol,
        "product": kite.PRODUCT_NRML,
        "order_type": kite.ORDER_TYPE_LIMIT,
        "price": round(last * 0.95, 1),
        "quantity": total,
    }
    regular = place(kite, **terms)
    first = place(
        kite, **terms, variety=kite.VARIETY_ICEBERG, iceberg_legs=2, iceberg_quantity=leg_quantity
    )
    orders = {order["order_id"]: order for order in kite.orders()}
    assert (orders[regular]["status"], orders[regular]["variety"]) == ("REJECTED", "regular")
    assert "freeze" in orders[regular]["status_message"]
    leg = orders[first]
    assert (leg["status"], leg["variety"], leg["quantity"]) == ("OPEN", "iceberg", leg_quantity)
    assert leg["meta"]["iceberg"] == iceberg_meta(2, leg_quantity, total)[0]
    assert kite.cancel_order(kite.VARIETY_ICEBERG, first) == first


def test_kite_iceberg_margins_and_charges_when_variety_iceberg_then_as_the_regular_order(
    server: ServerThread,
) -> None:
    kite = kite_for(server, "iceberg-margins@paperdesk.test", 100_000)
    order = {
        "exchange": "NSE",
        "tradingsymbol": "RELIANCE",
        "transaction_type": "BUY",
        "product": "MIS",
        "order_type": "LIMIT",
        "price": 1500.0,
        "quantity": 7,
    }
    regular, iceberg = ({**order, "variety": variety} for variety in ("regular", "iceberg"))
    assert kite.order_margins([iceberg]) == kite.order_margins([regular])
    assert kite.basket_order_margins([iceberg]) == kite.basket_order_margins([regular])
    executed = {**iceberg, "average_price": 1500.0}
    (note,) = kite.get_virtual_contract_note([executed])
    (regular_note,) = kite.get_virtual_contract_note([{**executed, "variety": "regular"}])
    assert note["variety"] == "iceberg"
    assert note["charges"] == regular_note["charges"]


# Bad iceberg terms on paperdesk's API: (the body's changes, status, code, the path at fault).
NATIVE_REFUSALS: list[tuple[dict[str, Any], int, str, str]] = [
    ({"iceberg": {"legs": 1, "legQuantity": 4}}, 422, "INVALID_QUANTITY", "$.iceberg.legs"),
    ({"iceberg": {"legs": 51, "legQuantity": 1}}, 422, "INVALID_QUANTITY", "$.iceberg.legs"),
    ({"iceberg": {"legs": 3, "legQuantity": 4}}, 422, "INVALID_QUANTITY", "$.iceberg.legs"),
    (
        {"iceberg": {"legs": 2, "legQuantity": 4}, "afterMarket": True},
        422,
        "ICEBERG_AFTER_MARKET",
        "$.iceberg",
    ),
    (
        {"instrumentId": "NSE_FO|52166", "quantity": 1950, "productType": "NRML"}
        | {"iceberg": {"legs": 2, "legQuantity": 1820}},  # 28 lots: above the freeze
        422,
        "ABOVE_FREEZE_QUANTITY",
        "$.iceberg.legQuantity",
    ),
    (
        {"instrumentId": "NSE_FO|52166", "quantity": 1950, "productType": "NRML"}
        | {"iceberg": {"legs": 20, "legQuantity": 100}},  # not whole lots
        422,
        "INVALID_QUANTITY",
        "$.iceberg.legQuantity",
    ),
    (
        {"instrumentId": "NSE_FO|52166", "quantity": 1000, "productType": "NRML"}
        | {"iceberg": {"legs": 2, "legQuantity": 650}},  # a total of no whole lots
        422,
        "INVALID_QUANTITY",
        "$.quantity",
    ),
    ({"iceberg": {"legs": 2, "legQuantity": 0}}, 400, "VALIDATION_ERROR", "$.iceberg.legQuantity"),
    ({"iceberg": {"legs": 2}}, 400, "VALIDATION_ERROR", "$.iceberg.legQuantity"),
]


async def native_iceberg(session: aiohttp.ClientSession, base: str) -> None:
    user, account_id = await funded_user(session, base, "iceberg-api@paperdesk.test", 100_000)
    below = round(await ltp(user) * 0.9, 1)
    limit = order_body(account_id, quantity=5, orderType="LIMIT", price=below)
    body = limit | {"iceberg": {"legs": 3, "legQuantity": 2}}
    status, placed, _ = await user.call("POST", ORDERS, body)
    assert status == 200, placed
    order = placed["order"]
    first = order["id"]
    expected = {
        "parentOrderId": first,
        "leg": 1,
        "legs": 3,
        "legQuantity": 2,
        "totalQuantity": 5,
        "remainingQuantity": 3,
    }
    assert (order["quantity"], order["iceberg"]) == (2, expected)
    status, read, _ = await user.call("GET", f"{ORDERS}/{first}")
    assert status == 200, read
    assert (read["order"]["quantity"], read["order"]["iceberg"]) == (2, expected)
    status, listed, _ = await user.call("GET", ORDERS)
    assert status == 200, listed
    assert [(o["id"], o["iceberg"]) for o in listed["items"]] == [(first, expected)]

    # The margin preview prices what placing blocks: the first leg.
    status, preview, _ = await user.call("POST", "/api/trading/margins", body)
    assert status == 200, preview
    status, one_leg, _ = await user.call("POST", "/api/trading/margins", limit | {"quantity": 2})
    assert status == 200, one_leg
    assert (preview["required"], preview["charges"]) == (one_leg["required"], one_leg["charges"])

    modify = {"orderId": first, "quantity": 4}
    status, refused, _ = await user.call("PATCH", ORDERS, modify)
    assert (status, refused["error"]["code"]) == (422, "INVALID_QUANTITY"), refused
    status, cancelled, _ = await user.call("DELETE", ORDERS, {"orderId": first})
    assert status == 200, cancelled
    assert (cancelled["order"]["status"], cancelled["order"]["iceberg"]) == ("CANCELLED", expected)

    for changes, code_status, code, path in NATIVE_REFUSALS:
        status, refused, _ = await user.call("POST", ORDERS, limit | changes)
        assert (status, refused["error"]["code"]) == (code_status, code), changes
        assert [d["path"] for d in refused["error"]["details"]] == [path], changes
    in_basket = {name: value for name, value in body.items() if name != "tradingAccountId"}
    basket = {"tradingAccountId": account_id, "orders": [in_basket]}
    status, refused, _ = await user.call("POST", "/api/trading/margins/basket", basket)
    assert status == 400, refused
    assert [d["path"] for d in refused["error"]["details"]] == ["$.orders[0].iceberg"]

    status, regular, _ = await user.call("POST", ORDERS, limit)
    assert status == 200, regular
    assert regular["order"]["iceberg"] is None
    status, listed, _ = await user.call("GET", ORDERS)
    assert [o["iceberg"] is None for o in listed["items"]] == [True, False]


def test_native_iceberg_when_placed_then_in_every_view_and_bad_terms_refused_at_their_field(
    server: ServerThread,
) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            await native_iceberg(session, server.base)

    server.run(scenario())
