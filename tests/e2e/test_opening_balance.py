"""A new trading account opens funded (``accounts.opening_balance``), over the real server.

Proves, with the default setting (₹10,00,000): a freshly registered user sees the balance, an
``OPENING_BALANCE`` entry in the console's transactions, and places an order that fills, with
no admin anywhere; with ``opening_balance = "0"`` the account opens empty and the old flow (a
deposit request an admin approves) still holds; and, through a real ``paperdesk serve`` killed
between creating an account and crediting it, the next start credits it exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import asyncpg

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Client, e2e_config, run_scenario
from tests.e2e.test_console_admin import BANK
from tests.e2e.test_trading_journey import RELIANCE
from tests.integration.conftest import fetch
from tests.support.live_server import (
    FAST_CONFIG,
    client_session,
    server_process,
    work_directory,
)

DEFAULT_OPENING_RUPEES = 1_000_000


async def funds(client: Client) -> dict[str, Any]:
    status, body, _ = await client.call("GET", "/api/trading/funds")
    assert status == 200, body
    return dict(body)


async def console_transactions(client: Client) -> list[dict[str, Any]]:
    status, body, _ = await client.call("GET", "/api/console")
    assert status == 200, body
    return list(body["transactions"])


async def wait_filled(client: Client, order_id: str) -> dict[str, Any]:
    for _ in range(200):
        status, body, _ = await client.call("GET", "/api/trading/orders?limit=50")
        assert status == 200, body
        order = next(o for o in body["items"] if o["id"] == order_id)
        if order["status"] != "PENDING":
            return dict(order)
        await asyncio.sleep(0.05)
    raise AssertionError(f"order {order_id} not filled")


def test_new_account_when_default_opening_balance_then_funded_and_first_order_fills(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        account_id = (await user.register("first-minute@paperdesk.test"))["tradingAccount"]["id"]
        opened = await funds(user)
        assert (opened["balance"], opened["blockedMargin"]) == (DEFAULT_OPENING_RUPEES, 0)
        [entry] = await console_transactions(user)
        assert (entry["kind"], entry["amount"], entry["balanceAfter"]) == (
            "OPENING_BALANCE",
            DEFAULT_OPENING_RUPEES,
            DEFAULT_OPENING_RUPEES,
        )
        status, body, _ = await user.call(
            "POST",
            "/api/trading/orders",
            {
                "tradingAccountId": account_id,
                "instrumentId": RELIANCE,
                "quantity": 1,
                "orderType": "MARKET",
                "orderSide": "BUY",
                "productType": "MIS",
            },
        )
        assert status == 200, body
        filled = await wait_filled(user, body["order"]["id"])
        assert filled["status"] == "EXECUTED", filled
        after = await funds(user)
        assert after["totalCharges"] > 0
        assert after["balance"] == DEFAULT_OPENING_RUPEES - after["totalCharges"]

    run_scenario(database, master, scenario, e2e_config(accounts={"opening_balance": "1000000"}))


def test_new_account_when_opening_balance_zero_then_empty_until_a_deposit_is_approved(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        account_id = (await user.register("approval-only@paperdesk.test"))["tradingAccount"]["id"]
        assert (await funds(user))["balance"] == 0
        assert await console_transactions(user) == []
        order = {
            "tradingAccountId": account_id,
            "instrumentId": RELIANCE,
            "quantity": 1,
            "orderType": "MARKET",
            "orderSide": "BUY",
            "productType": "CNC",
        }
        status, body, _ = await user.call("POST", "/api/trading/orders", order)
        assert (status, body["error"]["code"]) == (422, "INSUFFICIENT_FUNDS"), body
        status, body, _ = await user.call("POST", "/api/console", BANK)
        assert status == 200, body
        bank_id = body["bankAccount"]["id"]
        status, body, _ = await user.call(
            "POST",
            "/api/console",
            {"action": "REQUEST_DEPOSIT", "amount": 50_000, "bankAccountId": bank_id},
        )
        assert status == 200, body
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        status, body, _ = await admin.call(
            "POST",
            "/api/admin/deposits",
            {"depositId": body["deposit"]["id"], "action": "APPROVE"},
        )
        assert status == 200, body
        assert (await funds(user))["balance"] == 50_000

    run_scenario(database, master, scenario)  # the suites' config: opening_balance = "0"


OPENING_CONFIG = FAST_CONFIG.replace('opening_balance = "0"', 'opening_balance = "250000"')


async def _insert_account_without_credit(dsn: str) -> str:
    """What a crash between creating a user's rows and crediting the account leaves."""
    user_id, account_id = str(uuid.uuid4()), str(uuid.uuid4())
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)",
                user_id,
                "cut-off@paperdesk.test",
                "Trader",
                "not-a-hash",
            )
            await conn.execute(
                "INSERT INTO trading_accounts (id, user_id, opening_balance_paise)"
                " VALUES ($1, $2, $3)",
                account_id,
                user_id,
                25_000_000,
            )
    finally:
        await conn.close()
    return account_id


def _opening_entries(dsn: str, account_id: str) -> list[int]:
    rows = fetch(
        dsn,
        "SELECT amount_paise FROM transactions"
        " WHERE trading_account_id = $1 AND kind = 'OPENING_BALANCE' AND book = 'CASH'",
        account_id,
    )
    return [r["amount_paise"] for r in rows]


def test_opening_credit_when_cut_off_by_a_crash_then_next_start_credits_it_once(
    database: str,
) -> None:
    with work_directory() as work, server_process(database, work, OPENING_CONFIG) as server:

        async def register() -> str:
            async with client_session() as session:
                user = Client(session, server.base)
                registered = await user.register("opened@paperdesk.test")
                return str(registered["tradingAccount"]["id"])

        registered = asyncio.run(register())
        cut_off = asyncio.run(_insert_account_without_credit(database))
        server.kill()
        server.start()  # credits what the "crash" cut off, before serving
        server.kill()
        server.start()  # and never twice
        assert server.stop() == 0, server.log_tail()
    assert _opening_entries(database, registered) == [25_000_000]
    assert _opening_entries(database, cut_off) == [25_000_000]
    balances = {
        r["id"]: r["balance_paise"]
        for r in fetch(database, "SELECT id, balance_paise FROM trading_accounts")
    }
    assert balances[registered] == balances[cut_off] == 25_000_000
