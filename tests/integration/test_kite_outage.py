"""The Kite facade while the database is down, seen by the unmodified ``kiteconnect`` client.

The server runs as a subprocess against an embedded PostgreSQL of the test's own, which the
test really stops and starts again. Proves: while the database is down, placing an order and
reading the order book raise ``NetworkException`` (Kite's answer to a 503), the client's
"try again" signal, rather than a mangled answer; the access token issued before keeps working;
once the database is back the same client trades again, and the order placed before the
outage is still in the book.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from persistence.embedded import EmbeddedPostgres
from tests.support.live_server import client_session, funded_users, server_process, work_directory

pytestmark = pytest.mark.timeout(120)

BACK_WITHIN_S = 20.0


def resting_buy(kite: KiteConnect) -> str:
    order_id: str = kite.place_order(
        variety=kite.VARIETY_REGULAR,
        exchange=kite.EXCHANGE_NSE,
        tradingsymbol="RELIANCE",
        transaction_type=kite.TRANSACTION_TYPE_BUY,
        quantity=1,
        product=kite.PRODUCT_MIS,
        order_type=kite.ORDER_TYPE_LIMIT,
        price=1300,  # far under the market: it rests
    )
    return order_id


def trade_through_outage(kite: KiteConnect, postgres: EmbeddedPostgres) -> None:
    before = resting_buy(kite)
    assert [o["status"] for o in kite.orders() if o["order_id"] == before] == ["OPEN"]
    postgres.stop()
    try:
        with pytest.raises(kite_errors.NetworkException):
            resting_buy(kite)
        with pytest.raises(kite_errors.NetworkException):
            kite.orders()
    finally:
        postgres.start()
    deadline = time.monotonic() + BACK_WITHIN_S
    while True:
        try:
            after = resting_buy(kite)
            break
        except kite_errors.NetworkException:
            assert time.monotonic() < deadline, "the facade did not come back"
            time.sleep(0.5)
    listed = {o["order_id"]: o["status"] for o in kite.orders()}
    assert listed[before] == "OPEN" and listed[after] == "OPEN"


def test_kite_when_database_down_then_network_exception_and_back_after(
    postgres: EmbeddedPostgres,
) -> None:
    async def main(base: str, kite_url: str) -> None:
        async with client_session() as session:
            ((user, account_id),) = await funded_users(session, base, 1, 100_000, "kite-outage")
            app = {
                "name": "outage",
                "tradingAccountId": account_id,
                "redirectUrl": "http://127.0.0.1/callback",
            }
            status, created = await user.call("POST", "/api/console/apps", app)
            assert status == 201, created
            path = f"/api/console/apps/{created['app']['id']}/token"
            status, token = await user.call("POST", path)
            assert status == 200, token
            kite = KiteConnect(created["app"]["apiKey"], token["accessToken"], root=kite_url)
            await asyncio.to_thread(trade_through_outage, kite, postgres)

    with work_directory() as work, server_process(postgres.dsn(), work) as server:
        asyncio.run(main(server.base, server.kite_url()))
        assert server.stop() == 0, server.log_tail()
