"""A kill at either boundary of every fund flow, a restart, and the retry.

The real server runs as a subprocess on the test's own database with one crash point armed
(``PAPERDESK_CRASH_AT``, see ``gateway.faults``): it dies as a kill -9 would when the flow
reaches it, either just before submitting to the account (``:submitting``) or just after the
outcome committed and before answering (``:committed``). The test restarts it on the same data
without the crash point and sends the very same request again. Proves, for a deposit request,
its approval, a withdrawal request, its approval and its rejection and a keyed admin credit:
the retry answers 200 with the flow done exactly once (one request row, one credit or debit,
one block or release), the request's status agrees with the ledger, and the ledger, the funds
identity and journal replay agree for every account.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from gateway.faults import CRASH_AT_ENV, CRASH_EXIT_CODE
from tests.integration.conftest import fetch, fetchval
from tests.support.live_server import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Client,
    client_session,
    server_process,
    work_directory,
)
from tests.support.sql_checks import assert_ledger_and_funds, verify_all_accounts

pytestmark = pytest.mark.timeout(120)

SEED_RUPEES = 10_000
FLOW_RUPEES = 1_500


@dataclass
class Actors:
    admin: Client
    user: Client
    account_id: str


Step = Callable[[Actors], Awaitable[tuple[int, Any]]]


async def _sign_in(session: aiohttp.ClientSession, base: str, email: str) -> Actors:
    admin = Client(session, base)
    await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    user = Client(session, base)
    account_id = await user.register(email)
    return Actors(admin, user, account_id)


async def _sign_in_again(session: aiohttp.ClientSession, base: str, email: str) -> Actors:
    admin = Client(session, base)
    await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    user = Client(session, base)
    await user.login(email)
    status, body = await user.call("GET", "/api/console")
    assert status == 200, body
    return Actors(admin, user, body["tradingAccount"]["id"])


async def _seed(actors: Actors) -> None:
    status, body = await actors.admin.call(
        "POST",
        "/api/trading/funds",
        {
            "tradingAccountId": actors.account_id,
            "operation": "CREDIT",
            "amount": SEED_RUPEES,
            "description": "seed",
        },
    )
    assert status == 200, body
    status, body = await actors.user.call(
        "POST",
        "/api/console",
        {
            "action": "ADD_BANK_ACCOUNT",
            "bankName": "Test Bank",
            "accountNumber": "123456789",
            "ifsc": "TEST0123456",
            "accountHolder": "Trader",
        },
    )
    assert status == 200, body


def _deposit_request(actors: Actors) -> Awaitable[tuple[int, Any]]:
    return actors.user.call(
        "POST",
        "/api/console",
        {"action": "REQUEST_DEPOSIT", "amount": FLOW_RUPEES, "idempotencyKey": "dep-1"},
    )


async def _withdrawal_request(actors: Actors) -> tuple[int, Any]:
    status, console = await actors.user.call("GET", "/api/console")
    assert status == 200, console
    bank_id = console["bankAccounts"][0]["id"]
    return await actors.user.call(
        "POST",
        "/api/console",
        {
            "action": "REQUEST_WITHDRAWAL",
            "amount": FLOW_RUPEES,
            "bankAccountId": bank_id,
            "idempotencyKey": "wd-1",
        },
    )


async def _pending_id(actors: Actors, kind: str) -> str:
    status, console = await actors.user.call("GET", "/api/console")
    assert status == 200, console
    (request,) = console[kind]
    request_id: str = request["id"]
    return request_id


async def _decide(actors: Actors, kind: str, action: str) -> tuple[int, Any]:
    request_id = await _pending_id(actors, f"{kind}s")
    return await actors.admin.call(
        "POST", f"/api/admin/{kind}s", {f"{kind}Id": request_id, "action": action}
    )


async def _keyed_credit(actors: Actors) -> tuple[int, Any]:
    return await actors.admin.call(
        "POST",
        "/api/admin/funds/add",
        {
            "tradingAccountId": actors.account_id,
            "amount": FLOW_RUPEES,
            "idempotencyKey": "credit-1",
        },
    )


@dataclass(frozen=True)
class Flow:
    point: str
    prepare: Step | None  # what must exist before the flow (not under the crash point)
    act: Step
    balance_rupees: int  # after the flow, once
    blocked_rupees: int
    status: tuple[str, str] | None  # (table, status) of the flow's request row


FLOWS = {
    "deposit-request": Flow(
        "deposit-request", None, _deposit_request, SEED_RUPEES, 0, ("deposits", "PENDING")
    ),
    "deposit-approve": Flow(
        "deposit-approve",
        _deposit_request,
        lambda a: _decide(a, "deposit", "APPROVE"),
        SEED_RUPEES + FLOW_RUPEES,
        0,
        ("deposits", "APPROVED"),
    ),
    "withdrawal-request": Flow(
        "withdrawal-request",
        None,
        _withdrawal_request,
        SEED_RUPEES,
        FLOW_RUPEES,
        ("withdrawals", "PENDING"),
    ),
    "withdrawal-approve": Flow(
        "withdrawal-approve",
        _withdrawal_request,
        lambda a: _decide(a, "withdrawal", "APPROVE"),
        SEED_RUPEES - FLOW_RUPEES,
        0,
        ("withdrawals", "APPROVED"),
    ),
    "withdrawal-reject": Flow(
        "withdrawal-reject",
        _withdrawal_request,
        lambda a: _decide(a, "withdrawal", "REJECT"),
        SEED_RUPEES,
        0,
        ("withdrawals", "REJECTED"),
    ),
    "adjust-add": Flow("adjust-add", None, _keyed_credit, SEED_RUPEES + FLOW_RUPEES, 0, None),
}


async def _run_flow(database: str, flow: Flow, boundary: str) -> None:
    email = f"{flow.point}-{boundary}@paperdesk.test"
    # Armed from the start: the setup's own flows have other crash points.
    os.environ[CRASH_AT_ENV] = f"{flow.point}:{boundary}"
    try:
        with work_directory() as work, server_process(database, work) as server:
            del os.environ[CRASH_AT_ENV]  # the restart below runs unarmed
            async with client_session() as session:
                actors = await _sign_in(session, server.base, email)
                await _seed(actors)
                if flow.prepare is not None:
                    status, body = await flow.prepare(actors)
                    assert status == 200, body
                with pytest.raises(aiohttp.ClientError):
                    await flow.act(actors)  # the server dies at the crash point: no answer
            assert server.process is not None
            assert server.process.wait(10) == CRASH_EXIT_CODE, server.log_tail()
            server.start()
            async with client_session() as session:
                actors = await _sign_in_again(session, server.base, email)
                status, body = await flow.act(actors)
                assert status == 200, body
                again, body_again = await flow.act(actors)  # and once more: still the same
                assert again in (200, 409), body_again
                status, funds = await actors.user.call("GET", "/api/trading/funds")
                assert status == 200, funds
                assert (funds["balance"], funds["blockedMargin"]) == (
                    flow.balance_rupees,
                    flow.blocked_rupees,
                ), funds
    finally:
        os.environ.pop(CRASH_AT_ENV, None)


def _check_database(database: str, flow: Flow) -> None:
    if flow.status is not None:
        table, status = flow.status
        rows = fetch(database, f"SELECT status FROM {table}")
        assert [r["status"] for r in rows] == [status]
    credits = fetchval(
        database, "SELECT count(*) FROM transactions WHERE kind = 'DEPOSIT' AND book = 'CASH'"
    )
    assert credits == (1 if flow.point == "deposit-approve" else 0)
    debits = fetchval(
        database, "SELECT count(*) FROM transactions WHERE kind = 'WITHDRAWAL' AND book = 'CASH'"
    )
    assert debits == (1 if flow.point == "withdrawal-approve" else 0)
    assert assert_ledger_and_funds(database) >= 1
    assert all(verify_all_accounts(database).values())


@pytest.mark.parametrize("boundary", ["submitting", "committed"])
@pytest.mark.parametrize("name", list(FLOWS))
def test_fund_flow_when_killed_at_boundary_then_retry_completes_it_once(
    name: str, boundary: str, database: str
) -> None:
    asyncio.run(_run_flow(database, FLOWS[name], boundary))
    _check_database(database, FLOWS[name])
