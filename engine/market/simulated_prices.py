"""The simulated price process of the driven instruments (docs/DOMAIN.md §5).

Each driven instrument (index spots, stocks, contracts with nothing to price them from; see
``engine.market.market_layout``) follows ``d log S = (μ − σ²/2) dt + σ dW`` in trading time,
with ``σ`` its class's annualised volatility and ``μ`` the configured drift (0 by default, so
the expected price never moves). A year of volatility is spread over ``sessions_per_year ×
session_hours`` of clock time.

Shocks are tied by a one-factor model: an instrument with a factor (a stock's index) draws
``ρ × its factor's shock + √(1 − ρ²) × its own``, so its volatility stays its own and its
correlation with the factor is ``ρ``.

References and the 250 ms path are one process. Each refresh (every
``reference_interval_ms``) draws the process at the *next* refresh time; each market tick in
between samples the Brownian bridge from where the path is now to that next reference, so the
path lands on every reference exactly and, sampled at any rate, has the process's own
volatility: no noise is added on top. ``jitter_intensity_pct`` bounds one tick's move (at the
configured volatilities it never binds; 0 means no bound). An intraday profile
(``[market.volatility.intraday]``) scales σ by the IST time of each reference interval.

The process is kept exactly in floating point; what is published is its rounding to the tick,
up with probability equal to the fraction of a tick, so rounding adds no drift and no error
accumulates. A reference someone else wrote (a stored last price at start) restarts the
process there. The same seed gives the same walk.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from engine.config import VolatilityConfig
from engine.market.market_layout import NO_INDEX, DrivenLayout

Float64Array = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def round_to_ticks(price_paise: np.ndarray, tick: Int64Array, uniforms: np.ndarray) -> Int64Array:
    """Each price on its tick grid, a tick up with probability equal to its fraction of a tick
    (``uniforms`` in [0, 1)): the expected result is the price itself."""
    rounded: Int64Array = np.floor(price_paise / tick + uniforms).astype(np.int64) * tick
    return rounded


class DrivenProcess:
    """The log prices of the driven instruments: the next reference and the bridge to it."""

    def __init__(
        self,
        layout: DrivenLayout,
        config: VolatilityConfig,
        rng: np.random.Generator,
        step_bound: float,
        offset_minutes: int,
    ) -> None:
        self.rng = rng
        self.config = config
        self.offset_minutes = offset_minutes
        self.factor = layout.factor
        self.correlation = layout.correlation
        self._levels = _factor_levels(layout.factor)
        self._own_weight = np.sqrt(1 - layout.correlation**2)
        year_ms = config.trading_year_ms
        self.base_sigma = layout.volatility / math.sqrt(year_ms)  # per √ms
        self.mean_drift = config.drift / year_ms
        self.sigma = self.base_sigma  # this interval's: the base times the intraday multiplier
        self.drift = self.mean_drift - self.sigma**2 / 2  # of the log, per ms
        self.step_bound = math.log1p(step_bound) if step_bound > 0 else math.inf
        n = len(layout.index)
        self.live: BoolArray = np.zeros(n, dtype=np.bool_)
        self.path = np.zeros(n, dtype=np.float64)  # log price at path_ms
        self.target = np.zeros(n, dtype=np.float64)  # log price at target_ms
        self.path_ms = 0
        self.target_ms = 0
        self.last_shock = np.zeros(n, dtype=np.float64)  # the latest step, standardised

    def shocks(self) -> Float64Array:
        """Standard normal shocks, each correlated with its factor's by the factor model."""
        shocks = self.rng.standard_normal(len(self.path))
        for positions in self._levels:
            factor = self.factor[positions]
            shocks[positions] = (
                self.correlation[positions] * shocks[factor]
                + self._own_weight[positions] * shocks[positions]
            )
        return shocks

    def restart(self, positions: Int64Array, prices_paise: Int64Array) -> None:
        """Restart the process of ``positions`` at ``prices_paise`` (now and at the target)."""
        log_price = np.log(prices_paise.astype(np.float64))
        self.path[positions] = log_price
        self.target[positions] = log_price
        self.live[positions] = True

    def refresh(self, now_ms: int, next_ms: int) -> None:
        """Bring the path to ``now_ms`` and draw the next reference, at ``next_ms``."""
        if self.path_ms == 0:
            self.path_ms = self.target_ms = now_ms  # the first refresh starts the clock
        self.sample(now_ms)
        minute_of_day = (now_ms // 60_000 + self.offset_minutes) % (24 * 60)
        self.sigma = self.base_sigma * self.config.intraday_multiplier(minute_of_day)
        self.drift = self.mean_drift - self.sigma**2 / 2
        horizon = max(next_ms - now_ms, 0)
        self.target = (
            self.path + self.drift * horizon + self.sigma * math.sqrt(horizon) * (self.shocks())
        )
        self.target_ms = next_ms

    def sample(self, now_ms: int) -> Float64Array:
        """The path at ``now_ms``: the bridge toward the next reference, or (past it) the
        process run on from it. Returns the log prices (meaningful where ``live``)."""
        elapsed = now_ms - self.path_ms
        if elapsed <= 0:
            return self.path
        if now_ms < self.target_ms:
            remaining = self.target_ms - self.path_ms
            weight = elapsed / remaining
            spread = self.sigma * math.sqrt(elapsed * (self.target_ms - now_ms) / remaining)
            moved = self.path + weight * (self.target - self.path) + spread * self.shocks()
        else:
            beyond = now_ms - self.target_ms
            moved = (
                self.target + self.drift * beyond + self.sigma * math.sqrt(beyond) * (self.shocks())
            )
        step = np.clip(moved - self.path, -self.step_bound, self.step_bound)
        with np.errstate(divide="ignore", invalid="ignore"):
            shock = step / (self.sigma * math.sqrt(elapsed))
        self.last_shock = np.nan_to_num(shock, nan=0.0, posinf=0.0, neginf=0.0)
        self.path = np.where(self.live, self.path + step, self.path)
        self.path_ms = now_ms
        return self.path


def _factor_levels(factor: Int64Array) -> list[Int64Array]:
    """Positions grouped by depth below a root (depth 1 first); the layout orders factors
    before their followers, so one pass over the levels correlates everything."""
    depth = np.zeros(len(factor), dtype=np.int64)
    for position, parent in enumerate(factor):
        if parent != NO_INDEX:
            depth[position] = depth[parent] + 1
    return [np.flatnonzero(depth == level) for level in range(1, int(depth.max(initial=0)) + 1)]
