"""Plain-Python references for ``engine.market.black76``, written for clarity rather than speed.

Each function restates its kernel's documented rule with ``math`` and plain loops, one option at
a time, so the tests can hold the compiled kernels to it (and the benchmark can time it). The
implied volatility is found by plain bisection rather than the kernel's Newton steps: a
different route to the same documented answer. Units, valid inputs and the degenerate cases are
those of :mod:`engine.market.black76`.
"""

from __future__ import annotations

import math
from collections.abc import MutableSequence, Sequence
from typing import NamedTuple

DAYS_PER_YEAR = 365.0
VOLATILITY_MIN = 0.001
VOLATILITY_MAX = 5.0
IMPLIED_PRICE_TOLERANCE_RELATIVE = 1e-14
BISECTIONS_MAX = 200


class PricedOption(NamedTuple):
    """One option's Black-76 price and greeks (units in :mod:`engine.market.black76`)."""

    price: float
    delta: float
    gamma: float
    theta_day: float
    vega_point: float


def normal_cdf(x: float) -> float:
    """Return the standard normal CDF, ``0.5·(1 + erf(x/√2))``: below zero the tail
    ``0.5·erfc(|x|/√2)`` itself (full relative precision deep out of the money), above it one
    minus that tail."""
    tail = 0.5 * math.erfc(abs(x) / math.sqrt(2.0))
    return tail if x < 0.0 else 1.0 - tail


def normal_pdf(x: float) -> float:
    """Return the standard normal density ``e^{−x²/2} / √(2π)``."""
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def price_option(  # noqa: PLR0917 (the kernel's positional order, one option)
    forward: float, strike: float, years: float, volatility: float, is_call: bool, rate: float
) -> PricedOption:
    """Return one option's price and greeks as :func:`engine.market.black76.price_chain` does."""
    if years <= 0.0 or volatility <= 0.0:
        return _degenerate(forward, strike, years, is_call, rate)
    discount = math.exp(-rate * years)
    deviation = volatility * math.sqrt(years)
    d1 = (math.log(forward / strike) + deviation**2 / 2.0) / deviation
    d2 = d1 - deviation
    if is_call:
        price = discount * (forward * normal_cdf(d1) - strike * normal_cdf(d2))
        delta = discount * normal_cdf(d1)
    else:
        price = discount * (strike * normal_cdf(-d2) - forward * normal_cdf(-d1))
        delta = -discount * normal_cdf(-d1)
    gamma = discount * normal_pdf(d1) / (forward * deviation)
    # -dV/dT per year: the volatility decay plus the discounting's r·V, then per calendar day.
    decay = -discount * forward * normal_pdf(d1) * volatility / (2.0 * math.sqrt(years))
    theta_day = (decay + rate * price) / DAYS_PER_YEAR
    vega_point = discount * forward * normal_pdf(d1) * math.sqrt(years) / 100.0
    return PricedOption(price, delta, gamma, theta_day, vega_point)


def _degenerate(
    forward: float, strike: float, years: float, is_call: bool, rate: float
) -> PricedOption:
    """Expiry value at ``years <= 0``; the limit as volatility -> 0 before it (kernel's doc)."""
    discount = math.exp(-rate * years) if years > 0.0 else 1.0
    in_the_money_by = forward - strike if is_call else strike - forward
    sign = 1.0 if is_call else -1.0
    price = discount * max(in_the_money_by, 0.0)
    if in_the_money_by > 0.0:
        delta = sign * discount
    elif in_the_money_by == 0.0:
        delta = sign * discount / 2.0
    else:
        delta = 0.0
    theta_day = rate * price / DAYS_PER_YEAR if years > 0.0 else 0.0
    return PricedOption(price, delta, 0.0, theta_day, 0.0)


def price_chain(  # noqa: PLR0917 (mirrors the kernel's positional signature)
    forward: Sequence[float],
    strike: Sequence[float],
    years: Sequence[float],
    volatility: Sequence[float],
    is_call: Sequence[bool],
    rate: float,
    out_price: MutableSequence[float],
    out_delta: MutableSequence[float],
    out_gamma: MutableSequence[float],
    out_theta_day: MutableSequence[float],
    out_vega_point: MutableSequence[float],
) -> None:
    """Write every option's price and greeks as :func:`engine.market.black76.price_chain` does."""
    for i in range(len(forward)):
        priced = price_option(
            float(forward[i]),
            float(strike[i]),
            float(years[i]),
            float(volatility[i]),
            bool(is_call[i]),
            rate,
        )
        out_price[i] = priced.price
        out_delta[i] = priced.delta
        out_gamma[i] = priced.gamma
        out_theta_day[i] = priced.theta_day
        out_vega_point[i] = priced.vega_point


def implied_volatility_of(  # noqa: PLR0917 (the kernel's positional order, one option)
    price: float, forward: float, strike: float, years: float, is_call: bool, rate: float
) -> float:
    """Return the volatility that reprices one option, or NaN, by bisection.

    The NaN cases and the stopping tolerance are those of
    :func:`engine.market.black76.implied_volatility`.
    """
    if not (years > 0.0 and forward > 0.0 and strike > 0.0):
        return math.nan
    discount = math.exp(-rate * years)
    intrinsic = max(forward - strike, 0.0) if is_call else max(strike - forward, 0.0)
    bound = forward if is_call else strike
    if not discount * intrinsic < price < discount * bound:
        return math.nan
    tolerance = IMPLIED_PRICE_TOLERANCE_RELATIVE * max(forward, strike)

    def excess(volatility: float) -> float:
        """Model price above the target, undiscounted (as the kernel measures its tolerance)."""
        model = price_option(forward, strike, years, volatility, is_call, rate).price
        return (model - price) / discount

    low, high = VOLATILITY_MIN, VOLATILITY_MAX
    if abs(excess(low)) <= tolerance:
        return low
    if abs(excess(high)) <= tolerance:
        return high
    if excess(low) > 0.0 or excess(high) < 0.0:
        return math.nan
    middle = (low + high) / 2.0
    for _ in range(BISECTIONS_MAX):
        middle = (low + high) / 2.0
        above = excess(middle)
        if abs(above) <= tolerance or middle in {low, high}:
            break
        if above > 0.0:
            high = middle
        else:
            low = middle
    return middle


def implied_volatility(  # noqa: PLR0917 (mirrors the kernel's positional signature)
    price: Sequence[float],
    forward: Sequence[float],
    strike: Sequence[float],
    years: Sequence[float],
    is_call: Sequence[bool],
    rate: float,
    out_volatility: MutableSequence[float],
) -> None:
    """Write each option's implied volatility as the kernel does (by bisection)."""
    for i in range(len(price)):
        out_volatility[i] = implied_volatility_of(
            float(price[i]),
            float(forward[i]),
            float(strike[i]),
            float(years[i]),
            bool(is_call[i]),
            rate,
        )
