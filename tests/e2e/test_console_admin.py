"""Console and admin journeys over the real server: bank accounts, a deposit approved once,
a withdrawal that blocks funds until an admin approves (debit) or rejects (release), admin fund
operations that never repeat under a retried idempotencyKey, users and stats; and every one of
these refusing non-admins (403) and other users' objects (404)."""

from __future__ import annotations

import aiohttp

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Client, run_scenario
from tests.e2e.test_trading_journey import funded_user

BANK = {
    "action": "ADD_BANK_ACCOUNT",
    "bankName": "State Bank of India",
    "accountNumber": "12345678901",
    "ifsc": "SBIN0001234",
    "accountHolder": "Asha Rao",
}


def test_console_and_admin_when_money_moves_then_funds_and_ledger_agree(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        user = Client(session, base)
        registered = await user.register("console@paperdesk.test", name="Asha")
        account_id = registered["tradingAccount"]["id"]
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)

        status, body, _ = await user.call("POST", "/api/console", BANK)
        assert status == 200, body
        bank_id = body["bankAccount"]["id"]
        assert body["bankAccount"]["accountNumber"].endswith("8901")
        assert "1234567" not in body["bankAccount"]["accountNumber"]  # masked
        status, body, _ = await user.call("POST", "/api/console", BANK | {"ifsc": "BAD"})
        assert (status, body["error"]["details"][0]["path"]) == (400, "$.ifsc")

        status, body, _ = await user.call(
            "POST",
            "/api/console",
            {"action": "REQUEST_DEPOSIT", "amount": 50_000, "bankAccountId": bank_id},
        )
        assert (status, body["deposit"]["status"]) == (200, "PENDING")
        deposit_id = body["deposit"]["id"]

        status, body, _ = await user.call("GET", "/api/admin/deposits?status=PENDING")
        assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
        status, body, _ = await admin.call("GET", "/api/admin/deposits?status=PENDING")
        assert [d["id"] for d in body["items"]] == [deposit_id]
        status, body, _ = await admin.call(
            "POST", "/api/admin/deposits", {"depositId": deposit_id, "action": "APPROVE"}
        )
        assert (status, body["deposit"]["status"]) == (200, "APPROVED")
        status, body, _ = await admin.call(
            "POST", "/api/admin/deposits", {"depositId": deposit_id, "action": "APPROVE"}
        )
        assert (status, body["deposit"]["status"]) == (200, "APPROVED")  # a retry: same answer
        status, body, _ = await admin.call(
            "POST", "/api/admin/deposits", {"depositId": deposit_id, "action": "REJECT"}
        )
        assert (status, body["error"]["code"]) == (409, "DUPLICATE")  # decided once only
        _, funds, _ = await user.call("GET", "/api/trading/funds")
        assert funds["balance"] == 50_000

        status, body, _ = await user.call(
            "POST",
            "/api/console",
            {"action": "REQUEST_WITHDRAWAL", "amount": 60_000, "bankAccountId": bank_id},
        )
        assert (status, body["error"]["code"]) == (422, "INSUFFICIENT_FUNDS")
        withdrawals = []
        for amount in (10_000, 5_000):
            status, body, _ = await user.call(
                "POST",
                "/api/console",
                {"action": "REQUEST_WITHDRAWAL", "amount": amount, "bankAccountId": bank_id},
            )
            assert status == 200, body
            withdrawals.append(body["withdrawal"]["id"])
        _, funds, _ = await user.call("GET", "/api/trading/funds")
        assert (funds["balance"], funds["blockedMargin"], funds["availableMargin"]) == (
            50_000,
            15_000,
            35_000,
        )
        status, body, _ = await admin.call(
            "POST", "/api/admin/withdrawals", {"withdrawalId": withdrawals[0], "action": "APPROVE"}
        )
        assert (status, body["withdrawal"]["status"]) == (200, "APPROVED")
        status, body, _ = await admin.call(
            "POST",
            "/api/admin/withdrawals",
            {"withdrawalId": withdrawals[1], "action": "REJECT", "remarks": "kyc"},
        )
        assert (status, body["withdrawal"]["status"]) == (200, "REJECTED")
        _, funds, _ = await user.call("GET", "/api/trading/funds")
        assert (funds["balance"], funds["blockedMargin"]) == (40_000, 0)

        add = {"tradingAccountId": account_id, "amount": 1_000, "idempotencyKey": "bonus-1"}
        first = await admin.call("POST", "/api/admin/funds/add", add)
        again = await admin.call("POST", "/api/admin/funds/add", add)
        assert first[0] == again[0] == 200
        assert first[1]["funds"]["balance"] == again[1]["funds"]["balance"] == 41_000
        status, body, _ = await admin.call("POST", "/api/admin/funds/add", add | {"amount": 2_000})
        assert (status, body["error"]["code"]) == (409, "DUPLICATE")
        status, body, _ = await admin.call(
            "POST", "/api/admin/funds/withdraw", {"tradingAccountId": account_id, "amount": 999_999}
        )
        assert (status, body["error"]["code"]) == (422, "INSUFFICIENT_FUNDS")
        status, body, _ = await user.call(
            "POST", "/api/admin/funds/add", add | {"idempotencyKey": "x"}
        )
        assert (status, body["error"]["code"]) == (403, "FORBIDDEN")

        _, console, _ = await user.call("GET", "/api/console")
        assert console["funds"]["balance"] == 41_000
        assert {d["status"] for d in console["deposits"]} == {"APPROVED"}
        assert sorted(w["status"] for w in console["withdrawals"]) == ["APPROVED", "REJECTED"]
        assert console["transactions"][0]["balanceAfter"] is not None
        assert [b["id"] for b in console["bankAccounts"]] == [bank_id]

        _, users, _ = await admin.call("GET", "/api/admin/users?search=console")
        assert [u["email"] for u in users["items"]] == ["console@paperdesk.test"]
        assert users["items"][0]["tradingAccount"]["balance"] == 41_000
        _, stats, _ = await admin.call("GET", "/api/admin/stats")
        assert (
            stats["users"] == 2
            and stats["pendingDeposits"] == 0
            and stats["pendingWithdrawals"] == 0
        )
        status, _, _ = await user.call("GET", "/api/admin/stats")
        assert status == 403

        intruder, _ = await funded_user(session, base, "nosy@paperdesk.test", 1_000)
        status, body, _ = await intruder.call(
            "POST", "/api/console", {"action": "REMOVE_BANK_ACCOUNT", "bankAccountId": bank_id}
        )
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND")
        status, body, _ = await intruder.call(
            "POST",
            "/api/console",
            {"action": "REQUEST_WITHDRAWAL", "amount": 1, "bankAccountId": bank_id},
        )
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND")

        status, body, _ = await user.call(
            "POST",
            "/api/console",
            {
                "action": "CHANGE_PASSWORD",
                "currentPassword": "nope",
                "newPassword": "new-password-9",
            },
        )
        assert (status, body["error"]["details"][0]["path"]) == (403, "$.currentPassword")
        status, body, _ = await user.call(
            "POST",
            "/api/console",
            {
                "action": "CHANGE_PASSWORD",
                "currentPassword": "password-123",
                "newPassword": "new-password-9",
            },
        )
        assert status == 200
        fresh = Client(session, base)
        await fresh.login("console@paperdesk.test", "new-password-9")

    run_scenario(database, master, scenario)


def test_admin_block_and_release_when_named_then_funds_return(
    master: InstrumentMaster, database: str
) -> None:
    async def scenario(session: aiohttp.ClientSession, base: str) -> None:
        _, account_id = await funded_user(session, base, "blocked@paperdesk.test", 10_000)
        admin = Client(session, base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        block = {"tradingAccountId": account_id, "operation": "BLOCK", "amount": 2_500}
        status, body, _ = await admin.call("POST", "/api/trading/funds", block)
        assert status == 200, body
        assert (body["funds"]["blockedMargin"], body["funds"]["availableMargin"]) == (2_500, 7_500)
        release = {
            "tradingAccountId": account_id,
            "operation": "RELEASE",
            "amount": 2_500,
            "blockId": body["blockId"],
        }
        status, body, _ = await admin.call(
            "POST", "/api/trading/funds", release | {"amount": 2_000}
        )
        assert (status, body["error"]["code"]) == (422, "INVALID_AMOUNT")  # a block goes whole
        status, body, _ = await admin.call("POST", "/api/trading/funds", release)
        assert (status, body["funds"]["blockedMargin"]) == (200, 0)
        status, body, _ = await admin.call("POST", "/api/trading/funds", release)
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND")  # released already

    run_scenario(database, master, scenario)
