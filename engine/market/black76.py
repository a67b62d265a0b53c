"""numba kernels for Black-76 option prices, greeks and implied volatilities over a whole chain.

Black-76 prices a European option on a future (or forward) ``F`` struck at ``K`` with ``T`` years
to expiry, volatility ``σ`` and a continuously compounded rate ``r`` used only to discount::

    d1 = (ln(F/K) + σ²T/2) / (σ√T),   d2 = d1 − σ√T
    call = e^{−rT} (F N(d1) − K N(d2)),   put = e^{−rT} (K N(−d2) − F N(−d1))

The greeks are with respect to the future (what an NSE/BSE index or stock option is written on
here): delta ``∂V/∂F``, gamma ``∂²V/∂F²``, vega per volatility point (the change of price when σ
rises by 0.01) and theta per calendar day (``−∂V/∂T / 365``: the change of price as one day
passes, with the full formula, including the ``r·V`` term of the discounting).

Units: forward, strike and price share one unit that the caller picks (paperdesk passes paise as
float64); delta is per unit of the future, gamma per unit of the future squared, theta per
calendar day and vega per volatility point are in the price unit. ``years`` are year fractions of
365 days; volatility is annualised as a fraction (0.15 is 15 %); ``rate`` is annual and
continuously compounded, as a fraction (0.065 is 6.5 %). Valid inputs: forward > 0 and
strike > 0. Inputs are not checked: before expiry a NaN input gives NaN outputs; at expiry the
volatility is not used.

Every kernel is a pure function over floats and numpy arrays, writing caller-owned outputs.
``engine/market/black76_reference.py`` restates them in plain Python for the tests.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from engine.market.kernels import _kernel

DAYS_PER_YEAR = 365.0
VOLATILITY_POINT = 0.01  # vega is quoted per one point of volatility (1 %)
VOLATILITY_MIN = 0.001  # the implied-volatility search range: 0.1 % ..
VOLATILITY_MAX = 5.0  # .. 500 %
# The solver stops once the repriced option is within this fraction of max(F, K): 1e-7 paise
# at a ₹90,000 forward, far inside the 1e-6 paise callers rely on, and above float64 noise.
IMPLIED_PRICE_TOLERANCE_RELATIVE = 1e-14
# Newton's steps from the inflection point: 3..9 near the money, up to about 30 far out of it
# on a 1-day expiry; bisection alone would need about 60.
IMPLIED_ITERATIONS_MAX = 100


class ChainColumns(NamedTuple):
    """A chain's inputs in :func:`price_chain`'s order (paise as float64, years, σ fractions)."""

    forward: npt.NDArray[np.float64]
    strike: npt.NDArray[np.float64]
    years: npt.NDArray[np.float64]
    volatility: npt.NDArray[np.float64]
    is_call: npt.NDArray[np.bool_]


_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@_kernel
def _normal_tail(x: float) -> float:
    """Return ``N(−|x|) = 0.5·erfc(|x|/√2)``: the standard normal's tail beyond ``|x|``."""
    return 0.5 * math.erfc(abs(x) / _SQRT_2)


@_kernel
def _cdf_from_tail(x: float, tail: float) -> float:
    """Return ``N(x)`` from ``tail = N(−|x|)``: the tail itself below zero, ``1 − tail`` above.

    One erfc gives both ``N(x)`` and ``N(−x)``, each to full precision: the small one is the
    tail (relative precision kept deep out of the money, where ``1 + erf`` cancels to nothing),
    the large one ``1 −`` it (within an ulp of 1).
    """
    return tail if x < 0.0 else 1.0 - tail


@_kernel
def _normal_cdf(x: float) -> float:
    """Return the standard normal CDF ``N(x) = 0.5·(1 + erf(x/√2))`` (see ``_cdf_from_tail``)."""
    return _cdf_from_tail(x, _normal_tail(x))


@_kernel
def _normal_pdf(x: float) -> float:
    """Return the standard normal density ``n(x) = e^{−x²/2} / √(2π)``."""
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@_kernel
def _undiscounted_price_and_vega(
    forward: float, strike: float, years: float, volatility: float, is_call: bool
) -> tuple[float, float]:
    """Return the undiscounted Black-76 price and ``∂price/∂σ`` (per unit of σ, not per point).

    Needs ``years > 0`` and ``volatility > 0``.
    """
    sqrt_years = math.sqrt(years)
    deviation = volatility * sqrt_years
    d1 = (math.log(forward / strike) + 0.5 * deviation * deviation) / deviation
    d2 = d1 - deviation
    if is_call:
        price = forward * _normal_cdf(d1) - strike * _normal_cdf(d2)
    else:
        price = strike * _normal_cdf(-d2) - forward * _normal_cdf(-d1)
    return price, forward * _normal_pdf(d1) * sqrt_years


@_kernel
def _degenerate(
    f: float, k: float, t: float, call: bool, rate: float
) -> tuple[float, float, float]:
    """Return ``(price, delta, theta_day)`` where ``σ√T = 0`` (see :func:`price_chain`)."""
    discount = math.exp(-rate * t) if t > 0.0 else 1.0
    moneyness = f - k if call else k - f  # > 0 in the money
    side = 1.0 if call else -1.0
    price = discount * max(moneyness, 0.0)
    if moneyness > 0.0:
        delta = side * discount
    elif moneyness == 0.0:
        delta = 0.5 * side * discount
    else:
        delta = 0.0
    return price, delta, rate * price / DAYS_PER_YEAR if t > 0.0 else 0.0


# One array per chain column plus the rate and five outputs: the flat positional call of the
# house kernels, so the kernel sees only primitives and arrays.
@_kernel
def price_chain(  # noqa: PLR0917
    forward: npt.NDArray[np.float64],
    strike: npt.NDArray[np.float64],
    years: npt.NDArray[np.float64],
    volatility: npt.NDArray[np.float64],
    is_call: npt.NDArray[np.bool_],
    rate: float,
    out_price: npt.NDArray[np.float64],
    out_delta: npt.NDArray[np.float64],
    out_gamma: npt.NDArray[np.float64],
    out_theta_day: npt.NDArray[np.float64],
    out_vega_point: npt.NDArray[np.float64],
) -> None:
    """Write the Black-76 price and greeks of every option of a chain (see the module doc).

    ``is_call`` is a bool array, True for a call (CE), False for a put (PE); an integer array
    also works (non-zero is a call). All arrays have the chain's length.

    Degenerate options, where the formula divides by ``σ√T = 0``:

    - ``years <= 0`` (at or past expiry): the expiry value, not discounted: price
      ``max(F − K, 0)`` (call) or ``max(K − F, 0)`` (put); delta +1 / −1 in the money, 0 out of
      it, ±0.5 at the money; gamma, theta and vega 0.
    - ``volatility <= 0`` before expiry: the formula's limit as σ → 0, the discounted intrinsic
      value ``e^{−rT}·max(F − K, 0)`` (so :func:`implied_volatility` of it is NaN, as of any price
      at that floor); delta ±e^{−rT} in the money, 0 out of it, ±0.5·e^{−rT} at the money;
      theta ``r·price / 365`` (the discounting alone); gamma and vega 0.
    """
    # A chain repeats its inputs: options of one expiry share T (so √T and the discount), and a
    # call and put of one strike share F, K, T and σ (so d1, d2, the density and the tails
    # N(−|d1|), N(−|d2|) that give both N(±d1) and N(±d2)). Each is kept from the option before
    # when its inputs are the same: the same operations on the same inputs, so the results are
    # bit for bit those computed afresh.
    last_t = math.nan
    sqrt_years = discount = 0.0
    last_f = last_k = last_sigma = math.nan
    d1 = d2 = deviation = density = tail_d1 = tail_d2 = 0.0
    for i in range(forward.shape[0]):
        f = forward[i]
        k = strike[i]
        t = years[i]
        sigma = volatility[i]
        call = bool(is_call[i])
        if t <= 0.0 or sigma <= 0.0:
            out_price[i], out_delta[i], out_theta_day[i] = _degenerate(f, k, t, call, rate)
            out_gamma[i] = 0.0
            out_vega_point[i] = 0.0
            continue
        if t != last_t:
            sqrt_years = math.sqrt(t)
            discount = math.exp(-rate * t)
            last_t = t
            last_f = math.nan  # d1 depends on T too
        if f != last_f or k != last_k or sigma != last_sigma:
            deviation = sigma * sqrt_years
            d1 = (math.log(f / k) + 0.5 * deviation * deviation) / deviation
            d2 = d1 - deviation
            density = _normal_pdf(d1)
            tail_d1 = _normal_tail(d1)
            tail_d2 = _normal_tail(d2)
            last_f, last_k, last_sigma = f, k, sigma
        if call:
            cdf_d1 = _cdf_from_tail(d1, tail_d1)
            price = discount * (f * cdf_d1 - k * _cdf_from_tail(d2, tail_d2))
            out_delta[i] = discount * cdf_d1
        else:
            cdf_minus_d1 = _cdf_from_tail(-d1, tail_d1)
            price = discount * (k * _cdf_from_tail(-d2, tail_d2) - f * cdf_minus_d1)
            out_delta[i] = -discount * cdf_minus_d1
        out_price[i] = price
        out_gamma[i] = discount * density / (f * deviation)
        decay_per_year = -discount * f * density * sigma / (2.0 * sqrt_years) + rate * price
        out_theta_day[i] = decay_per_year / DAYS_PER_YEAR
        out_vega_point[i] = discount * f * density * sqrt_years * VOLATILITY_POINT


@_kernel
def price_one(  # noqa: PLR0917 (price_chain's positional order, one option)
    forward: float, strike: float, years: float, volatility: float, is_call: bool, rate: float
) -> tuple[float, float]:
    """Return one option's ``(price, delta)``, bit for bit as :func:`price_chain` gives them.

    For callers that price options one at a time under changing inputs (the scenarios of
    ``engine.risk.scenarios``), where a chain's columns and its other greeks would be waste.
    The same operations in the same order as the chain, degenerate options included.
    """
    if years <= 0.0 or volatility <= 0.0:
        price, delta, _ = _degenerate(forward, strike, years, is_call, rate)
        return price, delta
    discount = math.exp(-rate * years)
    deviation = volatility * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * deviation * deviation) / deviation
    d2 = d1 - deviation
    tail_d1 = _normal_tail(d1)
    tail_d2 = _normal_tail(d2)
    if is_call:
        cdf_d1 = _cdf_from_tail(d1, tail_d1)
        price = discount * (forward * cdf_d1 - strike * _cdf_from_tail(d2, tail_d2))
        return price, discount * cdf_d1
    cdf_minus_d1 = _cdf_from_tail(-d1, tail_d1)
    price = discount * (strike * _cdf_from_tail(-d2, tail_d2) - forward * cdf_minus_d1)
    return price, -discount * cdf_minus_d1


@_kernel
def _implied_volatility_one(  # noqa: PLR0917
    price: float, forward: float, strike: float, years: float, is_call: bool, rate: float
) -> float:
    """Return the volatility that reprices one option, or NaN (see :func:`implied_volatility`)."""
    if not (years > 0.0 and forward > 0.0 and strike > 0.0):
        return math.nan
    discount = math.exp(-rate * years)
    intrinsic = max(forward - strike, 0.0) if is_call else max(strike - forward, 0.0)
    bound = forward if is_call else strike
    if not discount * intrinsic < price < discount * bound:  # also NaN prices
        return math.nan
    target = price / discount  # solve on the undiscounted price
    tolerance = IMPLIED_PRICE_TOLERANCE_RELATIVE * max(forward, strike)
    low = VOLATILITY_MIN
    high = VOLATILITY_MAX
    excess_low = _undiscounted_price_and_vega(forward, strike, years, low, is_call)[0] - target
    if abs(excess_low) <= tolerance:
        return low
    excess_high = _undiscounted_price_and_vega(forward, strike, years, high, is_call)[0] - target
    if abs(excess_high) <= tolerance:
        return high
    if excess_low > 0.0 or excess_high < 0.0:
        return math.nan  # the volatility lies outside VOLATILITY_MIN..VOLATILITY_MAX
    # Start at the price curve's inflection point (Manaster and Koehler), from where Newton's
    # steps approach the root from one side; at the money that point is 0, so start from the
    # Brenner–Subrahmanyam approximation price ≈ F σ √(T / 2π) instead.
    log_moneyness = abs(math.log(forward / strike))
    volatility = math.sqrt(2.0 * log_moneyness / years)
    if volatility < low:
        volatility = target / forward * math.sqrt(2.0 * math.pi / years)
    volatility = min(max(volatility, low), high)
    for _ in range(IMPLIED_ITERATIONS_MAX):
        model, vega = _undiscounted_price_and_vega(forward, strike, years, volatility, is_call)
        excess = model - target
        if abs(excess) <= tolerance:
            break
        if excess > 0.0:
            high = volatility
        else:
            low = volatility
        # Newton's step while it stays inside the bracket, bisection otherwise.
        step = volatility - excess / vega if vega > 0.0 else math.nan
        if not low < step < high:
            step = 0.5 * (low + high)
        if step == volatility:
            break  # the bracket is down to adjacent floats
        volatility = step
    return volatility


@_kernel
def implied_volatility(  # noqa: PLR0917
    price: npt.NDArray[np.float64],
    forward: npt.NDArray[np.float64],
    strike: npt.NDArray[np.float64],
    years: npt.NDArray[np.float64],
    is_call: npt.NDArray[np.bool_],
    rate: float,
    out_volatility: npt.NDArray[np.float64],
) -> None:
    """Write the Black-76 volatility that reproduces each option's price.

    Units and ``is_call`` as in :func:`price_chain`; the volatility is annualised, as a fraction.
    The solver is Newton's method on the price, kept inside a shrinking bracket
    ``VOLATILITY_MIN..VOLATILITY_MAX`` by bisection, and stops when the repriced option is within
    ``IMPLIED_PRICE_TOLERANCE_RELATIVE · max(F, K)`` of the price (1e-7 paise at a ₹90,000
    forward). Where the price barely depends on volatility (time value below that tolerance,
    e.g. deep in the money an hour from expiry) any volatility reprices it; an end of the range
    that does is returned (``VOLATILITY_MIN``, or ``VOLATILITY_MAX``).

    NaN where no volatility can give the price: ``years <= 0``; a price at or below the
    discounted intrinsic value ``e^{−rT}·max(F − K, 0)`` (call) or ``e^{−rT}·max(K − F, 0)``
    (put); a price at or above the no-arbitrage bound ``e^{−rT}·F`` (call) or ``e^{−rT}·K``
    (put); a volatility outside ``VOLATILITY_MIN..VOLATILITY_MAX``; a NaN input.
    """
    for i in range(price.shape[0]):
        out_volatility[i] = _implied_volatility_one(
            price[i], forward[i], strike[i], years[i], bool(is_call[i]), rate
        )


def warm_up() -> None:
    """Call every kernel once on tiny inputs so compilation (or cache loading) happens now."""
    one = np.ones(1, dtype=np.float64)
    calls = np.ones(1, dtype=np.bool_)
    price = np.zeros(1, dtype=np.float64)
    greeks = [np.zeros(1, dtype=np.float64) for _ in range(4)]
    price_chain(one * 100.0, one * 100.0, one, one * 0.2, calls, 0.05, price, *greeks)
    price_one(100.0, 100.0, 1.0, 0.2, True, 0.05)
    volatility = np.zeros(1, dtype=np.float64)
    implied_volatility(price, one * 100.0, one * 100.0, one, calls, 0.05, volatility)
