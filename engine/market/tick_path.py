"""What a market tick publishes: every instrument's price, bid and ask (and, where an option
model priced them, its marks), from one of two paths.

* The simulation (``engine.market.simulated_market``) computes every tick itself: the driven
  process sampled at the tick, futures by carry, options by Black-76.
* A feed's path (:class:`ConvergingPath`, for live Vortex quotes and scripted test prices) moves
  each price toward the feed's latest reference by ``jitter_convergence`` of the gap per tick
  (``kernels.converge_all``: no noise of its own, at least a tick while there is a gap), so a
  polled quote is reached within a few ticks and nothing moves that the feed did not move.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np

from engine.config import MarketConfig
from engine.market import kernels
from engine.market.market_data import Int64Array, MarketData, MarketSnapshot, OptionMarks


class TickPrices(NamedTuple):
    ltp: Int64Array
    bid: Int64Array
    ask: Int64Array
    options: OptionMarks | None


class TickPath(Protocol):
    def prices(self, data: MarketData, now_ms: int, previous: MarketSnapshot) -> TickPrices:
        """Every instrument's prices at ``now_ms`` (``previous`` is the last tick's)."""
        ...


class ConvergingPath:
    """Prices that converge on the quote source's references, one tick at a time."""

    def __init__(self, config: MarketConfig) -> None:
        self.convergence_ppm = config.jitter_convergence_ppm

    def prices(self, data: MarketData, now_ms: int, previous: MarketSnapshot) -> TickPrices:
        n = len(data.reference)
        ltp = previous.ltp.copy()
        bid = np.empty(n, dtype=np.int64)
        ask = np.empty(n, dtype=np.int64)
        kernels.converge_all(
            ltp,
            data.reference,
            data.tick,
            data.spread_ppm,
            data.circuit_low,
            data.circuit_high,
            self.convergence_ppm,
            bid,
            ask,
        )
        return TickPrices(ltp, bid, ask, None)
