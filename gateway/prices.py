"""Last traded prices survive restarts: the master is stored at start, stored prices seed
instruments that have no reference yet, and the market's LTPs are saved periodically."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.keys import DB, ENGINE
from persistence.instrument_store import (
    load_last_prices,
    store_last_prices,
    stored_instrument_ids,
    upsert_instruments,
)

logger = logging.getLogger(__name__)


async def save_prices(app: web.Application) -> None:
    market = app[ENGINE].market
    snapshot = market.snapshot
    prices = {
        market.master.at(int(index)).instrument_id: int(snapshot.ltp[index])
        for index in snapshot.ltp.nonzero()[0]
    }
    if prices:
        async with app[DB].pool.acquire() as conn:
            await store_last_prices(conn, prices, snapshot.at_ms)


async def _save_periodically(app: web.Application, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await save_prices(app)
        except Exception:  # the database may be down; the next round tries again
            logger.warning("saving last traded prices failed", exc_info=True)


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
    interval_s = engine.config.market.last_price_store_interval_ms / 1000
    task = asyncio.create_task(_save_periodically(app, interval_s))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):
        await save_prices(app)
