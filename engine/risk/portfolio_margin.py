"""The SPAN-style portfolio margin of one underlying's futures and options (docs/DOMAIN.md §2).

The legs are revalued under the 16 scenarios of ``engine.risk.scenarios`` (price moves of 0,
±⅓, ±⅔ and ±1 of the price scan range with volatility up and down, and two extreme moves
counted at a fraction of their loss), one day ahead, by the same Black-76 the market prices
with. Then, in paise:

- scan risk: the worst scenario loss; plus the calendar-spread charge on the delta matched
  across expiries (the scenarios move every expiry together, so a calendar spread would
  otherwise need nothing); never less than the short-option minimum;
- SPAN = max(0, that − net option value), the net option value being the long options' value
  less the short options' value now;
- exposure on each future's notional and each short option's notional (the underlying's
  price), the extra ELM on short options expiring that day, and the long options' premium;
- on an expiry day, from 2025-02-01, the positions expiring that day are a portfolio of their
  own: no calendar-spread benefit against other expiries.

Each amount is rounded half up to the paisa once, at the end; the percentages are
:meth:`Rate.of` of integer notionals, leg by leg.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import numpy as np

from engine.domain.money import RATE_SCALE
from engine.domain.parameters import KindParameters, PortfolioMarginConfig
from engine.domain.portfolio import (
    NO_MARGIN,
    MarginLeg,
    PortfolioMargin,
    UnderlyingMarket,
)
from engine.risk import scenarios

DAYS_PER_YEAR = 365.0


def _paise(amount: float) -> int:
    """Round a float amount of paise half up to a whole paisa."""
    return math.floor(amount + 0.5)


class SpanMarginModel:
    """:class:`~engine.domain.portfolio.PortfolioMarginModel` by scenario revaluation.

    ``risk_arrays`` is the scenario kernel: the numba one by default, its plain-Python
    reference in the tests and the benchmark that compare them.
    """

    def __init__(
        self,
        config: PortfolioMarginConfig,
        rate: float,
        risk_arrays: Callable[..., Any] = scenarios.risk_arrays,
    ) -> None:
        self.config = config
        self.rate = rate
        self._risk_arrays = risk_arrays

    def margin(
        self, legs: Sequence[MarginLeg], market: UnderlyingMarket, trade_date: date
    ) -> PortfolioMargin:
        if not legs:
            return NO_MARGIN
        parameters = self.config.on(trade_date)
        kind = parameters.by_kind[market.kind.value]
        expiring_apart = not parameters.calendar_benefit_on_expiry_day
        group = np.array(
            [
                1 if expiring_apart and leg.market.instrument.expiry == trade_date else 0
                for leg in legs
            ],
            dtype=np.int64,
        )
        span = self._span(legs, group, market, kind)
        exposure = additional = premium = credit = 0
        for leg in legs:
            instrument = leg.market.instrument
            units = abs(leg.quantity)
            if instrument.is_future:
                exposure += kind.exposure.of(units * _paise(leg.market.forward_paise))
                continue
            if leg.quantity > 0:
                premium += leg.cost_paise
                continue
            credit -= leg.cost_paise
            notional = units * market.price_paise
            exposure += kind.exposure.of(notional)
            if instrument.expiry == trade_date:
                additional += kind.expiry_day_extra.of(notional)
        return PortfolioMargin(
            span_paise=span,
            exposure_paise=exposure,
            additional_paise=additional,
            premium_paise=premium,
            premium_credit_paise=credit,
        )

    def _span(
        self,
        legs: Sequence[MarginLeg],
        group: np.ndarray[Any, np.dtype[np.int64]],
        market: UnderlyingMarket,
        kind: KindParameters,
    ) -> int:
        """SPAN over each group of ``legs`` (summed), in paise."""
        config = self.config
        count = len(legs)
        quantity = np.array([leg.quantity for leg in legs], dtype=np.float64)
        is_future = np.array([leg.market.instrument.is_future for leg in legs], dtype=np.bool_)
        is_call = np.array(
            [leg.market.instrument.instrument_type.value == "CE" for leg in legs], dtype=np.bool_
        )
        strike = np.array([leg.market.instrument.strike_paise for leg in legs], dtype=np.float64)
        forward = np.array([leg.market.forward_paise for leg in legs], dtype=np.float64)
        volatility = np.array([leg.market.volatility for leg in legs], dtype=np.float64)
        years = np.array([leg.market.years for leg in legs], dtype=np.float64)
        daily = market.volatility / math.sqrt(config.trading_days_per_year)
        scan = max(kind.price_scan_sigmas * daily, kind.price_scan_min)
        price_scan = np.full(count, scan)
        vol_shift = np.maximum(volatility * kind.volatility_scan, kind.volatility_scan_min)
        groups = int(group.max()) + 1
        loss = np.empty((groups, scenarios.SCENARIO_COUNT))
        value = np.empty(count)
        delta = np.empty(count)
        self._risk_arrays(
            group,
            quantity,
            is_future,
            is_call,
            strike,
            forward,
            volatility,
            years,
            price_scan,
            vol_shift,
            config.horizon_days / DAYS_PER_YEAR,
            self.rate,
            config.extreme_weight,
            loss,
            value,
            delta,
        )
        option_value = np.where(is_future, 0.0, quantity * value)
        short_minimum = kind.short_option_minimum.parts / RATE_SCALE * market.price_paise
        span = 0
        for g in range(groups):
            members = group == g
            if not members.any():
                continue
            scan_risk = float(loss[g].max())
            scan_risk += self._calendar_charge(legs, members, quantity * delta, forward, kind)
            shorts = np.where(members & ~is_future & (quantity < 0), -quantity, 0.0).sum()
            net_option_value = float(option_value[members].sum())
            risk = max(scan_risk, short_minimum * float(shorts))
            span += _paise(max(0.0, risk - net_option_value))
        return span

    @staticmethod
    def _calendar_charge(
        legs: Sequence[MarginLeg],
        members: np.ndarray[Any, np.dtype[np.bool_]],
        deltas: np.ndarray[Any, np.dtype[np.float64]],
        forward: np.ndarray[Any, np.dtype[np.float64]],
        kind: KindParameters,
    ) -> float:
        """The charge on the delta one expiry offsets against another: the matched delta (the
        smaller of the long and the short net deltas over the expiries) × the farthest
        expiry's price × the calendar-spread rate; 0 with one expiry."""
        by_expiry: dict[date | None, float] = {}
        far: dict[date | None, float] = {}
        for index, leg in enumerate(legs):
            if not members[index]:
                continue
            expiry = leg.market.instrument.expiry
            by_expiry[expiry] = by_expiry.get(expiry, 0.0) + float(deltas[index])
            far[expiry] = float(forward[index])
        if len(by_expiry) < 2:
            return 0.0
        long_delta = sum(d for d in by_expiry.values() if d > 0)
        short_delta = -sum(d for d in by_expiry.values() if d < 0)
        matched = min(long_delta, short_delta)
        farthest = max(by_expiry, key=lambda expiry: expiry or date.min)
        return matched * far[farthest] * kind.calendar_spread.parts / RATE_SCALE
