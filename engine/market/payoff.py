"""The payoff of an account's futures and options on one underlying, across the underlying's
price: at expiry and today.

Each open position is a :class:`Leg`: signed quantity, signed cost (``Position.cost_paise``), its
expiry, and how its price follows the underlying's, ``basis`` (the contract's forward per unit
of the underlying's price now). A leg's P&L at a value ``V`` is ``quantity × V − cost``: the
same arithmetic as a position's unrealised P&L, so at the current price the *today* curve meets
the P&L the positions show.

* **At expiry** every leg is valued as if it expired there: an option at its intrinsic value
  ``max(±(S − K), 0)``, a future at the underlying's price ``S`` (it converges to its spot).
* **Today** a leg's forward at ``S`` is ``S × basis``: for an option the forward the market
  model priced it on, scaled with the underlying, for a future its current premium over the
  spot (``F / S``, the cost of carry ``e^(rT)`` up to rounding). An option is then priced by
  Black-76 (:mod:`engine.market.black76_reference`) at its current implied volatility and time
  to expiry; a future is worth its forward.

P&L comes out as integer paise (rounded from Black-76's float prices); prices are paise too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from engine.domain.enums import InstrumentType
from engine.domain.instruments import Instrument
from engine.market.black76_reference import implied_volatility_of, price_option
from engine.market.market_data import MarketSnapshot
from engine.market.market_layout import CALENDAR_YEAR_MS

GRID_WIDTH = 0.10  # the price grid spans the current price ± 10 %
GRID_POINTS_PER_SIDE = 50  # 101 points in all, the current price in the middle


@dataclass(frozen=True, slots=True)
class Leg:
    """One open position in a future or an option, as the payoff values it."""

    quantity: int  # signed: + long, − short
    cost_paise: int  # signed cost of the open quantity
    expiry_ms: int
    basis: float  # the leg's forward per unit of the underlying's price, now
    strike_paise: int = 0
    is_call: bool | None = None  # None: a future
    volatility: float = 0.0  # annualised; the option's implied volatility now


@dataclass(frozen=True, slots=True)
class PayoffPoint:
    price_paise: int
    expiry_pnl_paise: int
    today_pnl_paise: int


def price_grid(
    price_paise: int,
    width: float = GRID_WIDTH,
    points_per_side: int = GRID_POINTS_PER_SIDE,
) -> list[int]:
    """Prices evenly spread over ``price_paise × (1 ± width)``, ascending, whole paise; the
    middle one is ``price_paise`` itself."""
    step = price_paise * width / points_per_side
    return [price_paise + round(k * step) for k in range(-points_per_side, points_per_side + 1)]


def value_at_expiry(leg: Leg, price_paise: float) -> float:
    """What the leg is worth at expiry with the underlying at ``price_paise``."""
    if leg.is_call is None:
        return price_paise
    strike = leg.strike_paise
    return max(price_paise - strike if leg.is_call else strike - price_paise, 0.0)


def value_today(leg: Leg, price_paise: float, now_ms: int, rate: float) -> float:
    """What the leg is worth at ``now_ms`` with the underlying at ``price_paise``."""
    forward = price_paise * leg.basis
    if leg.is_call is None:
        return forward
    years = max(leg.expiry_ms - now_ms, 0) / CALENDAR_YEAR_MS
    return price_option(forward, leg.strike_paise, years, leg.volatility, leg.is_call, rate).price


def pnl_paise(leg: Leg, value_paise: float) -> float:
    """The leg's P&L with each unit worth ``value_paise``."""
    return leg.quantity * value_paise - leg.cost_paise


def payoff(
    legs: Sequence[Leg], prices_paise: Sequence[int], now_ms: int, rate: float
) -> list[PayoffPoint]:
    """The legs' total P&L at each price: at expiry and at ``now_ms``."""
    return [
        PayoffPoint(
            price,
            round(sum(pnl_paise(leg, value_at_expiry(leg, price)) for leg in legs)),
            round(sum(pnl_paise(leg, value_today(leg, price, now_ms, rate)) for leg in legs)),
        )
        for price in prices_paise
    ]


def leg_in_market(  # noqa: PLR0917 (one position's facts, as the route holds them)
    instrument: Instrument,
    index: int,
    quantity: int,
    cost_paise: int,
    expiry_ms: int,
    snapshot: MarketSnapshot,
    underlying_paise: int,
    rate: float,
) -> Leg:
    """The leg of a position in ``instrument`` (a future or an option, at ``index`` in the
    master), from one market snapshot, with the underlying's price at ``underlying_paise``
    (positive).

    An option's forward and volatility are the model's (``snapshot.options``); where the
    snapshot has none (quotes from a feed) the forward is the underlying carried to expiry and
    the volatility the one that reprices the option's LTP (0, its discounted intrinsic value,
    when none does). A future's basis is its LTP over the underlying's, or the carry
    ``e^(rT)`` while it has no price.
    """
    years = max(expiry_ms - snapshot.at_ms, 0) / CALENDAR_YEAR_MS
    carry = math.exp(rate * years)
    ltp = int(snapshot.ltp[index])
    if instrument.is_future:
        basis = ltp / underlying_paise if ltp > 0 else carry
        return Leg(quantity, cost_paise, expiry_ms, basis)
    is_call = instrument.instrument_type is InstrumentType.CE
    strike_paise = instrument.strike_paise
    marks = snapshot.options
    forward = float(marks.forward[index]) if marks is not None else math.nan
    volatility = float(marks.iv[index]) if marks is not None else math.nan
    if math.isnan(forward) or math.isnan(volatility):
        forward = underlying_paise * carry
        volatility = implied_volatility_of(ltp, forward, strike_paise, years, is_call, rate)
    return Leg(
        quantity,
        cost_paise,
        expiry_ms,
        forward / underlying_paise,
        strike_paise,
        is_call,
        0.0 if math.isnan(volatility) else volatility,
    )
