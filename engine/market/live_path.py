"""Prices between a live feed's polls (Vortex, docs/DOMAIN.md §5), and for scripted prices.

Every price converges on the feed's latest quote by ``jitter_convergence`` of the gap per tick
(:class:`~engine.market.tick_path.ConvergingPath`), with no noise of its own. Options also
follow their underlying between polls: at each poll the option's volatility is implied from
its polled price (Black-76 on its future, or on its spot carried to expiry where no future is
listed), and until the next poll its price is

    P = P₀ + Δ (F − F₀) + ½ Γ (F − F₀)²

with ``P₀``, ``F₀`` the polled option and underlying prices, ``F`` the underlying's price this
tick and ``Δ``, ``Γ`` the greeks at the implied volatility, rounded to the tick and never below
one. Since the underlying's own price converges on its polled quote, so does each option's.
An option whose price implies no volatility (below its discounted intrinsic value, say), or
whose underlying has no price, just converges on its quote.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.config import MarketConfig
from engine.domain.calendar import ExchangeCalendar
from engine.domain.instruments import InstrumentMaster
from engine.market import kernels
from engine.market.black76 import implied_volatility, price_chain
from engine.market.market_data import MarketData, MarketSnapshot, OptionMarks
from engine.market.market_layout import NO_INDEX, MarketLayout, carry_factor, years_between
from engine.market.tick_path import ConvergingPath, TickPrices

Float64Array = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]


class _Anchor:
    """The options' state at the last poll, where each one's volatility could be implied."""

    def __init__(self, count: int) -> None:
        self.reference = np.zeros(0, dtype=np.int64)  # the whole reference column then
        self.option_price = np.zeros(count)
        self.underlying = np.zeros(count)  # its underlying's polled price, paise
        self.marks = np.full((6, count), np.nan)  # forward, iv, delta, gamma, theta, vega
        # Delta and gamma per paise of the instrument that moves it (the spot's are the
        # forward's times the carry, and its square).
        self.delta = np.full(count, np.nan)
        self.gamma = np.full(count, np.nan)


class LivePath:
    """A feed's tick path: convergence on the quotes, options moved by their underlying."""

    def __init__(
        self, master: InstrumentMaster, config: MarketConfig, calendar: ExchangeCalendar
    ) -> None:
        self.converging = ConvergingPath(config)
        self.rate = config.options.rate
        options = MarketLayout.of(master, config.volatility, config.factor, calendar).options
        self.options = options
        # An option moves with the future it is written on, else with its spot.
        self.underlying: Int64Array = np.where(
            options.future != NO_INDEX, options.future, options.spot
        )
        self.carried = options.future == NO_INDEX  # the spot: carried to the option's expiry
        self._anchor = _Anchor(len(options.index))

    def prices(self, data: MarketData, now_ms: int, previous: MarketSnapshot) -> TickPrices:
        ltp, bid, ask, _ = self.converging.prices(data, now_ms, previous)
        if not len(self.options.index):
            return TickPrices(ltp, bid, ask, None)
        if not np.array_equal(self._anchor.reference, data.reference):
            self._anchor = self._anchor_at(data, now_ms)
        anchor, options = self._anchor, self.options
        delta, gamma = anchor.delta, anchor.gamma
        moving = ~np.isnan(delta) & (ltp[self.underlying] > 0)
        if moving.any():
            indices = options.index[moving]
            tick = data.tick[indices]
            move = ltp[self.underlying[moving]] - anchor.underlying[moving]
            price = (
                anchor.option_price[moving]
                + delta[moving] * move
                + 0.5 * gamma[moving] * move * move
            )
            ltp[indices] = np.maximum(np.floor(price / tick + 0.5).astype(np.int64) * tick, tick)
            moved_bid = np.empty(len(indices), dtype=np.int64)
            moved_ask = np.empty(len(indices), dtype=np.int64)
            kernels.quote_all(ltp[indices], tick, data.spread_ppm[indices], moved_bid, moved_ask)
            bid[indices] = moved_bid
            ask[indices] = moved_ask
        marks = OptionMarks(len(ltp))
        for column, values in zip(
            (marks.forward, marks.iv, marks.delta, marks.gamma, marks.theta_day, marks.vega_point),
            anchor.marks,
            strict=True,
        ):
            column[options.index] = values
        return TickPrices(ltp, bid, ask, marks)

    def _anchor_at(self, data: MarketData, now_ms: int) -> _Anchor:
        """Imply every option's volatility from the latest quotes."""
        options, anchor = self.options, _Anchor(len(self.options.index))
        anchor.reference = data.reference.copy()
        years = years_between(now_ms, options.expiry_ms)
        underlying = data.reference[self.underlying].astype(np.float64)
        underlying[self.underlying == NO_INDEX] = np.nan
        underlying[underlying <= 0] = np.nan
        forward = np.where(self.carried, underlying * carry_factor(self.rate, years), underlying)
        price = data.reference[options.index].astype(np.float64)
        price[price <= 0] = np.nan
        iv = np.empty(len(price))
        implied_volatility(price, forward, options.strike, years, options.is_call, self.rate, iv)
        count = len(price)
        model, delta, gamma = np.empty(count), np.empty(count), np.empty(count)
        theta, vega = np.empty(count), np.empty(count)
        price_chain(
            forward, options.strike, years, iv, options.is_call, self.rate, model, delta, gamma,
            theta, vega,
        )  # fmt: skip
        anchor.marks[:] = (forward, iv, delta, gamma, theta, vega)
        carry = np.where(self.carried, carry_factor(self.rate, years), 1.0)
        anchor.delta = delta * carry
        anchor.gamma = gamma * carry * carry
        anchor.option_price = price
        anchor.underlying = underlying
        return anchor
