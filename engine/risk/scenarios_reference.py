"""Plain-Python reference for ``engine.risk.scenarios``, written for clarity rather than speed.

It restates :func:`engine.risk.scenarios.risk_arrays` one leg and one scenario at a time, with
plain loops and options priced by :func:`engine.market.black76_reference.price_option`, so the
tests can hold the compiled kernel to it (and the benchmark can time it). The scenario table and
the volatility floor are the kernel's own, imported, so that the table is written down once.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence

from engine.market.black76_reference import price_option
from engine.risk.scenarios import (
    ROW_CALL,
    ROW_EXPIRY,
    ROW_FORWARD,
    ROW_FUTURE,
    ROW_GROUP,
    ROW_QUANTITY,
    ROW_STRIKE,
    ROW_VOLATILITY,
    ROW_YEARS,
    SCENARIO_COUNT,
    SCENARIOS,
    VOLATILITY_FLOOR,
)


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


def portfolio_spans(  # noqa: PLR0917 (mirrors the kernel's positional signature)
    rows: Sequence[Sequence[float]],
    groups: int,
    price_scan: float,
    volatility_scan: float,
    volatility_scan_min: float,
    horizon_years: float,
    rate: float,
    extreme_weight: float,
    short_minimum_per_unit: float,
    calendar_rate: float,
    out_span: MutableSequence[float],
) -> None:
    """:func:`engine.risk.scenarios.portfolio_spans` in plain Python (rows as sequences)."""
    count = len(rows)
    column = [[float(row[k]) for row in rows] for k in range(9)]
    volatility = column[ROW_VOLATILITY]
    loss = [[0.0] * SCENARIO_COUNT for _ in range(groups)]
    value = [0.0] * count
    delta = [0.0] * count
    risk_arrays(
        [int(g) for g in column[ROW_GROUP]],
        column[ROW_QUANTITY],
        [f != 0.0 for f in column[ROW_FUTURE]],
        [c != 0.0 for c in column[ROW_CALL]],
        column[ROW_STRIKE],
        column[ROW_FORWARD],
        volatility,
        column[ROW_YEARS],
        [price_scan] * count,
        [max(v * volatility_scan, volatility_scan_min) for v in volatility],
        horizon_years,
        rate,
        extreme_weight,
        loss,
        value,
        delta,
    )
    for g in range(groups):
        members = [i for i in range(count) if int(column[ROW_GROUP][i]) == g]
        if not members:
            out_span[g] = 0.0
            continue
        options = [i for i in members if column[ROW_FUTURE][i] == 0.0]
        option_value = sum(column[ROW_QUANTITY][i] * value[i] for i in options)
        shorts = sum(-column[ROW_QUANTITY][i] for i in options if column[ROW_QUANTITY][i] < 0.0)
        net: dict[float, float] = {}
        far: dict[float, float] = {}
        for i in members:
            expiry = column[ROW_EXPIRY][i]
            net[expiry] = net.get(expiry, 0.0) + column[ROW_QUANTITY][i] * delta[i]
            far[expiry] = column[ROW_FORWARD][i]
        calendar = 0.0
        if len(net) > 1:
            long_delta = sum(d for d in net.values() if d > 0.0)
            short_delta = sum(-d for d in net.values() if d <= 0.0)
            calendar = min(long_delta, short_delta) * far[max(net)] * calendar_rate
        risk = max(max(loss[g]) + calendar, short_minimum_per_unit * shorts)
        out_span[g] = max(0.0, risk - option_value)
