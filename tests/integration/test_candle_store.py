"""The candle store on a real PostgreSQL (persistence/candle_store.py, migration 0016): batched
writes merged into a minute already stored, range reads, the retention purge, and the seeded
history stored once per instrument however often it is asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from engine.market.candles import Candle
from engine.market.history import Seed
from persistence.candle_store import (
    candles_empty,
    pending_seed,
    purge_candles,
    read_candles,
    read_seeds,
    store_history,
    write_candles,
    write_seeds,
)
from tests.integration.conftest import run

T0 = 1_795_500_000_000 - 1_795_500_000_000 % 60_000
MINUTE = 60_000
RELIANCE = "NSE_EQ|INE002A01018"


@asynccontextmanager
async def pool_of(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


def test_write_then_read_range_returns_minutes_in_order_within_bounds(database: str) -> None:
    async def main() -> None:
        async with pool_of(database) as pool:
            assert await candles_empty(pool)
            rows = [
                (RELIANCE, Candle(T0 + k * MINUTE, 100 + k, 110 + k, 90 + k, 105 + k, k))
                for k in range(10)
            ]
            rows.append(("NSE_EQ|OTHER", Candle(T0, 1, 1, 1, 1)))
            assert await write_candles(pool, rows) == 11
            read = await read_candles(pool, RELIANCE, T0 + 2 * MINUTE, T0 + 5 * MINUTE)
            assert read == [c for _, c in rows[2:5]]
            assert not await candles_empty(pool)

    run(main())


def test_write_when_minute_already_stored_then_merged_first_open_extremes_last_close(
    database: str,
) -> None:
    async def main() -> None:
        async with pool_of(database) as pool:
            await write_candles(pool, [(RELIANCE, Candle(T0, 100, 120, 95, 110, 3))])
            await write_candles(pool, [(RELIANCE, Candle(T0, 111, 115, 90, 112, 2))])
            [merged] = await read_candles(pool, RELIANCE, T0, T0 + MINUTE)
            assert merged == Candle(T0, 100, 120, 90, 112, 5)

    run(main())


def test_purge_deletes_only_minutes_before_the_cutoff(database: str) -> None:
    async def main() -> None:
        async with pool_of(database) as pool:
            rows = [(RELIANCE, Candle(T0 + k * MINUTE, 100, 100, 100, 100)) for k in range(5)]
            await write_candles(pool, rows)
            assert await purge_candles(pool, T0 + 3 * MINUTE) == 3
            left = await read_candles(pool, RELIANCE, 0, T0 + 10 * MINUTE)
            assert [c.at_ms for c in left] == [T0 + 3 * MINUTE, T0 + 4 * MINUTE]

    run(main())


def test_store_history_when_asked_twice_then_written_once(database: str) -> None:
    async def main() -> None:
        async with pool_of(database) as pool:
            seed = Seed(RELIANCE, T0, 250_000, None)
            await write_seeds(pool, [seed, Seed("NSE_FO|1", T0, 500, 0.14)])
            await write_seeds(pool, [Seed(RELIANCE, T0, 1, None)])  # a second start: kept
            assert await pending_seed(pool, RELIANCE) == seed
            seeds = await read_seeds(pool, [RELIANCE, "NSE_FO|1", "NSE_EQ|NONE"])
            assert seeds["NSE_FO|1"].iv == 0.14 and len(seeds) == 2
            history = [
                Candle(T0 - (3 - k) * MINUTE, 249_000, 251_000, 248_000, 250_000) for k in range(3)
            ]
            async with pool.acquire() as conn:
                assert await store_history(conn, RELIANCE, history)
                assert not await store_history(conn, RELIANCE, history)  # already stored
                assert not await store_history(conn, "NSE_EQ|NONE", history)  # no seed
            assert await pending_seed(pool, RELIANCE) is None
            assert await read_candles(pool, RELIANCE, 0, T0) == history

    run(main())
