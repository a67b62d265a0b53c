"""Three kill -9s in a row under a full mix of orders and fund flows.

The real server runs as a subprocess on the test's own database. Users place, fill and cancel
orders (``OrderFlow``) while, beside them, each user requests deposits and withdrawals (with
idempotency keys) and an admin approves or rejects them and makes keyed credits. After a few
seconds of it the server gets SIGKILL with requests in flight; it is restarted on the same
data, every request that was cut off is retried with its key, and the mix goes on. Three
times. Proves after each restart: every acknowledged order, cancel, request, decision and
credit is in the database as acknowledged; every retry answers 200 (done exactly once, no key
stuck "in progress"); the ledger, the funds identity and journal replay agree for every
account; nobody's available funds are negative.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from engine.instruments import InstrumentMaster
from tests.integration.conftest import fetch
from tests.integration.live_server import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Client,
    OrderFlow,
    ServerProcess,
    assert_database_consistent,
    client_session,
    funded_users,
    resting_prices,
    server_process,
    work_directory,
)

pytestmark = pytest.mark.timeout(180)

KILLS = 3
USERS = 3
ORDER_WORKERS_PER_USER = 2
FLOW_BEFORE_KILL_S = 3.0
FUNDS_RUPEES = 500_000


@dataclass
class FundLedger:
    """What the server acknowledged, and what was cut off (to retry after the restart)."""

    requests: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (table, status)
    credits: set[str] = field(default_factory=set)  # idempotency keys acknowledged
    cut_off: list[tuple[str, str, dict[str, Any], str]] = field(default_factory=list)
    answers: int = 0


async def _call(
    client: Client, method: str, path: str, body: dict[str, Any], ledger: FundLedger, who: str
) -> tuple[int, Any] | None:
    try:
        answer = await client.call(method, path, body)
    except (aiohttp.ClientError, TimeoutError):
        ledger.cut_off.append((method, path, body, who))
        return None
    ledger.answers += 1
    return answer


def _note(ledger: FundLedger, path: str, body: dict[str, Any], answer: tuple[int, Any]) -> None:
    """Record an acknowledged fund write by what it did."""
    status, payload = answer
    assert status in (200, 422, 503), (path, body, payload)
    if status != 200:
        return
    if path == "/api/admin/funds/add":
        ledger.credits.add(body["idempotencyKey"])
    elif path == "/api/console":
        kind = "deposit" if body["action"] == "REQUEST_DEPOSIT" else "withdrawal"
        ledger.requests.setdefault(payload[kind]["id"], (f"{kind}s", "PENDING"))
    else:
        kind = "deposit" if path.endswith("deposits") else "withdrawal"
        request = payload[kind]
        ledger.requests[request["id"]] = (f"{kind}s", request["status"])


async def _fund_worker(
    user: Client, admin: Client, tag: str, rng: random.Random, ledger: FundLedger, stop: Any
) -> None:
    status, console = await user.call("GET", "/api/console")
    assert status == 200, console
    bank_id = console["bankAccounts"][0]["id"]
    account_id = console["tradingAccount"]["id"]
    n = 0
    while not stop.is_set():
        n += 1
        key = f"{tag}-{rng.getrandbits(40):x}-{n}"
        roll = rng.random()
        if roll < 0.3:
            path, body = (
                "/api/admin/funds/add",
                {
                    "tradingAccountId": account_id,
                    "amount": 10,
                    "idempotencyKey": key,
                },
            )
            client, who = admin, "admin"
        else:
            deposit = roll < 0.65
            path, body = (
                "/api/console",
                {
                    "action": "REQUEST_DEPOSIT" if deposit else "REQUEST_WITHDRAWAL",
                    "amount": 25,
                    "idempotencyKey": key,
                    **({} if deposit else {"bankAccountId": bank_id}),
                },
            )
            client, who = user, "user"
        answer = await _call(client, "POST", path, body, ledger, who)
        if answer is None:
            return
        _note(ledger, path, body, answer)
        if path == "/api/console" and answer[0] == 200:
            kind = "deposit" if body["action"] == "REQUEST_DEPOSIT" else "withdrawal"
            decision = {
                f"{kind}Id": answer[1][kind]["id"],
                "action": rng.choice(("APPROVE", "REJECT")),
            }
            decided = await _call(admin, "POST", f"/api/admin/{kind}s", decision, ledger, "admin")
            if decided is None:
                return
            _note(ledger, f"/api/admin/{kind}s", decision, decided)


@dataclass
class Soak:
    accounts: dict[str, str] = field(default_factory=dict)  # account id -> email
    flow: OrderFlow = field(default_factory=lambda: OrderFlow({}))
    funds: FundLedger = field(default_factory=FundLedger)
    retried: int = 0


async def _sign_in(
    session: aiohttp.ClientSession, base: str, soak: Soak
) -> tuple[Client, list[tuple[Client, str]]]:
    admin = Client(session, base)
    await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    users = []
    for account_id, email in soak.accounts.items():
        user = Client(session, base)
        await user.login(email)
        users.append((user, account_id))
    return admin, users


async def _round(server: ServerProcess, soak: Soak, master: InstrumentMaster, first: bool) -> None:
    """Sign in (register the first time), retry what the last kill cut off, mix, kill."""
    async with client_session() as session:
        if first:
            users = await funded_users(session, server.base, USERS, FUNDS_RUPEES, "soak")
            for n, (user, account_id) in enumerate(users):
                soak.accounts[account_id] = f"soak-{n}@paperdesk.test"
                status, body = await user.call(
                    "POST",
                    "/api/console",
                    {
                        "action": "ADD_BANK_ACCOUNT",
                        "bankName": "Soak Bank",
                        "accountNumber": "123456789",
                        "ifsc": "SOAK0123456",
                        "accountHolder": "Trader",
                    },
                )
                assert status == 200, body
            soak.flow = OrderFlow(await resting_prices(users[0][0], master))
        admin, users = await _sign_in(session, server.base, soak)
        by_role = {"admin": admin, "user": users[0][0]}
        for method, path, body, who in soak.funds.cut_off:
            # A cut-off request is retried by whoever sent it (users' by the first: keys and
            # ids are what identify the request, the caller only has to own it).
            client = by_role[who] if who == "admin" else _owner(users, body) or by_role["user"]
            answer = await client.call(method, path, body)
            assert answer[0] == 200, (path, body, answer)
            _note(soak.funds, path, body, answer)
            soak.retried += 1
        soak.funds.cut_off.clear()
        flow = soak.flow
        flow.stop.clear()
        flow.lost_server = False
        stop = asyncio.Event()
        fund_tasks = [
            asyncio.create_task(
                _fund_worker(user, admin, f"u{n}", random.Random(n), soak.funds, stop)
            )
            for n, (user, _) in enumerate(users)
        ]
        async with flow.running(users, ORDER_WORKERS_PER_USER) as traffic:
            await asyncio.sleep(FLOW_BEFORE_KILL_S)
            assert not traffic.done() or traffic.exception() is None
            flow.lost_server = True
            os.kill(server.pid, signal.SIGKILL)
            await asyncio.wait_for(traffic, 30)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*fund_tasks), 30)


def _owner(users: list[tuple[Client, str]], body: dict[str, Any]) -> Client | None:
    """Users' cut-off requests carry no account: retry them as the user whose key it is."""
    key = str(body.get("idempotencyKey", ""))
    index = int(key[1]) if key.startswith("u") and key[1:2].isdigit() else 0
    return users[index][0] if index < len(users) else None


def _check(database: str, soak: Soak) -> dict[str, int]:
    flow = soak.flow
    statuses = assert_database_consistent(database, flow.acked_orders, flow.acked_cancels)
    stored = {
        r["id"]: r["status"]
        for r in fetch(
            database, "SELECT id, status FROM deposits UNION ALL SELECT id, status FROM withdrawals"
        )
    }
    for request_id, (_, status) in soak.funds.requests.items():
        assert request_id in stored, request_id
        if status != "PENDING":
            assert stored[request_id] == status, (request_id, stored[request_id], status)
    keys = {
        r["idempotency_key"]
        for r in fetch(database, "SELECT idempotency_key FROM admin_fund_operations")
    }
    assert soak.funds.credits <= keys, sorted(soak.funds.credits - keys)[:5]
    return statuses


def test_server_killed_three_times_under_full_mix_when_restarted_then_nothing_acknowledged_lost(
    database: str, master: InstrumentMaster
) -> None:
    soak = Soak()
    figures = []
    with work_directory() as work, server_process(database, work) as server:
        for n in range(KILLS):
            asyncio.run(_round(server, soak, master, first=n == 0))
            assert server.process is not None and server.process.wait(10) == -signal.SIGKILL
            figures.append(_check(database, soak))
            server.start()

        async def settle() -> None:
            # The last kill's cut-off requests, retried on the restarted server.
            async with client_session() as session:
                admin, users = await _sign_in(session, server.base, soak)
                for method, path, body, who in soak.funds.cut_off:
                    client = admin if who == "admin" else _owner(users, body) or users[0][0]
                    answer = await client.call(method, path, body)
                    assert answer[0] == 200, (path, body, answer)
                    _note(soak.funds, path, body, answer)
                    soak.retried += 1

        asyncio.run(settle())
        assert server.stop() == 0, server.log_tail()
    figures.append(_check(database, soak))
    print(
        f"\n{KILLS} kills: orders acked {len(soak.flow.acked_orders)}, cancels"
        f" {len(soak.flow.acked_cancels)}, fund requests {len(soak.funds.requests)}, keyed"
        f" credits {len(soak.funds.credits)}, cut-off requests retried {soak.retried};"
        f" order states after each restart {figures}"
    )
