"""The SPAN scenario kernel revalues portfolios as the table says and matches its reference.

Proves: a future loses its quantity times each scenario's move, hand-checked row by row, and its
worst scenario is the full range against it (the extreme ±2 ranges count for 35 %); a long
option never loses more than its value, a short call's worst is an up move and a short put's a
down move; an option that expires within the horizon is worth its intrinsic value; futures read
none of the option columns; portfolios computed together equal each computed alone, and a
reused buffer is overwritten; a group outside the buffer raises before anything is written;
on random portfolios (expired, expiring within the day, at the volatility floor) the compiled
kernel gives its plain-Python reference's losses, values and deltas; and
``black76.price_one`` is ``price_chain`` bit for bit, one option at a time.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.market import black76
from engine.risk import scenarios, scenarios_reference
from engine.risk.scenarios import SCENARIO_COUNT, SCENARIOS

F64 = npt.NDArray[np.float64]
HORIZON_YEARS = 1.0 / 365.0
RATE = 0.065
EXTREME_WEIGHT = 0.35
NIFTY_PAISE = 2_600_000.0
PRICE_SCAN = 0.093
VOL_SHIFT = 0.04


class Book(NamedTuple):
    """Legs in :func:`engine.risk.scenarios.risk_arrays`'s column order."""

    group: npt.NDArray[np.int64]
    quantity: F64
    is_future: npt.NDArray[np.bool_]
    is_call: npt.NDArray[np.bool_]
    strike: F64
    forward: F64
    volatility: F64
    years: F64
    price_scan: F64
    vol_shift: F64


class Leg(NamedTuple):
    """One leg of a :class:`Book`, as written in a test."""

    quantity: float
    kind: str  # "future", "call" or "put"
    strike: float = 0.0
    forward: float = NIFTY_PAISE
    volatility: float = 0.13
    years: float = 30 / 365
    price_scan: float = PRICE_SCAN
    vol_shift: float = VOL_SHIFT
    group: int = 0


class Risk(NamedTuple):
    loss: F64  # (groups, 16)
    value: F64
    delta: F64


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    scenarios.warm_up()
    black76.warm_up()


def book_of(legs: list[Leg]) -> Book:
    return Book(
        np.array([leg.group for leg in legs], dtype=np.int64),
        np.array([leg.quantity for leg in legs], dtype=np.float64),
        np.array([leg.kind == "future" for leg in legs]),
        np.array([leg.kind == "call" for leg in legs]),
        np.array([leg.strike for leg in legs], dtype=np.float64),
        np.array([leg.forward for leg in legs], dtype=np.float64),
        np.array([leg.volatility for leg in legs], dtype=np.float64),
        np.array([leg.years for leg in legs], dtype=np.float64),
        np.array([leg.price_scan for leg in legs], dtype=np.float64),
        np.array([leg.vol_shift for leg in legs], dtype=np.float64),
    )


def kernel_risk(book: Book, groups: int = 1, out_loss: F64 | None = None) -> Risk:
    legs = len(book.group)
    out = Risk(
        np.zeros((groups, SCENARIO_COUNT)) if out_loss is None else out_loss,
        np.zeros(legs),
        np.zeros(legs),
    )
    scenarios.risk_arrays(*book, HORIZON_YEARS, RATE, EXTREME_WEIGHT, *out)
    return out


def reference_risk(book: Book, groups: int = 1, scenario_columns: int = SCENARIO_COUNT) -> Risk:
    legs = len(book.group)
    loss = [[0.0] * scenario_columns for _ in range(groups)]
    value, delta = [0.0] * legs, [0.0] * legs
    as_lists: dict[str, Any] = {
        name: column.tolist() for name, column in zip(Book._fields, book, strict=True)
    }
    scenarios_reference.risk_arrays(
        **as_lists,
        horizon_years=HORIZON_YEARS,
        rate=RATE,
        extreme_weight=EXTREME_WEIGHT,
        out_loss=loss,
        out_value=value,
        out_delta=delta,
    )
    return Risk(np.array(loss), np.array(value), np.array(delta))


def worst_scenario(loss_row: F64) -> scenarios.Scenario:
    return SCENARIOS[int(np.argmax(loss_row))]


# --- the table, by hand ---------------------------------------------------------------------


def test_risk_arrays_when_long_future_then_loses_quantity_times_each_move() -> None:
    risk = kernel_risk(book_of([Leg(65, "future")]))
    # 65 units × ₹26,000 × 9.3 % = ₹1,57,170 for a full range; a third of it is ₹52,390.
    third = 5_239_000.0
    expected = [
        0.0, 0.0,
        -third, -third, third, third,
        -2 * third, -2 * third, 2 * third, 2 * third,
        -3 * third, -3 * third, 3 * third, 3 * third,
        -6 * third * 0.35, 6 * third * 0.35,
    ]  # fmt: skip
    np.testing.assert_allclose(risk.loss[0], expected, rtol=1e-12, atol=1e-6)
    assert (risk.value[0], risk.delta[0]) == (NIFTY_PAISE, 1.0)
    worst = scenarios.scan_risk(risk.loss)[0]
    assert worst == pytest.approx(65 * NIFTY_PAISE * 0.093, rel=1e-12)
    # The −1 range, with the volatility up or down (13, 14): a future does not see it.
    assert worst == risk.loss[0, 12] == risk.loss[0, 13]
    # The extreme −2 ranges (16) count for 35 %: ₹1,10,019, less than the full range.
    assert risk.loss[0, 15] == pytest.approx(65 * NIFTY_PAISE * 0.186 * 0.35, rel=1e-12)
    assert risk.loss[0, 15] < worst


def test_risk_arrays_when_short_future_then_worst_is_the_up_range() -> None:
    risk = kernel_risk(book_of([Leg(-65, "future")]))
    worst = scenarios.scan_risk(risk.loss)[0]
    assert worst == pytest.approx(65 * NIFTY_PAISE * 0.093, rel=1e-12)
    assert worst_scenario(risk.loss[0]).price_move == 1.0
    assert worst == risk.loss[0, 10] == risk.loss[0, 11]


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("moneyness", [0.9, 1.0, 1.1])
@pytest.mark.parametrize("days", [2, 30, 75])
def test_risk_arrays_when_long_option_then_worst_loss_positive_and_at_most_its_value(
    kind: str, moneyness: float, days: int
) -> None:
    leg = Leg(75, kind, strike=round(NIFTY_PAISE * moneyness), years=days / 365)
    risk = kernel_risk(book_of([leg]))
    worst = scenarios.scan_risk(risk.loss)[0]
    # At worst the whole premium is gone (a scenario values the option at zero, no less).
    assert 0.0 < worst <= 75 * risk.value[0]


@pytest.mark.parametrize(("kind", "sign"), [("call", 1.0), ("put", -1.0)])
@pytest.mark.parametrize("moneyness", [0.9, 1.0, 1.1])
@pytest.mark.parametrize("days", [2, 30, 75])
def test_risk_arrays_when_short_option_then_worst_is_a_move_against_it(
    kind: str, sign: float, moneyness: float, days: int
) -> None:
    leg = Leg(-75, kind, strike=round(NIFTY_PAISE * moneyness), years=days / 365)
    risk = kernel_risk(book_of([leg]))
    assert scenarios.scan_risk(risk.loss)[0] > 0.0
    assert sign * worst_scenario(risk.loss[0]).price_move > 0.0


def test_risk_arrays_when_option_expires_within_horizon_then_worth_its_intrinsic_value() -> None:
    strike = 2_500_000.0
    leg = Leg(10, "call", strike=strike, years=HORIZON_YEARS / 2)
    risk = kernel_risk(book_of([leg]))
    for s, scenario in enumerate(SCENARIOS):
        moved = NIFTY_PAISE * (1.0 + scenario.price_move * PRICE_SCAN)
        weight = EXTREME_WEIGHT if scenario.extreme else 1.0
        expected = 10 * (risk.value[0] - max(moved - strike, 0.0)) * weight
        assert risk.loss[0, s] == pytest.approx(expected, rel=1e-12), s


def test_risk_arrays_when_volatility_shift_exceeds_volatility_then_floored() -> None:
    # σ 2 % shifted down by 4 points would be negative: valued at VOLATILITY_FLOOR instead.
    leg = Leg(1, "call", strike=NIFTY_PAISE, volatility=0.02, years=30 / 365)
    risk = kernel_risk(book_of([leg]))
    floored = black76.price_one(
        NIFTY_PAISE, NIFTY_PAISE, 30 / 365 - HORIZON_YEARS, scenarios.VOLATILITY_FLOOR, True, RATE
    )[0]
    assert risk.loss[0, 1] == risk.value[0] - floored
    assert floored > 0.0  # still a time value: the floor keeps it off the degenerate path


def test_risk_arrays_when_future_then_option_columns_not_read() -> None:
    plain = book_of([Leg(65, "future"), Leg(-30, "future", forward=2_650_000.0, group=1)])
    unread = plain._replace(
        is_call=np.array([True, False]),
        strike=np.full(2, math.nan),
        volatility=np.full(2, math.nan),
        vol_shift=np.full(2, math.nan),
    )
    for got, expected in zip(kernel_risk(unread, 2), kernel_risk(plain, 2), strict=True):
        np.testing.assert_array_equal(got, expected)


# --- groups and buffers ---------------------------------------------------------------------


def random_book(legs: int, groups: int, seed: int) -> Book:
    """A NIFTY-like book: futures, calls and puts of three expiries, legs of groups interleaved."""
    rng = np.random.default_rng(seed)
    years = rng.choice([2 / 365, 30 / 365, 75 / 365], legs)
    forward = np.round(NIFTY_PAISE * np.exp(RATE * years))
    kinds = rng.integers(0, 3, legs)
    return Book(
        rng.integers(0, groups, legs),
        (rng.integers(1, 1800, legs) * rng.choice([-1, 1], legs)).astype(np.float64),
        kinds == 0,
        kinds == 1,
        np.round(forward * rng.uniform(0.8, 1.2, legs) / 5_000) * 5_000,
        forward,
        rng.uniform(0.1, 0.3, legs),
        years,
        np.full(legs, PRICE_SCAN),
        np.full(legs, VOL_SHIFT),
    )


def test_risk_arrays_when_groups_interleaved_then_each_as_if_alone() -> None:
    book = random_book(60, groups=3, seed=11)
    together = kernel_risk(book, groups=3)
    for g in range(3):
        mine = book.group == g
        legs = Book(*(column[mine] for column in book))
        alone = kernel_risk(legs._replace(group=np.zeros(len(legs.group), dtype=np.int64)))
        np.testing.assert_array_equal(together.loss[g], alone.loss[0])
        np.testing.assert_array_equal(together.value[mine], alone.value)
        np.testing.assert_array_equal(together.delta[mine], alone.delta)


def test_risk_arrays_when_buffer_holds_garbage_then_overwritten() -> None:
    book = random_book(40, groups=4, seed=12)
    fresh = kernel_risk(book, groups=5)  # group 4 has no legs: a row of zeros
    garbage = np.random.default_rng(13).normal(0.0, 1e9, (5, SCENARIO_COUNT))
    garbage[0, 0] = math.nan
    reused = kernel_risk(book, groups=5, out_loss=garbage)
    np.testing.assert_array_equal(reused.loss, fresh.loss)
    assert reused.loss is garbage
    np.testing.assert_array_equal(fresh.loss[4], np.zeros(SCENARIO_COUNT))
    assert scenarios.scan_risk(fresh.loss)[4] == 0.0


@pytest.mark.parametrize("bad_group", [-1, 2])
def test_risk_arrays_when_group_outside_buffer_then_index_error_and_nothing_written(
    bad_group: int,
) -> None:
    book = book_of([Leg(65, "future"), Leg(65, "future", group=bad_group)])
    untouched = np.full((2, SCENARIO_COUNT), 7.0)
    with pytest.raises(IndexError):
        kernel_risk(book, out_loss=untouched)
    np.testing.assert_array_equal(untouched, np.full((2, SCENARIO_COUNT), 7.0))
    with pytest.raises(IndexError):
        reference_risk(book, groups=2)


def test_risk_arrays_when_buffer_lacks_a_column_per_scenario_then_value_error() -> None:
    book = book_of([Leg(65, "future")])
    with pytest.raises(ValueError, match="one column per scenario"):
        kernel_risk(book, out_loss=np.zeros((1, SCENARIO_COUNT - 1)))
    with pytest.raises(ValueError, match="one column per scenario"):
        reference_risk(book, scenario_columns=SCENARIO_COUNT - 1)


# --- the kernel against its reference --------------------------------------------------------

# Years to expiry: expired, exactly the horizon, within it (under a day) and up to half a year.
years_to_expiry = st.one_of(
    st.just(0.0),
    st.just(HORIZON_YEARS),
    st.floats(0.0, HORIZON_YEARS),
    st.floats(0.0, 0.5),
)


@st.composite
def books(draw: st.DrawFn) -> tuple[Book, int]:
    """1–20 legs of futures, calls and puts on one underlying (₹100..₹90,000), in 1–3 groups."""
    groups = draw(st.integers(1, 3))
    underlying = draw(st.floats(10_000.0, 9_000_000.0))
    legs = []
    for _ in range(draw(st.integers(1, 20))):
        forward = round(underlying * draw(st.floats(0.98, 1.02)))  # each expiry's forward
        legs.append(
            Leg(
                quantity=draw(st.integers(1, 1800)) * draw(st.sampled_from([1, -1])),
                kind=draw(st.sampled_from(["future", "call", "put"])),
                strike=round(forward * draw(st.floats(0.7, 1.3))),
                forward=forward,
                volatility=draw(st.floats(0.05, 0.8)),
                years=draw(years_to_expiry),
                # Shifts above the volatility reach VOLATILITY_FLOOR.
                price_scan=draw(st.floats(0.03, 0.2)),
                vol_shift=draw(st.floats(0.0, 0.1)),
                group=draw(st.integers(0, groups - 1)),
            )
        )
    return book_of(legs), groups


@settings(max_examples=300, deadline=None)
@given(drawn=books())
def test_risk_arrays_when_random_book_then_matches_reference(drawn: tuple[Book, int]) -> None:
    book, groups = drawn
    kernel = kernel_risk(book, groups)
    reference = reference_risk(book, groups)
    for got in kernel:
        assert np.all(np.isfinite(got))
    # Losses and values within a millionth of a paisa, deltas (at most 1) to 1e-12.
    np.testing.assert_allclose(kernel.loss, reference.loss, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(kernel.value, reference.value, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(kernel.delta, reference.delta, rtol=1e-12, atol=1e-15)
    # To the paisa, exactly. The two compute each loss by the same operations in the same
    # order, so no value can fall either side of a half paisa.
    np.testing.assert_array_equal(np.round(kernel.loss), np.round(reference.loss))
    np.testing.assert_array_equal(np.round(kernel.value), np.round(reference.value))


# --- price_one against price_chain ----------------------------------------------------------


def test_price_one_when_random_options_then_price_chain_bit_for_bit() -> None:
    rng = np.random.default_rng(20261204)
    size = 4_000
    forward = np.exp(rng.uniform(math.log(100 * 100), math.log(90_000 * 100), size)).round()
    strike = (forward * rng.uniform(0.7, 1.3, size)).round()
    strike[::50] = forward[::50]  # at the money, where a degenerate delta is ±0.5
    years = np.exp(rng.uniform(math.log(1.0 / (365 * 24)), 0.0, size))
    years[::7] = rng.choice([0.0, -0.01, 1e-9], len(years[::7]))
    volatility = rng.uniform(0.0, 1.5, size)
    volatility[::11] = rng.choice([0.0, -0.1], len(volatility[::11]))
    is_call = rng.random(size) < 0.5
    price, delta = np.zeros(size), np.zeros(size)
    greeks = [np.zeros(size) for _ in range(3)]
    black76.price_chain(forward, strike, years, volatility, is_call, RATE, price, delta, *greeks)
    for i in range(size):
        one = black76.price_one(
            forward[i], strike[i], years[i], volatility[i], bool(is_call[i]), RATE
        )
        assert one == (price[i], delta[i]), i
