"""The numba market-realism kernels give the documented paise and match their references.

Proves: quotes keep at least one tick of spread and never go below one tick; slippage follows
the capped square-root impact model; fills pay the ask and receive the bid; convergence stays
on ticks and inside circuits and lands exactly on the reference; mark-to-market covers long,
short, flat and unpriced positions; and every compiled kernel returns exactly the integers
of its plain-Python reference on random realistic inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.market import kernels, kernels_reference

I64 = npt.NDArray[np.int64]
TICKS_PAISE = (1, 5, 10, 50, 100, 500)
PRICE_MAX_PAISE = 10**8


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    kernels.warm_up()


# --- quote_around -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ltp", "tick", "spread_ppm", "expected"),
    [
        # 0.15 % of ₹100 is 15 paise = 3 ticks (odd): bid 1 tick below, ask 2 above.
        (10_000, 5, 1500, (9_995, 10_010)),
        # 0.02 % of ₹100 is 2 paise: rounded up to one 5-paise tick, bid at the price.
        (10_000, 5, 200, (10_000, 10_005)),
        # 0.1 % of ₹1000 = 100 paise = 20 ticks (even): symmetric.
        (100_000, 5, 1000, (99_950, 100_050)),
        # A zero spread still quotes one tick.
        (10_000, 5, 0, (10_000, 10_005)),
        # Ceil: 0.15 % of 10_005 is 15.0075 paise -> 4 ticks.
        (10_005, 5, 1500, (9_995, 10_015)),
        # Large price: ₹10 lakh at 0.15 % = 1500 rupees = 1500 ticks of ₹1.
        (PRICE_MAX_PAISE, 100, 1500, (PRICE_MAX_PAISE - 75_000, PRICE_MAX_PAISE + 75_000)),
        # Bid would fall below one tick at a wide spread on a one-tick price: clamped.
        (5, 5, 1_000_000, (5, 10)),
        (10, 5, 1_000_000, (5, 15)),
        # An off-grid price is snapped to the nearest tick first.
        (10_003, 5, 0, (10_005, 10_010)),
    ],
)
def test_quote_around_when_table_case_then_expected_bid_ask(
    ltp: int, tick: int, spread_ppm: int, expected: tuple[int, int]
) -> None:
    assert kernels.quote_around(ltp, tick, spread_ppm) == expected
    assert kernels_reference.quote_around(ltp, tick, spread_ppm) == expected


prices = st.integers(1, PRICE_MAX_PAISE)
ticks = st.sampled_from(TICKS_PAISE)
spreads_ppm = st.integers(0, 20_000)


@settings(max_examples=300, deadline=None)
@given(ltp=prices, tick=ticks, spread_ppm=spreads_ppm)
def test_quote_around_when_random_then_matches_reference_and_invariants(
    ltp: int, tick: int, spread_ppm: int
) -> None:
    bid, ask = kernels.quote_around(ltp, tick, spread_ppm)
    assert (bid, ask) == kernels_reference.quote_around(ltp, tick, spread_ppm)
    assert bid >= tick
    assert ask - bid >= tick
    assert bid % tick == 0
    assert ask % tick == 0


# --- slippage_ticks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "typical", "impact", "cap", "expected"),
    [
        (0, 100, 1.0, 10, 0),
        (-5, 100, 1.0, 10, 0),
        (100, 100, 1.0, 10, 1),  # at the typical size: exactly the impact
        (99, 100, 1.0, 10, 0),  # just below: floors to zero
        (400, 100, 1.0, 10, 2),  # 4x the size: 2x the impact
        (900, 100, 1.0, 10, 3),
        (2_500, 100, 1.5, 10, 7),  # 1.5 * 5 = 7.5 -> 7
        (1_000_000, 100, 1.0, 10, 10),  # sqrt(10_000) = 100, capped at 10
        (4, 0, 2.0, 10, 4),  # an unknown typical size counts as 1
        (100, 100, 1.0, 0, 0),
        (100, 100, -1.0, 10, 0),
    ],
)
def test_slippage_ticks_when_table_case_then_expected(
    quantity: int, typical: int, impact: float, cap: int, expected: int
) -> None:
    assert kernels.slippage_ticks(quantity, typical, impact, cap) == expected
    assert kernels_reference.slippage_ticks(quantity, typical, impact, cap) == expected


def test_slippage_ticks_when_quantity_grows_then_grows_as_square_root() -> None:
    results = [kernels.slippage_ticks(100 * k * k, 100, 1.0, 1_000) for k in range(1, 30)]
    assert results == list(range(1, 30))


@settings(max_examples=300, deadline=None)
@given(
    quantity=st.integers(-10, 10**9),
    typical=st.integers(-1, 10**7),
    impact=st.floats(0.0, 20.0),
    cap=st.integers(0, 100),
)
def test_slippage_ticks_when_random_then_matches_reference(
    quantity: int, typical: int, impact: float, cap: int
) -> None:
    got = kernels.slippage_ticks(quantity, typical, impact, cap)
    assert got == kernels_reference.slippage_ticks(quantity, typical, impact, cap)
    assert 0 <= got <= max(cap, 0)


# --- fill_price ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # (side, bid, ask, tick, slip_ticks)
        ((1, 9_995, 10_010, 5, 0), 10_010),  # BUY pays the ask
        ((-1, 9_995, 10_010, 5, 0), 9_995),  # SELL gets the bid
        ((1, 9_995, 10_010, 5, 3), 10_025),  # BUY pays 3 ticks more
        ((-1, 9_995, 10_010, 5, 3), 9_980),  # SELL gets 3 ticks less
        ((-1, 10, 15, 5, 4), 5),  # never below one tick
    ],
)
def test_fill_price_when_table_case_then_expected(
    args: tuple[int, int, int, int, int], expected: int
) -> None:
    assert kernels.fill_price(*args) == expected
    assert kernels_reference.fill_price(*args) == expected


@settings(max_examples=200, deadline=None)
@given(
    side=st.sampled_from((1, -1)),
    ltp=prices,
    tick=ticks,
    spread_ppm=spreads_ppm,
    slip=st.integers(0, 50),
)
def test_fill_price_when_random_then_matches_reference(
    side: int, ltp: int, tick: int, spread_ppm: int, slip: int
) -> None:
    bid, ask = kernels.quote_around(ltp, tick, spread_ppm)
    got = kernels.fill_price(side, bid, ask, tick, slip)
    assert got == kernels_reference.fill_price(side, bid, ask, tick, slip)
    assert got >= tick
    assert got % tick == 0


# --- converge_all -------------------------------------------------------------------------


class Row(NamedTuple):
    """One instrument's starting state (paise; spread in ppm; circuit 0 = none)."""

    ltp: int
    reference: int
    tick: int
    spread_ppm: int = 1500
    circuit_low: int = 0
    circuit_high: int = 0


class Market:
    """Columnar instrument state, as the market actor keeps it."""

    def __init__(self, rows: list[Row]) -> None:
        columns = [np.array(column, dtype=np.int64) for column in zip(*rows, strict=True)]
        if not columns:
            columns = [np.zeros(0, dtype=np.int64)] * len(Row._fields)
        self.ltp, self.reference, self.tick, self.spread_ppm = columns[:4]
        self.circuit_low, self.circuit_high = columns[4:]
        self.bid = np.zeros(len(rows), dtype=np.int64)
        self.ask = np.zeros(len(rows), dtype=np.int64)

    def step(self, converge: Callable[..., None], convergence_ppm: int) -> None:
        converge(
            self.ltp,
            self.reference,
            self.tick,
            self.spread_ppm,
            self.circuit_low,
            self.circuit_high,
            convergence_ppm,
            self.bid,
            self.ask,
        )

    def copy(self) -> Market:
        twin = Market([])
        for name, value in vars(self).items():
            setattr(twin, name, value.copy())
        return twin


@st.composite
def markets(draw: st.DrawFn) -> Market:
    n = draw(st.integers(1, 12))
    rows = []
    for _ in range(n):
        t = draw(ticks)
        ref = draw(st.one_of(st.just(0), st.integers(1, PRICE_MAX_PAISE)))
        # No price yet, on the grid, or off it (a source price finer than the tick).
        start = draw(
            st.one_of(st.just(0), st.integers(1, PRICE_MAX_PAISE // t).map(t.__mul__), prices)
        )
        low = high = 0
        if draw(st.booleans()):
            band = max(ref, start, 1)
            low = draw(st.integers(0, band))
            high = draw(st.integers(band, 2 * band))
        rows.append(Row(start, ref, t, draw(spreads_ppm), low, high))
    return Market(rows)


def _assert_same(a: Market, b: Market) -> None:
    np.testing.assert_array_equal(a.ltp, b.ltp)
    np.testing.assert_array_equal(a.bid, b.bid)
    np.testing.assert_array_equal(a.ask, b.ask)


@settings(max_examples=200, deadline=None)
@given(
    market=markets(),
    convergence_ppm=st.sampled_from((0, 1, 100_000, 333_333, 500_000, 1_000_000)),
    steps=st.integers(1, 5),
)
def test_converge_all_when_random_market_then_matches_reference(
    market: Market, convergence_ppm: int, steps: int
) -> None:
    compiled, reference = market, market.copy()
    for _ in range(steps):
        compiled.step(kernels.converge_all, convergence_ppm)
        reference.step(kernels_reference.converge_all, convergence_ppm)
        _assert_same(compiled, reference)

    priced = compiled.reference > 0
    tick = compiled.tick[priced]
    ltp = compiled.ltp[priced]
    assert np.all(ltp % tick == 0)
    assert np.all(ltp >= tick)
    low = np.maximum(-(-compiled.circuit_low[priced] // tick), 1) * tick
    high = compiled.circuit_high[priced] // tick * tick
    assert np.all(ltp >= low)
    # An upper band holds unless there is none or it is narrower than a tick (the lower wins).
    assert np.all((compiled.circuit_high[priced] <= 0) | (ltp <= high) | (low > high))
    assert np.all(compiled.bid[~priced] == 0)
    assert np.all(compiled.ask[~priced] == 0)


def test_converge_all_when_no_reference_then_instrument_unchanged() -> None:
    market = Market([Row(12_345, 0, 5)])
    market.step(kernels.converge_all, 100_000)
    assert market.ltp.tolist() == [12_345]
    assert (market.bid.tolist(), market.ask.tolist()) == ([0], [0])


def test_converge_all_when_no_ltp_yet_then_starts_at_reference() -> None:
    market = Market([Row(0, 250_000, 5)])
    market.step(kernels.converge_all, 100_000)
    assert market.ltp.tolist() == [250_000]
    assert (market.bid[0], market.ask[0]) == kernels.quote_around(250_000, 5, 1500)


def test_converge_all_when_reference_past_circuit_then_clamped_inward_to_ticks() -> None:
    # Circuits at 99_997 and 100_003 paise snap inward to 100_000 on a 5-paise tick.
    up = Market([Row(100_000, 200_000, 5, 1500, 99_997, 100_003)])
    up.step(kernels.converge_all, 1_000_000)
    assert up.ltp.tolist() == [100_000]
    down = Market([Row(100_000, 10, 5, 1500, 90_003, 200_000)])
    down.step(kernels.converge_all, 1_000_000)
    assert down.ltp.tolist() == [90_005]


def test_converge_all_when_ten_percent_pull_then_lands_exactly_on_reference() -> None:
    n = 50
    rng = np.random.default_rng(7)
    tick = rng.choice(TICKS_PAISE, n).astype(np.int64)
    reference = rng.integers(1_000, PRICE_MAX_PAISE // 500, n) * tick
    start = np.maximum(reference + rng.integers(-400, 400, n) * tick, tick)
    market = Market(
        [Row(*row) for row in zip(start.tolist(), reference.tolist(), tick.tolist(), strict=True)]
    )
    distance = np.abs(market.ltp - reference)
    first = market.ltp.copy()
    market.step(kernels.converge_all, 100_000)
    # The first step closes a tenth of each gap, to the nearest tick (at least one).
    expected = np.sign(reference - first) * np.maximum(
        np.floor(np.abs(reference - first) // tick * 0.1 + 0.5), (reference != first)
    )
    np.testing.assert_array_equal((market.ltp - first) // tick, expected.astype(np.int64))
    for _ in range(200):
        market.step(kernels.converge_all, 100_000)
        new_distance = np.abs(market.ltp - reference)
        assert np.all(new_distance <= distance)
        distance = new_distance
    np.testing.assert_array_equal(market.ltp, reference)


def test_converge_all_when_reference_off_the_grid_then_settles_on_its_nearest_tick() -> None:
    market = Market([Row(10_000, 10_003, 5), Row(10_000, 10_002, 5)])
    for _ in range(5):
        market.step(kernels.converge_all, 100_000)
    assert market.ltp.tolist() == [10_005, 10_000]


# --- mark_to_market and sum_by_group ------------------------------------------------------


def _mark(
    quantity: list[int], cost: list[int], index: list[int], ltp: list[int]
) -> tuple[int, list[int]]:
    out = np.zeros(len(quantity), dtype=np.int64)
    total = kernels.mark_to_market(
        np.array(quantity, dtype=np.int64),
        np.array(cost, dtype=np.int64),
        np.array(index, dtype=np.int64),
        np.array(ltp, dtype=np.int64),
        out,
    )
    return total, out.tolist()


def test_mark_to_market_when_long_short_flat_unpriced_then_by_hand() -> None:
    ltp = [10_500, 20_000, 0]
    total, each = _mark(
        quantity=[10, -5, 0, 7, 3],
        # long 10 @ 100.00; short 5 @ 210.00; flat after +700 realized churn; long 7 @ 90.00
        # on instrument 0; unpriced instrument 2.
        cost=[100_000, -105_000, 0, 63_000, 30_000],
        index=[0, 1, 1, 0, 2],
        ltp=ltp,
    )
    # long: 10 * 105.00 - 1000.00 = +50.00; short: -5 * 200.00 + 1050.00 = +50.00;
    # flat: 0; long 7: 735.00 - 630.00 = +105.00; unpriced: 0.
    assert each == [5_000, 5_000, 0, 10_500, 0]
    assert total == 20_500


def test_mark_to_market_when_short_and_price_rises_then_loss() -> None:
    total, each = _mark([-100], [-1_000_000], [0], [10_100])
    assert each == [-10_000]
    assert total == -10_000


def test_mark_to_market_when_index_out_of_range_then_index_error() -> None:
    with pytest.raises(IndexError):
        _mark([1], [100], [3], [100, 200])


def test_sum_by_group_when_groups_then_totals() -> None:
    out = np.full(3, 99, dtype=np.int64)
    kernels.sum_by_group(
        np.array([5, -2, 7, 10], dtype=np.int64), np.array([0, 2, 0, 2], dtype=np.int64), 3, out
    )
    assert out.tolist() == [12, 0, 8]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n_positions=st.integers(0, 60), n_instruments=st.integers(1, 8))
def test_mark_to_market_and_sum_by_group_when_random_then_match_reference(
    data: st.DataObject, n_positions: int, n_instruments: int
) -> None:
    qty = st.integers(-(10**6), 10**6)
    ltp = data.draw(
        st.lists(st.one_of(st.just(0), prices), min_size=n_instruments, max_size=n_instruments)
    )
    quantity = data.draw(st.lists(qty, min_size=n_positions, max_size=n_positions))
    cost = [q * data.draw(prices) for q in quantity]
    index = data.draw(
        st.lists(st.integers(0, n_instruments - 1), min_size=n_positions, max_size=n_positions)
    )
    n_groups = data.draw(st.integers(1, 5))
    group = data.draw(
        st.lists(st.integers(0, n_groups - 1), min_size=n_positions, max_size=n_positions)
    )

    out = np.zeros(n_positions, dtype=np.int64)
    total = kernels.mark_to_market(
        np.array(quantity, dtype=np.int64),
        np.array(cost, dtype=np.int64),
        np.array(index, dtype=np.int64),
        np.array(ltp, dtype=np.int64),
        out,
    )
    expected = [0] * n_positions
    assert total == kernels_reference.mark_to_market(quantity, cost, index, ltp, expected)
    assert out.tolist() == expected

    by_group = np.zeros(n_groups, dtype=np.int64)
    kernels.sum_by_group(out, np.array(group, dtype=np.int64), n_groups, by_group)
    expected_by_group = [0] * n_groups
    kernels_reference.sum_by_group(expected, group, n_groups, expected_by_group)
    assert by_group.tolist() == expected_by_group
    assert int(by_group.sum()) == total
