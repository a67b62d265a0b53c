"""The master and last traded prices survive restarts: the master is stored at start, with the
contracts the simulated exchange lists for the day; each contract it lists later is stored
before it can be traded (or, should the database have been down then, with the next periodic
save that succeeds); stored prices seed instruments that have no reference yet; and the
market's LTPs are saved periodically."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from engine.domain.instruments import Instrument
from gateway.keys import DB, ENGINE
from persistence.instrument_store import (
    load_last_prices,
    store_last_prices,
    stored_instrument_ids,
    upsert_instruments,
)

logger = logging.getLogger(__name__)


# How long the market actor waits for newly listed contracts to be stored before it lists them
# anyway (the database may be down: the periodic save stores them later); under the 10 s a
# tick may take when the engine starts.
LISTING_STORE_TIMEOUT_S = 5.0


class UnstoredListings:
    """Listed contracts whose store failed or timed out (the database was down); the periodic
    save stores them. Appended on the market actor's thread, stored on the loop's."""

    def __init__(self) -> None:
        self.instruments: list[Instrument] = []

    async def store(self, app: web.Application) -> None:
        batch = self.instruments[:]
        if not batch:
            return
        await _store_listing(app, batch)
        del self.instruments[: len(batch)]


async def save_prices(app: web.Application, unstored: UnstoredListings) -> None:
    await unstored.store(app)  # first: a stored price needs its instrument's row
    market = app[ENGINE].market
    snapshot = market.snapshot
    prices = {
        market.master.at(int(index)).instrument_id: int(snapshot.ltp[index])
        for index in snapshot.ltp.nonzero()[0]
    }
    if prices:
        async with app[DB].pool.acquire() as conn:
            await store_last_prices(conn, prices, snapshot.at_ms)


async def _save_periodically(
    app: web.Application, unstored: UnstoredListings, interval_s: float
) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await save_prices(app, unstored)
        except Exception:  # the database may be down; the next round tries again
            logger.warning("saving last traded prices failed", exc_info=True)


async def _store_listing(app: web.Application, instruments: Sequence[Instrument]) -> None:
    async with app[DB].pool.acquire() as conn:
        await upsert_instruments(conn, instruments)
    logger.info("stored %d newly listed contracts", len(instruments))


async def prices_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Runs after the database opens and before the engine starts ticking."""
    engine = app[ENGINE]
    async with app[DB].pool.acquire() as conn:
        # Only instruments the table lacks: an imported master was loaded from it already.
        stored_ids = await stored_instrument_ids(conn)
        await upsert_instruments(
            conn, (i for i in engine.master if i.instrument_id not in stored_ids)
        )
        stored = await load_last_prices(conn)
    by_index = {
        index: price
        for key, price in stored.items()
        if (index := engine.master.index_of(key)) is not None
    }
    seeded = engine.market.seed_stored_prices(by_index)
    logger.info("seeded %d instruments from stored last prices", seeded)
    if engine.lister is not None:
        # Today's contracts, stored before the engine starts and anything can trade them.
        await _store_listing(app, engine.list_contracts(engine.clock.now_ms()))
    unstored = UnstoredListings()
    loop = asyncio.get_running_loop()

    def on_listing(instruments: Sequence[Instrument]) -> None:
        # The market actor's thread, before the new contracts are in the master: it waits for
        # them to be stored on the server's loop (never the loop's own thread, which is not
        # waiting on a tick once the engine runs).
        stored = asyncio.run_coroutine_threadsafe(_store_listing(app, instruments), loop)
        try:
            stored.result(timeout=LISTING_STORE_TIMEOUT_S)
        except Exception:  # the database may be down: the periodic save stores them
            logger.warning("storing %d newly listed contracts failed", len(instruments))
            unstored.instruments.extend(instruments)

    engine.listing_listeners.append(on_listing)
    interval_s = engine.config.market.last_price_store_interval_ms / 1000
    task = asyncio.create_task(_save_periodically(app, unstored, interval_s))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):
        await save_prices(app, unstored)
