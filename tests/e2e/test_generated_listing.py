"""A trade day's new contracts are stored before they can be traded: the real application on a
real PostgreSQL, its clock moved across a weekly expiry and the next day's first tick run while
another session holds the instruments table against writes. The listing waits for the store;
a database that does not answer in time delays it only that long, and the contracts are stored
once it does."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from aiohttp import web

from engine.actors.clock import FakeClock
from engine.domain.instruments import InstrumentMaster
from gateway import prices
from gateway.app import ADMIN_EMAIL_ENV, ADMIN_PASSWORD_ENV, create_app
from gateway.keys import ENGINE
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, e2e_config
from tests.integration.conftest import fetchval

IST = timezone(timedelta(hours=5, minutes=30))
NEXT_WEEKLY = "NIFTY27105%"  # the weekly of 5 Jan 2027, listed once 8 Dec's has expired
HOUR_MS = 3_600_000


def ms(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=IST).timestamp() * 1000)


def list_next_day_with_table_locked(
    database: str, master: InstrumentMaster, locked_s: float, save_interval_ms: int
) -> tuple[list[int], int, bool, int]:
    """Start the application on 8 Dec, then run 9 Dec's first tick while another session holds
    the instruments table against writes for ``locked_s``: what the database held when the
    listing was heard after the gateway's listener, how many contracts were listed, whether the
    tick finished while the table was still locked, and the rows stored a while after."""
    clock = FakeClock(ms(2026, 12, 8, 15, 0))
    config = e2e_config(
        market={"universe": {"generate": True}, "last_price_store_interval_ms": save_interval_ms}
    )
    count = f"SELECT count(*) FROM instruments WHERE symbol LIKE '{NEXT_WEEKLY}'"

    async def main() -> tuple[list[int], int, bool, int]:
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
            holder = await asyncpg.connect(database)
            try:
                locked = holder.transaction()
                await locked.start()
                await holder.execute("LOCK TABLE instruments IN EXCLUSIVE MODE")
                tick = asyncio.create_task(asyncio.to_thread(engine.tick))
                await asyncio.sleep(locked_s)
                done_while_locked = tick.done()
                await locked.commit()
                await tick
            finally:
                await holder.close()
            listed = sum(1 for i in engine.master if i.symbol.startswith("NIFTY27105"))
            await asyncio.sleep(1.0)  # a periodic save, where one is due
            stored = await asyncio.to_thread(fetchval, database, count)
            return stored_when_heard, listed, done_while_locked, stored
        finally:
            await runner.cleanup()
            os.environ.pop(ADMIN_EMAIL_ENV, None)
            os.environ.pop(ADMIN_PASSWORD_ENV, None)

    return asyncio.run(main())


def test_listing_when_a_new_trade_day_starts_then_its_contracts_stored_before_they_trade(
    database: str, master: InstrumentMaster
) -> None:
    # The periodic save is made too rare to store anything: the rows found are the listing's.
    heard, listed, done_while_locked, stored = list_next_day_with_table_locked(
        database, master, locked_s=0.5, save_interval_ms=24 * HOUR_MS
    )
    assert listed == 2 * 31  # the 5 Jan weekly, listed once 8 Dec's has expired
    assert not done_while_locked  # the listing waited for the store
    assert heard == [listed] and stored == listed


def test_listing_when_the_database_does_not_answer_then_listed_anyway_and_stored_later(
    database: str, master: InstrumentMaster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prices, "LISTING_STORE_TIMEOUT_S", 0.2)
    heard, listed, done_while_locked, stored = list_next_day_with_table_locked(
        database, master, locked_s=1.5, save_interval_ms=200
    )
    assert listed == 2 * 31
    assert done_while_locked  # it waited 0.2 s, then listed them
    assert heard == [0]
    assert stored == listed  # stored once the table was free
