"""Columnar market state: one row per instrument, snapshots swapped atomically each tick.

The market actor is the only writer. Readers (account actors on other threads) take
``MarketData.snapshot`` once and read from it; a snapshot is never modified after it is
published, so a quote is always internally consistent.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from engine.config import MarketConfig
from engine.domain.calendar import ExchangeCalendar
from engine.domain.enums import Exchange, InstrumentType, PriceSource
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.parameters import CircuitConfig
from engine.domain.quote import DepthLevel, Quote
from engine.domain.rules import circuit_band
from engine.market import kernels_reference
from engine.market.market_layout import NO_INDEX
from engine.market.option_chain import OptionChains

Int64Array = npt.NDArray[np.int64]


def spread_kind(instrument: Instrument) -> str:
    if instrument.is_option:
        return "options"
    if instrument.is_future:
        return "futures"
    return "equity"


Float64Array = npt.NDArray[np.float64]


class OptionMarks:
    """What the option model said at one tick, one entry per instrument (NaN where it priced
    nothing): the forward each option was priced on (paise), its implied volatility
    (annualised fraction) and Black-76 greeks on the forward (delta, gamma per paise, theta in
    paise per calendar day, vega in paise per volatility point)."""

    __slots__ = ("delta", "forward", "gamma", "iv", "theta_day", "vega_point")

    def __init__(self, n: int) -> None:
        self.forward = np.full(n, np.nan)
        self.iv = np.full(n, np.nan)
        self.delta = np.full(n, np.nan)
        self.gamma = np.full(n, np.nan)
        self.theta_day = np.full(n, np.nan)
        self.vega_point = np.full(n, np.nan)


class MarketSnapshot:
    """Prices of every instrument at one tick (read-only once published)."""

    __slots__ = ("ask", "at_ms", "bid", "high", "low", "ltp", "options", "seq")

    def __init__(
        self,
        *,
        seq: int,
        at_ms: int,
        ltp: Int64Array,
        bid: Int64Array,
        ask: Int64Array,
        low: Int64Array,
        high: Int64Array,
        options: OptionMarks | None = None,
    ) -> None:
        self.seq = seq
        self.at_ms = at_ms
        self.ltp = ltp
        self.bid = bid
        self.ask = ask
        self.low = low
        self.high = high
        self.options = options

    def quote(self, index: int) -> Quote | None:
        """The quote of one instrument, or ``None`` if it has no price yet (or was listed after
        this snapshot)."""
        if index >= len(self.ltp):
            return None
        ltp = int(self.ltp[index])
        if ltp <= 0:
            return None
        return Quote(
            ltp_paise=ltp,
            bid_paise=int(self.bid[index]),
            ask_paise=int(self.ask[index]),
            circuit_low_paise=int(self.low[index]),
            circuit_high_paise=int(self.high[index]),
            timestamp_ms=self.at_ms,
        )


class MarketData:
    """Static per-instrument columns plus the current snapshot."""

    def __init__(
        self,
        master: InstrumentMaster,
        market: MarketConfig,
        circuits: CircuitConfig,
        slippage_cap_ticks: int,
        calendar: ExchangeCalendar,
    ) -> None:
        self.master = master
        self.market_config = market
        self.circuits = circuits
        self.slippage_cap_ticks = slippage_cap_ticks
        self.calendar = calendar
        n = len(master)
        self.tick = np.array([i.tick_paise for i in master], dtype=np.int64)
        self.spread_ppm = np.array(
            [market.spread_ppm[spread_kind(i)][i.liquidity] for i in master], dtype=np.int64
        )
        self.reference = np.array([i.reference_price_paise for i in master], dtype=np.int64)
        self.previous_close = self.reference.copy()
        # The trade day whose start ``previous_close`` was rolled for (0: not rolled since
        # start): from then on it holds the closes of the trade day before it.
        self.closed_day = 0
        bands = [circuit_band(circuits, i, i.reference_price_paise) for i in master]
        self.circuit_low = np.array([b[0] for b in bands], dtype=np.int64).reshape(n)
        self.circuit_high = np.array([b[1] for b in bands], dtype=np.int64).reshape(n)
        self.impact_ticks = [market.impact_ticks[i.liquidity] for i in master]
        self.typical_quantity = [market.typical_quantity[i.liquidity] for i in master]
        # Each underlying's spot, futures and option chains (built once; the gateway's too).
        self.chains = OptionChains(master, calendar)
        # Where each reference came from: the quote source (LIVE) or the stored last LTP.
        self.price_source: list[PriceSource | None] = [None] * n
        self.resolutions: Counter[PriceSource] = Counter()
        self._resolutions_lock = threading.Lock()
        # Session statistics, written by the market actor only.
        self.day_open = np.zeros(n, dtype=np.int64)
        self.day_high = np.zeros(n, dtype=np.int64)
        self.day_low = np.zeros(n, dtype=np.int64)
        self.volume = np.zeros(n, dtype=np.int64)
        # The feed's depth, (bids, asks) best first, where a live feed sent one (written by the
        # market actor at each reference refresh; ``engine.market.depth`` shows it).
        self.live_depth: dict[int, tuple[tuple[DepthLevel, ...], tuple[DepthLevel, ...]]] = {}
        empty = np.zeros(n, dtype=np.int64)
        self.snapshot = MarketSnapshot(
            seq=0,
            at_ms=0,
            ltp=empty,
            bid=empty,
            ask=empty,
            low=self.circuit_low,
            high=self.circuit_high,
        )

    def quote(self, index: int) -> Quote | None:
        return self.snapshot.quote(index)

    def list_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Add newly listed ``instruments`` to the master, the columns and the chains (the
        market actor's, between ticks)."""
        self._add_rows(instruments)
        for instrument in instruments:
            self.master.add(instrument)
        self.chains = OptionChains(self.master, self.calendar)

    def _add_rows(self, instruments: Sequence[Instrument]) -> None:
        """Give ``instruments`` their rows (unpriced) and publish the current snapshot padded
        to match, before the master hands out their indices: whatever index a reader gets
        from the master then has a row in every column and snapshot it reads next. Every
        column is a new array, so a reader holding an older one keeps its own length."""
        market, circuits, added = self.market_config, self.circuits, len(instruments)

        def grown(column: Int64Array, values: Iterable[int]) -> Int64Array:
            return np.concatenate([column, np.fromiter(values, dtype=np.int64, count=added)])

        def padded(column: Float64Array) -> Float64Array:
            return np.concatenate([column, np.full(added, np.nan)])

        bands = [circuit_band(circuits, i, i.reference_price_paise) for i in instruments]
        self.tick = grown(self.tick, (i.tick_paise for i in instruments))
        self.spread_ppm = grown(
            self.spread_ppm, (market.spread_ppm[spread_kind(i)][i.liquidity] for i in instruments)
        )
        self.reference = grown(self.reference, (i.reference_price_paise for i in instruments))
        self.previous_close = grown(
            self.previous_close, (i.reference_price_paise for i in instruments)
        )
        self.circuit_low = grown(self.circuit_low, (band[0] for band in bands))
        self.circuit_high = grown(self.circuit_high, (band[1] for band in bands))
        self.impact_ticks = [
            *self.impact_ticks,
            *(market.impact_ticks[i.liquidity] for i in instruments),
        ]
        self.typical_quantity = [
            *self.typical_quantity,
            *(market.typical_quantity[i.liquidity] for i in instruments),
        ]
        self.price_source = [*self.price_source, *([None] * added)]
        zeros = [0] * added
        self.day_open = grown(self.day_open, zeros)
        self.day_high = grown(self.day_high, zeros)
        self.day_low = grown(self.day_low, zeros)
        self.volume = grown(self.volume, zeros)
        previous = self.snapshot
        options = None
        if previous.options is not None:
            options = OptionMarks(0)
            for name in OptionMarks.__slots__:
                setattr(options, name, padded(getattr(previous.options, name)))
        self.snapshot = MarketSnapshot(
            seq=previous.seq,
            at_ms=previous.at_ms,
            ltp=grown(previous.ltp, zeros),
            bid=grown(previous.bid, zeros),
            ask=grown(previous.ask, zeros),
            low=self.circuit_low,
            high=self.circuit_high,
            options=options,
        )

    def execution_price(self, index: int, side_sign: int, quantity: int) -> int:
        """Where a market order of ``quantity`` fills now: bid/ask plus square-root slippage.

        Returns 0 when the instrument has no price yet. One order's arithmetic uses the
        plain-Python twins of the kernels: a numba call costs more to dispatch than this math,
        and the tests hold both to the same paise.
        """
        snapshot = self.snapshot
        if snapshot.ltp[index] <= 0:
            return 0
        slip = kernels_reference.slippage_ticks(
            quantity,
            self.typical_quantity[index],
            self.impact_ticks[index],
            self.slippage_cap_ticks,
        )
        return int(
            kernels_reference.fill_price(
                side_sign,
                int(snapshot.bid[index]),
                int(snapshot.ask[index]),
                int(self.tick[index]),
                slip,
            )
        )

    def count_resolution(self, source: PriceSource) -> None:
        """Record which tier priced something (read by metrics)."""
        with self._resolutions_lock:
            self.resolutions[source] += 1

    def roll_day(self, closes: Int64Array, day: int) -> None:
        """A new trade day (IST): each instrument's last price (``closes``; 0 keeps the old)
        becomes its previous close, the session's open, high, low and volume start over, and
        its circuit band is recomputed around the new previous close. The band columns are
        new arrays, so a snapshot taken before keeps the band it was taken with."""
        self.previous_close = np.where(closes > 0, closes, self.previous_close)
        self.closed_day = day
        bands = [
            circuit_band(self.circuits, instrument, int(close))
            for instrument, close in zip(self.master, self.previous_close, strict=True)
        ]
        self.circuit_low = np.array([band[0] for band in bands], dtype=np.int64)
        self.circuit_high = np.array([band[1] for band in bands], dtype=np.int64)
        n = len(self.master)
        self.day_open = np.zeros(n, dtype=np.int64)
        self.day_high = np.zeros(n, dtype=np.int64)
        self.day_low = np.zeros(n, dtype=np.int64)
        self.volume = np.zeros(n, dtype=np.int64)

    def seed_stored_prices(self, prices: dict[int, int]) -> int:
        """Use stored last LTPs for instruments that have no reference yet; return how many."""
        seeded = 0
        for index, price in prices.items():
            if price > 0 and self.reference[index] <= 0:
                self.reference[index] = price
                self.price_source[index] = PriceSource.STORED
                seeded += 1
        return seeded

    def underlying_price(self, instrument: Instrument) -> int:
        """The LTP of a derivative's underlying: its nearest future not yet expired, else its
        spot (0 when neither is known); what portfolio margin values notionals at
        (``engine.market.margin_inputs``)."""
        snapshot = self.snapshot
        underlying = self.chains.get(instrument.underlying)
        if underlying is None:
            return 0
        for future in underlying.futures:
            if future.expiry_ms > snapshot.at_ms:
                return int(snapshot.ltp[future.index])
        return 0 if underlying.spot == NO_INDEX else int(snapshot.ltp[underlying.spot])


def settlement_value(data: MarketData, instrument: Instrument) -> int | None:
    """What an expiring contract settles at a unit, from the latest prices (the LTP, or the
    reference before the first tick): a future at its underlying's spot (its own price where no
    spot is listed), an option at its intrinsic value against the spot (an MCX option, or one
    without a listed spot, against the future it is written on); None when nothing is priced."""
    underlying = data.chains.get(instrument.underlying)
    priced_by = NO_INDEX if underlying is None else underlying.spot
    on_future = priced_by == NO_INDEX or instrument.exchange is Exchange.MCX
    if underlying is not None and on_future and instrument.is_option:
        expiry = instrument.expiry
        later = [f.index for f in underlying.futures if expiry is not None and f.expiry >= expiry]
        priced_by = later[0] if later else NO_INDEX
    if priced_by == NO_INDEX:
        own = data.master.index_of(instrument.instrument_id)
        if own is None:
            return None
        priced_by = own
    price = int(data.snapshot.ltp[priced_by]) or int(data.reference[priced_by])
    if price <= 0:
        return None
    if not instrument.is_option:
        return price
    strike = instrument.strike_paise
    return max(
        price - strike if instrument.instrument_type is InstrumentType.CE else strike - price, 0
    )


class QuoteSource(Protocol):
    def refresh(self, data: MarketData, now_ms: int) -> None:
        """Move ``data.reference`` to the source's latest prices."""
        ...
