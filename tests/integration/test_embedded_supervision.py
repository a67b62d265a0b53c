"""The embedded PostgreSQL's postmaster killed under a running server, seen from HTTP.

``paperdesk serve`` runs as a subprocess with no ``DATABASE_URL``, so it runs and supervises
its own embedded PostgreSQL in ``<work>/var/pg``. The first test kills that postmaster with
SIGKILL (its pid read from ``postmaster.pid``) while clients keep placing and cancelling
orders and an admin keeps crediting and debiting funds. Proves: the supervisor restarts the
database by itself and a write is accepted again, its effect visible through a database read,
within ``RECOVERED_WITHIN_S`` of the kill; nothing acknowledged before, during or after the
outage is lost; the ledger, funds identity and journal replay checks pass; a graceful stop
afterwards stops the restarted postmaster too.

The second test keeps the database down (a frozen checkpointer of the killed postmaster still
holds its shared memory, so PostgreSQL refuses every restart) and stops the server with
SIGTERM: it exits 0 within ``EXITED_WITHIN_S`` and names the writes it drops (never
acknowledged) in its log; started again, it shows every acknowledged write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import psutil
import pytest

from engine.domain.instruments import InstrumentMaster
from tests.integration.conftest import fetch
from tests.support.live_server import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Client,
    OrderFlow,
    ServerProcess,
    alive,
    assert_database_consistent,
    assert_funds_stored,
    client_session,
    embedded_server,
    funded_users,
    order_body,
    pending_market_orders,
    postmaster_pid,
    resting_prices,
    stored,
    wait_for,
    work_directory,
)

pytestmark = pytest.mark.timeout(180)

USERS = 3
WORKERS_PER_USER = 2
FUNDS_RUPEES = 1_000_000
ACKED_BEFORE_KILL = 100
ACKED_AFTER_RECOVERY = 60
RECOVERED_WITHIN_S = 10.0  # the target: a write accepted again this soon after the kill
EXITED_WITHIN_S = 5.0  # SIGTERM to exit while the database is down
FILLED_WITHIN_S = 15.0
# PostgreSQL's refusal while a process of the dead postmaster still holds its shared memory.
SHARED_MEMORY_IN_USE = "pre-existing shared memory block"


@dataclass
class FundFlow:
    """An admin crediting and debiting ₹1 in turn; every acknowledged reference is recorded."""

    admin: Client
    account_ids: list[str]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    lost_server: bool = False
    acked: dict[str, str] = field(default_factory=dict)  # reference -> account
    refused: int = 0

    async def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            reference = f"supervision-{n}"
            body = {
                "tradingAccountId": self.account_ids[n % len(self.account_ids)],
                "operation": "CREDIT" if n % 2 == 0 else "DEBIT",
                "amount": 1,
                "description": reference,
            }
            n += 1
            try:
                status, answer = await self.admin.call("POST", "/api/trading/funds", body)
            except (aiohttp.ClientError, TimeoutError):
                if self.lost_server:
                    return
                raise
            if status == 200:
                self.acked[reference] = body["tradingAccountId"]
            else:
                assert status == 503, answer
                self.refused += 1
                await asyncio.sleep(0.01)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[asyncio.Task[None]]:
        task = asyncio.create_task(self.run())
        try:
            yield task
        finally:
            self.stop.set()
            await asyncio.gather(task, return_exceptions=True)


def assert_fund_operations_stored(dsn: str, acked: dict[str, str]) -> None:
    rows = fetch(
        dsn,
        "SELECT reference, trading_account_id FROM transactions"
        " WHERE book = 'CASH' AND reference LIKE 'supervision-%'",
    )
    stored_ops = {r["reference"]: r["trading_account_id"] for r in rows}
    missing = sorted(set(acked) - set(stored_ops))
    assert not missing, f"{len(missing)} acknowledged fund operations lost, e.g. {missing[:5]}"
    assert all(stored_ops[ref] == account for ref, account in acked.items())


@dataclass
class Recovery:
    """Times (event-loop seconds from the kill) and what was acknowledged."""

    flow: OrderFlow = field(default_factory=lambda: OrderFlow({}))
    funds_flow: FundFlow | None = None
    restarted_s: float = 0.0  # a new postmaster in postmaster.pid
    resumed_s: float = 0.0  # a write accepted and listed again
    funds: dict[str, dict[str, Any]] = field(default_factory=dict)


async def kill_and_recover(
    server: ServerProcess, master: InstrumentMaster, recovery: Recovery
) -> None:
    loop = asyncio.get_running_loop()
    async with client_session() as session:
        users = await funded_users(session, server.base, USERS + 1, FUNDS_RUPEES, "supervised")
        traders, (probe, probe_account) = users[:USERS], users[USERS]
        prices = await resting_prices(probe, master)
        first = next(iter(prices))
        resting = order_body(probe_account, first, orderType="LIMIT", price=prices[first])
        flow = recovery.flow = OrderFlow(prices, seed=13)
        admin = Client(session, server.base)
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        funds_flow = recovery.funds_flow = FundFlow(admin, [a for _, a in traders])

        async with flow.running(traders, WORKERS_PER_USER) as traffic, funds_flow.running():

            async def acked_at_least(count: int) -> bool:
                if traffic.done():
                    traffic.result()  # a worker failed: raise it here
                return len(flow.acked_orders) >= count

            await wait_for(lambda: acked_at_least(ACKED_BEFORE_KILL), 30, "orders before")
            old_pid = postmaster_pid(server.pg_data_dir)
            assert old_pid is not None and alive(old_pid)
            killed_at = loop.time()
            os.kill(old_pid, signal.SIGKILL)

            async def restarted() -> bool:
                pid = postmaster_pid(server.pg_data_dir)
                return pid is not None and pid != old_pid and alive(pid)

            await wait_for(restarted, RECOVERED_WITHIN_S, "postmaster restarted")
            recovery.restarted_s = loop.time() - killed_at

            async def write_accepted_and_visible() -> bool:
                status, body = await probe.call("POST", "/api/trading/orders", resting)
                if status != 200:
                    assert status == 503, body
                    return False
                order_id = body["order"]["id"]
                flow.acked_orders[order_id] = (probe_account, "LIMIT")
                listed = await probe.orders(probe_account)  # a read from the database
                assert order_id in listed, "accepted, then not listed"
                return True

            remaining_s = RECOVERED_WITHIN_S - (loop.time() - killed_at)
            await wait_for(write_accepted_and_visible, remaining_s, "writes accepted", 0.05)
            recovery.resumed_s = loop.time() - killed_at

            after = len(flow.acked_orders) + ACKED_AFTER_RECOVERY
            await wait_for(lambda: acked_at_least(after), 30, "orders after the recovery")
            flow.stop.set()
            await asyncio.wait_for(traffic, 30)

        clients = [client for client, _ in traders]

        async def market_orders_filled() -> bool:
            return await pending_market_orders(clients) == 0

        await wait_for(market_orders_filled, FILLED_WITHIN_S, "every MARKET order filled")
        for client, account_id in traders:
            status, funds = await client.call(
                "GET", f"/api/trading/funds?tradingAccountId={account_id}"
            )
            assert status == 200, funds
            recovery.funds[account_id] = funds


def assert_only_served_or_refused(flow: OrderFlow) -> dict[str, int]:
    """Every answer is 200 or a 503 (not carried out, or outcome unknown)."""
    odd = [a for a in flow.answers if a.status not in (200, 503)]
    assert not odd, odd[:5]
    return {
        "answers": len(flow.answers),
        "refused": sum(1 for a in flow.answers if a.status == 503),
        "acked_orders": len(flow.acked_orders),
        "acked_cancels": len(flow.acked_cancels),
    }


def test_embedded_postmaster_killed_under_load_when_supervised_then_service_resumes_and_nothing_lost(  # noqa: E501
    master: InstrumentMaster,
) -> None:
    recovery = Recovery()
    with work_directory() as work, embedded_server(work) as server:
        asyncio.run(kill_and_recover(server, master, recovery))
        assert server.stop() == 0, server.log_tail()
        log = server.log_path.read_text(errors="replace")
        assert "embedded postgres restarted" in log, log[-4000:]
        # The restarted postmaster is the one the graceful stop stopped: none left behind.
        assert postmaster_pid(server.pg_data_dir) is None, log[-4000:]
        with stored(server) as dsn:
            flow, funds_flow = recovery.flow, recovery.funds_flow
            assert funds_flow is not None
            summary = assert_only_served_or_refused(flow)
            statuses = assert_database_consistent(dsn, flow.acked_orders, flow.acked_cancels)
            assert_funds_stored(dsn, recovery.funds)
            assert_fund_operations_stored(dsn, funds_flow.acked)
    assert recovery.resumed_s <= RECOVERED_WITHIN_S
    print(
        f"\n{summary} {statuses}; fund operations acked {len(funds_flow.acked)},"
        f" refused {funds_flow.refused}; postmaster restarted {recovery.restarted_s:.2f} s"
        f" after the kill, a write accepted and listed {recovery.resumed_s:.2f} s after it"
    )


def frozen_checkpointer(postmaster: int) -> psutil.Process:
    """Stop (SIGSTOP) the postmaster's checkpointer: a process that keeps its shared memory
    attached, so PostgreSQL refuses to start again until it is gone."""
    for child in psutil.Process(postmaster).children():
        if "checkpointer" in " ".join(child.cmdline()):
            child.suspend()
            return child
    raise AssertionError("no checkpointer under the postmaster")


@dataclass
class Outage:
    flow: OrderFlow = field(default_factory=lambda: OrderFlow({}))
    account_ids: list[str] = field(default_factory=list)  # of users "stopped-<n>", by n
    exited_in_s: float = 0.0
    exit_code: int | None = None


async def stop_while_down(server: ServerProcess, master: InstrumentMaster, outage: Outage) -> None:
    async with client_session() as session:
        users = await funded_users(session, server.base, USERS, FUNDS_RUPEES, "stopped")
        outage.account_ids = [account_id for _, account_id in users]
        prices = await resting_prices(users[0][0], master)
        flow = outage.flow = OrderFlow(prices, seed=17)
        async with flow.running(users, WORKERS_PER_USER) as traffic:

            async def acked_enough() -> bool:
                if traffic.done():
                    traffic.result()  # a worker failed: raise it here
                return len(flow.acked_orders) >= ACKED_BEFORE_KILL

            await wait_for(acked_enough, 30, "orders before the kill")
            pid = postmaster_pid(server.pg_data_dir)
            assert pid is not None
            frozen = frozen_checkpointer(pid)
            try:
                flow.lost_server = True  # the server goes away under the last requests
                os.kill(pid, signal.SIGKILL)

                async def restart_refused_for_shared_memory() -> bool:
                    log = server.log_path.read_text(errors="replace")
                    return SHARED_MEMORY_IN_USE in log

                await wait_for(restart_refused_for_shared_memory, 15, "a restart refused")
                assert not alive(postmaster_pid(server.pg_data_dir) or pid)  # still down
                process = server.process
                assert process is not None
                began = time.monotonic()
                process.send_signal(signal.SIGTERM)
                outage.exit_code = await asyncio.to_thread(process.wait, 30)
                outage.exited_in_s = time.monotonic() - began
            finally:
                frozen.kill()  # SIGKILL ends a stopped process too
            await asyncio.wait_for(traffic, 30)  # its workers end with the server


async def every_acknowledged_order_listed(server: ServerProcess, outage: Outage) -> None:
    async with client_session() as session:
        for n, account_id in enumerate(outage.account_ids):
            owner = Client(session, server.base)
            await owner.login(f"stopped-{n}@paperdesk.test")
            listed = await owner.orders(account_id)
            acked = outage.flow.acked_orders
            mine = {i for i, (owning, _) in acked.items() if owning == account_id}
            assert mine <= set(listed), f"not listed: {sorted(mine - set(listed))[:5]}"


def test_graceful_stop_when_database_down_then_exits_in_bound_and_restart_shows_acknowledged(
    master: InstrumentMaster,
) -> None:
    outage = Outage()
    with work_directory() as work, embedded_server(work) as server:
        asyncio.run(stop_while_down(server, master, outage))
        log = server.log_tail(20000)
        assert outage.exit_code == 0, log
        assert outage.exited_in_s <= EXITED_WITHIN_S, log
        assert "batches unwritten, never acknowledged" in log, log
        server.start()  # the same data directory: PostgreSQL starts again, recovered
        asyncio.run(every_acknowledged_order_listed(server, outage))
        assert server.stop() == 0, server.log_tail()
        with stored(server) as dsn:
            flow = outage.flow
            statuses = assert_database_consistent(dsn, flow.acked_orders, flow.acked_cancels)
    print(
        f"\n{assert_only_served_or_refused(outage.flow)} {statuses};"
        f" exited {outage.exited_in_s:.2f} s after SIGTERM with the database down"
    )
