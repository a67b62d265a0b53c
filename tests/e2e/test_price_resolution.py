"""Price resolution tiers end to end (docs/DOMAIN.md §5): a live quote first; else the last LTP
stored in Postgres (surviving restarts); else a price the request supplies; else the order is
rejected PRICE_UNAVAILABLE. Each accepted order records the tier that served it in its
journaled event and trading log, and /metrics counts resolutions by tier."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
import asyncpg

from engine.domain.instruments import InstrumentMaster
from tests.e2e.conftest import e2e_config, running_server, scrape_metrics
from tests.e2e.test_trading_journey import funded_user, order_body


def with_unpriced(master: InstrumentMaster) -> tuple[InstrumentMaster, str]:
    """The sample master plus an imported-style instrument with no reference price."""
    template = master.get("NSE:WIPRO")
    assert template is not None
    unpriced = dataclasses.replace(
        template,
        instrument_id="NSE_EQ|INE000UNPRICED",
        token=999_001,
        symbol="UNPRICED",
        isin="INE000UNPRICED",
        reference_price_paise=0,
    )
    return InstrumentMaster([*master, unpriced]), unpriced.instrument_id


def test_price_tiers_when_no_live_quote_then_stored_then_request(
    master: InstrumentMaster, database: str
) -> None:
    extended, unpriced = with_unpriced(master)
    config = e2e_config()

    async def main() -> None:
        async with (
            running_server(database, config, extended) as base,
            aiohttp.ClientSession() as session,
        ):
            user, account_id = await funded_user(session, base, "tiers@paperdesk.test", 100_000)
            status, body, _ = await user.call(
                "POST", "/api/trading/orders", order_body(account_id, instrumentId=unpriced)
            )
            assert (status, body["error"]["code"]) == (422, "PRICE_UNAVAILABLE")
            status, body, _ = await user.call(
                "POST",
                "/api/trading/orders",
                order_body(account_id, instrumentId=unpriced, orderType="LIMIT", price=200),
            )
            assert status == 200, body  # the request's own price valued it
            limit_id = body["order"]["id"]

        conn = await asyncpg.connect(database)
        try:
            source = await conn.fetchval(
                "SELECT payload->>'price_source' FROM events WHERE type = 'OrderAccepted'"
                " AND payload->>'order_id' = $1",
                limit_id,
            )
            assert source == "REQUEST"
            # A last traded price stored for it (as the market would have saved one earlier).
            await conn.execute(
                "UPDATE instruments SET last_ltp_paise = 21000, last_ltp_at = now() WHERE id = $1",
                unpriced,
            )
        finally:
            await conn.close()

        async with (
            running_server(database, config, extended) as base,
            aiohttp.ClientSession() as session,
        ):
            user, account_id = await funded_user(session, base, "tiers2@paperdesk.test", 100_000)
            status, body, _ = await user.call(
                "POST", "/api/trading/orders", order_body(account_id, instrumentId=unpriced)
            )
            assert status == 200, body  # the stored LTP now gives a quote
            market_id = body["order"]["id"]
            metrics = await scrape_metrics(session, base)
            assert 'paperdesk_price_resolutions_total{tier="STORED"}' in metrics
            assert 'paperdesk_price_resolutions_total{tier="REQUEST"}' not in metrics  # new process

        conn = await asyncpg.connect(database)
        try:
            source = await conn.fetchval(
                "SELECT details->>'price_source' FROM trading_logs WHERE message = 'order placed'"
                " AND details->>'order_id' = $1",
                market_id,
            )
            assert source == "STORED"
            stored = await conn.fetchval(
                "SELECT last_ltp_paise FROM instruments WHERE id = 'NSE_EQ|INE002A01018'"
            )
            assert stored is not None and stored > 0  # the market's LTPs were saved
        finally:
            await conn.close()

    asyncio.run(main())
