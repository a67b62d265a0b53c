"""The numba kernel that revalues portfolios under SPAN's 16 scenarios: the risk arrays.

SPAN margins the futures and options on one underlying together: it revalues the portfolio
under 16 scenarios of the underlying's price and volatility, and the worst loss is the scan
risk. Each scenario moves the price by a multiple of the *price scan range* (a fraction of the
forward set by the exchange; 0.093 is 9.3 %) and the volatility up or down by the *volatility
scan range* (absolute: 0.04 is four volatility points), and values every leg some time ahead
(the *horizon*, one day at NSE). Scenarios 15 and 16 are the extreme moves, twice the range with
the volatility unchanged, of which only a fraction counts (``extreme_weight``; NSE uses 0.35),
for the deep out-of-the-money options that ±1 range would not reach.

Units: forwards, strikes, values and losses in paise as float64, quantities in signed units
(+ long, − short) as float64, volatility annualised as a fraction, years of 365 days, ``rate``
the Black-76 discount rate (see :mod:`engine.market.black76`). Valid inputs: forward > 0,
strike > 0, years ≥ 0 and a price scan range below 0.5 (so that the −2 scenario's forward stays
positive); they are not checked, except that each leg's group must be a row of ``out_loss``.

``engine/risk/scenarios_reference.py`` restates the kernel in plain Python for the tests.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from engine.market.black76 import price_one
from engine.market.kernels import _kernel

Float64Array = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Scenario(NamedTuple):
    """One row of SPAN's table: how the price and the volatility move, and whether it is extreme."""

    price_move: float  # a multiple of the price scan range: F' = F·(1 + price_move·scan)
    volatility_direction: int  # +1 up, −1 down by the volatility scan range, 0 unchanged
    extreme: bool  # weighted by extreme_weight (the others count in full)


# In SPAN's order, so a scenario's number is its index + 1.
SCENARIOS = (
    Scenario(0.0, +1, False),
    Scenario(0.0, -1, False),
    Scenario(1.0 / 3.0, +1, False),
    Scenario(1.0 / 3.0, -1, False),
    Scenario(-1.0 / 3.0, +1, False),
    Scenario(-1.0 / 3.0, -1, False),
    Scenario(2.0 / 3.0, +1, False),
    Scenario(2.0 / 3.0, -1, False),
    Scenario(-2.0 / 3.0, +1, False),
    Scenario(-2.0 / 3.0, -1, False),
    Scenario(1.0, +1, False),
    Scenario(1.0, -1, False),
    Scenario(-1.0, +1, False),
    Scenario(-1.0, -1, False),
    Scenario(2.0, 0, True),
    Scenario(-2.0, 0, True),
)
SCENARIO_COUNT = len(SCENARIOS)
# A volatility moved down is kept at least this (0.1 %), where Black-76 still has a time value.
VOLATILITY_FLOOR = 0.001

# The table as columns, which numba freezes into the compiled kernel as constants.
_PRICE_MOVES = np.array([scenario.price_move for scenario in SCENARIOS], dtype=np.float64)
_VOLATILITY_DIRECTIONS = np.array(
    [scenario.volatility_direction for scenario in SCENARIOS], dtype=np.int64
)
_EXTREME = np.array([scenario.extreme for scenario in SCENARIOS], dtype=np.bool_)


@_kernel
def _check_shapes(group: Int64Array, out_loss: Float64Array) -> None:
    """Raise unless ``out_loss`` has a column per scenario and a row for every leg's group."""
    if out_loss.shape[1] != SCENARIO_COUNT:
        raise ValueError("out_loss needs one column per scenario")
    for i in range(group.shape[0]):
        if group[i] < 0 or group[i] >= out_loss.shape[0]:
            raise IndexError("group out of range of out_loss's rows")


# One array per leg column plus three settings and three outputs: the flat positional call of
# the house kernels, so the kernel sees only primitives and arrays.
@_kernel
def risk_arrays(  # noqa: PLR0917
    group: Int64Array,
    quantity: Float64Array,
    is_future: BoolArray,
    is_call: BoolArray,
    strike: Float64Array,
    forward: Float64Array,
    volatility: Float64Array,
    years: Float64Array,
    price_scan: Float64Array,
    vol_shift: Float64Array,
    horizon_years: float,
    rate: float,
    extreme_weight: float,
    out_loss: Float64Array,
    out_value: Float64Array,
    out_delta: Float64Array,
) -> None:
    """Write every group's weighted loss under each of the 16 scenarios, and each leg's value.

    A leg ``i`` belongs to portfolio ``group[i]`` (a row of ``out_loss``, which has shape
    ``(groups, 16)``; a group's legs need not be contiguous). ``out_loss`` is overwritten
    whole, so a buffer can be reused: ``out_loss[g, s]`` is the sum over the legs of ``g`` of
    ``quantity·(V − V_s)`` times the scenario's weight, a loss when positive, where

    - ``V``, written to ``out_value[i]``, is the leg's value per unit now: a future's
      ``forward``; an option's Black-76 price at ``(forward, strike, years, volatility)``.
      ``out_delta[i]`` is its delta: 1 for a future, an option's as
      :func:`engine.market.black76.price_chain` gives it;
    - ``V_s`` is its value ``horizon_years`` later under scenario ``s``: at the forward
      ``forward·(1 + price_move·price_scan[i])``, for an option with the volatility
      ``max(volatility + direction·vol_shift[i], VOLATILITY_FLOOR)`` (unchanged where the
      direction is 0) and ``max(years − horizon_years, 0)`` years left, priced as ``price_chain``
      prices it (an option expired by then is worth its intrinsic value, not discounted);
    - the weight is ``extreme_weight`` for scenarios 15 and 16, 1 for the others.

    ``is_call``, ``strike``, ``volatility`` and ``vol_shift`` are not read for futures. A
    group outside ``out_loss``'s rows raises ``IndexError`` and an ``out_loss`` without 16
    columns ``ValueError``, before anything is written.
    """
    _check_shapes(group, out_loss)
    out_loss[:, :] = 0.0
    for i in range(group.shape[0]):
        g = group[i]
        f = forward[i]
        units = quantity[i]
        scan = price_scan[i]
        if is_future[i]:
            out_value[i] = f
            out_delta[i] = 1.0
            for s in range(SCENARIO_COUNT):
                weight = extreme_weight if _EXTREME[s] else 1.0
                moved = f * (1.0 + _PRICE_MOVES[s] * scan)
                out_loss[g, s] += units * (f - moved) * weight
            continue
        k = strike[i]
        sigma = volatility[i]
        call = bool(is_call[i])
        value, delta = price_one(f, k, years[i], sigma, call, rate)
        out_value[i] = value
        out_delta[i] = delta
        years_after = max(years[i] - horizon_years, 0.0)
        for s in range(SCENARIO_COUNT):
            weight = extreme_weight if _EXTREME[s] else 1.0
            moved = f * (1.0 + _PRICE_MOVES[s] * scan)
            direction = _VOLATILITY_DIRECTIONS[s]
            sigma_moved = sigma
            if direction != 0:
                sigma_moved = max(sigma + direction * vol_shift[i], VOLATILITY_FLOOR)
            moved_value, _ = price_one(moved, k, years_after, sigma_moved, call, rate)
            out_loss[g, s] += units * (value - moved_value) * weight


# A portfolio leg's figures in :func:`portfolio_spans`'s rows, in this order.
ROW_GROUP, ROW_QUANTITY, ROW_FUTURE, ROW_CALL, ROW_STRIKE = 0, 1, 2, 3, 4
ROW_FORWARD, ROW_VOLATILITY, ROW_YEARS, ROW_EXPIRY = 5, 6, 7, 8
ROW_WIDTH = 9


@_kernel
def portfolio_spans(  # noqa: PLR0917
    rows: Float64Array,
    groups: int,
    price_scan: float,
    volatility_scan: float,
    volatility_scan_min: float,
    horizon_years: float,
    rate: float,
    extreme_weight: float,
    short_minimum_per_unit: float,
    calendar_rate: float,
    out_span: Float64Array,
) -> None:
    """Write each group's SPAN requirement (paise, unrounded) to ``out_span[group]``.

    ``rows`` has one row per leg of ``ROW_WIDTH`` figures: its group (0..groups-1), signed
    quantity, 1 for a future, 1 for a call, strike, forward, volatility, years to expiry and
    expiry (any number that orders the expiries, e.g. a date ordinal). Per group:
    ``max(0, max(scan risk + calendar charge, short minimum) − net option value)`` where the
    scan risk is the worst of :func:`risk_arrays`'s weighted losses (every leg at ``price_scan``
    and its volatility shifted by ``max(volatility·volatility_scan, volatility_scan_min)``), the
    calendar charge is ``calendar_rate`` × the farthest expiry's forward × the delta matched
    across expiries (the smaller of the long and short net deltas over them; 0 with one
    expiry), the short minimum is ``short_minimum_per_unit`` × the units short in options, and
    the net option value is the options' ``quantity × value`` summed. A group without legs gets 0.
    """
    count = rows.shape[0]
    group = np.empty(count, dtype=np.int64)
    for i in range(count):
        group[i] = np.int64(rows[i, ROW_GROUP])
    quantity = np.ascontiguousarray(rows[:, ROW_QUANTITY])
    volatility = np.ascontiguousarray(rows[:, ROW_VOLATILITY])
    vol_shift = np.maximum(volatility * volatility_scan, volatility_scan_min)
    loss = np.empty((groups, SCENARIO_COUNT))
    value = np.empty(count)
    delta = np.empty(count)
    risk_arrays(
        group,
        quantity,
        rows[:, ROW_FUTURE] != 0.0,
        rows[:, ROW_CALL] != 0.0,
        np.ascontiguousarray(rows[:, ROW_STRIKE]),
        np.ascontiguousarray(rows[:, ROW_FORWARD]),
        volatility,
        np.ascontiguousarray(rows[:, ROW_YEARS]),
        np.full(count, price_scan),
        vol_shift,
        horizon_years,
        rate,
        extreme_weight,
        loss,
        value,
        delta,
    )
    expiries = np.empty(count)
    net_deltas = np.empty(count)
    far_forwards = np.empty(count)
    for g in range(groups):
        worst = loss[g, 0]
        for s in range(1, SCENARIO_COUNT):
            worst = max(worst, loss[g, s])
        option_value = 0.0
        shorts = 0.0
        seen = 0  # distinct expiries of the group so far, in ``expiries``
        for i in range(count):
            if group[i] != g:
                continue
            units = quantity[i]
            if rows[i, ROW_FUTURE] == 0.0:
                option_value += units * value[i]
                if units < 0.0:
                    shorts -= units
            expiry = rows[i, ROW_EXPIRY]
            slot = 0
            while slot < seen and expiries[slot] != expiry:
                slot += 1
            if slot == seen:
                expiries[slot] = expiry
                net_deltas[slot] = 0.0
                seen += 1
            net_deltas[slot] += units * delta[i]
            far_forwards[slot] = rows[i, ROW_FORWARD]
        calendar = 0.0
        if seen > 1:
            long_delta = 0.0
            short_delta = 0.0
            farthest = 0
            for slot in range(seen):
                if net_deltas[slot] > 0.0:
                    long_delta += net_deltas[slot]
                else:
                    short_delta -= net_deltas[slot]
                if expiries[slot] > expiries[farthest]:
                    farthest = slot
            calendar = min(long_delta, short_delta) * far_forwards[farthest] * calendar_rate
        risk = max(worst + calendar, short_minimum_per_unit * shorts)
        out_span[g] = max(0.0, risk - option_value) if seen else 0.0


def scan_risk(loss: Float64Array) -> Float64Array:
    """Return each group's scan risk: its worst (largest) weighted loss over the 16 scenarios.

    Negative for a group that gains in every scenario; 0 for a group with no legs. How such a
    figure enters the margin (floored at zero, offset by spreads) is the margin model's choice.
    """
    worst: Float64Array = loss.max(axis=1)
    return worst


def warm_up() -> None:
    """Call the kernels once on a future and an option so compilation (or cache loading)
    happens now."""
    rows = np.array([[0, 1, 1, 0, 0, 100, 0, 0.1, 1], [0, -1, 0, 1, 100, 100, 0.2, 0.2, 2]])
    portfolio_spans(
        rows.astype(np.float64), 1, 0.1, 0.25, 0.04, 1 / 365, 0.05, 0.35, 0, 0.01, np.zeros(1)
    )
    legs = 2
    risk_arrays(
        np.zeros(legs, dtype=np.int64),
        np.array([1.0, -1.0]),
        np.array([True, False]),
        np.array([False, True]),
        np.full(legs, 100.0),
        np.full(legs, 100.0),
        np.full(legs, 0.2),
        np.full(legs, 0.1),
        np.full(legs, 0.1),
        np.full(legs, 0.04),
        1.0 / 365.0,
        0.05,
        0.35,
        np.zeros((1, SCENARIO_COUNT)),
        np.zeros(legs),
        np.zeros(legs),
    )
