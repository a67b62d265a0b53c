"""numba kernels for market realism and batch risk marking.

Every kernel is a pure function over integers, floats and numpy arrays: configuration arrives
as arguments, nothing is read from globals, and outputs go to caller-owned arrays.
``engine/kernels_reference.py`` restates each kernel in plain Python; the tests hold the two to
identical integers.

Units: prices and money are int64 paise, quantities whole units, rates parts per million
(``spread_ppm=1500`` is 0.15 %). Arithmetic is integer except the one documented float step
(the square root of slippage), a single IEEE operation that numba and CPython compute bit for
bit alike.

Valid ranges (so int64 never overflows and int-to-float conversions stay exact): prices below
10^9 paise (₹1 crore), ticks of at least one paisa, ppm arguments in 0..10^6.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from numba import njit

PPM = 1_000_000

_Kernel = TypeVar("_Kernel", bound=Callable[..., Any])


def _kernel(fn: _Kernel) -> _Kernel:
    """Compile ``fn`` with ``@njit(cache=True, nogil=True)``, keeping its signature for mypy."""
    return cast(_Kernel, njit(cache=True, nogil=True)(fn))


@_kernel
def _div_half_away(numerator: int, denominator: int) -> int:
    """Divide by a positive integer rounding half away from zero (2.5 -> 3, -2.5 -> -3)."""
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


@_kernel
def quote_around(ltp_paise: int, tick_paise: int, spread_ppm: int) -> tuple[int, int]:
    """Return ``(bid, ask)`` around a price with a spread of ``spread_ppm`` of it.

    The full spread is ``ceil(ltp * spread_ppm / 10^6 / tick)`` ticks, at least one; the bid sits
    ``spread_ticks // 2`` ticks below the price (so an odd spread leans above it) and never
    below one tick; the ask is ``spread_ticks`` ticks above the bid. A price off the tick grid is
    first snapped to the nearest tick (half up).
    """
    ltp = _div_half_away(ltp_paise, tick_paise) * tick_paise
    spread_ticks = (ltp * spread_ppm + PPM * tick_paise - 1) // (PPM * tick_paise)
    spread_ticks = max(spread_ticks, 1)
    bid = max(ltp - (spread_ticks // 2) * tick_paise, tick_paise)
    return bid, bid + spread_ticks * tick_paise


@_kernel
def slippage_ticks(
    quantity: int, typical_quantity: int, impact_ticks: float, cap_ticks: int
) -> int:
    """Return the square-root market impact of an order, in whole ticks.

    ``floor(impact_ticks * sqrt(quantity / typical_quantity))``, at most ``cap_ticks``, never
    negative; 0 for a non-positive quantity. A ``typical_quantity`` below 1 counts as 1.
    """
    if quantity <= 0 or cap_ticks <= 0:
        return 0
    typical = max(typical_quantity, 1)
    impact = impact_ticks * math.sqrt(float(quantity) / float(typical))
    if not impact > 0.0:  # also catches NaN
        return 0
    if impact >= cap_ticks:
        return cap_ticks
    return math.floor(impact)


@_kernel
def fill_price(side: int, bid: int, ask: int, tick: int, slip_ticks: int) -> int:
    """Return the execution price: BUY (``side`` +1) pays the ask plus slippage, SELL (-1) gets
    the bid minus slippage; never below one tick."""
    price = ask + slip_ticks * tick if side > 0 else bid - slip_ticks * tick
    return max(price, tick)


# One array per instrument column plus the rate: the agreed positional call, kept flat so the
# kernel sees only primitives and arrays.
@_kernel
def converge_all(  # noqa: PLR0917
    ltp: npt.NDArray[np.int64],
    reference: npt.NDArray[np.int64],
    tick: npt.NDArray[np.int64],
    spread_ppm: npt.NDArray[np.int64],
    circuit_low: npt.NDArray[np.int64],
    circuit_high: npt.NDArray[np.int64],
    convergence_ppm: int,
    out_bid: npt.NDArray[np.int64],
    out_ask: npt.NDArray[np.int64],
) -> None:
    """Move every instrument one step toward its reference; update ``ltp`` in place and write
    the quotes.

    For instrument ``i`` with ``reference > 0``, let ``cur`` be ``ltp`` (or the reference while
    ``ltp`` is not yet set) and ``target`` the reference, both snapped to the nearest tick,
    halves away from zero. The step is ``(target - cur) * convergence_ppm / 10^6`` rounded to
    whole ticks, halves away from zero, and at least one tick toward the target while there is
    a gap (with a positive convergence), so the price lands on the reference instead of
    stopping short of it. Then ``new = cur + step`` is clamped to the circuit band snapped
    inward to ticks (``circuit_high <= 0`` means no upper band) and to at least one tick; the
    lower bound wins if the band holds no tick.

    Instruments with ``reference <= 0`` (no price yet) keep their ``ltp`` and get bid = ask = 0.
    """
    for i in range(ltp.shape[0]):
        ref = reference[i]
        if ref <= 0:
            out_bid[i] = 0
            out_ask[i] = 0
            continue
        step = tick[i]
        cur = _div_half_away(ltp[i] if ltp[i] > 0 else ref, step) * step
        gap_ticks = _div_half_away(ref, step) - cur // step
        step_ticks = _div_half_away(gap_ticks * convergence_ppm, PPM)
        if step_ticks == 0 and gap_ticks != 0 and convergence_ppm > 0:
            step_ticks = 1 if gap_ticks > 0 else -1
        new = cur + step_ticks * step
        high = circuit_high[i]
        if high > 0:
            new = min(new, (high // step) * step)
        low = circuit_low[i]
        low_ticks = max((low + step - 1) // step, 1)
        new = max(new, low_ticks * step)
        ltp[i] = new
        bid, ask = quote_around(new, step, spread_ppm[i])
        out_bid[i] = bid
        out_ask[i] = ask


@_kernel
def quote_all(
    ltp: npt.NDArray[np.int64],
    tick: npt.NDArray[np.int64],
    spread_ppm: npt.NDArray[np.int64],
    out_bid: npt.NDArray[np.int64],
    out_ask: npt.NDArray[np.int64],
) -> None:
    """Write every instrument's ``(bid, ask)`` by :func:`quote_around` (0, 0 where ``ltp`` is
    not positive: no price yet)."""
    for i in range(ltp.shape[0]):
        if ltp[i] <= 0:
            out_bid[i] = 0
            out_ask[i] = 0
            continue
        bid, ask = quote_around(ltp[i], tick[i], spread_ppm[i])
        out_bid[i] = bid
        out_ask[i] = ask


@_kernel
def mark_to_market(
    quantity: npt.NDArray[np.int64],
    signed_cost: npt.NDArray[np.int64],
    instrument_index: npt.NDArray[np.int64],
    ltp: npt.NDArray[np.int64],
    out_unrealized: npt.NDArray[np.int64],
) -> int:
    """Write each position's unrealized P&L in paise and return the total.

    ``unrealized = quantity * ltp[instrument_index] - signed_cost``, where ``signed_cost`` is the
    sum of signed quantity times price (negative for shorts), so one formula covers long, short
    and flat. A position whose instrument has no price (ltp 0) marks at 0. An instrument index
    outside ``ltp`` raises ``IndexError``.
    """
    n_instruments = ltp.shape[0]
    total = 0
    for i in range(quantity.shape[0]):
        k = instrument_index[i]
        if k < 0 or k >= n_instruments:
            raise IndexError("instrument_index out of range")
        price = ltp[k]
        unrealized = quantity[i] * price - signed_cost[i] if price != 0 else 0
        out_unrealized[i] = unrealized
        total += unrealized
    return total


@_kernel
def sum_by_group(
    values: npt.NDArray[np.int64],
    group_index: npt.NDArray[np.int64],
    n_groups: int,
    out: npt.NDArray[np.int64],
) -> None:
    """Set ``out[g]`` to the sum of ``values[i]`` over ``group_index[i] == g``, for g < n_groups.

    A group index outside ``0..n_groups-1`` (or beyond ``out``) raises ``IndexError``.
    """
    n = min(n_groups, out.shape[0])
    for g in range(n):
        out[g] = 0
    for i in range(values.shape[0]):
        g = group_index[i]
        if g < 0 or g >= n:
            raise IndexError("group_index out of range")
        out[g] += values[i]


def warm_up() -> None:
    """Call every kernel once on tiny inputs so compilation (or cache loading) happens now."""
    one = np.ones(1, dtype=np.int64)
    _div_half_away(1, 1)
    quote_around(100, 5, 1500)
    slippage_ticks(10, 100, 1.0, 5)
    fill_price(1, 95, 100, 5, 1)
    ltp = np.full(1, 100, dtype=np.int64)
    bid = np.zeros(1, dtype=np.int64)
    ask = np.zeros(1, dtype=np.int64)
    converge_all(ltp, ltp.copy(), one, one, one, one * 1000, 100_000, bid, ask)
    quote_all(ltp, one, one, bid, ask)
    unrealized = np.zeros(1, dtype=np.int64)
    mark_to_market(one, one, np.zeros(1, dtype=np.int64), ltp, unrealized)
    sum_by_group(unrealized, np.zeros(1, dtype=np.int64), 1, np.zeros(1, dtype=np.int64))
