"""Resetting a trading account over the real server and PostgreSQL (issue 23).

Proves that a user's console reset needs the account's name typed exactly (422 naming
``$.confirm``, 400 when it is missing), then cancels the working order and the pending
withdrawal (CANCELLED, its block released, an admin can no longer decide it), closes the MIS
and CNC positions at market, and leaves the balance at ``accounts.opening_balance`` to the
paisa with one RESET ledger entry of the difference, nothing blocked and the history kept;
that a second reset the same day is 422 RESET_LIMIT_REACHED, for the user and an admin alike;
that an admin resets another user's account (403 for a user, 404 for an unknown account), which
the trading log audits with the admin's id; that ``/api/admin/stats`` counts resets; that
``since=reset`` lists only what came after the reset (orders, closed positions, the console
ledger) and refuses other values (400 naming ``$.since``); and that after a restart the state
replays to the same funds and counters (the limit still holds) and the journal and projections
agree for every account.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Client,
    e2e_config,
    eventually,
    running_server,
)
from tests.e2e.test_trading_journey import RELIANCE, ltp, order_body
from tests.integration.conftest import fetch
from tests.support.sql_checks import assert_ledger_and_funds, verify_all_accounts

OPENING_RUPEES = 100_000  # accounts.opening_balance in this test's configuration
OPENING_PAISE = 10_000_000
BANK = {
    "action": "ADD_BANK_ACCOUNT",
    "bankName": "State Bank of India",
    "accountNumber": "12345678901",
    "ifsc": "SBIN0001234",
    "accountHolder": "Asha Rao",
}
CONFIG = e2e_config(accounts={"opening_balance": str(OPENING_RUPEES)})


async def funded_user(
    session: aiohttp.ClientSession, base: str, email: str, rupees: float
) -> tuple[Client, str]:
    """A new user (opened with the opening balance) and ``rupees`` more credited by an admin."""
    user = Client(session, base)
    account_id = (await user.register(email))["tradingAccount"]["id"]
    admin = Client(session, base)
    await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    credit = {"tradingAccountId": account_id, "operation": "CREDIT", "amount": rupees}
    status, body, _ = await admin.call("POST", "/api/trading/funds", credit)
    assert status == 200, body
    assert body["funds"]["balance"] == OPENING_RUPEES + rupees
    return user, str(account_id)


async def below(user: Client) -> float:
    """A LIMIT buy price 5 % under the market (it rests), inside the circuit band."""
    return round(await ltp(user) * 0.95, 1)


async def open_positions(user: Client) -> list[dict[str, Any]]:
    _, body, _ = await user.call("GET", "/api/trading/positions?status=OPEN")
    return list(body["items"])


async def busy_account(user: Client, account_id: str) -> str:
    """A filled MIS and CNC buy (two open positions), a resting LIMIT buy and a pending
    withdrawal; returns the withdrawal's id."""
    for product in ("MIS", "CNC"):
        body = order_body(account_id, productType=product, quantity=5)
        status, reply, _ = await user.call("POST", "/api/trading/orders", body)
        assert status == 200, reply

    async def both_open() -> bool:
        return len(await open_positions(user)) == 2

    await eventually(both_open)
    resting = order_body(account_id, orderType="LIMIT", price=await below(user), quantity=3)
    status, reply, _ = await user.call("POST", "/api/trading/orders", resting)
    assert (status, reply["order"]["status"]) == (200, "PENDING"), reply
    status, reply, _ = await user.call("POST", "/api/console", BANK)
    assert status == 200, reply
    withdrawal = {
        "action": "REQUEST_WITHDRAWAL",
        "amount": 1_000,
        "bankAccountId": reply["bankAccount"]["id"],
    }
    status, reply, _ = await user.call("POST", "/api/console", withdrawal)
    assert (status, reply["withdrawal"]["status"]) == (200, "PENDING"), reply
    _, funds, _ = await user.call("GET", "/api/trading/funds")
    assert funds["blockedMargin"] > 0
    return str(reply["withdrawal"]["id"])


def reset_body(confirm: str) -> dict[str, Any]:
    return {"action": "RESET_ACCOUNT", "confirm": confirm}


async def first_life(session: aiohttp.ClientSession, base: str, dsn: str) -> dict[str, Any]:
    """Everything before the restart; returns what the second life checks against."""
    user, account_id = await funded_user(session, base, "reset@paperdesk.test", 50_000)
    admin = Client(session, base)
    await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    withdrawal_id = await busy_account(user, account_id)

    status, body, _ = await user.call("POST", "/api/console", reset_body("my account"))
    assert (status, body["error"]["code"]) == (422, "RESET_NOT_CONFIRMED")
    assert body["error"]["details"][0]["path"] == "$.confirm"
    status, body, _ = await user.call("POST", "/api/console", {"action": "RESET_ACCOUNT"})
    assert (status, body["error"]["details"][0]["path"]) == (400, "$.confirm")
    assert len(await open_positions(user)) == 2  # nothing happened

    status, body, _ = await user.call("POST", "/api/console", reset_body(account_id))
    assert status == 200, body
    reset = body["reset"]
    assert reset["tradingAccountId"] == account_id
    assert (reset["ordersCancelled"], reset["positionsClosed"]) == (1, 2)
    assert (reset["holdingsSold"], reset["withdrawalsCancelled"]) == (0, 1)
    assert (reset["byRole"], reset["openingBalance"]) == ("USER", OPENING_RUPEES)
    assert body["funds"]["balance"] == OPENING_RUPEES
    assert body["funds"]["availableMargin"] == OPENING_RUPEES
    assert (body["funds"]["blockedMargin"], body["funds"]["usedMargin"]) == (0, 0)
    assert await open_positions(user) == []

    # The ledger: one RESET entry of exactly the difference, ending at the opening balance.
    cash = await asyncio.to_thread(
        fetch,
        dsn,
        "SELECT kind, amount_paise, balance_after_paise FROM transactions"
        " WHERE trading_account_id = $1 AND book = 'CASH' ORDER BY account_seq, leg",
        account_id,
    )
    resets = [leg for leg in cash if leg["kind"] == "RESET"]
    assert len(resets) == 1
    before = cash[cash.index(resets[0]) - 1]["balance_after_paise"]
    assert resets[0]["amount_paise"] == OPENING_PAISE - before
    assert resets[0]["balance_after_paise"] == OPENING_PAISE
    assert round(reset["adjustment"] * 100) == OPENING_PAISE - before
    assert before != OPENING_PAISE  # the old life moved money: ₹50,000 more, charges, P&L

    # History kept; the withdrawal is CANCELLED and no admin can decide it any more.
    status, body, _ = await user.call("GET", "/api/trading/orders")
    statuses = sorted(o["status"] for o in body["items"])
    assert statuses == ["CANCELLED", "EXECUTED", "EXECUTED", "EXECUTED", "EXECUTED"]
    _, console, _ = await user.call("GET", "/api/console")
    assert [(w["id"], w["status"]) for w in console["withdrawals"]] == [
        (withdrawal_id, "CANCELLED")
    ]
    assert console["resets"]["today"] == 1 and console["resets"]["total"] == 1
    assert console["resets"]["perDayMax"] == 1 and console["resets"]["lastResetAt"]
    status, body, _ = await admin.call(
        "POST", "/api/admin/withdrawals", {"withdrawalId": withdrawal_id, "action": "APPROVE"}
    )
    assert (status, body["error"]["code"]) == (409, "DUPLICATE")

    # The limit: once a day, whoever asks.
    status, body, _ = await user.call("POST", "/api/console", reset_body(account_id))
    assert (status, body["error"]["code"]) == (422, "RESET_LIMIT_REACHED")
    status, body, _ = await admin.call(
        "POST", "/api/admin/accounts/reset", {"tradingAccountId": account_id}
    )
    assert (status, body["error"]["code"]) == (422, "RESET_LIMIT_REACHED")

    await check_since(user, account_id)
    await check_admin_reset(session, base, admin, user, dsn)
    _, funds, _ = await user.call("GET", "/api/trading/funds")
    return {"user": user, "account_id": account_id, "funds": funds}


async def check_since(user: Client, account_id: str) -> None:
    """``since=reset``: only what came after the reset, on every list that has it."""
    after = order_body(account_id, orderType="LIMIT", price=await below(user), quantity=1)
    status, body, _ = await user.call("POST", "/api/trading/orders", after)
    assert status == 200, body
    new_order = body["order"]["id"]
    _, body, _ = await user.call("GET", "/api/trading/orders?since=reset")
    assert [o["id"] for o in body["items"]] == [new_order]
    _, body, _ = await user.call("GET", "/api/trading/orders")
    assert len(body["items"]) == 6
    _, body, _ = await user.call("GET", "/api/trading/positions?status=CLOSED&since=reset")
    assert body["items"] == []
    _, body, _ = await user.call("GET", "/api/trading/positions?status=CLOSED")
    assert len(body["items"]) == 2
    _, console, _ = await user.call("GET", "/api/console?since=reset")
    kinds = [t["kind"] for t in console["transactions"]]
    assert kinds[-1] == "RESET" and kinds.count("RESET") == 1  # the oldest after the reset
    assert "PNL" not in kinds  # the closes belong to the old life
    for path in ("/api/trading/orders", "/api/trading/positions", "/api/console"):
        status, body, _ = await user.call("GET", f"{path}?since=yesterday")
        assert (status, body["error"]["details"][0]["path"]) == (400, "$.since"), path


async def check_admin_reset(
    session: aiohttp.ClientSession, base: str, admin: Client, user: Client, dsn: str
) -> None:
    """An admin resets another user's account; users may not; the trading log audits it."""
    other, other_account = await funded_user(session, base, "other@paperdesk.test", 25_000)
    status, body, _ = await user.call(
        "POST", "/api/admin/accounts/reset", {"tradingAccountId": other_account}
    )
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
    status, body, _ = await admin.call(
        "POST", "/api/admin/accounts/reset", {"tradingAccountId": "no-such-account"}
    )
    assert (status, body["error"]["code"]) == (404, "NOT_FOUND")
    status, body, _ = await admin.call("POST", "/api/admin/accounts/reset", {})
    assert (status, body["error"]["details"][0]["path"]) == (400, "$.tradingAccountId")
    status, body, _ = await admin.call(
        "POST", "/api/admin/accounts/reset", {"tradingAccountId": other_account}
    )
    assert status == 200, body
    assert body["reset"]["byRole"] == "ADMIN"
    assert round(body["reset"]["adjustment"] * 100) == -2_500_000  # ₹25,000 over the opening
    assert body["funds"]["balance"] == OPENING_RUPEES
    _, session_info, _ = await admin.call("GET", "/api/auth/session")
    admin_id = session_info["user"]["id"]
    assert body["reset"]["resetBy"] == admin_id
    logs = await asyncio.to_thread(
        fetch,
        dsn,
        "SELECT category, message, details->>'by_user_id' AS by FROM trading_logs"
        " WHERE trading_account_id = $1 AND category = 'ACCOUNT'",
        other_account,
    )
    assert [(r["message"], r["by"]) for r in logs] == [("account reset by ADMIN", admin_id)]
    status, stats, _ = await admin.call("GET", "/api/admin/stats")
    assert status == 200
    assert (stats["resetsToday"], stats["resetsTotal"]) == (2, 2)
    _, funds, _ = await other.call("GET", "/api/trading/funds")
    assert funds["balance"] == OPENING_RUPEES


async def second_life(session: aiohttp.ClientSession, base: str, first: dict[str, Any]) -> None:
    """After a restart: the same funds and counters, replayed from the journal."""
    user = Client(session, base)
    await user.login("reset@paperdesk.test", "password-123")
    account_id = first["account_id"]
    _, funds, _ = await user.call("GET", "/api/trading/funds")
    assert {k: funds[k] for k in ("balance", "blockedMargin", "realizedPnl", "totalCharges")} == {
        k: first["funds"][k] for k in ("balance", "blockedMargin", "realizedPnl", "totalCharges")
    }
    _, console, _ = await user.call("GET", "/api/console")
    assert (console["resets"]["today"], console["resets"]["total"]) == (1, 1)
    status, body, _ = await user.call("POST", "/api/console", reset_body(account_id))
    assert (status, body["error"]["code"]) == (422, "RESET_LIMIT_REACHED")
    _, body, _ = await user.call("GET", "/api/trading/orders?since=reset")
    assert len(body["items"]) == 1
    _, quote, _ = await user.call("GET", f"/api/quotes?q={RELIANCE}&mode=ltp")
    assert quote["data"][RELIANCE]["ltp"] > 0


def test_account_reset_when_used_by_user_and_admin_then_state_limits_and_replay_agree(
    master: InstrumentMaster, database: str
) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            async with running_server(database, CONFIG, master) as base:
                first = await first_life(session, base, database)
            verified = await asyncio.to_thread(verify_all_accounts, database)
            assert len(verified) == 3 and all(verified.values()), verified  # admin + 2 users
            await asyncio.to_thread(assert_ledger_and_funds, database)
            async with running_server(database, CONFIG, master) as base:
                await second_life(session, base, first)
        assert all((await asyncio.to_thread(verify_all_accounts, database)).values())

    asyncio.run(main())
