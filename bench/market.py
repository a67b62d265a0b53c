"""Black-76 over a full option chain: the numba kernel against numpy and plain Python.

The chain: 5 underlyings (NIFTY, BANKNIFTY, SENSEX, FINNIFTY and a ₹1,500 stock) × 6 expiries
(1 to 90 days) × 101 strikes around the money × CE/PE = 6,060 options, forwards and strikes in
paise, volatilities from a smile. One tick prices the whole chain with all four greeks.

Timed per tick, after warm-up, median and p99 over many ticks:

- the numba kernel ``engine.market.black76.price_chain``;
- the same maths vectorised with numpy. numpy has no erf, so its normal CDF is W. J. Cody's
  rational Chebyshev approximation of erfc (the one behind ``scipy.special.erfc`` and
  Jäckel's "Let's Be Rational"), accurate to float64 and itself vectorised: a fair numpy
  version, not a slow ``np.vectorize(math.erf)`` nor a cruder 1e-7 approximation;
- the plain-Python reference ``engine.market.black76_reference.price_chain`` over lists.

Printed: the three times per tick, the ratios pure Python / numba and numpy / numba from the
same run, whether the targets are met (numba under 1 ms per tick, at least 50× pure Python), and
the time of ``implied_volatility`` over the whole chain.

    python -m bench.market [--ticks 2000] [--numpy-ticks 300] [--python-ticks 10]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from engine.market import black76, black76_reference
from engine.market.black76 import ChainColumns

F64 = npt.NDArray[np.float64]
RATE = 0.065  # annual, continuously compounded
STRIKES_EACH_SIDE = 50  # 101 strikes: the at-the-money one and 50 either side
EXPIRY_DAYS = (1, 7, 14, 30, 60, 90)
NUMBA_TARGET_US = 1_000.0
PYTHON_RATIO_TARGET = 50.0


class Underlying(NamedTuple):
    """An underlying's spot and strike interval in paise, and its at-the-money volatility."""

    name: str
    spot_paise: int
    strike_interval_paise: int
    atm_volatility: float


UNDERLYINGS = (
    Underlying("NIFTY", 2_600_000, 5_000, 0.12),
    Underlying("BANKNIFTY", 5_900_000, 10_000, 0.15),
    Underlying("SENSEX", 8_500_000, 10_000, 0.12),
    Underlying("FINNIFTY", 2_750_000, 5_000, 0.14),
    Underlying("STOCK", 150_000, 1_000, 0.25),
)


def build_chain() -> ChainColumns:
    """Every underlying × expiry × strike × CE/PE; forward ``spot·e^{rT}``; volatility from a
    smile in standardised moneyness ``x = ln(K/F)/√T``: ``σ = atm − 0.02x + 0.01x²``, kept
    within 5 %..150 %."""
    forwards: list[float] = []
    strikes: list[float] = []
    years_to_expiry: list[float] = []
    volatilities: list[float] = []
    kinds: list[bool] = []
    for underlying in UNDERLYINGS:
        interval = underlying.strike_interval_paise
        atm_strike = round(underlying.spot_paise / interval) * interval
        for days in EXPIRY_DAYS:
            years = days / 365
            forward = underlying.spot_paise * math.exp(RATE * years)
            for step in range(-STRIKES_EACH_SIDE, STRIKES_EACH_SIDE + 1):
                strike = float(atm_strike + step * interval)
                x = math.log(strike / forward) / math.sqrt(years)
                smile = underlying.atm_volatility - 0.02 * x + 0.01 * x * x
                for is_call in (True, False):
                    forwards.append(forward)
                    strikes.append(strike)
                    years_to_expiry.append(years)
                    volatilities.append(min(max(smile, 0.05), 1.5))
                    kinds.append(is_call)
    return ChainColumns(
        np.array(forwards),
        np.array(strikes),
        np.array(years_to_expiry),
        np.array(volatilities),
        np.array(kinds),
    )


# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
# (1969), as coded in his CALERF (Netlib SPECFUN): erf on |x| <= 0.46875, erfc on 0.46875..4
# and an asymptotic form beyond 4, each a ratio of polynomials.
_ERF_A = (3.1611237438705656, 113.864154151050156, 377.485237685302021, 3209.37758913846947)
_ERF_A_LAST = 0.185777706184603153
_ERF_B = (23.6012909523441209, 244.024637934444173, 1282.61652607737228, 2844.23683343917062)
_ERFC_C = (
    0.564188496988670089,
    8.88314979438837594,
    66.1191906371416295,
    298.635138197400131,
    881.95222124176909,
    1712.04761263407058,
    2051.07837782607147,
    1230.33935479799725,
)
_ERFC_C_LAST = 2.15311535474403846e-8
_ERFC_D = (
    15.7449261107098347,
    117.693950891312499,
    537.181101862009858,
    1621.38957456669019,
    3290.79923573345963,
    4362.61909014324716,
    3439.36767414372164,
    1230.33935480374942,
)
_ERFC_P = (
    0.305326634961232344,
    0.360344899949804439,
    0.125781726111229246,
    0.0160837851487422766,
    6.58749161529837803e-4,
)
_ERFC_P_LAST = 0.0163153871373020978
_ERFC_Q = (
    2.56852019228982242,
    1.87295284992346047,
    0.527905102951428412,
    0.0605183413124413191,
    0.00233520497626869185,
)
_ONE_OVER_SQRT_PI = 0.56418958354775628695
_ERFC_ZERO_BEYOND = 26.543  # erfc(x) underflows to 0 in float64 from here


def _exp_minus_square(y: F64) -> F64:
    """``e^{−y²}`` split as CALERF does, so the rounding of ``y²`` costs no accuracy."""
    y_sixteenths = np.trunc(y * 16.0) / 16.0
    return np.exp(-y_sixteenths * y_sixteenths) * np.exp(-(y - y_sixteenths) * (y + y_sixteenths))


def cody_erfc(x: F64) -> F64:
    """Return ``erfc(x)`` elementwise, by Cody's rational approximations (float64 accurate)."""
    y = np.abs(x)
    result = np.empty_like(x)
    small = y <= 0.46875
    ys = y[small]
    square = ys * ys
    numerator, denominator = _ERF_A_LAST * square, square
    for a, b in zip(_ERF_A[:3], _ERF_B[:3], strict=True):
        numerator = (numerator + a) * square
        denominator = (denominator + b) * square
    result[small] = 1.0 - x[small] * (numerator + _ERF_A[3]) / (denominator + _ERF_B[3])
    middle = (y > 0.46875) & (y <= 4.0)
    ym = y[middle]
    numerator, denominator = _ERFC_C_LAST * ym, ym
    for c, d in zip(_ERFC_C[:7], _ERFC_D[:7], strict=True):
        numerator = (numerator + c) * ym
        denominator = (denominator + d) * ym
    result[middle] = (numerator + _ERFC_C[7]) / (denominator + _ERFC_D[7]) * _exp_minus_square(ym)
    large = y > 4.0
    yl = y[large]
    inverse_square = 1.0 / (yl * yl)
    numerator, denominator = _ERFC_P_LAST * inverse_square, inverse_square
    for p, q in zip(_ERFC_P[:4], _ERFC_Q[:4], strict=True):
        numerator = (numerator + p) * inverse_square
        denominator = (denominator + q) * inverse_square
    tail = inverse_square * (numerator + _ERFC_P[4]) / (denominator + _ERFC_Q[4])
    tail = (_ONE_OVER_SQRT_PI - tail) / yl * _exp_minus_square(yl)
    result[large] = np.where(yl >= _ERFC_ZERO_BEYOND, 0.0, tail)
    negative = (x < 0.0) & ~small  # erfc(−y) = 2 − erfc(y); the small branch took x's sign
    result[negative] = 2.0 - result[negative]
    return result


def numpy_price_chain(chain: ChainColumns, rate: float) -> tuple[F64, F64, F64, F64, F64]:
    """Return price, delta, gamma, theta per day and vega per point: the kernel's maths in numpy.

    Only the regular case (``years > 0``, ``volatility > 0``), which the benchmark chain is.
    """
    forward, strike, years, volatility, is_call = chain
    sqrt_years = np.sqrt(years)
    deviation = volatility * sqrt_years
    d1 = (np.log(forward / strike) + 0.5 * deviation * deviation) / deviation
    d2 = d1 - deviation
    discount = np.exp(-rate * years)
    density = np.exp(-0.5 * d1 * d1) / math.sqrt(2.0 * math.pi)
    sign = np.where(is_call, 1.0, -1.0)  # a put is the call formula with d1, d2 and sign flipped
    cdf_d1 = 0.5 * cody_erfc(-sign * d1 / math.sqrt(2.0))
    cdf_d2 = 0.5 * cody_erfc(-sign * d2 / math.sqrt(2.0))
    price = sign * discount * (forward * cdf_d1 - strike * cdf_d2)
    delta = sign * discount * cdf_d1
    gamma = discount * density / (forward * deviation)
    theta_day = (
        -discount * forward * density * volatility / (2.0 * sqrt_years) + rate * price
    ) / 365
    vega_point = discount * forward * density * sqrt_years * 0.01
    return price, delta, gamma, theta_day, vega_point


def _time_ns(run: Callable[[], object], ticks: int) -> F64:
    samples = np.empty(ticks, dtype=np.float64)
    for n in range(ticks):
        start = time.perf_counter_ns()
        run()
        samples[n] = time.perf_counter_ns() - start
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--ticks", type=int, default=2_000, help="numba ticks timed")
    parser.add_argument("--numpy-ticks", type=int, default=300)
    parser.add_argument("--python-ticks", type=int, default=10)
    parser.add_argument("--iv-runs", type=int, default=5, help="implied-volatility runs timed")
    args = parser.parse_args()

    chain = build_chain()
    size = len(chain.forward)
    black76.warm_up()
    outputs = [np.zeros(size) for _ in range(5)]

    def numba_tick() -> None:
        black76.price_chain(*chain, RATE, *outputs)

    numba_tick()
    numba_ns = _time_ns(numba_tick, args.ticks)

    def numpy_tick() -> None:
        numpy_price_chain(chain, RATE)

    numpy_tick()
    numpy_ns = _time_ns(numpy_tick, args.numpy_ticks)
    columns = (
        chain.forward.tolist(),
        chain.strike.tolist(),
        chain.years.tolist(),
        chain.volatility.tolist(),
        chain.is_call.tolist(),
    )
    python_outputs = [[0.0] * size for _ in range(5)]

    def python_tick() -> None:
        black76_reference.price_chain(*columns, RATE, *python_outputs)

    python_ns = _time_ns(python_tick, args.python_ticks)

    numpy_gap = float(np.max(np.abs(numpy_price_chain(chain, RATE)[0] - outputs[0])))
    python_gap = float(np.max(np.abs(np.array(python_outputs[0]) - outputs[0])))
    prices = outputs[0].copy()
    volatility = np.zeros(size)
    black76.implied_volatility(
        prices, chain.forward, chain.strike, chain.years, chain.is_call, RATE, volatility
    )
    iv_ns = _time_ns(
        lambda: black76.implied_volatility(
            prices, chain.forward, chain.strike, chain.years, chain.is_call, RATE, volatility
        ),
        args.iv_runs,
    )
    solved = ~np.isnan(volatility)
    repriced = [np.zeros(size) for _ in range(5)]
    black76.price_chain(
        *chain._replace(volatility=np.where(solved, volatility, 0.2)), RATE, *repriced
    )
    reprice_gap = float(np.max(np.abs(repriced[0] - prices)[solved]))

    numba_us = float(np.median(numba_ns)) / 1e3
    numpy_us = float(np.median(numpy_ns)) / 1e3
    python_ms = float(np.median(python_ns)) / 1e6
    python_ratio = python_ms * 1e3 / numba_us
    print(
        f"Black-76 chain benchmark: {size:,} options ({len(UNDERLYINGS)} underlyings ×"
        f" {len(EXPIRY_DAYS)} expiries × {2 * STRIKES_EACH_SIDE + 1} strikes × CE/PE),"
        f" price + delta, gamma, theta/day, vega/point per tick"
    )
    print(
        f"numba kernel:          median {numba_us:8.0f} µs/tick, p99"
        f" {np.percentile(numba_ns, 99) / 1e3:8.0f} µs ({args.ticks} ticks)"
    )
    print(
        f"numpy vectorised:      median {numpy_us:8.0f} µs/tick, p99"
        f" {np.percentile(numpy_ns, 99) / 1e3:8.0f} µs ({args.numpy_ticks} ticks;"
        f" N from Cody's rational erfc approximation, numpy having no erf)"
    )
    print(
        f"pure Python reference: median {python_ms:8.1f} ms/tick, p99"
        f" {np.percentile(python_ns, 99) / 1e6:8.1f} ms ({args.python_ticks} ticks)"
    )
    print(f"pure Python / numba: {python_ratio:.0f}×; numpy / numba: {numpy_us / numba_us:.1f}×")
    print(
        f"max |price − numba price|: numpy {numpy_gap:.1e} paise, pure Python"
        f" {python_gap:.1e} paise"
    )
    print(
        f"implied volatility over the chain (numba): median {np.median(iv_ns) / 1e3:.0f} µs"
        f" per chain ({args.iv_runs} runs); {int(solved.sum()):,} solved, reprice within"
        f" {reprice_gap:.1e} paise; {size - int(solved.sum())} NaN"
    )
    met = "met" if numba_us < NUMBA_TARGET_US else "MISSED"
    print(f"target numba < {NUMBA_TARGET_US:.0f} µs/tick for the whole chain: {met}")
    met = "met" if python_ratio >= PYTHON_RATIO_TARGET else "MISSED"
    print(f"target numba ≥ {PYTHON_RATIO_TARGET:.0f}× pure Python: {met}")


if __name__ == "__main__":
    main()
