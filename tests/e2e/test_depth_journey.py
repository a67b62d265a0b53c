"""A large order against the displayed book, over the real server and PostgreSQL.

Proves the issue's "done when": a user who reads the book (``/api/quotes`` in full mode) and
places a MARKET order larger than its touch sees it fill across levels at worse prices, one
trade per level, in the order's detail and the trades list, with an order frame on the
websocket for each part filled; the order's average price is the
trades' volume-weighted price; the order's brokerage is charged once (on its first trade) and
every trade pays its own taxes; and an IOC order larger than the book within its limit keeps
what it filled and is cancelled for the rest.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import aiohttp

from engine.domain.charges import FIRST_FILL, ChargeCategory, OrderSoFar, order_charges
from engine.domain.enums import Side
from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import Client, e2e_config, eventually, run_scenario
from tests.e2e.test_trading_journey import RELIANCE, funded_user, order_body

FUNDS_RUPEES = 5_00_00_000  # ₹5 crore: room for several levels of a share's book


async def book(user: Client) -> dict[str, Any]:
    status, body, _ = await user.call("GET", f"/api/quotes?q={RELIANCE}&mode=full")
    assert status == 200, body
    return dict(body["data"][RELIANCE])


async def detail(user: Client, order_id: str) -> dict[str, Any]:
    status, body, _ = await user.call("GET", f"/api/trading/orders/{order_id}")
    assert status == 200, body
    return dict(body)


async def order_frames_until_done(
    ws: aiohttp.ClientWebSocketResponse, order_id: str, timeout_s: float = 10
) -> list[dict[str, Any]]:
    """The websocket's order frames for ``order_id`` until one says it ended."""

    async def read() -> list[dict[str, Any]]:
        frames: list[dict[str, Any]] = []
        while True:
            message: dict[str, Any] = await ws.receive_json()
            if message["type"] == "order" and message["data"]["id"] == order_id:
                frames.append(message["data"])
                if message["data"]["status"] != "PENDING":
                    return frames

    return await asyncio.wait_for(read(), timeout_s)


def test_large_market_order_when_placed_then_fills_across_levels_one_trade_each(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "walk@paperdesk.test", FUNDS_RUPEES)
        sell = (await book(user))["depth"]["sell"]
        quantity = sum(level["quantity"] for level in sell[:3])
        token = user.headers["Authorization"].removeprefix("Bearer ")
        ws_url = base.replace("http", "ws") + f"/api/ws?token={token}"
        async with session.ws_connect(ws_url) as ws:
            status, body, _ = await user.call(
                "POST", "/api/trading/orders", order_body(account_id, quantity=quantity)
            )
            assert status == 200, body
            order_id = body["order"]["id"]
            frames = await order_frames_until_done(ws, order_id)
        # An order frame for each part filled: the working order, then its end.
        filled = [frame.get("filledQuantity") for frame in frames[:-1]]
        assert frames[-1]["status"] == "EXECUTED"
        assert len([f for f in filled if f]) >= 1, "a frame for a partial fill"
        assert filled == sorted(filled, key=lambda f: f or 0)

        seen = await detail(user, order_id)
        trades = sorted(seen["trades"], key=lambda trade: int(trade["id"].rsplit("-", 1)[1]))
        assert len(trades) >= 2, "larger than any touch the book draws: it took several levels"
        prices = [trade["price"] for trade in trades]
        assert prices == sorted(prices) and len(set(prices)) == len(prices), "worse each level"
        assert sum(trade["quantity"] for trade in trades) == quantity
        value = sum(trade["price"] * trade["quantity"] for trade in trades)
        assert seen["order"]["averagePrice"] == round(value / quantity, 2)
        assert (seen["order"]["filledQuantity"], seen["order"]["pendingQuantity"]) == (
            quantity,
            0,
        )
        # Brokerage is per order (₹20 here: 0.03 % of the first trade alone is more), taxes on
        # each trade's value: the calculator's figures for each trade, the order so far given.
        schedule = e2e_config().charges.on(date.today())
        so_far = FIRST_FILL
        for trade in trades:
            value = round(trade["price"] * 100) * trade["quantity"]
            expected = order_charges(
                schedule, ChargeCategory.MIS, "NSE", Side.BUY, value, so_far=so_far
            )
            assert trade["charges"] == expected.total_paise / 100
            so_far = OrderSoFar(
                so_far.value_paise + value, so_far.brokerage_paise + expected.brokerage_paise
            )
        assert so_far.brokerage_paise == 2000
        status, listed, _ = await user.call(
            "GET", f"/api/trading/trades?tradingAccountId={account_id}&orderId={order_id}"
        )
        assert status == 200, listed
        assert {trade["id"] for trade in listed["items"]} == {trade["id"] for trade in trades}

    run_scenario(database, master, scenario)


def test_ioc_limit_when_larger_than_the_book_within_it_then_part_kept_rest_cancelled(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "ioc@paperdesk.test", FUNDS_RUPEES)
        quote = await book(user)
        limit = quote["ask"]
        quantity = 2 * sum(level["quantity"] for level in quote["depth"]["sell"])
        body = order_body(
            account_id, quantity=quantity, orderType="LIMIT", price=limit, validity="IOC"
        )
        status, placed, _ = await user.call("POST", "/api/trading/orders", body)
        assert status == 200, placed
        order_id = placed["order"]["id"]

        async def done() -> bool:
            return bool((await detail(user, order_id))["order"]["status"] == "CANCELLED")

        await eventually(done)
        seen = await detail(user, order_id)
        filled = seen["order"]["filledQuantity"]
        assert 0 <= filled < quantity
        assert seen["order"]["cancelledQuantity"] == quantity - filled
        assert sum(trade["quantity"] for trade in seen["trades"]) == filled
        assert all(trade["price"] <= limit for trade in seen["trades"])

    run_scenario(database, master, scenario)
