"""Minute candles of every instrument, recorded from the market's ticks into PostgreSQL, and
read back merged with the minute in progress (docs/ARCHITECTURE.md "Candles").

The market actor calls :meth:`CandleRecorder.on_tick` at every tick, on its own thread. The
fold (``engine.market.candles.MinuteFolder``) is a handful of numpy operations over the
columns; a completed minute is handed to the loop with ``call_soon_threadsafe``, as the
websocket hub hands off quotes, so the market thread never waits for anything. On the loop,
completed minutes queue until the next flush (every ``history.flush_interval_ms``), which
writes them in one statement; while the database is down they stay queued and the flush
retries, up to ``history.buffer_candles_max`` candles, beyond which the oldest minutes are
dropped with a warning. A stop flushes what is queued and the minute in progress.

With the simulated market, the first start (no candle or seed stored) also records each
instrument's price at the first tick as the seed of its history (``engine.market.history``),
generated and stored the first time the instrument is read. Live quotes are recorded only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable

import numpy as np
from aiohttp import web

from engine.actors.trading_engine import TradingEngine
from engine.config import HistoryConfig
from engine.domain.calendar import minute_of_day
from engine.domain.instruments import Instrument
from engine.domain.sessions import SessionGroup, group_of
from engine.market.candles import (
    INTERVAL_MINUTES,
    MS_PER_MINUTE,
    Candle,
    MinuteBlock,
    MinuteFolder,
    bucket_start,
    derive,
    merge,
)
from engine.market.history import HistoryModel, Seed
from engine.market.market_data import MarketSnapshot
from gateway.database import Database
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
from persistence.pool import Pool

logger = logging.getLogger(__name__)

MS_PER_DAY = 86_400_000


class CandleRecorder:
    """Records the market's minutes and answers candle reads (``gateway.keys.CANDLES``)."""

    def __init__(self, engine: TradingEngine, config: HistoryConfig) -> None:
        self.engine = engine
        self.config = config
        self.folder = MinuteFolder()
        self.pending: deque[MinuteBlock] = deque()  # completed, not yet written (the loop's)
        self.dropped_candles = 0
        self.in_flight: list[MinuteBlock] = []  # being written (the loop's)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._want_seeds = False
        # A first start's seeds are not stored yet: no instrument's history is settled before.
        self._seeds_due = False
        self._seeds: list[Seed] = []
        # The first minute this process recorded: a server stopped within it may have stored
        # part of it, which a read merges rather than replaces.
        self.first_minute_ms: int | None = None
        simulated = engine.config.market.source == "simulated" and config.seed_days > 0
        market, sessions = engine.config.market, engine.config.sessions
        self.history = (
            HistoryModel(market, sessions, engine.master, config.seed_days) if simulated else None
        )
        self._history_settled: set[str] = set()  # instruments with no history left to generate
        self.offset_minutes = sessions.timezone_offset_minutes
        self._opens = {
            SessionGroup.EQUITY: minute_of_day(sessions.equity_open),
            SessionGroup.DERIVATIVES: minute_of_day(sessions.equity_open),
            SessionGroup.COMMODITIES: minute_of_day(sessions.mcx_open),
        }

    # -- the market thread ------------------------------------------------------------------

    def on_tick(self, snapshot: MarketSnapshot) -> None:
        """Fold one tick (the market actor's thread: its day volumes are consistent here)."""
        completed = self.folder.fold(snapshot.at_ms, snapshot.ltp, self.engine.market.volume)
        if self.first_minute_ms is None and self.folder.current is not None:
            self.first_minute_ms = self.folder.current.minute_ms
        loop = self._loop
        if loop is None:
            return
        if self._want_seeds:
            self._want_seeds = False
            loop.call_soon_threadsafe(self._seeds.extend, self._seeds_of(snapshot))
        if completed is not None:
            loop.call_soon_threadsafe(self._queue, completed)

    def _seeds_of(self, snapshot: MarketSnapshot) -> list[Seed]:
        """Every priced instrument's seed: this minute, its price and (options) its IV."""
        minute_ms = snapshot.at_ms - snapshot.at_ms % MS_PER_MINUTE
        iv = snapshot.options.iv if snapshot.options is not None else None
        master = self.engine.master
        seeds = []
        for index in np.flatnonzero(snapshot.ltp > 0):
            volatility = float(iv[index]) if iv is not None and index < len(iv) else np.nan
            seeds.append(
                Seed(
                    master.at(int(index)).instrument_id,
                    minute_ms,
                    int(snapshot.ltp[index]),
                    None if np.isnan(volatility) else volatility,
                )
            )
        return seeds

    # -- the loop ---------------------------------------------------------------------------

    def _queue(self, block: MinuteBlock) -> None:
        self.pending.append(block)
        queued = sum(len(b) for b in self.pending)
        while queued > self.config.buffer_candles_max and len(self.pending) > 1:
            dropped = self.pending.popleft()
            queued -= len(dropped)
            self.dropped_candles += len(dropped)
            logger.warning(
                "candle buffer full (%d candles): dropped the minute of %d unwritten",
                self.config.buffer_candles_max,
                dropped.minute_ms,
            )

    def _rows(self, blocks: list[MinuteBlock]) -> list[tuple[str, Candle]]:
        master = self.engine.master
        return [
            (master.at(index).instrument_id, candle)
            for block in blocks
            for index, candle in block.rows()
        ]

    async def store_seeds(self, pool: Pool) -> None:
        """Write the queued seeds (idempotent: a seed already stored is kept)."""
        if self._seeds:
            seeds = self._seeds[:]
            await write_seeds(pool, seeds)
            del self._seeds[: len(seeds)]
            self._seeds_due = False
            logger.info("stored the seeds of %d instruments' history", len(seeds))

    async def flush(self, pool: Pool) -> int:
        """Write the queued seeds and completed minutes; what fails stays queued."""
        written = 0
        await self.store_seeds(pool)
        if self.pending and not self.in_flight:
            self.in_flight = list(self.pending)
            self.pending.clear()
            try:
                written = await write_candles(pool, self._rows(self.in_flight))
            except BaseException:
                self.pending.extendleft(reversed(self.in_flight))
                raise
            finally:
                self.in_flight = []
        return written

    async def _run(self, pool: Pool) -> None:
        interval_s = self.config.flush_interval_ms / 1000
        loop = asyncio.get_running_loop()
        next_purge = loop.time()
        failing = False
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.flush(pool)
                if loop.time() >= next_purge:
                    await self.purge(pool)
                    next_purge = loop.time() + self.config.purge_interval_s
                if failing:
                    logger.info("candles are being written again")
                failing = False
            except Exception:  # the database may be down: what is queued waits for the next
                if not failing:
                    logger.warning("writing candles failed; retrying", exc_info=True)
                failing = True

    async def purge(self, pool: Pool) -> int:
        """Delete minutes past ``history.retention_days``."""
        now = self.engine.clock.now_ms()
        purged = await purge_candles(pool, now - self.config.retention_days * MS_PER_DAY)
        if purged:
            logger.info("purged %d candles past retention", purged)
        return purged

    def lifecycle(self, database: Database) -> Callable[[web.Application], AsyncIterator[None]]:
        """The recorder's ``cleanup_ctx`` entry, before the engine's: it is listening at the
        first tick (the seeds are that tick's prices), and flushes after the last."""

        async def run(_: web.Application) -> AsyncIterator[None]:
            self._loop = asyncio.get_running_loop()
            if self.history is not None and await candles_empty(database.pool):
                self._want_seeds = self._seeds_due = True
            self.engine.tick_listeners.append(self.on_tick)
            task = asyncio.create_task(self._run(database.pool))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.engine.tick_listeners.remove(self.on_tick)
            current = self.folder.current
            if current is not None and len(current):
                self.pending.append(current)
            try:
                await self.flush(database.pool)
            except Exception:
                logger.warning(
                    "the last %d minutes of candles were not written",
                    len(self.pending),
                    exc_info=True,
                )

        return run

    # -- reads ------------------------------------------------------------------------------

    def session_open(self, instrument: Instrument) -> int:
        """The IST minute of day its candles are aligned to (its session's open)."""
        return self._opens[group_of(instrument)]

    async def candles(
        self, pool: Pool, instrument_id: str, interval: str, start_ms: int, end_ms: int
    ) -> list[Candle]:
        """``interval`` candles of an instrument whose buckets start in [the start of the
        bucket holding ``start_ms``, ``end_ms``), oldest first: stored minutes (its seeded
        history generated first if it is due), the minutes not yet written and the minute in
        progress. Empty for an unknown instrument."""
        if interval not in INTERVAL_MINUTES:
            raise ValueError(f"unknown interval {interval!r}")
        instrument = self.engine.master.get(instrument_id)
        if instrument is None:
            return []
        instrument_id = instrument.instrument_id
        session_open = self.session_open(instrument)
        start_ms = bucket_start(start_ms, interval, session_open, self.offset_minutes)
        if self.history is not None and instrument_id not in self._history_settled:
            await self._ensure_history(pool, instrument)
        stored = await read_candles(pool, instrument_id, start_ms, end_ms)
        minutes = {c.at_ms: c for c in stored}
        index = self.engine.master.index_of(instrument_id)
        assert index is not None
        current = self.folder.current
        blocks = [*self.in_flight, *self.pending, *([current] if current is not None else [])]
        for block in blocks:
            candle = block.candle(index)
            if candle is None or not start_ms <= candle.at_ms < end_ms:
                continue
            earlier = minutes.get(candle.at_ms)
            if earlier is not None and candle.at_ms == self.first_minute_ms:
                candle = merge(earlier, candle)  # a server stopped within it stored a part
            minutes[candle.at_ms] = candle
        ordered = [minutes[at] for at in sorted(minutes)]
        return derive(ordered, interval, session_open, self.offset_minutes)

    async def _ensure_history(self, pool: Pool, instrument: Instrument) -> None:
        """Generate and store ``instrument``'s seeded history if it is due (once)."""
        assert self.history is not None
        await self.store_seeds(pool)  # a first read may come before the first flush
        if self._seeds_due:
            return  # before the first tick, whose prices seed the history: ask again later
        instrument_id = instrument.instrument_id
        seed = await pending_seed(pool, instrument_id)
        if seed is None:
            self._history_settled.add(instrument_id)
            return
        history = self.history
        seeds = await read_seeds(pool, [instrument_id, *history.dependencies(instrument)])
        loop = asyncio.get_running_loop()
        candles = await loop.run_in_executor(None, history.generate, instrument, seeds)
        async with pool.acquire() as conn:
            stored = await store_history(conn, instrument_id, candles)
        if stored:
            logger.info("stored %d minutes of %s's seeded history", len(candles), instrument_id)
        self._history_settled.add(instrument_id)
