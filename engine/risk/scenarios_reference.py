"""Plain-Python reference for ``engine.risk.scenarios``, written for clarity rather than speed.

It restates :func:`engine.risk.scenarios.risk_arrays` one leg and one scenario at a time, with
plain loops and options priced by :func:`engine.market.black76_reference.price_option`, so the
tests can hold the compiled kernel to it (and the benchmark can time it). The scenario table and
the volatility floor are the kernel's own, imported, so that the table is written down once.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence

from engine.market.black76_reference import price_option
from engine.risk.scenarios import SCENARIO_COUNT, SCENARIOS, VOLATILITY_FLOOR


def leg_value_and_delta(  # noqa: PLR0917 (the kernel's column order, one leg)
    is_future: bool,
    is_call: bool,
    strike: float,
    forward: float,
    volatility: float,
    years: float,
    rate: float,
) -> tuple[float, float]:
    """Return a leg's value and delta per unit: a future's forward and 1, an option's Black-76."""
    if is_future:
        return forward, 1.0
    priced = price_option(forward, strike, years, volatility, is_call, rate)
    return priced.price, priced.delta


def risk_arrays(  # noqa: PLR0917 (mirrors the kernel's positional signature)
    group: Sequence[int],
    quantity: Sequence[float],
    is_future: Sequence[bool],
    is_call: Sequence[bool],
    strike: Sequence[float],
    forward: Sequence[float],
    volatility: Sequence[float],
    years: Sequence[float],
    price_scan: Sequence[float],
    vol_shift: Sequence[float],
    horizon_years: float,
    rate: float,
    extreme_weight: float,
    out_loss: Sequence[MutableSequence[float]],
    out_value: MutableSequence[float],
    out_delta: MutableSequence[float],
) -> None:
    """Write the weighted scenario losses and each leg's value and delta as
    :func:`engine.risk.scenarios.risk_arrays` does (errors included)."""
    if any(len(row) != SCENARIO_COUNT for row in out_loss):
        raise ValueError("out_loss needs one column per scenario")
    if any(not 0 <= g < len(out_loss) for g in group):
        raise IndexError("group out of range of out_loss's rows")
    for row in out_loss:
        for s in range(SCENARIO_COUNT):
            row[s] = 0.0
    for i in range(len(group)):
        leg = (bool(is_future[i]), bool(is_call[i]), float(strike[i]))
        value, delta = leg_value_and_delta(
            *leg, float(forward[i]), float(volatility[i]), float(years[i]), rate
        )
        out_value[i] = value
        out_delta[i] = delta
        years_after = max(float(years[i]) - horizon_years, 0.0)
        for s, scenario in enumerate(SCENARIOS):
            moved_forward = float(forward[i]) * (1.0 + scenario.price_move * float(price_scan[i]))
            moved_volatility = float(volatility[i])
            if scenario.volatility_direction != 0:
                shifted = moved_volatility + scenario.volatility_direction * float(vol_shift[i])
                moved_volatility = max(shifted, VOLATILITY_FLOOR)
            moved_value, _ = leg_value_and_delta(
                *leg, moved_forward, moved_volatility, years_after, rate
            )
            weight = extreme_weight if scenario.extreme else 1.0
            out_loss[int(group[i])][s] += float(quantity[i]) * (value - moved_value) * weight
