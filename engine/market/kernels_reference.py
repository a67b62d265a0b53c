"""Plain-Python references for ``engine.market.kernels``, written for clarity rather than speed.

Each function restates its kernel's documented rule directly (exact fractions for the
roundings, Python's unbounded ints, plain loops over the elements) so the tests can hold the
compiled kernels to identical integers. The float steps are the same single IEEE operations as in
the kernels, since those are part of the definition.
"""

from __future__ import annotations

import math
from collections.abc import MutableSequence, Sequence
from fractions import Fraction

PPM = 1_000_000


def _round_half_away(value: Fraction) -> int:
    """Round an exact fraction to the nearest integer, halves away from zero."""
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def quote_around(ltp_paise: int, tick_paise: int, spread_ppm: int) -> tuple[int, int]:
    """Return ``(bid, ask)`` as :func:`engine.market.kernels.quote_around` does."""
    ltp = _round_half_away(Fraction(ltp_paise, tick_paise)) * tick_paise
    spread_ticks = max(math.ceil(Fraction(ltp * spread_ppm, PPM) / tick_paise), 1)
    bid = ltp - (spread_ticks // 2) * tick_paise
    bid = max(bid, tick_paise)
    return bid, bid + spread_ticks * tick_paise


def slippage_ticks(
    quantity: int, typical_quantity: int, impact_ticks: float, cap_ticks: int
) -> int:
    """The square-root impact in ticks, as :func:`engine.market.kernels.slippage_ticks` has it."""
    if quantity <= 0 or cap_ticks <= 0:
        return 0
    typical = typical_quantity if typical_quantity >= 1 else 1
    impact = impact_ticks * math.sqrt(float(quantity) / float(typical))
    if math.isnan(impact) or impact <= 0.0:
        return 0
    if impact >= cap_ticks:
        return cap_ticks
    return math.floor(impact)


def fill_price(side: int, bid: int, ask: int, tick: int, slip_ticks: int) -> int:
    """Return the execution price as :func:`engine.market.kernels.fill_price` does."""
    price = ask + slip_ticks * tick if side > 0 else bid - slip_ticks * tick
    return price if price >= tick else tick


def converge_all(  # noqa: PLR0917 (mirrors the kernel's positional signature)
    ltp: MutableSequence[int],
    reference: Sequence[int],
    tick: Sequence[int],
    spread_ppm: Sequence[int],
    circuit_low: Sequence[int],
    circuit_high: Sequence[int],
    convergence_ppm: int,
    out_bid: MutableSequence[int],
    out_ask: MutableSequence[int],
) -> None:
    """Move every instrument one step toward its reference as
    :func:`engine.market.kernels.converge_all` does."""
    for i in range(len(ltp)):
        ref = int(reference[i])
        if ref <= 0:
            out_bid[i] = 0
            out_ask[i] = 0
            continue
        step = int(tick[i])
        cur = _round_half_away(Fraction(int(ltp[i]) if ltp[i] > 0 else ref, step)) * step
        gap_ticks = _round_half_away(Fraction(ref, step)) - cur // step
        step_ticks = _round_half_away(Fraction(gap_ticks * convergence_ppm, PPM))
        if step_ticks == 0 and gap_ticks != 0 and convergence_ppm > 0:
            step_ticks = 1 if gap_ticks > 0 else -1
        new = cur + step_ticks * step
        high = int(circuit_high[i])
        if high > 0:
            new = min(new, math.floor(Fraction(high, step)) * step)
        low = int(circuit_low[i])
        new = max(new, max(math.ceil(Fraction(low, step)), 1) * step)
        ltp[i] = new
        out_bid[i], out_ask[i] = quote_around(new, step, int(spread_ppm[i]))


def quote_all(
    ltp: list[int], tick: list[int], spread_ppm: list[int], out_bid: list[int], out_ask: list[int]
) -> None:
    for i, price in enumerate(ltp):
        out_bid[i], out_ask[i] = (
            quote_around(price, tick[i], spread_ppm[i]) if price > 0 else (0, 0)
        )


def mark_to_market(
    quantity: Sequence[int],
    signed_cost: Sequence[int],
    instrument_index: Sequence[int],
    ltp: Sequence[int],
    out_unrealized: MutableSequence[int],
) -> int:
    """Write unrealized P&L per position and return the total, as the kernel does."""
    total = 0
    for i in range(len(quantity)):
        k = int(instrument_index[i])
        if not 0 <= k < len(ltp):
            raise IndexError("instrument_index out of range")
        price = int(ltp[k])
        unrealized = int(quantity[i]) * price - int(signed_cost[i]) if price != 0 else 0
        out_unrealized[i] = unrealized
        total += unrealized
    return total


def sum_by_group(
    values: Sequence[int],
    group_index: Sequence[int],
    n_groups: int,
    out: MutableSequence[int],
) -> None:
    """Total ``values`` per group as :func:`engine.market.kernels.sum_by_group` does."""
    n = min(n_groups, len(out))
    totals = [0] * n
    for value, g in zip(values, group_index, strict=True):
        if not 0 <= g < n:
            raise IndexError("group_index out of range")
        totals[g] += int(value)
    for g in range(n):
        out[g] = totals[g]
