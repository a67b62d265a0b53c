"""The simulated quote source: reference prices from a seeded log-normal process (docs/DOMAIN.md
§5).

Each instrument follows ``d log S = (μ − σ²/2) dt + σ dW`` in trading time, with ``σ`` its
class's annualised volatility (``[market.volatility]``: index, stocks by liquidity tier,
commodities, option premiums; one instrument's own over its class's) and ``μ`` the configured
drift (0 by default, so the expected price never moves: no paper profit or loss comes from the
simulation's bias). A year of volatility is spread over ``sessions_per_year × session_hours``
of clock time, and the process advances by the clock time since the last refresh, so a refresh
that comes late moves the price as much as the time that passed.

The process is kept exactly, in floating point; what is published is its rounding to the tick
grid, rounded up with probability equal to the fraction of a tick and down otherwise, so the
expected reference equals the price before rounding and no rounding error accumulates. The
circuit band clamps what is published, never the process. A reference someone else wrote (a
stored last price at start) restarts the process there. The same seed gives the same walk.
"""

from __future__ import annotations

import math

import numpy as np

from engine.config import VolatilityConfig
from engine.domain.enums import Exchange, InstrumentType, PriceSource
from engine.domain.instruments import Instrument, InstrumentMaster, UnderlyingKind
from engine.market.market_data import Int64Array, MarketData


def annual_volatility(config: VolatilityConfig, instrument: Instrument) -> float:
    """The annualised volatility ``instrument`` is simulated with."""
    own = config.instruments.get(instrument.instrument_id)
    if own is not None:
        return own
    if instrument.instrument_type in (InstrumentType.CE, InstrumentType.PE):
        return config.option
    if instrument.underlying_kind is UnderlyingKind.INDEX:
        return config.index
    if (
        instrument.underlying_kind is UnderlyingKind.COMMODITY
        or instrument.exchange is Exchange.MCX
    ):
        return config.commodity
    return config.stock[instrument.liquidity]


def round_to_ticks(price_paise: np.ndarray, tick: Int64Array, uniforms: np.ndarray) -> Int64Array:
    """Each price on its tick grid, a tick up with probability equal to its fraction of a tick
    (``uniforms`` in [0, 1)): the expected result is the price itself."""
    rounded: Int64Array = np.floor(price_paise / tick + uniforms).astype(np.int64) * tick
    return rounded


class SimulatedQuoteSource:
    """A seeded log-normal walk of every reference price, so the server is useful offline."""

    def __init__(self, seed: int, master: InstrumentMaster, config: VolatilityConfig) -> None:
        self._rng = np.random.default_rng(seed)
        year_ms = config.trading_year_ms
        volatility = np.array([annual_volatility(config, i) for i in master], dtype=np.float64)
        self._sigma_per_sqrt_ms = volatility / math.sqrt(year_ms)
        self._drift_per_ms = config.drift / year_ms
        self._log_price = np.zeros(len(master), dtype=np.float64)
        self._published = np.zeros(len(master), dtype=np.int64)
        self._last_ms: int | None = None

    def refresh(self, data: MarketData, now_ms: int) -> None:
        elapsed = 0 if self._last_ms is None else max(now_ms - self._last_ms, 0)
        self._last_ms = now_ms
        reference = data.reference
        live = reference > 0
        restarted = live & (reference != self._published)
        self._log_price[restarted] = np.log(reference[restarted].astype(np.float64))
        sigma = self._sigma_per_sqrt_ms * math.sqrt(elapsed)
        shocks = self._rng.standard_normal(len(reference))
        uniforms = self._rng.random(len(reference))
        self._log_price += (self._drift_per_ms * elapsed - sigma * sigma / 2) + sigma * shocks
        price = np.exp(self._log_price)
        published = round_to_ticks(price, data.tick, uniforms)
        low = np.maximum(data.circuit_low, data.tick)
        np.clip(published, low, data.circuit_high, out=published)
        reference[:] = np.where(live, published, reference)
        self._published[:] = reference
        for index in np.flatnonzero(live):
            # The walk is the live source for the master's prices; a stored LTP keeps its tier.
            if data.price_source[index] is None:
                data.price_source[index] = PriceSource.LIVE
