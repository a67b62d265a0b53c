"""The generated F&O universe on the real server (``python -m gateway.cli serve``, the default
configuration's ``[market.universe]``) on whatever date the test runs: a user finds this week's
NIFTY weekly and next month's BANKNIFTY future through the API, trades both, and after a
kill -9 and a restart the positions are still there, in the same contracts, which the restarted
server still lists and prices. The day's contracts are stored before the server answers at all.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.domain.contract_names import SEGMENT_CODES
from engine.domain.enums import Exchange
from engine.domain.instruments import InstrumentMaster
from tests.integration.conftest import fetchval
from tests.support.live_server import (
    Client,
    ServerProcess,
    client_session,
    funded_users,
    order_body,
    server_process,
    work_directory,
)

pytestmark = pytest.mark.timeout(120)


async def expiries(client: Client, underlying: str) -> list[dict[str, Any]]:
    status, body = await client.call("GET", f"/api/expiries?underlying={underlying}")
    assert status == 200, body
    return list(body["items"])


async def instruments(client: Client, query: str) -> list[dict[str, Any]]:
    status, body = await client.call("GET", f"/api/instruments?{query}&limit=500")
    assert status == 200, body
    return list(body["items"])


async def ltp(client: Client, key: str) -> float:
    status, body = await client.call("GET", f"/api/quotes?q={key}&mode=ltp")
    assert status == 200, body
    return float(body["data"][key]["ltp"])


async def choose_contracts(client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """This week's at-the-money NIFTY call and next month's BANKNIFTY future."""
    nifty = await expiries(client, "NIFTY")
    weekly = nifty[0]
    assert weekly["options"], nifty
    # NIFTY has a weekly series: its nearest expiry is at most a week away.
    expires_at = datetime.fromisoformat(weekly["expiresAt"].replace("Z", "+00:00"))
    assert expires_at - datetime.now(UTC) <= timedelta(days=7), nifty
    calls = await instruments(client, f"underlying=NIFTY&kind=CE&expiry={weekly['date']}")
    spot = await ltp(client, "NSE:NIFTY 50")
    call = min(calls, key=lambda c: abs(float(c["strike"]) - spot))
    banknifty = [e for e in await expiries(client, "BANKNIFTY") if e["futures"]]
    assert all(e["kind"] == "MONTHLY" for e in banknifty) and len(banknifty) == 3
    (future,) = await instruments(
        client, f"underlying=BANKNIFTY&kind=FUT&expiry={banknifty[1]['date']}"
    )
    return call, future


async def positions(client: Client, account_id: str) -> dict[str, dict[str, Any]]:
    status, body = await client.call("GET", f"/api/trading/positions?tradingAccountId={account_id}")
    assert status == 200, body
    return {p["instrumentId"]: p for p in body["items"]}


async def trade(server: ServerProcess) -> tuple[str, list[dict[str, Any]], str]:
    async with client_session() as session:
        ((client, account_id),) = await funded_users(session, server.base, 1, 2_000_000, "gen")
        call, future = await choose_contracts(client)
        for contract in (call, future):
            assert contract["instrumentToken"] == (
                contract["exchangeToken"] << 8 | SEGMENT_CODES[Exchange(contract["exchange"])]
            )
            body = order_body(
                account_id,
                contract["instrumentId"],
                quantity=contract["lotSize"],
                productType="NRML",
            )
            status, placed = await client.call("POST", "/api/trading/orders", body)
            assert status == 200, placed
        wanted = {call["instrumentId"], future["instrumentId"]}
        for _ in range(100):  # MARKET orders fill at the next tick
            if wanted <= set(await positions(client, account_id)):
                break
            await asyncio.sleep(0.1)
        assert wanted <= set(await positions(client, account_id))
        return account_id, [call, future], client.headers["Authorization"]


async def check_after_restart(
    server: ServerProcess, account_id: str, contracts: list[dict[str, Any]], token: str
) -> None:
    async with client_session() as session:
        client = Client(session, server.base)
        client.headers["Authorization"] = token
        held = await positions(client, account_id)
        for contract in contracts:
            position = held[contract["instrumentId"]]
            assert position["quantity"] == contract["lotSize"], position
            assert position["symbol"] == contract["symbol"]
            found = await instruments(client, f"search={contract['symbol']}")
            assert [i["instrumentId"] for i in found] == [contract["instrumentId"]]
            assert await ltp(client, contract["instrumentId"]) > 0


def test_weekly_and_next_month_when_traded_and_server_killed_then_positions_recover(
    database: str, master: InstrumentMaster
) -> None:
    with work_directory() as work, server_process(database, work) as server:
        # Today's contracts are stored before the server takes a request.
        stored = fetchval(database, "SELECT count(*) FROM instruments")
        assert stored > len(master) + 2_000
        account_id, contracts, token = asyncio.run(trade(server))
        server.kill()
        assert server.process is not None and server.process.wait(10) == -signal.SIGKILL
        server.start()
        asyncio.run(check_after_restart(server, account_id, contracts, token))
        assert server.stop() == 0, server.log_tail()
