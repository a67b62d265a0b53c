"""The database stopped and restarted under order flow, seen from HTTP.

The server runs as a subprocess (``python -m gateway.cli serve``) against an embedded
PostgreSQL of the test's own, which the test really stops (``pg_ctl stop``, fast mode: every
connection is cut) and starts again on the same data directory while client tasks keep
placing and cancelling orders. Proves: while the database is down, order placement answers
503 with the docs/API.md ``UNAVAILABLE`` error body, and so does a read that needs the database;
``/api/health`` and ``/api/health/detailed`` report the journal unhealthy; a refused write
leaves nothing behind; nothing acknowledged before, during or after the outage is lost; once
the database is back the service resumes by itself within a bounded time; afterwards every
MARKET order fills, the engine's funds equal the stored ones, and the ledger, funds identity
and journal replay checks pass for every account.

A second test: a MARKET fill that falls due while the journal is degraded is still applied
(the market has already taken it off its books) and journaled once the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from engine.domain.instruments import InstrumentMaster
from persistence.embedded import EmbeddedPostgres
from tests.integration.conftest import fetchval
from tests.support.live_server import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    FAST_CONFIG,
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
    with_accounts,
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
FILLED_WITHIN_S = 15.0
FUNDS_RUPEES = 1_000_000
# The gateway's code when the engine's reply (held until the journal commits) times out.
OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
# Replies held for a commit time out after 2 s instead of 5 s: a shorter test, same paths.
OUTAGE_CONFIG = with_accounts(FAST_CONFIG, "ask_timeout_ms = 2000")


def assert_unavailable(status: int, body: Any) -> None:
    """The docs/API.md error body for 503: code UNAVAILABLE and a human message."""
    assert status == 503, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert body["error"]["code"] == "UNAVAILABLE", body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body


async def journal_status(client: Client) -> tuple[int, str]:
    status, body = await client.call("GET", "/api/health/detailed")
    return status, body["checks"]["journal"]["status"]


class Outage:
    """Times (event-loop seconds) of the outage, and what the engine held at the end."""

    def __init__(self) -> None:
        self.flow = OrderFlow({})
        self.stop_began = 0.0
        self.degraded_at = 0.0
        self.start_began = 0.0
        self.started_at = 0.0
        self.resumed_at = 0.0
        self.funds: dict[str, dict[str, Any]] = {}


async def run_outage(
    server: ServerProcess, postgres: EmbeddedPostgres, master: InstrumentMaster, outage: Outage
) -> None:
    loop = asyncio.get_running_loop()
    async with client_session() as session:
        users = await funded_users(session, server.base, USERS, FUNDS_RUPEES, "outage")
        prices = await resting_prices(users[0][0], master)
        flow = outage.flow = OrderFlow(prices, seed=11)
        probe, probe_account = users[0]
        first = next(iter(prices))
        resting = order_body(probe_account, first, orderType="LIMIT", price=prices[first])

        async with flow.running(users, WORKERS_PER_USER) as traffic:

            async def acked_at_least(count: int) -> bool:
                if traffic.done():
                    traffic.result()  # a worker failed: raise it here
                return len(flow.acked_orders) >= count

            await wait_for(lambda: acked_at_least(ACKED_BEFORE_OUTAGE), 30, "orders before")
            # Detailed health is for admins; signed in just now, the session stays cached
            # (auth.session_cache_s) through the outage.
            monitor = Client(session, server.base)
            await monitor.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            assert await journal_status(monitor) == (200, "healthy")

            outage.stop_began = loop.time()
            await asyncio.to_thread(postgres.stop)

            async def journal_unhealthy() -> bool:
                return (await journal_status(monitor))[1] != "healthy"

            await wait_for(journal_unhealthy, DEGRADED_WITHIN_S, "journal reported unhealthy")
            outage.degraded_at = loop.time()
            status, body = await monitor.call("GET", "/api/health/detailed")
            assert (status, body["status"]) == (503, "unhealthy"), body
            assert body["checks"]["journal"]["status"] == "unhealthy", body
            status, body = await probe.call("GET", "/api/health")
            assert (status, body["status"]) == (503, "unhealthy"), body

            # Writes are refused with the docs/API.md body; so is a read that needs the database.
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
            assert await asyncio.to_thread(postgres.start) == server.dsn
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
            assert await journal_status(monitor) == (200, "healthy")

            after = len(flow.acked_orders) + ACKED_AFTER_OUTAGE
            await wait_for(lambda: acked_at_least(after), 30, "orders after the outage")
            flow.stop.set()
            await asyncio.wait_for(traffic, 30)

        clients = {account_id: client for client, account_id in users}

        async def market_orders_filled() -> bool:
            return await pending_market_orders(list(clients.values())) == 0

        await wait_for(market_orders_filled, FILLED_WITHIN_S, "every MARKET order filled")
        for account_id, client in clients.items():
            listed = await client.orders(account_id)
            mine = {i for i, (owner, _) in flow.acked_orders.items() if owner == account_id}
            assert mine <= set(listed), f"not listed: {sorted(mine - set(listed))[:5]}"
            status, funds = await client.call(
                "GET", f"/api/trading/funds?tradingAccountId={account_id}"
            )
            assert status == 200, funds
            outage.funds[account_id] = funds


def check_answers(outage: Outage, stored_orders: int) -> dict[str, int]:
    """Only 200 or 503 (UNAVAILABLE: not carried out, or OUTCOME_UNKNOWN: submitted, not
    confirmed); nothing accepted while degraded; a refusal leaves nothing."""
    answers = outage.flow.answers
    odd = [a for a in answers if a.status not in (200, 503)]
    assert not odd, odd[:5]
    assert all(a.code in ("UNAVAILABLE", OUTCOME_UNKNOWN) for a in answers if a.status == 503)
    while_down = [
        a for a in answers if a.sent_s > outage.degraded_at and a.done_s < outage.start_began
    ]
    assert while_down, "no request was answered while the database was down"
    assert all(a.status == 503 for a in while_down), [a for a in while_down if a.status != 503]
    after = [a for a in answers if a.sent_s > outage.resumed_at]
    assert after and all(a.status == 200 for a in after), [a for a in after if a.status != 200]
    # A placement answered 503 "outcome unknown" (accepted by its account, reply timed out
    # waiting for the commit) may exist; a plain refusal never leaves an order behind.
    unknown = [
        a for a in answers if a.status == 503 and a.kind != "CANCEL" and a.code == OUTCOME_UNKNOWN
    ]
    unacknowledged = stored_orders - len(outage.flow.acked_orders)
    assert 0 <= unacknowledged <= len(unknown), (unacknowledged, len(unknown))
    return {
        "answers": len(answers),
        "refused": sum(1 for a in answers if a.status == 503),
        "refused_while_down": len(while_down),
        "outcome_unknown": len(unknown),
        "stored_unacknowledged": unacknowledged,
        "acked_orders": len(outage.flow.acked_orders),
        "acked_cancels": len(outage.flow.acked_cancels),
    }


def test_database_restarted_under_load_when_back_then_service_resumes_and_nothing_lost(
    postgres: EmbeddedPostgres, master: InstrumentMaster
) -> None:
    dsn = postgres.dsn()
    outage = Outage()
    with work_directory() as work, server_process(dsn, work, OUTAGE_CONFIG) as server:
        asyncio.run(run_outage(server, postgres, master, outage))
        assert server.stop() == 0, server.log_tail()
    flow = outage.flow
    summary = check_answers(outage, fetchval(dsn, "SELECT count(*) FROM orders"))
    statuses = assert_database_consistent(dsn, flow.acked_orders, flow.acked_cancels)
    assert_funds_stored(dsn, outage.funds)
    print(
        f"\n{summary} {statuses};"
        f" degraded {outage.degraded_at - outage.stop_began:.2f} s after the stop,"
        f" down {outage.start_began - outage.stop_began:.2f} s,"
        f" restart {outage.started_at - outage.start_began:.2f} s,"
        f" writes accepted {outage.resumed_at - outage.started_at:.2f} s after the restart"
    )


FILL_DELAY_MS = 2000
DELAYED_FILLS = FAST_CONFIG.replace(
    "market_fill_delay_ms = 0", f"market_fill_delay_ms = {FILL_DELAY_MS}"
)


async def fill_due_while_degraded(
    server: ServerProcess, postgres: EmbeddedPostgres, master: InstrumentMaster
) -> str:
    """Place a MARKET order, take the database down before its fill is due, bring it back;
    return the order's status a few seconds later."""
    loop = asyncio.get_running_loop()
    async with client_session() as session:
        [(client, account_id)] = await funded_users(session, server.base, 1, 100_000, "due")
        monitor = Client(session, server.base)  # detailed health is for admins
        await monitor.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        assert await journal_status(monitor) == (200, "healthy")  # caches its session
        prices = await resting_prices(client, master)
        first = next(iter(prices))
        status, body = await client.call(
            "POST", "/api/trading/orders", order_body(account_id, first)
        )
        assert status == 200, body
        order_id = body["order"]["id"]
        fill_due = loop.time() + FILL_DELAY_MS / 1000
        await asyncio.to_thread(postgres.stop)
        # A write makes the journal find out; its reply waits for the commit.
        resting = order_body(account_id, first, orderType="LIMIT", price=prices[first])
        stuck = asyncio.create_task(client.call("POST", "/api/trading/orders", resting))

        async def journal_unhealthy() -> bool:
            return (await journal_status(monitor))[1] != "healthy"

        await wait_for(journal_unhealthy, DEGRADED_WITHIN_S, "journal reported unhealthy")
        assert loop.time() < fill_due, "degraded too late for this test to mean anything"
        await asyncio.sleep(fill_due - loop.time() + 0.5)
        assert (await journal_status(monitor))[1] == "unhealthy"  # the fill fell due meanwhile
        assert await asyncio.to_thread(postgres.start) == server.dsn
        await stuck

        async def executed() -> bool:
            return await pending_market_orders([client]) == 0

        with contextlib.suppress(AssertionError):  # still PENDING: the gap this test shows
            await wait_for(executed, 3, "the MARKET order filled")
        status, body = await client.call("GET", "/api/trading/orders")
        assert status == 200, body
        found: str = next(o["status"] for o in body["items"] if o["id"] == order_id)
        return found


def test_market_fill_due_during_outage_when_database_back_then_order_fills(
    postgres: EmbeddedPostgres, master: InstrumentMaster
) -> None:
    with work_directory() as work, server_process(postgres.dsn(), work, DELAYED_FILLS) as server:
        status = asyncio.run(fill_due_while_degraded(server, postgres, master))
        assert server.stop() == 0, server.log_tail()
    assert status == "EXECUTED"
