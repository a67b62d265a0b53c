"""A trade day's new contracts are stored before they can be traded: the real application on a
real PostgreSQL, its clock moved across a weekly expiry and the next day's first tick run while
another session holds the instruments table against writes; the periodic price save is made too
rare to store anything, so the rows found are the listing's."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta, timezone

import asyncpg
from aiohttp import web

from engine.actors.clock import FakeClock
from engine.domain.instruments import InstrumentMaster
from gateway.app import ADMIN_EMAIL_ENV, ADMIN_PASSWORD_ENV, create_app
from gateway.keys import ENGINE
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, e2e_config
from tests.integration.conftest import fetchval

IST = timezone(timedelta(hours=5, minutes=30))
NEXT_WEEKLY = "NIFTY27105%"  # the weekly of 5 Jan 2027, listed once 8 Dec's has expired
HOUR_MS = 3_600_000


def ms(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=IST).timestamp() * 1000)


def test_listing_when_a_new_trade_day_starts_then_its_contracts_stored_before_they_trade(
    database: str, master: InstrumentMaster
) -> None:
    clock = FakeClock(ms(2026, 12, 8, 15, 0))
    config = e2e_config(
        market={"universe": {"generate": True}, "last_price_store_interval_ms": 24 * HOUR_MS}
    )
    count = f"SELECT count(*) FROM instruments WHERE symbol LIKE '{NEXT_WEEKLY}'"

    async def main() -> None:
        os.environ[ADMIN_EMAIL_ENV] = ADMIN_EMAIL
        os.environ[ADMIN_PASSWORD_ENV] = ADMIN_PASSWORD
        app = create_app(config, master, dsn=database, ticking=False, clock=clock)
        runner = web.AppRunner(app)
        await runner.setup()  # the database, the day's listing stored, the engine started
        try:
            engine = app[ENGINE]
            assert await asyncio.to_thread(fetchval, database, count) == 0
            # Heard after the gateway's listener, on the market actor's thread, before the new
            # contracts are in the master: what the database holds then.
            stored_when_heard: list[int] = []
            engine.listing_listeners.append(
                lambda _: stored_when_heard.append(fetchval(database, count))
            )
            clock.advance(ms(2026, 12, 9, 9, 15) - clock.now_ms())
            # The first tick of 9 Dec lists the 5 Jan weekly, while another session holds the
            # table against writes for half a second: the listing waits for the store.
            holder = await asyncpg.connect(database)
            try:
                locked = holder.transaction()
                await locked.start()
                await holder.execute("LOCK TABLE instruments IN EXCLUSIVE MODE")
                tick = asyncio.create_task(asyncio.to_thread(engine.tick))
                await asyncio.sleep(0.5)
                await locked.commit()
                await tick
            finally:
                await holder.close()
            listed = [i for i in engine.master if i.symbol.startswith("NIFTY27105")]
            assert len(listed) == 2 * 31
            assert stored_when_heard == [len(listed)]
        finally:
            await runner.cleanup()
            os.environ.pop(ADMIN_EMAIL_ENV, None)
            os.environ.pop(ADMIN_PASSWORD_ENV, None)

    asyncio.run(main())
