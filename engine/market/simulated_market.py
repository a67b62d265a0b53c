"""The simulated market (the embedded default): every tick's prices from one model
(docs/DOMAIN.md §5).

At each market tick the driven instruments (index spots, stocks, commodities) are the price
process sampled at that instant (``engine.market.simulated_prices``); futures follow their spot
by cost of carry, ``F = S × e^(r T)``, converging to it at expiry; options are priced by
Black-76 on their forward with volatilities from their underlying's surface
(``engine.market.volatility_surface``), all of them with their greeks in one kernel call
(``engine.market.black76.price_chain``).

Published prices are on the tick grid: the driven ones and futures rounded without bias (up
with probability equal to the fraction of a tick), options to the nearest tick and never below
their discounted intrinsic value ``e^(−rT) × max(±(F − K), 0)`` (the least a European option is
worth) or one tick. Bid and ask come from the spread tables (``quote_around``); an option's
spread widens by ``far_otm_spread_widening`` per standard deviation of moneyness beyond the
first. Circuit bands clamp what is published, never the process.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.config import MarketConfig
from engine.domain.calendar import ExchangeCalendar
from engine.domain.enums import PriceSource
from engine.domain.instruments import InstrumentMaster
from engine.market import kernels
from engine.market.black76 import price_chain
from engine.market.market_data import MarketData, MarketSnapshot, OptionMarks
from engine.market.market_layout import (
    NO_INDEX,
    MarketLayout,
    carry_factor,
    years_between,
)
from engine.market.simulated_prices import DrivenProcess, round_to_ticks
from engine.market.tick_path import TickPrices
from engine.market.volatility_surface import VolatilitySurface

Float64Array = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]


class SimulatedMarket:
    """The quote source and tick path of the simulation (seeded: the same seed and clock give
    the same ticks)."""

    layout: MarketLayout
    process: DrivenProcess
    surface: VolatilitySurface

    def __init__(
        self,
        seed: int,
        master: InstrumentMaster,
        config: MarketConfig,
        calendar: ExchangeCalendar,
    ) -> None:
        self.config = config
        self.calendar = calendar
        self.rng = np.random.default_rng(seed)
        self.rate = config.options.rate
        self.widening = config.options.far_otm_spread_widening
        self.reference_interval_ms = config.reference_interval_ms
        self._sourced = np.zeros(0, dtype=np.bool_)  # instruments it has priced
        self._last_ms: int | None = None
        self._lay_out(MarketLayout.of(master, config.volatility, config.factor, calendar), master)

    def relist(self, master: InstrumentMaster, now_ms: int) -> None:
        """Lay the master out again (contracts listed since, those expired by ``now_ms``
        dropped); each driven price and surface level that stays keeps its state."""
        config = self.config
        layout = MarketLayout.of(
            master, config.volatility, config.factor, self.calendar, after_ms=now_ms
        )
        self._lay_out(layout, master)

    def _lay_out(self, layout: MarketLayout, master: InstrumentMaster) -> None:
        config, previous = self.config, getattr(self, "layout", None)
        self.layout = layout
        if previous is None or not np.array_equal(previous.driven.index, layout.driven.index):
            # A new driven set starts over (``refresh`` restarts each at its last price).
            self.process = DrivenProcess(
                layout.driven,
                config.volatility,
                self.rng,
                config.jitter_intensity_ppm / 1_000_000,
                self.calendar.offset_minutes,
            )
            self._published = np.zeros(len(layout.driven.index), dtype=np.int64)
        if previous is None or previous.underlyings != layout.underlyings:
            surface = VolatilitySurface(
                config.options.surface,
                layout.underlyings,
                layout.underlying_kinds,
                config.volatility.trading_year_ms,
                config.volatility.session_ms,
            )
            if previous is not None:
                surface.carry_over(self.surface)
            self.surface = surface
        # Which driven instrument's shocks move each surface's ATM level (its spot, or the
        # future its options are written on), as a position in the driven layout.
        driven_position = {int(index): p for p, index in enumerate(layout.driven.index)}
        self._surface_driver = np.array(
            [
                driven_position.get(_surface_driver(layout, s), NO_INDEX)
                for s in range(len(layout.underlyings))
            ],
            dtype=np.int64,
        )
        grown = np.zeros(len(master), dtype=np.bool_)
        grown[: len(self._sourced)] = self._sourced
        self._sourced = grown

    # -- QuoteSource ------------------------------------------------------------------------

    def refresh(self, data: MarketData, now_ms: int) -> None:
        """Draw the next reference of every driven instrument; a reference written by someone
        else since the last tick (a stored price at start) restarts its process there."""
        driven = self.layout.driven.index
        reference = data.reference[driven]
        restarted = np.flatnonzero((reference > 0) & (reference != self._published))
        if len(restarted):
            self.process.restart(restarted, reference[restarted])
        self.process.refresh(now_ms, now_ms + self.reference_interval_ms)

    # -- TickPath ---------------------------------------------------------------------------

    def prices(self, data: MarketData, now_ms: int, previous: MarketSnapshot) -> TickPrices:
        n = len(data.reference)
        ltp = previous.ltp.copy()
        exact = np.full(n, np.nan)  # the model's unrounded price of everything it priced
        self._price_driven(data, now_ms, ltp, exact)
        self._price_futures(data, now_ms, ltp, exact)
        marks = OptionMarks(n)
        spread_ppm = data.spread_ppm.copy()
        self._price_options(data, now_ms, ltp, exact, marks, spread_ppm)
        bid = np.empty(n, dtype=np.int64)
        ask = np.empty(n, dtype=np.int64)
        kernels.quote_all(ltp, data.tick, spread_ppm, bid, ask)
        priced = ~np.isnan(exact)
        data.reference[priced] = ltp[priced]
        self._published = data.reference[self.layout.driven.index].copy()
        for index in np.flatnonzero(priced & ~self._sourced):
            if data.price_source[index] is None:
                data.price_source[index] = PriceSource.LIVE
        self._sourced |= priced
        return TickPrices(ltp, bid, ask, marks if len(self.layout.options.index) else None)

    def _price_driven(
        self, data: MarketData, now_ms: int, ltp: Int64Array, exact: Float64Array
    ) -> None:
        process, driven = self.process, self.layout.driven.index
        log_price = process.sample(now_ms)
        elapsed = 0 if self._last_ms is None else now_ms - self._last_ms
        self._last_ms = now_ms
        shocks = np.where(self._surface_driver >= 0, process.last_shock[self._surface_driver], 0.0)
        self.surface.advance(
            elapsed, shocks, self.rng.standard_normal(len(self.layout.underlyings))
        )
        live = np.flatnonzero(process.live)
        if not len(live):
            return
        indices = driven[live]
        price = np.exp(log_price[live])
        exact[indices] = price
        published = round_to_ticks(price, data.tick[indices], self.rng.random(len(live)))
        ltp[indices] = _within_band(data, indices, published)

    def _price_futures(
        self, data: MarketData, now_ms: int, ltp: Int64Array, exact: Float64Array
    ) -> None:
        futures = self.layout.futures
        spot = exact[futures.spot]
        priced = ~np.isnan(spot)
        if not priced.any():
            return
        indices = futures.index[priced]
        years = years_between(now_ms, futures.expiry_ms[priced])
        price = spot[priced] * carry_factor(self.rate, years)
        exact[indices] = price
        published = round_to_ticks(price, data.tick[indices], self.rng.random(len(indices)))
        ltp[indices] = _within_band(data, indices, published)

    def _price_options(  # noqa: PLR0917
        self,
        data: MarketData,
        now_ms: int,
        ltp: Int64Array,
        exact: Float64Array,
        marks: OptionMarks,
        spread_ppm: Int64Array,
    ) -> None:
        options = self.layout.options
        years = years_between(now_ms, options.expiry_ms)
        from_spot = options.spot != NO_INDEX
        underlying = np.where(
            from_spot,
            exact[np.where(from_spot, options.spot, 0)],
            exact[np.where(options.future != NO_INDEX, options.future, 0)],
        )
        forward = np.where(from_spot, underlying * carry_factor(self.rate, years), underlying)
        priced = ~np.isnan(forward)
        if not priced.any():
            return
        indices = options.index[priced]
        forward, years = forward[priced], years[priced]
        strike, is_call = options.strike[priced], options.is_call[priced]
        surface = options.surface[priced]
        volatility, moneyness = self.surface.smile(surface, forward, strike, years)
        count = len(indices)
        price, delta, gamma = np.empty(count), np.empty(count), np.empty(count)
        theta, vega = np.empty(count), np.empty(count)
        price_chain(
            forward, strike, years, volatility, is_call, self.rate, price, delta, gamma, theta, vega
        )
        tick = data.tick[indices]
        intrinsic = np.exp(-self.rate * years) * np.maximum(
            np.where(is_call, forward - strike, strike - forward), 0.0
        )
        floor = np.maximum(np.ceil(intrinsic / tick), 1).astype(np.int64) * tick
        ltp[indices] = np.maximum(np.floor(price / tick + 0.5).astype(np.int64) * tick, floor)
        exact[indices] = price
        far = np.nan_to_num(np.abs(moneyness), posinf=0.0)
        widening = 1 + self.widening * np.maximum(far - 1, 0)
        spread_ppm[indices] = np.minimum(np.ceil(spread_ppm[indices] * widening), 1_000_000).astype(
            np.int64
        )
        marks.forward[indices] = forward
        marks.iv[indices] = volatility
        marks.delta[indices] = delta
        marks.gamma[indices] = gamma
        marks.theta_day[indices] = theta
        marks.vega_point[indices] = vega


def _within_band(data: MarketData, indices: Int64Array, prices: Int64Array) -> Int64Array:
    tick = data.tick[indices]
    low = np.maximum(-(-data.circuit_low[indices] // tick), 1) * tick
    high = np.where(
        data.circuit_high[indices] > 0, data.circuit_high[indices] // tick * tick, prices
    )
    bounded: Int64Array = np.maximum(np.minimum(prices, high), low)
    return bounded


def _surface_driver(layout: MarketLayout, surface: int) -> int:
    """The instrument whose shocks move one surface: the underlying's spot, else the future
    its first option is written on."""
    name = layout.underlyings[surface]
    spot = layout.spots.get(name)
    if spot is not None:
        return spot
    options = layout.options
    first = int(np.flatnonzero(options.surface == surface)[0])
    return int(options.future[first])
