"""The database stopped and restarted under order flow, seen from HTTP.

The server runs as a subprocess (``python -m gateway.cli serve``) against an embedded
PostgreSQL of the test's own, which the test really stops (``pg_ctl stop``, fast mode: every
connection is cut) and starts again on the same data directory while client tasks keep
placing and cancelling orders. Proves: while the database is down, order placement answers
503 with the API.md ``UNAVAILABLE`` error body, and so does a read that needs the database;
``/api/health/detailed`` reports the journal check unhealthy; nothing acknowledged before,
during or after the outage is lost; once the database is back the service resumes by itself
within a bounded time (no restart, no operator); afterwards every MARKET order fills, the
engine's funds equal the stored ones, and the ledger, funds identity and journal replay
checks pass for every account.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.instruments import InstrumentMaster
from persistence.embedded import EmbeddedPostgres
from tests.integration.conftest import fetch
from tests.integration.live_server import (
    Client,
    OrderFlow,
    ServerProcess,
    assert_database_consistent,
    client_session,
    funded_users,
    order_body,
    resting_prices,
    server_process,
    wait_for,
    work_directory,
)

pytestmark = pytest.mark.timeout(120)

USERS = 3
WORKERS_PER_USER = 2
ACKED_BEFORE_OUTAGE = 100
ACKED_AFTER_OUTAGE = 60
REFUSED_DURING_OUTAGE_MIN = 20
DOWN_S_MIN = 1.0
DEGRADED_WITHIN_S = 10.0
RESUMED_WITHIN_S = 10.0
FUNDS_RUPEES = 1_000_000


def assert_unavailable(status: int, body: Any) -> None:
    """The API.md error body for 503: code UNAVAILABLE and a human message."""
    assert status == 503, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert body["error"]["code"] == "UNAVAILABLE", body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body


class Outage:
    """Times (event-loop seconds) of the outage, and what the server said meanwhile."""

    def __init__(self) -> None:
        self.stop_began = 0.0
        self.degraded_at = 0.0
        self.start_began = 0.0
        self.started_at = 0.0
        self.resumed_at = 0.0
        self.funds: dict[str, dict[str, Any]] = {}


async def journal_status(client: Client) -> tuple[int, str]:
    status, body = await client.call("GET", "/api/health/detailed")
    return status, body["checks"]["journal"]["status"]


async def run_outage(
    server: ServerProcess,
    postgres: EmbeddedPostgres,
    master: InstrumentMaster,
    flow_box: list[OrderFlow],
    outage: Outage,
) -> None:
    loop = asyncio.get_running_loop()
    async with client_session() as session:
        users = await funded_users(session, server.base, USERS, FUNDS_RUPEES, "outage")
        prices = await resting_prices(users[0][0], master)
        flow = OrderFlow(prices, seed=11)
        flow_box.append(flow)
        probe, probe_account = users[0]
        instrument_id = next(iter(prices))
        resting = order_body(
            probe_account, instrument_id, orderType="LIMIT", price=prices[instrument_id]
        )
        traffic = asyncio.create_task(flow.run(users, WORKERS_PER_USER))

        async def acked_at_least(count: int) -> bool:
            if traffic.done():
                traffic.result()  # a worker failed: raise it here
            return len(flow.acked_orders) >= count

        await wait_for(lambda: acked_at_least(ACKED_BEFORE_OUTAGE), 30, "orders before outage")
        assert await journal_status(probe) == (200, "healthy")

        outage.stop_began = loop.time()
        await asyncio.to_thread(postgres.stop)

        async def journal_unhealthy() -> bool:
            return (await journal_status(probe))[1] != "healthy"

        await wait_for(journal_unhealthy, DEGRADED_WITHIN_S, "journal reported unhealthy")
        outage.degraded_at = loop.time()
        status, body = await probe.call("GET", "/api/health/detailed")
        assert status == 503 and body["status"] == "unhealthy", body
        assert body["checks"]["journal"]["status"] == "unhealthy", body
        status, body = await probe.call("GET", "/api/health")
        assert (status, body["status"]) == (503, "unhealthy"), body

        # Writes are refused with the API.md body; so is a read that needs the database.
        assert_unavailable(*await probe.call("POST", "/api/trading/orders", resting))
        assert_unavailable(*await probe.call("GET", "/api/trading/orders"))

        async def refused_enough() -> bool:
            refused = [a for a in flow.answers if a.sent_s > outage.degraded_at]
            return (
                loop.time() - outage.degraded_at >= DOWN_S_MIN
                and len(refused) >= REFUSED_DURING_OUTAGE_MIN
            )

        await wait_for(refused_enough, 20, "requests refused during the outage")

        outage.start_began = loop.time()
        dsn = await asyncio.to_thread(postgres.start)
        assert dsn == server.dsn
        outage.started_at = loop.time()

        async def write_accepted() -> bool:
            status, body = await probe.call("POST", "/api/trading/orders", resting)
            if status == 200:
                flow.acked_orders[body["order"]["id"]] = (probe_account, "LIMIT")
                return True
            assert_unavailable(status, body)
            return False

        await wait_for(write_accepted, RESUMED_WITHIN_S, "writes accepted again", 0.1)
        outage.resumed_at = loop.time()
        assert await journal_status(probe) == (200, "healthy")

        after = len(flow.acked_orders) + ACKED_AFTER_OUTAGE
        await wait_for(lambda: acked_at_least(after), 30, "orders after the outage")
        flow.stop.set()
        await asyncio.wait_for(traffic, 30)

        clients = {account_id: client for client, account_id in users}

        async def market_orders_filled() -> bool:
            for client in clients.values():
                status, body = await client.call("GET", "/api/trading/orders?status=PENDING")
                assert status == 200, body
                if any(o["orderType"] == "MARKET" for o in body["items"]):
                    return False
            return True

        await wait_for(market_orders_filled, 15, "every MARKET order filled")
        for account_id, client in clients.items():
            listed = await client.orders(account_id)
            mine = {i for i, (owner, _) in flow.acked_orders.items() if owner == account_id}
            assert mine <= set(listed), f"not listed: {sorted(mine - set(listed))[:5]}"
            status, funds = await client.call(
                "GET", f"/api/trading/funds?tradingAccountId={account_id}"
            )
            assert status == 200, funds
            outage.funds[account_id] = funds


def check_answers(flow: OrderFlow, outage: Outage) -> dict[str, int]:
    """Only 200 or 503 UNAVAILABLE; nothing accepted while the journal was degraded."""
    odd = [a for a in flow.answers if a.status not in (200, 503)]
    assert not odd, odd[:5]
    assert all(a.code == "UNAVAILABLE" for a in flow.answers if a.status == 503)
    while_down = [
        a for a in flow.answers if a.sent_s > outage.degraded_at and a.done_s < outage.start_began
    ]
    assert while_down, "no request was answered while the database was down"
    assert all(a.status == 503 for a in while_down), [a for a in while_down if a.status != 503]
    after = [a for a in flow.answers if a.sent_s > outage.resumed_at]
    assert after and all(a.status == 200 for a in after), [a for a in after if a.status != 200]
    return {
        "answers": len(flow.answers),
        "refused": sum(1 for a in flow.answers if a.status == 503),
        "refused_while_down": len(while_down),
        "acked_orders": len(flow.acked_orders),
        "acked_cancels": len(flow.acked_cancels),
    }


def test_database_restarted_under_load_when_back_then_service_resumes_and_nothing_lost(
    pg_data_dir: Path, master: InstrumentMaster
) -> None:
    postgres = EmbeddedPostgres(pg_data_dir)
    dsn = postgres.start()
    try:
        flow_box: list[OrderFlow] = []
        outage = Outage()
        with work_directory() as work, server_process(dsn, work) as server:
            asyncio.run(run_outage(server, postgres, master, flow_box, outage))
            assert server.stop() == 0, server.log_tail()
        flow = flow_box[0]
        summary = check_answers(flow, outage)
        statuses = assert_database_consistent(dsn, flow.acked_orders, flow.acked_cancels)
        stored = {r["id"]: r for r in fetch(dsn, "SELECT * FROM trading_accounts")}
        for account_id, funds in outage.funds.items():
            row = stored[account_id]
            assert round(funds["balance"] * 100) == row["balance_paise"], (funds, dict(row))
            assert round(funds["blockedMargin"] * 100) == row["blocked_paise"], (funds, dict(row))
        print(
            f"{summary} {statuses}"
            f" degraded after {outage.degraded_at - outage.stop_began:.2f} s,"
            f" down {outage.start_began - outage.stop_began:.2f} s,"
            f" restart {outage.started_at - outage.start_began:.2f} s,"
            f" resumed {outage.resumed_at - outage.started_at:.2f} s after the restart"
        )
    finally:
        postgres.stop()
