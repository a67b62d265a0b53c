"""Portfolio margin on futures and options, per underlying (docs/DOMAIN.md §2): what it is
computed on, what it gives, and the legs an account's positions and an order make.

The requirement itself, a SPAN-style revaluation of the underlying's futures and options under
16 scenarios, is numeric work done outside the domain (``engine/risk/portfolio_margin.py``)
behind :class:`PortfolioMarginModel`, which ``AccountRules.portfolio`` carries. The account's
actor stamps each command that can change a portfolio with its underlying's market
(:class:`UnderlyingMarket`), so ``decide`` stays a pure function of state and command.

paperdesk does not move option premium through cash: a long option's premium is blocked (at
cost) and a short's premium is credited against the requirement (at cost), so that
``available`` is what a broker's cash less its margin would be (docs/DOMAIN.md §2).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple, Protocol

import msgspec

from engine.domain.enums import Exchange
from engine.domain.instruments import Instrument, UnderlyingKind
from engine.domain.positions import Position, fill_against


class LegMarket(msgspec.Struct, frozen=True, gc=False):
    """The market a future or an option is revalued on, as the actor read it."""

    instrument: Instrument
    forward_paise: float  # a future's own price; an option's forward (its future's price)
    volatility: float  # an option's implied volatility, annualised (0 for a future)
    years: float  # to expiry, in years of 365 days


class UnderlyingMarket(msgspec.Struct, frozen=True, gc=False):
    """One underlying's market, for the derivatives an account holds or orders on it."""

    name: str
    kind: UnderlyingKind  # INDEX, STOCK or COMMODITY (never NONE: see ``margin_kind``)
    price_paise: int  # what notionals are valued at: the nearest future, else the spot
    volatility: float  # annualised, for the price scan range (the nearest ATM implied vol)
    legs: tuple[LegMarket, ...]

    def leg(self, instrument_id: str) -> LegMarket | None:
        for leg in self.legs:
            if leg.instrument.instrument_id == instrument_id:
                return leg
        return None


class MarginLeg(NamedTuple):
    """One position (or a position as an order would leave it) in a portfolio."""

    market: LegMarket
    quantity: int  # signed units: + long, − short
    cost_paise: int  # signed cost of the open quantity (a long's premium paid, a short's received)


class PortfolioMargin(msgspec.Struct, frozen=True, gc=False):
    """An underlying's margin, as a broker shows it, in paise.

    ``total`` is what a SPAN-based broker requires; ``blocked`` is what paperdesk blocks for it,
    the total less the premium a broker would have credited on the shorts (never below 0).
    """

    span_paise: int = 0  # max(scan risk + calendar charge, short-option minimum) − NOV, ≥ 0
    exposure_paise: int = 0
    additional_paise: int = 0  # the extra ELM on short options expiring today
    premium_paise: int = 0  # long options' premium, at cost
    premium_credit_paise: int = 0  # short options' premium received, at cost

    @property
    def total_paise(self) -> int:
        return self.span_paise + self.exposure_paise + self.additional_paise + self.premium_paise

    @property
    def blocked_paise(self) -> int:
        return max(0, self.total_paise - self.premium_credit_paise)


NO_MARGIN = PortfolioMargin()


class PortfolioMarginModel(Protocol):
    """Computes an underlying's portfolio margin (``engine.risk.portfolio_margin``)."""

    def margin(
        self, legs: Sequence[MarginLeg], market: UnderlyingMarket, trade_date: date
    ) -> PortfolioMargin: ...


def margin_kind(instrument: Instrument) -> UnderlyingKind:
    """What a derivative is margined as: its underlying's kind; where the master does not say,
    a commodity on MCX and a stock elsewhere (the more conservative of the equity rows)."""
    if instrument.underlying_kind is not UnderlyingKind.NONE:
        return instrument.underlying_kind
    return UnderlyingKind.COMMODITY if instrument.exchange is Exchange.MCX else UnderlyingKind.STOCK


def portfolio_of(instrument: Instrument) -> str:
    """The portfolio a derivative belongs to: its underlying's name (its own id if the master
    names none, so it is margined alone)."""
    return instrument.underlying or instrument.instrument_id


def is_derivative(instrument: Instrument) -> bool:
    return instrument.is_future or instrument.is_option


def position_legs(
    positions: Iterable[Position], market: UnderlyingMarket
) -> dict[tuple[str, str], MarginLeg]:
    """The legs the open positions in ``market``'s derivatives make, by (instrument, product)."""
    legs: dict[tuple[str, str], MarginLeg] = {}
    for position in positions:
        leg_market = market.leg(position.instrument_id)
        if leg_market is not None and position.quantity:
            key = (position.instrument_id, position.product.value)
            legs[key] = MarginLeg(leg_market, position.quantity, position.cost_paise)
    return legs


def with_fill(
    legs: dict[tuple[str, str], MarginLeg],
    key: tuple[str, str],
    market: LegMarket,
    signed_quantity: int,
    price_paise: int,
) -> dict[tuple[str, str], MarginLeg]:
    """``legs`` with ``signed_quantity`` at ``price_paise`` filled into the leg ``key`` (a
    reduction realizes its share of the cost, as the position's fill would)."""
    held = legs.get(key)
    quantity, cost = (0, 0) if held is None else (held.quantity, held.cost_paise)
    result = fill_against(
        quantity, cost, 0, signed_quantity, price_paise=price_paise, opening_margin_paise=0
    )
    changed = dict(legs)
    if result.quantity:
        changed[key] = MarginLeg(market, result.quantity, result.cost_paise)
    else:
        changed.pop(key, None)
    return changed
