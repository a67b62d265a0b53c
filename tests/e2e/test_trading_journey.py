"""A user's and an admin's journeys through the real server, over HTTP, against PostgreSQL.

Proves: register and login; an admin credits funds; MARKET orders fill and open a position;
LIMIT orders rest, can be modified and cancelled (margin released); a target closes the
position by itself; funds, orders and charges add up; a retried clientOrderId never creates a
second order; acknowledged orders are in the database (commit durability) and survive a
restart, resting orders included.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Client,
    e2e_config,
    eventually,
    run_scenario,
    running_server,
)

RELIANCE = "NSE_EQ|INE002A01018"


def order_body(account_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "tradingAccountId": account_id,
        "instrumentId": RELIANCE,
        "quantity": 10,
        "orderType": "MARKET",
        "orderSide": "BUY",
        "productType": "MIS",
    }
    return body | overrides


async def funded_user(
    session: aiohttp.ClientSession, base: str, email: str, rupees: float
) -> tuple[Client, str]:
    user = Client(session, base)
    registered = await user.register(email)
    account_id = registered["tradingAccount"]["id"]
    admin = Client(session, base)
    await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    status, body, _ = await admin.call(
        "POST",
        "/api/trading/funds",
        {
            "tradingAccountId": account_id,
            "operation": "CREDIT",
            "amount": rupees,
            "description": "seed",
        },
    )
    assert status == 200, body
    assert body["funds"]["balance"] == rupees
    assert body["transaction"]["balanceAfter"] == rupees
    return user, account_id


async def ltp(client: Client) -> float:
    status, body, _ = await client.call("GET", f"/api/quotes?q={RELIANCE}&mode=ltp")
    assert status == 200
    return float(body["data"][RELIANCE]["ltp"])


def test_journey_when_user_trades_then_orders_positions_and_funds_agree(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "trader@paperdesk.test", 100_000)

        status, body, _ = await user.call("POST", "/api/trading/orders", order_body(account_id))
        assert status == 200, body
        assert body["order"]["status"] == "PENDING"

        async def has_position() -> bool:
            _, positions, _ = await user.call("GET", "/api/trading/positions?status=OPEN")
            return len(positions["items"]) == 1

        await eventually(has_position)
        _, positions, _ = await user.call("GET", "/api/trading/positions?status=OPEN")
        position = positions["items"][0]
        assert (position["quantity"], position["status"]) == (10, "OPEN")

        # A LIMIT far below the market rests; modify it, then cancel it.
        price = round(await ltp(user) * 0.9, 1)
        status, body, _ = await user.call(
            "POST", "/api/trading/orders", order_body(account_id, orderType="LIMIT", price=price)
        )
        assert status == 200, body
        limit_id = body["order"]["id"]
        blocked_with_limit = body["order"]["marginBlocked"]
        assert blocked_with_limit > 0
        status, body, _ = await user.call(
            "PATCH", "/api/trading/orders", {"orderId": limit_id, "price": round(price - 1, 1)}
        )
        assert status == 200, body
        assert body["order"]["price"] == round(price - 1, 1)
        _, funds_before, _ = await user.call("GET", "/api/trading/funds")
        status, body, _ = await user.call("DELETE", f"/api/trading/orders?orderId={limit_id}")
        assert (status, body["order"]["status"], body["order"]["cancelReason"]) == (
            200,
            "CANCELLED",
            "USER",
        )
        _, funds_after, _ = await user.call("GET", "/api/trading/funds")
        assert funds_after["blockedMargin"] < funds_before["blockedMargin"]
        status, body, _ = await user.call("DELETE", "/api/trading/orders", {"orderId": limit_id})
        assert (status, body["error"]["code"]) == (409, "ORDER_NOT_OPEN")

        # A target below the market closes the long position at the next tick.
        target = round(await ltp(user) * 0.95, 1)
        status, body, _ = await user.call(
            "PATCH", "/api/trading/positions", {"positionId": position["id"], "target": target}
        )
        assert status == 200, body
        assert body["position"]["target"] == target

        async def closed() -> bool:
            _, positions, _ = await user.call("GET", "/api/trading/positions?status=CLOSED")
            return len(positions["items"]) == 1

        await eventually(closed)
        _, funds, _ = await user.call("GET", "/api/trading/funds")
        assert funds["blockedMargin"] == 0
        assert funds["totalCharges"] > 0
        assert funds["balance"] == round(100_000 + funds["realizedPnl"] - funds["totalCharges"], 2)
        _, orders, _ = await user.call("GET", "/api/trading/orders")
        statuses = sorted((o["status"], o["cancelReason"]) for o in orders["items"])
        assert statuses == [("CANCELLED", "USER"), ("EXECUTED", None), ("EXECUTED", None)]

    run_scenario(database, master, scenario)


def test_client_order_id_when_retried_then_one_order(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "retry@paperdesk.test", 50_000)
        price = round(await ltp(user) * 0.9, 1)
        body = order_body(account_id, orderType="LIMIT", price=price, clientOrderId="my-order-1")
        first = await user.call("POST", "/api/trading/orders", body)
        second = await user.call("POST", "/api/trading/orders", body)
        assert first[0] == second[0] == 200
        assert first[1]["order"]["id"] == second[1]["order"]["id"]
        _, orders, _ = await user.call("GET", "/api/trading/orders")
        assert len(orders["items"]) == 1
        # Once the order has finished, a retry answers it from the database.
        order_id = first[1]["order"]["id"]
        status, _, _ = await user.call("DELETE", f"/api/trading/orders?orderId={order_id}")
        assert status == 200
        status, third, _ = await user.call("POST", "/api/trading/orders", body)
        assert (status, third["order"]["id"], third["order"]["status"]) == (
            200,
            order_id,
            "CANCELLED",
        )
        _, orders, _ = await user.call("GET", "/api/trading/orders")
        assert len(orders["items"]) == 1

    run_scenario(database, master, scenario)


def test_acknowledged_orders_when_server_restarts_then_recovered(
    master: InstrumentMaster, database: str
) -> None:
    config = e2e_config()

    async def main() -> None:
        async with (
            running_server(database, config, master) as base,
            aiohttp.ClientSession() as session,
        ):
            user, account_id = await funded_user(session, base, "restart@paperdesk.test", 80_000)
            price = round(await ltp(user) * 0.9, 1)
            status, body, _ = await user.call(
                "POST",
                "/api/trading/orders",
                order_body(account_id, orderType="LIMIT", price=price),
            )
            assert status == 200
            order_id = body["order"]["id"]
            # Commit durability: the acknowledged order is already in the database.
            conn = await asyncpg.connect(database)
            try:
                assert (
                    await conn.fetchval("SELECT status FROM orders WHERE id = $1", order_id)
                    == "PENDING"
                )
            finally:
                await conn.close()
            _, funds_before, _ = await user.call("GET", "/api/trading/funds")

        async with (
            running_server(database, config, master) as base,
            aiohttp.ClientSession() as session,
        ):
            user = Client(session, base)
            await user.login("restart@paperdesk.test", "password-123")
            _, funds_after, _ = await user.call("GET", "/api/trading/funds")
            assert funds_after["balance"] == funds_before["balance"]
            assert funds_after["blockedMargin"] == funds_before["blockedMargin"] > 0
            status, body, _ = await user.call("DELETE", f"/api/trading/orders?orderId={order_id}")
            assert (status, body["order"]["status"]) == (200, "CANCELLED")
            _, funds_final, _ = await user.call("GET", "/api/trading/funds")
            assert funds_final["blockedMargin"] == 0
            admin = Client(session, base)  # detailed health is for admins
            await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)

            async def verified() -> bool:
                _, health, _ = await admin.call("GET", "/api/health/detailed")
                journal = health["checks"]["journal"]
                assert journal["mismatchedAccounts"] == []
                return bool(journal["verifiedAccounts"] >= 2)  # the user's and the admin's

            await eventually(verified)

    asyncio.run(main())


def test_projection_when_tampered_then_start_up_check_reports_it(
    master: InstrumentMaster, database: str
) -> None:
    config = e2e_config()

    async def main() -> None:
        async with (
            running_server(database, config, master) as base,
            aiohttp.ClientSession() as session,
        ):
            _, account_id = await funded_user(session, base, "tamper@paperdesk.test", 5_000)
        conn = await asyncpg.connect(database)
        try:
            await conn.execute(
                "UPDATE trading_accounts SET balance_paise = balance_paise + 1 WHERE id = $1",
                account_id,
            )
        finally:
            await conn.close()
        async with (
            running_server(database, config, master) as base,
            aiohttp.ClientSession() as session,
        ):
            client = Client(session, base)
            await client.login(ADMIN_EMAIL, ADMIN_PASSWORD)  # detailed health is for admins

            async def reported() -> bool:
                _, health, _ = await client.call("GET", "/api/health/detailed")
                return bool(health["checks"]["journal"]["mismatchedAccounts"] == [account_id])

            await eventually(reported)
            _, health, _ = await client.call("GET", "/api/health/detailed")
            assert health["checks"]["journal"]["status"] == "degraded"
            assert health["status"] == "degraded"

    asyncio.run(main())


def test_async_durability_when_cancelled_at_once_then_found_in_the_engine(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "async@paperdesk.test", 50_000)
        price = round(await ltp(user) * 0.9, 1)
        for _ in range(20):
            status, body, _ = await user.call(
                "POST",
                "/api/trading/orders",
                order_body(account_id, orderType="LIMIT", price=price),
            )
            assert status == 200
            order_id = body["order"]["id"]
            status, body, _ = await user.call("DELETE", f"/api/trading/orders?orderId={order_id}")
            assert (status, body["order"]["status"]) == (200, "CANCELLED"), body

    run_scenario(database, master, scenario, e2e_config(journal={"durability": "async"}))
