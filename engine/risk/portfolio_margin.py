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

Each amount is rounded half up to the paisa once: SPAN at the end, exposure and the extra ELM
as :meth:`Rate.of` of the legs' summed integer notionals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import numpy as np

from engine.domain.enums import InstrumentType
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
ROW_WIDTH = 9  # a leg's figures in ``SpanMarginModel._span``'s rows


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
        # One row per leg in the kernel's column order (see ``_span``), and each group's
        # expiries: a single pass over the legs.
        rows: list[float] = []  # flat: ``ROW_WIDTH`` figures a leg
        expiries: set[tuple[int, date | None]] = set()
        futures_notional = shorts_notional = expiring_notional = premium = credit = 0
        for leg in legs:
            leg_market = leg.market
            instrument = leg_market.instrument
            instrument_type = instrument.instrument_type
            future = instrument_type is InstrumentType.FUT
            expiry = instrument.expiry
            group = 1 if expiring_apart and expiry == trade_date else 0
            expiries.add((group, expiry))
            rows.extend(
                (
                    group,
                    leg.quantity,
                    future,
                    instrument_type is InstrumentType.CE,
                    instrument.strike_paise,
                    leg_market.forward_paise,
                    leg_market.volatility,
                    leg_market.years,
                    0 if expiry is None else expiry.toordinal(),
                )
            )
            units = abs(leg.quantity)
            if future:
                futures_notional += units * _paise(leg_market.forward_paise)
            elif leg.quantity > 0:
                premium += leg.cost_paise
            else:
                credit -= leg.cost_paise
                shorts_notional += units
                if expiry == trade_date:
                    expiring_notional += units
        shorts_notional *= market.price_paise
        expiring_notional *= market.price_paise
        return PortfolioMargin(
            span_paise=self._span(legs, rows, expiries, market, kind),
            exposure_paise=kind.exposure.of(futures_notional + shorts_notional),
            additional_paise=kind.expiry_day_extra.of(expiring_notional),
            premium_paise=premium,
            premium_credit_paise=credit,
        )

    def _span(
        self,
        legs: Sequence[MarginLeg],
        rows: list[float],
        expiries: set[tuple[int, date | None]],
        market: UnderlyingMarket,
        kind: KindParameters,
    ) -> int:
        """SPAN over each group of ``legs`` (summed), in paise. ``rows``: per leg its group,
        signed quantity, whether a future, whether a call, strike, forward, volatility, years
        to expiry and expiry (a date ordinal); ``expiries``: the (group, expiry) pairs."""
        config = self.config
        count = len(legs)
        columns = np.array(rows, dtype=np.float64).reshape(count, ROW_WIDTH).T.copy()
        group = columns[0].astype(np.int64)
        quantity, forward, volatility = columns[1], columns[5], columns[6]
        is_future = columns[2] != 0
        daily = market.volatility / math.sqrt(config.trading_days_per_year)
        scan = max(kind.price_scan_sigmas * daily, kind.price_scan_min)
        groups = int(group.max()) + 1
        loss = np.empty((groups, scenarios.SCENARIO_COUNT))
        value = np.empty(count)
        delta = np.empty(count)
        self._risk_arrays(
            group,
            quantity,
            is_future,
            columns[3] != 0,
            columns[4],
            forward,
            volatility,
            columns[7],
            np.full(count, scan),
            np.maximum(volatility * kind.volatility_scan, kind.volatility_scan_min),
            config.horizon_days / DAYS_PER_YEAR,
            self.rate,
            config.extreme_weight,
            loss,
            value,
            delta,
        )
        worst = loss.max(axis=1).tolist()
        # Net option value and the units short in options, per group: over Python lists, as
        # a handful of legs costs less this way than in numpy calls.
        net_option_value = [0.0] * groups
        shorts = [0.0] * groups
        values = value.tolist()
        for index in range(count):
            row = index * ROW_WIDTH
            if rows[row + 2]:  # a future
                continue
            g, units = int(rows[row]), rows[row + 1]
            net_option_value[g] += units * values[index]
            if units < 0:
                shorts[g] -= units
        short_minimum = kind.short_option_minimum.parts / RATE_SCALE * market.price_paise
        span = 0
        for g in sorted({g for g, _ in expiries}):
            scan_risk = worst[g]
            if sum(1 for member, _ in expiries if member == g) > 1:
                deltas = (quantity * delta).tolist()
                scan_risk += _calendar_charge(rows, g, deltas, kind)
            risk = max(scan_risk, short_minimum * shorts[g])
            span += _paise(max(0.0, risk - net_option_value[g]))
        return span


def _calendar_charge(rows: list[float], g: int, deltas: list[float], kind: KindParameters) -> float:
    """The charge on the delta one expiry offsets against another in group ``g``: the matched
    delta (the smaller of the long and the short net deltas over the expiries) × the farthest
    expiry's forward × the calendar-spread rate."""
    by_expiry: dict[float, float] = {}
    far: dict[float, float] = {}
    groups, forwards, expiries = rows[0::ROW_WIDTH], rows[5::ROW_WIDTH], rows[8::ROW_WIDTH]
    for group, forward, expiry, delta in zip(groups, forwards, expiries, deltas, strict=True):
        if group == g:
            by_expiry[expiry] = by_expiry.get(expiry, 0.0) + delta
            far[expiry] = forward
    long_delta = sum(d for d in by_expiry.values() if d > 0)
    short_delta = -sum(d for d in by_expiry.values() if d < 0)
    matched = min(long_delta, short_delta)
    return matched * far[max(by_expiry)] * kind.calendar_spread.parts / RATE_SCALE
