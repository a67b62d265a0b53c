"""kill -9 of the real server in the middle of sustained order flow, then a restart.

The server runs as a subprocess (``python -m gateway.cli serve``) on the test's own database,
with commit durability (the default): an order is acknowledged only once its events have
committed. Several users place resting LIMIT orders, MARKET orders that fill at once and
cancels from concurrent client tasks; after some hundreds of acknowledged orders the process
gets SIGKILL while requests are in flight. Proves: every order and cancel acknowledged with
200 before the kill is in the database and in the restarted server's order lists; the ledger
legs sum to zero; the funds identity holds for every account; journal replay and projections
agree for every account; the restarted server's funds equal the stored ones; and it fills
MARKET orders queued before the kill, takes new orders and cancels a LIMIT order that was
resting before the kill.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest

from engine.domain.instruments import InstrumentMaster
from tests.integration.conftest import fetchval
from tests.support.live_server import (
    Client,
    OrderFlow,
    ServerProcess,
    assert_database_consistent,
    assert_funds_stored,
    client_session,
    funded_users,
    order_body,
    pending_market_orders,
    resting_prices,
    server_process,
    wait_for,
    work_directory,
)

pytestmark = pytest.mark.timeout(120)

USERS = 4
WORKERS_PER_USER = 3
ACKED_BEFORE_KILL = 400
IN_FLIGHT_AT_KILL_MIN = 2
FLOW_TIMEOUT_S = 40
FILLED_WITHIN_S = 15
FUNDS_RUPEES = 1_000_000


class Run:
    """What the test learns before the kill and checks after it."""

    def __init__(self) -> None:
        self.accounts: dict[str, str] = {}  # account id -> email
        self.resting: dict[str, str] = {}  # account id -> LIMIT order placed before the flow
        self.flow = OrderFlow({})
        self.in_flight_at_kill = 0
        self.flow_s = 0.0
        self.funds: dict[str, dict[str, Any]] = {}


async def trade_until_killed(server: ServerProcess, master: InstrumentMaster, run: Run) -> None:
    async with client_session() as session:
        users = await funded_users(session, server.base, USERS, FUNDS_RUPEES, "crash")
        prices = await resting_prices(users[0][0], master)
        flow = run.flow = OrderFlow(prices)
        first = next(iter(prices))
        for n, (client, account_id) in enumerate(users):
            run.accounts[account_id] = f"crash-{n}@paperdesk.test"
            body = order_body(account_id, first, orderType="LIMIT", price=prices[first])
            status, reply = await client.call("POST", "/api/trading/orders", body)
            assert status == 200, reply
            run.resting[account_id] = reply["order"]["id"]
            flow.acked_orders[reply["order"]["id"]] = (account_id, "LIMIT")

        async with flow.running(users, WORKERS_PER_USER) as traffic:

            async def kill_point() -> bool:
                if traffic.done():
                    traffic.result()  # a worker failed: raise it here
                return (
                    len(flow.acked_orders) >= ACKED_BEFORE_KILL
                    and flow.in_flight >= IN_FLIGHT_AT_KILL_MIN
                )

            run.flow_s = await wait_for(kill_point, FLOW_TIMEOUT_S, "orders before the kill", 0.002)
            flow.lost_server = True  # from here on, connection errors end the workers
            os.kill(server.pid, signal.SIGKILL)
            run.in_flight_at_kill = flow.in_flight
            await asyncio.wait_for(traffic, 30)


async def check_restarted(server: ServerProcess, run: Run) -> None:
    flow = run.flow
    async with client_session() as session:
        clients: dict[str, Client] = {}
        for account_id, email in run.accounts.items():
            client = clients[account_id] = Client(session, server.base)
            await client.login(email)
            listed = await client.orders(account_id)
            mine = {i for i, (owner, _) in flow.acked_orders.items() if owner == account_id}
            assert mine <= set(listed), f"not listed: {sorted(mine - set(listed))[:5]}"
            for order_id in mine & flow.acked_cancels:
                assert listed[order_id]["status"] == "CANCELLED", listed[order_id]

        async def market_orders_filled() -> bool:
            return await pending_market_orders(list(clients.values())) == 0

        # MARKET orders acknowledged but not filled at the kill are queued again at recovery.
        await wait_for(market_orders_filled, FILLED_WITHIN_S, "MARKET orders from before the kill")

        instrument_id = next(iter(flow.prices))
        for account_id, client in clients.items():
            resting_id = run.resting[account_id]
            status, body = await client.call("DELETE", f"/api/trading/orders?orderId={resting_id}")
            assert (status, body["order"]["status"]) == (200, "CANCELLED"), body
            flow.acked_cancels.add(resting_id)
            limit = {"orderType": "LIMIT", "price": flow.prices[instrument_id]}
            for kind, terms in (("LIMIT", limit), ("MARKET", {})):
                body = order_body(account_id, instrument_id, **terms)
                status, reply = await client.call("POST", "/api/trading/orders", body)
                assert status == 200, reply
                flow.acked_orders[reply["order"]["id"]] = (account_id, kind)
        await wait_for(market_orders_filled, FILLED_WITHIN_S, "MARKET orders after the restart")

        for account_id, client in clients.items():
            status, funds = await client.call(
                "GET", f"/api/trading/funds?tradingAccountId={account_id}"
            )
            assert status == 200, funds
            run.funds[account_id] = funds


def test_server_killed_during_order_flow_when_restarted_then_nothing_acknowledged_lost(
    database: str, master: InstrumentMaster
) -> None:
    run = Run()
    with work_directory() as work, server_process(database, work) as server:
        asyncio.run(trade_until_killed(server, master, run))
        assert server.process is not None and server.process.wait(10) == -signal.SIGKILL
        flow = run.flow
        assert run.in_flight_at_kill >= 1, "the kill must hit requests in flight"
        assert len(flow.acked_orders) >= ACKED_BEFORE_KILL
        unexpected = [a for a in flow.answers if a.status != 200]
        assert not unexpected, unexpected[:5]  # nothing but 200 before the kill

        # The database alone, before any restart: nothing acknowledged is missing.
        at_kill = assert_database_consistent(database, flow.acked_orders, flow.acked_cancels)
        acked_at_kill = len(flow.acked_orders)
        unacked_stored = fetchval(database, "SELECT count(*) FROM orders") - acked_at_kill

        server.start()
        asyncio.run(check_restarted(server, run))
        assert server.stop() == 0, server.log_tail()
        final = assert_database_consistent(database, flow.acked_orders, flow.acked_cancels)
        assert final.get("PENDING", 0) > 0 and final.get("EXECUTED", 0) > 0, final
        assert_funds_stored(database, run.funds)
        print(
            f"\nacked before the kill: {acked_at_kill} orders, {len(flow.acked_cancels) - USERS}"
            f" cancels in {run.flow_s:.2f} s; in flight at the kill {run.in_flight_at_kill}"
            f" ({flow.connection_errors} cut off);"
            f" stored then {at_kill}"
            f" ({unacked_stored} not acknowledged); after the restart {final};"
            f" restart took {server.started_in_s:.2f} s"
        )
