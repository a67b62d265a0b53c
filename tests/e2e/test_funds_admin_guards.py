"""Guards on admin money routes and the charges preview, over the real server and PostgreSQL.

Proves that a pending withdrawal's block can be freed only by deciding the withdrawal: an admin
RELEASE (or a BLOCK reusing its id) through ``POST /api/trading/funds`` is refused 409
``BLOCK_OWNED_BY_WITHDRAWAL`` and the withdrawal stays decidable, even in the moment between its
block becoming durable and its request row being written; that no admin decides (approves or
rejects) a deposit or withdrawal of their own account (403 ``SELF_APPROVAL_FORBIDDEN``) while
another admin still can, nor moves money on their own account directly (a credit, debit, block
or release through ``POST /api/trading/funds``, an add or withdraw through the admin routes);
and that the charges preview of a CNC round trip shows the DP charge
on its own line and in the total, where MIS and F&O previews show none.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import asyncpg

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Client, run_scenario
from tests.e2e.test_console_admin import BANK
from tests.e2e.test_trading_journey import funded_user


async def bank_account(client: Client) -> str:
    status, body, _ = await client.call("POST", "/api/console", BANK)
    assert status == 200, body
    return str(body["bankAccount"]["id"])


async def withdrawal(client: Client, bank_id: str, amount: float) -> str:
    status, body, _ = await client.call(
        "POST",
        "/api/console",
        {"action": "REQUEST_WITHDRAWAL", "amount": amount, "bankAccountId": bank_id},
    )
    assert status == 200, body
    return str(body["withdrawal"]["id"])


async def deposit(client: Client, bank_id: str, amount: float) -> str:
    status, body, _ = await client.call(
        "POST",
        "/api/console",
        {"action": "REQUEST_DEPOSIT", "amount": amount, "bankAccountId": bank_id},
    )
    assert status == 200, body
    return str(body["deposit"]["id"])


async def funds(client: Client) -> tuple[float, float]:
    status, body, _ = await client.call("GET", "/api/trading/funds")
    assert status == 200, body
    return body["balance"], body["blockedMargin"]


def assert_owned_by_withdrawal(status: int, body: Any) -> None:
    assert (status, body["error"]["code"]) == (409, "BLOCK_OWNED_BY_WITHDRAWAL"), body
    assert [d["path"] for d in body["error"]["details"]] == ["$.blockId"]


async def execute_sql(dsn: str, sql: str, *args: Any) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql, *args)
    finally:
        await connection.close()


def test_admin_release_when_block_holds_pending_withdrawal_then_409_and_decision_still_works(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "owner@paperdesk.test", 10_000)
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        bank_id = await bank_account(user)
        approved = await withdrawal(user, bank_id, 2_000)
        rejected = await withdrawal(user, bank_id, 500)
        release = {"tradingAccountId": account_id, "operation": "RELEASE", "amount": 2_000}

        status, body, _ = await admin.call(
            "POST", "/api/trading/funds", release | {"blockId": approved}
        )
        assert_owned_by_withdrawal(status, body)
        assert await funds(user) == (10_000, 2_500)  # nothing moved

        # The withdrawals are still decidable: approval debits, rejection releases.
        status, body, _ = await admin.call(
            "POST", "/api/admin/withdrawals", {"withdrawalId": approved, "action": "APPROVE"}
        )
        assert (status, body["withdrawal"]["status"]) == (200, "APPROVED"), body
        status, body, _ = await admin.call(
            "POST", "/api/admin/withdrawals", {"withdrawalId": rejected, "action": "REJECT"}
        )
        assert (status, body["withdrawal"]["status"]) == (200, "REJECTED"), body
        assert await funds(user) == (8_000, 0)

        # A decided withdrawal's id stays its own: no admin block may take it over.
        status, body, _ = await admin.call(
            "POST", "/api/trading/funds", release | {"blockId": approved}
        )
        assert_owned_by_withdrawal(status, body)
        block = {"tradingAccountId": account_id, "operation": "BLOCK", "amount": 100}
        status, body, _ = await admin.call(
            "POST", "/api/trading/funds", block | {"blockId": rejected}
        )
        assert_owned_by_withdrawal(status, body)
        assert await funds(user) == (8_000, 0)

        # Admin blocks of their own are released as before.
        status, body, _ = await admin.call(
            "POST", "/api/trading/funds", block | {"blockId": "hold-1"}
        )
        assert (status, body["blockId"]) == (200, "hold-1"), body
        status, body, _ = await admin.call(
            "POST", "/api/trading/funds", release | {"blockId": "hold-1", "amount": 100}
        )
        assert (status, body["funds"]["blockedMargin"]) == (200, 0), body

    run_scenario(database, master, scenario)


def test_admin_release_when_withdrawal_block_durable_before_its_row_then_409(
    master: InstrumentMaster, database: str
) -> None:
    # A withdrawal blocks its amount first and writes its request row after; the block's own
    # kind (WITHDRAWAL) must refuse a RELEASE in between. Removing the row recreates that moment.
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, account_id = await funded_user(session, base, "window@paperdesk.test", 5_000)
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        withdrawal_id = await withdrawal(user, await bank_account(user), 1_000)
        await execute_sql(database, "DELETE FROM withdrawals WHERE id = $1", withdrawal_id)

        release = {
            "tradingAccountId": account_id,
            "operation": "RELEASE",
            "amount": 1_000,
            "blockId": withdrawal_id,
        }
        status, body, _ = await admin.call("POST", "/api/trading/funds", release)
        assert_owned_by_withdrawal(status, body)
        assert await funds(user) == (5_000, 1_000)

    run_scenario(database, master, scenario)


def test_admin_decision_when_request_is_on_own_account_then_403_until_another_admin_decides(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        other = Client(session, base)
        await other.register("second-admin@paperdesk.test")
        await execute_sql(
            database,
            "UPDATE users SET role = 'ADMIN' WHERE email = $1",
            "second-admin@paperdesk.test",
        )
        await other.login("second-admin@paperdesk.test", "password-123")  # a session as ADMIN

        bank_id = await bank_account(admin)
        deposit_id = await deposit(admin, bank_id, 3_000)
        for action in ("APPROVE", "REJECT"):
            status, body, _ = await admin.call(
                "POST", "/api/admin/deposits", {"depositId": deposit_id, "action": action}
            )
            assert (status, body["error"]["code"]) == (403, "SELF_APPROVAL_FORBIDDEN"), body
        _, pending, _ = await other.call("GET", "/api/admin/deposits?status=PENDING")
        assert [d["id"] for d in pending["items"]] == [deposit_id]  # still undecided
        assert await funds(admin) == (0, 0)

        status, body, _ = await other.call(
            "POST", "/api/admin/deposits", {"depositId": deposit_id, "action": "APPROVE"}
        )
        assert (status, body["deposit"]["status"]) == (200, "APPROVED"), body
        assert await funds(admin) == (3_000, 0)

        withdrawal_id = await withdrawal(admin, bank_id, 1_000)
        for action in ("APPROVE", "REJECT"):
            status, body, _ = await admin.call(
                "POST", "/api/admin/withdrawals", {"withdrawalId": withdrawal_id, "action": action}
            )
            assert (status, body["error"]["code"]) == (403, "SELF_APPROVAL_FORBIDDEN"), body
        assert await funds(admin) == (3_000, 1_000)  # still blocked, not debited or released

        status, body, _ = await other.call(
            "POST", "/api/admin/withdrawals", {"withdrawalId": withdrawal_id, "action": "APPROVE"}
        )
        assert (status, body["withdrawal"]["status"]) == (200, "APPROVED"), body
        assert await funds(admin) == (2_000, 0)

        # Unknown ids still answer 404 and decided ones 409, as before.
        status, body, _ = await admin.call(
            "POST", "/api/admin/deposits", {"depositId": "nope", "action": "APPROVE"}
        )
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND")
        status, body, _ = await other.call(
            "POST", "/api/admin/deposits", {"depositId": deposit_id, "action": "REJECT"}
        )
        assert (status, body["error"]["code"]) == (409, "DUPLICATE")

    run_scenario(database, master, scenario)


def test_admin_adjustment_when_on_own_account_then_403_and_nothing_moves(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        _, console, _ = await admin.call("GET", "/api/console")
        own = console["tradingAccount"]["id"]
        user = Client(session, base)
        user_account = (await user.register("adjusted@paperdesk.test"))["tradingAccount"]["id"]
        direct = [
            ("/api/trading/funds", {"operation": operation, "amount": 500} | extra)
            for operation, extra in (
                ("CREDIT", {}),
                ("DEBIT", {}),
                ("BLOCK", {"blockId": "own-block"}),
                ("RELEASE", {"blockId": "own-block"}),
            )
        ]
        admin_routes = [
            (f"/api/admin/funds/{verb}", {"amount": 500, "idempotencyKey": f"own-{verb}"})
            for verb in ("add", "withdraw")
        ]
        for path, body in direct + admin_routes:
            status, answer, _ = await admin.call("POST", path, body | {"tradingAccountId": own})
            assert (status, answer["error"]["code"]) == (403, "SELF_APPROVAL_FORBIDDEN"), (
                path,
                answer,
            )
        me = console["user"]["id"]
        status, answer, _ = await admin.call(
            "POST", "/api/admin/funds/add", {"userId": me, "amount": 500}
        )
        assert (status, answer["error"]["code"]) == (403, "SELF_APPROVAL_FORBIDDEN"), answer
        assert await funds(admin) == (0, 0)
        # Another user's account is still the admin's to adjust.
        status, answer, _ = await admin.call(
            "POST",
            "/api/admin/funds/add",
            {"tradingAccountId": user_account, "amount": 500, "idempotencyKey": "other-add"},
        )
        assert status == 200, answer
        assert await funds(user) == (500, 0)

    run_scenario(database, master, scenario)


def preview_body(segment: str, exchange: str, product: str, **prices: float) -> dict[str, Any]:
    return {"segment": segment, "exchange": exchange, "productType": product} | prices


def test_charges_preview_when_cnc_round_trip_then_dp_line_in_total(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user, _ = await funded_user(session, base, "preview@paperdesk.test", 1_000)
        # CNC NSE, 10 @ 1500 then 10 @ 1600: STT 31, exchange 0.95, SEBI 0.03, GST 0.18,
        # stamp 2, DP 15.34 (13 + GST) = 49.50; gross 1000, net 950.50; breakeven 4.95.
        cnc = preview_body("NSE", "NSE", "CNC", quantity=10, buyPrice=1500, sellPrice=1600)
        status, body, _ = await user.call("POST", "/api/trading/charges", cnc)
        assert status == 200, body
        assert body == {
            "brokerage": 0,
            "stt": 31,
            "exchangeTxn": 0.95,
            "sebi": 0.03,
            "gst": 0.18,
            "stampDuty": 2,
            "dpCharges": 15.34,
            "total": 49.5,
            "netPnl": 950.5,
            "breakevenPoints": 4.95,
        }
        # A delivery sell on its own pays DP; a delivery buy does not.
        sell_only = preview_body("NSE", "NSE", "CNC", quantity=10, sellPrice=1600)
        _, body, _ = await user.call("POST", "/api/trading/charges", sell_only)
        assert body["dpCharges"] == 15.34
        buy_only = preview_body("NSE", "NSE", "CNC", quantity=10, buyPrice=1500)
        _, body, _ = await user.call("POST", "/api/trading/charges", buy_only)
        assert body["dpCharges"] == 0

        no_dp = [
            preview_body("NSE", "NSE", "MIS", quantity=10, buyPrice=1500, sellPrice=1600),
            preview_body("NFO-FUT", "NFO", "NRML", quantity=75, buyPrice=24000, sellPrice=24100),
            preview_body("NFO-OPT", "NFO", "NRML", quantity=65, buyPrice=146, sellPrice=160),
        ]
        for preview in no_dp:
            status, body, _ = await user.call("POST", "/api/trading/charges", preview)
            assert (status, body["dpCharges"]) == (200, 0), (preview, body)

    run_scenario(database, master, scenario)
