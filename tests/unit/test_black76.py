"""The Black-76 kernels price option chains, give their greeks and read volatilities off prices.

Proves: on a seeded random chain of thousands of options the compiled kernel gives the plain-
Python reference's prices to the paisa and its greeks to 1e-9; an external library (py_vollib)
agrees on prices to 1e-6 rupee and on every greek; put–call parity holds for prices and deltas,
and calls and puts share gamma and vega; expired and zero-volatility options get their documented
values; each greek is the finite difference of the price it claims to be; and the implied
volatility reprices every option to 1e-6 paise and is NaN exactly where no volatility can give
the price.
"""

from __future__ import annotations

import importlib
import math
import warnings
from types import ModuleType
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pytest

from engine.market import black76, black76_reference
from engine.market.black76 import ChainColumns

F64 = npt.NDArray[np.float64]
RATE = 0.065  # annual, continuously compounded
HOUR_YEARS = 1.0 / (365 * 24)
GREEKS = ("delta", "gamma", "theta_day", "vega_point")


class Priced(NamedTuple):
    """A chain's prices (paise) and greeks (units in engine.market.black76)."""

    price: F64
    delta: F64
    gamma: F64
    theta_day: F64
    vega_point: F64


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    black76.warm_up()


def random_chain(size: int, seed: int) -> ChainColumns:
    """Forwards ₹100..₹90,000 (log-uniform, whole paise), strikes within ±30 %, 1 hour..1 year
    to expiry (log-uniform), volatility 5 %..150 %, calls and puts."""
    rng = np.random.default_rng(seed)
    forward = np.round(np.exp(rng.uniform(math.log(100 * 100), math.log(90_000 * 100), size)))
    strike = np.round(forward * rng.uniform(0.7, 1.3, size))
    years = np.exp(rng.uniform(math.log(HOUR_YEARS), 0.0, size))
    volatility = rng.uniform(0.05, 1.5, size)
    return ChainColumns(forward, strike, years, volatility, rng.random(size) < 0.5)


def kernel_prices(chain: ChainColumns, rate: float = RATE) -> Priced:
    out = Priced(*(np.zeros(len(chain.forward)) for _ in Priced._fields))
    black76.price_chain(*chain, rate, *out)
    return out


def reference_prices(chain: ChainColumns, rate: float = RATE) -> Priced:
    size = len(chain.forward)
    columns = [column.tolist() for column in chain]
    out = [[0.0] * size for _ in Priced._fields]
    black76_reference.price_chain(*columns, rate, *out)
    return Priced(*(np.array(column) for column in out))


def kernel_volatility(price: F64, chain: ChainColumns, rate: float = RATE) -> F64:
    out = np.zeros(len(price))
    black76.implied_volatility(
        price, chain.forward, chain.strike, chain.years, chain.is_call, rate, out
    )
    return out


def with_kind(chain: ChainColumns, is_call: bool) -> ChainColumns:
    return chain._replace(is_call=np.full(len(chain.forward), is_call))


CHAIN = random_chain(4_000, seed=20261203)


# --- the kernel against its reference ------------------------------------------------------


def test_price_chain_when_random_chain_then_matches_reference() -> None:
    kernel = kernel_prices(CHAIN)
    reference = reference_prices(CHAIN)
    assert np.all(np.isfinite(kernel.price))
    assert [round(p) for p in kernel.price] == [round(p) for p in reference.price]
    for name in GREEKS:
        got, expected = getattr(kernel, name), getattr(reference, name)
        assert np.all(np.isfinite(got)), name
        mismatched = [
            (i, got[i], expected[i])
            for i in range(len(got))
            if not math.isclose(got[i], expected[i], rel_tol=1e-9, abs_tol=1e-12)
        ]
        assert not mismatched, (name, mismatched[:5])


def test_price_chain_when_chain_repeats_expiries_and_strikes_then_each_option_as_if_alone() -> None:
    # A real chain's layout: expiries in runs, each strike's call then put on the same inputs,
    # so the kernel reuses √T, the discount, d1, d2 and the normal tails; every option must come
    # out bit for bit as it does priced on its own.
    pairs = random_chain(500, seed=7)
    expiries = np.repeat(pairs.years[:5], 100)
    chain = ChainColumns(
        np.repeat(pairs.forward, 2),
        np.repeat(pairs.strike, 2),
        np.repeat(expiries, 2),
        np.repeat(pairs.volatility, 2),
        np.tile([True, False], 500),
    )
    together = kernel_prices(chain)
    for i in range(0, len(chain.forward), 7):
        alone = kernel_prices(ChainColumns(*(column[i : i + 1] for column in chain)))
        for name in Priced._fields:
            assert getattr(together, name)[i] == getattr(alone, name)[0], (name, i)
    reference = reference_prices(chain)
    np.testing.assert_array_equal(together.price, reference.price)
    for name in GREEKS:
        np.testing.assert_allclose(
            getattr(together, name), getattr(reference, name), rtol=1e-9, atol=1e-12
        )


def test_price_chain_when_kinds_given_as_integers_then_same_as_bools() -> None:
    as_bools = kernel_prices(CHAIN)
    as_integers = kernel_prices(CHAIN._replace(is_call=CHAIN.is_call.astype(np.int8)))
    for name in Priced._fields:
        assert np.array_equal(getattr(as_bools, name), getattr(as_integers, name)), name


# --- an external oracle --------------------------------------------------------------------


def vollib() -> tuple[ModuleType, ModuleType]:
    """py_vollib's Black module and its analytical greeks (py_vollib >= 1.0.12 re-exports
    ``vollib`` and warns that the old name is deprecated)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        black = importlib.import_module("py_vollib.black")
        greeks = importlib.import_module("py_vollib.black.greeks.analytical")
    return black, greeks


def oracle_grid() -> ChainColumns:
    """Forwards ₹150..₹85,000, strikes 80 %..120 %, 1 day..1 year, volatility 8 %..120 %."""
    rows = [
        (forward * 100.0, round(forward * moneyness) * 100.0, days / 365, volatility, is_call)
        for forward in (150, 1_500, 26_000, 85_000)
        for moneyness in (0.8, 0.95, 1.0, 1.05, 1.2)
        for days in (1, 7, 30, 91, 365)
        for volatility in (0.08, 0.2, 0.6, 1.2)
        for is_call in (True, False)
    ]
    forward, strike, years, volatility, is_call = zip(*rows, strict=True)
    return ChainColumns(
        np.array(forward),
        np.array(strike),
        np.array(years),
        np.array(volatility),
        np.array(is_call),
    )


@pytest.mark.parametrize("rate", [RATE, 0.0])
def test_price_chain_when_grid_then_agrees_with_py_vollib(rate: float) -> None:
    black, greeks = vollib()
    grid = oracle_grid()
    ours = kernel_prices(grid, rate)
    for i in range(len(grid.forward)):
        args = (
            "c" if grid.is_call[i] else "p",
            float(grid.forward[i]),
            float(grid.strike[i]),
            float(grid.years[i]),
            rate,
            float(grid.volatility[i]),
        )
        # Prices within 1e-6 rupee = 1e-4 paise (both sides priced in paise).
        assert abs(ours.price[i] - black.black(*args)) <= 1e-4, args
        # py_vollib's conventions are ours: delta and gamma per unit of the future, theta per
        # calendar day (-dV/dT / 365, including the r·V term), vega per volatility point
        # (its analytical vega carries the factor 0.01). No conversion needed.
        expected = {
            "delta": greeks.delta(*args),
            "gamma": greeks.gamma(*args),
            "theta_day": greeks.theta(*args),
            "vega_point": greeks.vega(*args),
        }
        for name, value in expected.items():
            assert math.isclose(getattr(ours, name)[i], value, rel_tol=1e-9, abs_tol=1e-12), (
                name,
                args,
                getattr(ours, name)[i],
                value,
            )


# --- parity between calls and puts ----------------------------------------------------------


def test_price_chain_when_call_and_put_of_one_strike_then_parity_holds() -> None:
    calls = kernel_prices(with_kind(CHAIN, True))
    puts = kernel_prices(with_kind(CHAIN, False))
    discount = np.exp(-RATE * CHAIN.years)
    parity = discount * (CHAIN.forward - CHAIN.strike)
    # Relative to the larger premium: C - P cancels to nothing at the money.
    scale = np.maximum(calls.price, puts.price)
    assert np.all(np.abs(calls.price - puts.price - parity) <= 1e-9 * scale)
    assert np.allclose(calls.delta - puts.delta, discount, rtol=0.0, atol=1e-12)
    assert np.array_equal(calls.gamma, puts.gamma)
    assert np.array_equal(calls.vega_point, puts.vega_point)


# --- degenerate options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("forward", "strike", "years", "volatility", "is_call", "price", "delta"),
    [
        # At or past expiry: the expiry value, not discounted; delta ±1 in the money.
        (110.0, 100.0, 0.0, 0.2, True, 10.0, 1.0),
        (90.0, 100.0, 0.0, 0.2, True, 0.0, 0.0),
        (100.0, 100.0, 0.0, 0.2, True, 0.0, 0.5),
        (90.0, 100.0, 0.0, 0.2, False, 10.0, -1.0),
        (110.0, 100.0, 0.0, 0.2, False, 0.0, 0.0),
        (100.0, 100.0, 0.0, 0.2, False, 0.0, -0.5),
        (110.0, 100.0, -0.01, 0.2, True, 10.0, 1.0),
        (90.0, 100.0, -0.01, 0.2, False, 10.0, -1.0),
    ],
)
def test_price_chain_when_expired_then_expiry_value(
    forward: float,
    strike: float,
    years: float,
    volatility: float,
    is_call: bool,
    price: float,
    delta: float,
) -> None:
    one = ChainColumns(*(np.array([v]) for v in (forward, strike, years, volatility, is_call)))
    for priced in (kernel_prices(one), reference_prices(one)):
        assert (priced.price[0], priced.delta[0]) == (price, delta)
        assert (priced.gamma[0], priced.theta_day[0], priced.vega_point[0]) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("forward", "strike", "is_call", "intrinsic", "delta_sign"),
    [
        (110.0, 100.0, True, 10.0, 1.0),
        (90.0, 100.0, True, 0.0, 0.0),
        (100.0, 100.0, True, 0.0, 0.5),
        (90.0, 100.0, False, 10.0, -1.0),
        (110.0, 100.0, False, 0.0, 0.0),
    ],
)
@pytest.mark.parametrize("volatility", [0.0, -0.1])
def test_price_chain_when_zero_volatility_before_expiry_then_discounted_intrinsic(
    forward: float,
    strike: float,
    is_call: bool,
    intrinsic: float,
    delta_sign: float,
    volatility: float,
) -> None:
    years = 0.25
    discount = math.exp(-RATE * years)
    one = ChainColumns(*(np.array([v]) for v in (forward, strike, years, volatility, is_call)))
    for priced in (kernel_prices(one), reference_prices(one)):
        assert priced.price[0] == pytest.approx(discount * intrinsic, abs=1e-12)
        assert priced.delta[0] == pytest.approx(delta_sign * discount, abs=1e-12)
        assert priced.theta_day[0] == pytest.approx(RATE * discount * intrinsic / 365, abs=1e-12)
        assert (priced.gamma[0], priced.vega_point[0]) == (0.0, 0.0)
    # ... which is where the formula goes as the volatility falls to zero.
    if intrinsic > 0:
        nearly = kernel_prices(one._replace(volatility=np.array([1e-6])))
        assert nearly.price[0] == pytest.approx(discount * intrinsic, abs=1e-9)
        assert nearly.delta[0] == pytest.approx(delta_sign * discount, abs=1e-9)
        assert nearly.theta_day[0] == pytest.approx(RATE * discount * intrinsic / 365, abs=1e-9)


# --- finite differences ---------------------------------------------------------------------


@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize("strike_rupees", [24_000, 26_000, 28_000])
@pytest.mark.parametrize("days", [2, 30, 180])
@pytest.mark.parametrize("volatility", [0.12, 0.8])
def test_greeks_when_bumped_then_match_finite_differences_of_the_reference_price(
    is_call: bool, strike_rupees: int, days: int, volatility: float
) -> None:
    forward, strike, years = 2_600_000.0, strike_rupees * 100.0, days / 365

    def price(f: float = forward, t: float = years, sigma: float = volatility) -> float:
        return black76_reference.price_option(f, strike, t, sigma, is_call, RATE).price

    one = ChainColumns(*(np.array([v]) for v in (forward, strike, years, volatility, is_call)))
    greeks = kernel_prices(one)
    # Bumps small against the option's own scales (σ√T for the forward), so that the central
    # differences' truncation errors (bump squared) stay far below the tolerances.
    bump_f = forward * volatility * math.sqrt(years) * 1e-4
    bump_t, bump_sigma = years * 1e-4, volatility * 1e-4
    delta = (price(f=forward + bump_f) - price(f=forward - bump_f)) / (2 * bump_f)
    gamma = (price(f=forward + bump_f) - 2 * price() + price(f=forward - bump_f)) / bump_f**2
    theta_day = -(price(t=years + bump_t) - price(t=years - bump_t)) / (2 * bump_t) / 365
    vega = (price(sigma=volatility + bump_sigma) - price(sigma=volatility - bump_sigma)) / 2
    vega_point = vega / bump_sigma * 0.01
    # A tiny greek (deep out of the money, short expiry) is checked against its price scale.
    assert greeks.delta[0] == pytest.approx(delta, rel=1e-6, abs=1e-9)
    assert greeks.gamma[0] == pytest.approx(gamma, rel=1e-4, abs=1e-14)
    assert greeks.theta_day[0] == pytest.approx(theta_day, rel=1e-6, abs=1e-6)
    assert greeks.vega_point[0] == pytest.approx(vega_point, rel=1e-6, abs=1e-6)


# --- implied volatility ---------------------------------------------------------------------


def test_implied_volatility_when_random_chain_then_reprices_within_a_millionth_paisa() -> None:
    priced = kernel_prices(CHAIN)
    volatility = kernel_volatility(priced.price, CHAIN)
    # math.exp as the kernel has it (numpy's exp may differ in the last bit).
    discount = np.array([math.exp(-RATE * t) for t in CHAIN.years])
    intrinsic = np.where(
        CHAIN.is_call,
        np.maximum(CHAIN.forward - CHAIN.strike, 0.0),
        np.maximum(CHAIN.strike - CHAIN.forward, 0.0),
    )
    # NaN exactly where the price has no time value left in float64: deep in the money with
    # hours to go (a tenth of this chain, which reaches ±30 % at one hour).
    at_floor = priced.price <= discount * intrinsic
    assert np.array_equal(np.isnan(volatility), at_floor)
    solved = ~at_floor
    repriced = kernel_prices(CHAIN._replace(volatility=np.where(solved, volatility, 0.2)))
    assert np.all(np.abs(repriced.price - priced.price)[solved] <= 1e-6)
    # Where the price moves with volatility, the volatility itself comes back.
    sensitive = solved & (priced.vega_point >= 0.01)
    assert sensitive.sum() > len(CHAIN.forward) // 2
    assert np.allclose(volatility[sensitive], CHAIN.volatility[sensitive], rtol=0.0, atol=1e-6)


def test_implied_volatility_when_random_chain_then_agrees_with_reference_bisection() -> None:
    sample = ChainColumns(*(column[:400] for column in CHAIN))
    priced = kernel_prices(sample)
    got = kernel_volatility(priced.price, sample)
    expected = [0.0] * 400
    black76_reference.implied_volatility(
        priced.price.tolist(),
        sample.forward.tolist(),
        sample.strike.tolist(),
        sample.years.tolist(),
        sample.is_call.tolist(),
        RATE,
        expected,
    )
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    both = ~np.isnan(got)
    # Both reprice within tolerance; they agree on the volatility where the price depends on it.
    for volatility in (got, np.array(expected)):
        repriced = kernel_prices(sample._replace(volatility=np.where(both, volatility, 0.2)))
        assert np.all(np.abs(repriced.price - priced.price)[both] <= 1e-6)
    sensitive = both & (priced.vega_point >= 0.01)
    assert np.allclose(got[sensitive], np.array(expected)[sensitive], rtol=0.0, atol=1e-6)


def test_implied_volatility_when_price_outside_no_arbitrage_bounds_then_nan() -> None:
    forward, strike, years = 2_600_000.0, 2_500_000.0, 30 / 365
    discount = math.exp(-RATE * years)
    cases = [
        # (price, years, is_call)
        (discount * 100_000.0, years, True),  # exactly the discounted intrinsic value
        (discount * 100_000.0 - 1.0, years, True),  # below it
        (0.0, years, False),  # out-of-the-money put at zero: its intrinsic value
        (-1.0, years, False),
        (discount * forward, years, True),  # the call's upper bound: F discounted
        (discount * forward + 1.0, years, True),
        (discount * strike, years, False),  # the put's upper bound: K discounted
        (discount * strike + 1.0, years, False),
        (150_000.0, 0.0, True),  # expired
        (150_000.0, -1.0, True),
        (math.nan, years, True),
    ]
    for price, t, is_call in cases:
        one = ChainColumns(*(np.array([v]) for v in (forward, strike, t, 0.2, is_call)))
        assert math.isnan(kernel_volatility(np.array([price]), one)[0]), (price, t, is_call)
        reference = black76_reference.implied_volatility_of(
            price, forward, strike, t, is_call, RATE
        )
        assert math.isnan(reference), (price, t, is_call)


def test_implied_volatility_when_volatility_beyond_search_range_then_nan() -> None:
    forward, strike, years = 2_600_000.0, 2_600_000.0, 30 / 365
    one = ChainColumns(*(np.array([v]) for v in (forward, strike, years, 0.0, True)))
    for volatility in (0.0005, 6.0):
        price = black76_reference.price_option(forward, strike, years, volatility, True, RATE)
        got = kernel_volatility(np.array([price.price]), one)[0]
        assert math.isnan(got), volatility
        assert math.isnan(
            black76_reference.implied_volatility_of(price.price, forward, strike, years, True, RATE)
        )
