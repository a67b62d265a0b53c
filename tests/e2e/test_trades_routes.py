"""Trades and order history over HTTP, against the real server and PostgreSQL.

Proves: a MARKET order's fill and each part of a LIMIT order filled in two parts (fills the
market is told to make, as it would for a partial fill) are trades, listed newest first and
paged, filtered by order and by trade date (IST); an order's detail carries its trades and the
history of its changes, and orders show what is pending and what a cancellation left unfilled;
another user's account or order answers 404, bad input 400 naming the field; and the trade ids
are the same after a restart (the journal replayed) and after the migration's backfill
re-projects them from the journal.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from engine.domain import commands as cmd
from engine.domain.instruments import InstrumentMaster
from gateway.keys import ENGINE
from persistence.migrate import migrate
from tests.e2e.conftest import APPS, Client, e2e_config, eventually, running_server
from tests.e2e.test_trading_journey import RELIANCE, funded_user, ltp, order_body

IST = timedelta(minutes=330)


def fill_part(base: str, account_id: str, order_id: str, quantity: int, price: float) -> None:
    """Have the market fill ``quantity`` of a resting LIMIT order at ``price`` (rupees)."""
    engine = APPS[base][ENGINE]
    reliance = engine.master.get(RELIANCE)
    assert reliance is not None
    fill = cmd.FillOrderRequest(
        order_id=order_id, instrument=reliance, quantity=quantity, price_paise=round(price * 100)
    )
    engine.submit(account_id, fill, None)


async def order_of(user: Client, order_id: str) -> dict[str, Any]:
    status, body, _ = await user.call("GET", f"/api/trading/orders/{order_id}")
    assert status == 200, body
    return dict(body)


async def trade_ids(user: Client) -> list[str]:
    status, body, _ = await user.call("GET", "/api/trading/trades")
    assert status == 200, body
    return [t["id"] for t in body["items"]]


def field_of(body: Any) -> str:
    return str(body["error"]["details"][0]["path"])


async def trade_and_check(session: aiohttp.ClientSession, base: str) -> tuple[str, list[str]]:
    """The journey; returns the account and its trade ids, newest first."""
    user, account_id = await funded_user(session, base, "fills@paperdesk.test", 100_000)
    status, body, _ = await user.call("POST", "/api/trading/orders", order_body(account_id))
    assert status == 200, body
    market_id = body["order"]["id"]
    assert (body["order"]["pendingQuantity"], body["order"]["cancelledQuantity"]) == (10, 0)

    async def executed() -> bool:
        return (await order_of(user, market_id))["order"]["status"] == "EXECUTED"

    await eventually(executed)

    price = round(await ltp(user) * 0.9, 1)
    status, body, _ = await user.call(
        "POST", "/api/trading/orders", order_body(account_id, orderType="LIMIT", price=price)
    )
    assert status == 200, body
    limit_id = body["order"]["id"]
    fill_part(base, account_id, limit_id, 3, price)

    async def filled(quantity: int) -> bool:
        return (await order_of(user, limit_id))["order"]["filledQuantity"] == quantity

    await eventually(lambda: filled(3))
    _, orders, _ = await user.call("GET", "/api/trading/orders?status=PENDING")
    (working,) = orders["items"]
    assert (working["filledQuantity"], working["pendingQuantity"]) == (3, 7)
    fill_part(base, account_id, limit_id, 2, price)
    await eventually(lambda: filled(5))
    status, body, _ = await user.call("DELETE", "/api/trading/orders", {"orderId": limit_id})
    assert status == 200, body
    cancelled = body["order"]
    assert (cancelled["filledQuantity"], cancelled["pendingQuantity"]) == (5, 0)
    assert cancelled["cancelledQuantity"] == 5

    # The order's detail: the stored order, its two trades and its history, first first.
    detail = await order_of(user, limit_id)
    order = detail["order"]
    assert (order["status"], order["pendingQuantity"], order["cancelledQuantity"]) == (
        "CANCELLED",
        0,
        5,
    )
    assert order["averagePrice"] == price
    assert [(t["quantity"], t["price"], t["orderSide"]) for t in detail["trades"]] == [
        (3, price, "BUY"),
        (2, price, "BUY"),
    ]
    assert all(t["orderId"] == limit_id and t["symbol"] == "RELIANCE" for t in detail["trades"])
    assert [(h["status"], h["filledQuantity"], h["reason"]) for h in detail["history"]] == [
        ("PENDING", 0, None),
        ("PARTIALLY_FILLED", 3, None),
        ("PARTIALLY_FILLED", 5, None),
        ("CANCELLED", 5, "USER"),
    ]
    assert {(h["quantity"], h["price"]) for h in detail["history"]} == {(10, price)}
    market = await order_of(user, market_id)
    assert [h["status"] for h in market["history"]] == ["PENDING", "EXECUTED"]
    assert market["order"]["pendingQuantity"] == market["order"]["cancelledQuantity"] == 0

    # The list: newest first, paged by limit and cursor.
    ids = await trade_ids(user)
    assert ids[:2] == [t["id"] for t in reversed(detail["trades"])]
    assert ids[2] == market["trades"][0]["id"]
    _, first, _ = await user.call("GET", "/api/trading/trades?limit=2")
    assert [t["id"] for t in first["items"]] == ids[:2]
    _, second, _ = await user.call(
        "GET", "/api/trading/trades", params={"limit": 2, "cursor": first["nextCursor"]}
    )
    assert ([t["id"] for t in second["items"]], second["nextCursor"]) == (ids[2:], None)
    _, by_order, _ = await user.call("GET", f"/api/trading/trades?orderId={limit_id}")
    assert [t["id"] for t in by_order["items"]] == ids[:2]
    executed_at = datetime.fromisoformat(first["items"][0]["executedAt"])
    trade_date = (executed_at + IST).date()
    _, that_day, _ = await user.call("GET", f"/api/trading/trades?date={trade_date}")
    assert [t["id"] for t in that_day["items"]] == ids
    _, day_before, _ = await user.call(
        "GET", f"/api/trading/trades?date={trade_date - timedelta(days=1)}"
    )
    assert day_before["items"] == []

    # Another user sees none of it; bad input answers 400 naming the field.
    other = Client(session, base)
    await other.register("other@paperdesk.test")
    for path in (
        f"/api/trading/orders/{limit_id}",
        f"/api/trading/trades?orderId={limit_id}",
        f"/api/trading/trades?tradingAccountId={account_id}",
        "/api/trading/orders/no-such-order",
        "/api/trading/trades?orderId=no-such-order",
    ):
        status, body, _ = await other.call("GET", path)
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND"), path
    for query, field in (
        ("date=2026-13-01", "$.date"),
        ("date=24-11-2026", "$.date"),
        ("date=0001-01-01", "$.date"),
        ("cursor=not-a-cursor", "$.cursor"),
        ("limit=0", "$.limit"),
        ("limit=501", "$.limit"),
        ("orderId=", "$.orderId"),
        ("since=reset", "$.since"),
    ):
        status, body, _ = await user.call("GET", f"/api/trading/trades?{query}")
        assert (status, body["error"]["code"], field_of(body)) == (
            400,
            "VALIDATION_ERROR",
            field,
        ), query
    status, body, _ = await user.call("GET", f"/api/trading/orders/{'x' * 65}")
    assert (status, field_of(body)) == (400, "$.id")
    return account_id, ids


async def _remigrate(dsn: str) -> None:
    """Drop what migration 0014 made and apply it again: its backfill reads the journal."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "DROP TABLE trades, order_history; DELETE FROM schema_migrations WHERE version = 14"
        )
        await migrate(conn)
    finally:
        await conn.close()


def test_trades_when_orders_fill_in_parts_then_listed_with_history_and_stable_ids(
    master: InstrumentMaster, database: str
) -> None:
    config = e2e_config()

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            async with running_server(database, config, master) as base:
                _, ids = await trade_and_check(session, base)
            await _remigrate(database)
            async with running_server(database, config, master) as base:
                user = Client(session, base)
                await user.login("fills@paperdesk.test", "password-123")
                assert await trade_ids(user) == ids

    asyncio.run(main())
