"""A stalled database, seen from HTTP: honest answers within bounds, and retries that finish.

The real server runs as a subprocess on an embedded PostgreSQL of the test's own. The test
freezes PostgreSQL processes with SIGSTOP (a stalled disk or a paused VM) and thaws them with
SIGCONT:

* only the journal's backend (found in ``pg_stat_activity`` by its application name): the
  journal gives up on it within ``journal.write_timeout_ms``, reconnects and commits, and the
  write answers a true 200 within the ask timeout;
* every process of the database (postmaster and backends): a keyed admin credit in flight
  answers 503 ``OUTCOME_UNKNOWN`` within the ask timeout; ``/api/health`` answers 503 naming
  ``database`` and ``journal``; a withdrawal request and a position close answer 503 (nothing
  done, or outcome unknown); a read that needs the database answers 503 ``UNAVAILABLE``
  within the pool's bounds instead of hanging for the freeze. After the thaw the same
  requests (same keys) answer 200 and each flow is done exactly once: one credit, one
  withdrawal request with one block, one close; no key is stuck "in progress".

Afterwards the ledger, the funds identity and journal replay agree for every account.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import pytest

from engine.domain.instruments import InstrumentMaster
from persistence.embedded import EmbeddedPostgres
from tests.integration.conftest import fetch, fetchval
from tests.support.live_server import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    FAST_CONFIG,
    Client,
    client_session,
    funded_users,
    server_process,
    wait_for,
    with_accounts,
    work_directory,
)
from tests.support.sql_checks import assert_ledger_and_funds, verify_all_accounts

pytestmark = pytest.mark.timeout(120)

ASK_TIMEOUT_S = 3.0
WRITE_TIMEOUT_S = 1.0
POOL_BOUND_S = 1.5  # acquire 1 s + a statement's 1.5 s, at worst one of them per request
ANSWER_SLACK_S = 1.5
STALL_CONFIG = (
    with_accounts(FAST_CONFIG, f"ask_timeout_ms = {int(ASK_TIMEOUT_S * 1000)}")
    + f"""
[journal]
write_timeout_ms = {int(WRITE_TIMEOUT_S * 1000)}

[database]
acquire_timeout_ms = 1000
command_timeout_ms = 1500
connect_timeout_ms = 1000
"""
)
FUNDS_RUPEES = 100_000
KEY = "stall-credit-1"


@pytest.fixture
def postgres(pg_data_dir: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(pg_data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _journal_backend(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        pid = await conn.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'persistence'"
            " AND datname = current_database()"
        )
    finally:
        await conn.close()
    assert pid is not None, "the journal has no connection"
    return int(pid)


def _server_processes(postgres: EmbeddedPostgres) -> list[int]:
    """The postmaster and every process it started."""
    pid = postgres.postmaster_pid
    assert pid is not None
    postmaster = psutil.Process(pid)
    return [pid, *(child.pid for child in postmaster.children(recursive=True))]


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


async def _timed(
    client: Client, method: str, path: str, body: Any = None
) -> tuple[int, Any, float]:
    began = time.monotonic()
    status, payload = await client.call(method, path, body)
    return status, payload, time.monotonic() - began


def _code(payload: Any) -> str:
    return str(payload.get("error", {}).get("code", "")) if isinstance(payload, dict) else ""


async def _setup(base: str, master: InstrumentMaster) -> dict[str, Any]:
    """A funded user with a bank account and an open position, and a signed-in admin."""
    session = client_session()
    ((user, account_id),) = await funded_users(session, base, 1, FUNDS_RUPEES, "stall")
    admin = Client(session, base)
    await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    status, body = await user.call(
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
    reliance = master.get("NSE:RELIANCE")
    assert reliance is not None
    status, body = await user.call(
        "POST",
        "/api/trading/orders",
        {
            "tradingAccountId": account_id,
            "instrumentId": reliance.instrument_id,
            "orderType": "MARKET",
            "orderSide": "BUY",
            "productType": "MIS",
            "quantity": 1,
        },
    )
    assert status == 200, body

    async def position_open() -> bool:
        _, positions = await user.call("GET", "/api/trading/positions")
        return bool(positions["items"])

    await wait_for(position_open, 10, "the MARKET buy to fill")
    _, positions = await user.call("GET", "/api/trading/positions")
    return {
        "session": session,
        "user": user,
        "admin": admin,
        "account_id": account_id,
        "bank_id": body_bank_id(await user.call("GET", "/api/console")),
        "position_id": positions["items"][0]["id"],
    }


def body_bank_id(answer: tuple[int, Any]) -> str:
    status, console = answer
    assert status == 200, console
    bank_id: str = console["bankAccounts"][0]["id"]
    return bank_id


async def _journal_backend_stall(dsn: str, admin: Client, account_id: str) -> float:
    """Only the journal's backend frozen: the journal gives up on it within its write bound,
    reconnects, and the write commits; the answer is a true 200."""
    backend = await _journal_backend(dsn)
    os.kill(backend, signal.SIGSTOP)
    try:
        status, payload, took_s = await _timed(
            admin,
            "POST",
            "/api/admin/funds/add",
            {"tradingAccountId": account_id, "amount": 100, "idempotencyKey": "stall-0"},
        )
    finally:
        os.kill(backend, signal.SIGCONT)
    assert status == 200, payload
    assert WRITE_TIMEOUT_S <= took_s <= ASK_TIMEOUT_S, took_s
    return took_s


async def _full_freeze(
    base: str, dsn: str, postgres: EmbeddedPostgres, run: dict[str, Any]
) -> dict[str, Any]:
    user, admin = run["user"], run["admin"]
    account_id = run["account_id"]
    credit = {"tradingAccountId": account_id, "amount": 2_500, "idempotencyKey": KEY}
    withdrawal = {
        "action": "REQUEST_WITHDRAWAL",
        "amount": 1_000,
        "bankAccountId": run["bank_id"],
        "idempotencyKey": "stall-withdrawal-1",
    }
    close = {"positionId": run["position_id"], "tradingAccountId": account_id}
    pids = _server_processes(postgres)
    _signal_all(pids, signal.SIGSTOP)
    try:
        answers = {
            "credit": await _timed(admin, "POST", "/api/admin/funds/add", credit),
            "health": await _timed(admin, "GET", "/api/health"),
            "withdrawal": await _timed(user, "POST", "/api/console", withdrawal),
            "close": await _timed(user, "POST", "/api/trading/positions", close),
            "read": await _timed(admin, "GET", "/api/admin/users?limit=5"),
            "health_after_writes": await _timed(admin, "GET", "/api/health"),
        }
    finally:
        _signal_all(pids, signal.SIGCONT)
    for name, (status, payload, took_s) in answers.items():
        assert status == 503, (name, payload)
        assert took_s <= ASK_TIMEOUT_S + ANSWER_SLACK_S, (name, took_s)
    # Refused before it was submitted (its account lookup needs the database), or submitted
    # and not confirmed: either way the retry below learns what happened.
    assert _code(answers["credit"][1]) in ("OUTCOME_UNKNOWN", "UNAVAILABLE"), answers["credit"]
    assert "database" in answers["health"][1]["failing"], answers["health"]
    # The withdrawal reached the journal, which gave up on the frozen database in its bound.
    after = answers["health_after_writes"][1]
    assert {"database", "journal"} <= set(after["failing"]), after
    # Refused up front once the journal is degraded: nothing was done.
    assert _code(answers["withdrawal"][1]) in ("OUTCOME_UNKNOWN", "UNAVAILABLE")
    assert _code(answers["close"][1]) in ("OUTCOME_UNKNOWN", "UNAVAILABLE")
    assert _code(answers["read"][1]) == "UNAVAILABLE", answers["read"]

    async def healthy() -> bool:
        status, _ = await admin.call("GET", "/api/health")
        return status == 200

    back_s = await wait_for(healthy, 15, "health after the thaw")
    retried = {
        "credit": await admin.call("POST", "/api/admin/funds/add", credit),
        "withdrawal": await user.call("POST", "/api/console", withdrawal),
        "close": await user.call("POST", "/api/trading/positions", close),
    }
    for name, (status, payload) in retried.items():
        if name == "close" and status == 409:  # the first close landed after all
            assert _code(payload) == "POSITION_CLOSED", payload
            continue
        assert status == 200, (name, payload)
    assert retried["credit"][1]["transaction"]["amount"] == 2_500
    assert retried["withdrawal"][1]["withdrawal"]["status"] == "PENDING"
    _, funds = await user.call("GET", "/api/trading/funds")
    return {
        "funds": funds,
        "back_s": round(back_s, 2),
        "took_s": {name: round(a[2], 2) for name, a in answers.items()},
    }


async def _stalls(
    base: str, dsn: str, postgres: EmbeddedPostgres, master: InstrumentMaster
) -> dict[str, Any]:
    run = await _setup(base, master)
    try:
        backend_stall_s = await _journal_backend_stall(dsn, run["admin"], run["account_id"])
        freeze = await _full_freeze(base, dsn, postgres, run)
    finally:
        await run["session"].close()
    return {"account_id": run["account_id"], "backend_stall_s": backend_stall_s, **freeze}


def test_database_stalled_when_requests_come_then_honest_503s_in_bounds_and_retries_finish(
    postgres: EmbeddedPostgres, master: InstrumentMaster
) -> None:
    dsn = postgres.dsn()
    with work_directory() as work, server_process(dsn, work, STALL_CONFIG) as server:
        stall = asyncio.run(_stalls(server.base, dsn, postgres, master))
    account_id = stall["account_id"]
    credits = fetch(
        dsn,
        "SELECT count(*) AS n FROM transactions WHERE reference = $1 AND book = 'CASH'",
        KEY,
    )
    assert credits[0]["n"] == 1, "the keyed credit happened exactly once"
    withdrawals = fetch(
        dsn, "SELECT status FROM withdrawals WHERE trading_account_id = $1", account_id
    )
    assert [w["status"] for w in withdrawals] == ["PENDING"]
    blocks = fetchval(
        dsn,
        "SELECT count(*) FROM fund_blocks WHERE trading_account_id = $1 AND status = 'BLOCKED'",
        account_id,
    )
    assert blocks == 1
    closed = fetchval(
        dsn, "SELECT count(*) FROM positions WHERE trading_account_id = $1", account_id
    )
    assert closed == 1 and stall["funds"]["blockedMargin"] == 1_000  # the withdrawal's block
    assert assert_ledger_and_funds(dsn) >= 1
    assert all(verify_all_accounts(dsn).values())
    print(f"\nstalls: {stall}")
