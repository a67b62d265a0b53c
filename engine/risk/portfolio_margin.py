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
from engine.risk.scenarios import ROW_WIDTH

DAYS_PER_YEAR = 365.0


def _paise(amount: float) -> int:
    """Round a float amount of paise half up to a whole paisa."""
    return math.floor(amount + 0.5)


class SpanMarginModel:
    """:class:`~engine.domain.portfolio.PortfolioMarginModel` by scenario revaluation.

    ``portfolio_spans`` is the scenario kernel: the numba one by default, its plain-Python
    reference in the tests and the benchmark that compare them.
    """

    def __init__(
        self,
        config: PortfolioMarginConfig,
        rate: float,
        portfolio_spans: Callable[..., Any] = scenarios.portfolio_spans,
    ) -> None:
        self.config = config
        self.rate = rate
        self._portfolio_spans = portfolio_spans

    def margin(
        self, legs: Sequence[MarginLeg], market: UnderlyingMarket, trade_date: date
    ) -> PortfolioMargin:
        if not legs:
            return NO_MARGIN
        parameters = self.config.on(trade_date)
        kind = parameters.by_kind[market.kind.value]
        expiring_apart = not parameters.calendar_benefit_on_expiry_day
        # One row per leg in the kernel's column order (see ``_span``), in a single pass.
        rows: list[float] = []  # flat: ``ROW_WIDTH`` figures a leg
        futures_notional = shorts_notional = expiring_notional = premium = credit = 0
        for leg in legs:
            leg_market = leg.market
            instrument = leg_market.instrument
            instrument_type = instrument.instrument_type
            future = instrument_type is InstrumentType.FUT
            expiry = instrument.expiry
            group = 1 if expiring_apart and expiry == trade_date else 0
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
            span_paise=self._span(rows, 2 if expiring_apart else 1, market, kind),
            exposure_paise=kind.exposure.of(futures_notional + shorts_notional),
            additional_paise=kind.expiry_day_extra.of(expiring_notional),
            premium_paise=premium,
            premium_credit_paise=credit,
        )

    def _span(
        self,
        rows: list[float],
        groups: int,
        market: UnderlyingMarket,
        kind: KindParameters,
    ) -> int:
        """SPAN over each group of legs (``rows``: ``ROW_WIDTH`` figures a leg, see
        :func:`engine.risk.scenarios.portfolio_spans`), summed, in paise."""
        config = self.config
        daily = market.volatility / math.sqrt(config.trading_days_per_year)
        out_span = np.zeros(groups)
        self._portfolio_spans(
            np.array(rows, dtype=np.float64).reshape(-1, ROW_WIDTH),
            groups,
            max(kind.price_scan_sigmas * daily, kind.price_scan_min),
            kind.volatility_scan,
            kind.volatility_scan_min,
            config.horizon_days / DAYS_PER_YEAR,
            self.rate,
            config.extreme_weight,
            kind.short_option_minimum.parts / RATE_SCALE * market.price_paise,
            kind.calendar_spread.parts / RATE_SCALE,
            out_span,
        )
        return sum(_paise(span) for span in out_span.tolist())
