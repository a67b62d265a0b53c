"""The simulated reference prices, by statistics over many seeded sessions (docs/DOMAIN.md §5).

Each session starts a fresh source (its own seed) at the master's reference prices and refreshes
it every 3 s of fake clock for a full 375-minute session, as the market actor does. Over the
instruments whose price is at least 1,000 ticks (below that the tick itself adds visible noise
to one-minute returns):

* realised volatility of one-minute returns, annualised over the configured trading year, is
  within ±10 % of each class's configured volatility;
* the mean session log return, in units of its standard deviation, is within three standard
  errors of zero, and so is the mean session price return: the simulation has no drift;
* rounding to the tick is unbiased, and the same seed gives the same walk.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from engine.config import Config
from engine.domain.instruments import InstrumentMaster
from engine.market.market_data import MarketData
from engine.market.simulated_prices import SimulatedQuoteSource, annual_volatility, round_to_ticks

STEP_MS = 3_000
SESSION_MINUTES = 375
SESSIONS = 12
MIN_TICKS = 1_000


def market(config: Config, master: InstrumentMaster) -> MarketData:
    return MarketData(master, config.market, config.circuits, config.execution.slippage_cap_ticks)


def session_minutes(config: Config, master: InstrumentMaster, seed: int) -> np.ndarray:
    """One session's reference prices at every minute (row 0: the open), one column each."""
    data = market(config, master)
    source = SimulatedQuoteSource(seed, master, config.market.volatility)
    now = 1_795_496_400_000
    source.refresh(data, now)
    rows = [data.reference.copy()]
    for _ in range(SESSION_MINUTES):
        for _ in range(60_000 // STEP_MS):
            now += STEP_MS
            source.refresh(data, now)
        rows.append(data.reference.copy())
    return np.array(rows, dtype=np.float64)


@pytest.fixture(scope="module")
def sessions(config: Config, master: InstrumentMaster) -> list[np.ndarray]:
    return [session_minutes(config, master, seed) for seed in range(SESSIONS)]


def classes(config: Config, master: InstrumentMaster) -> dict[float, list[int]]:
    """Instrument indices by their configured volatility, those of at least MIN_TICKS ticks."""
    by_volatility: dict[float, list[int]] = defaultdict(list)
    for index, instrument in enumerate(master):
        if instrument.reference_price_paise >= MIN_TICKS * instrument.tick_paise:
            by_volatility[annual_volatility(config.market.volatility, instrument)].append(index)
    return by_volatility


def test_realised_volatility_when_sampled_each_minute_then_within_ten_percent_of_configured(
    config: Config, master: InstrumentMaster, sessions: list[np.ndarray]
) -> None:
    minutes_per_year = config.market.volatility.trading_year_ms / 60_000
    found = classes(config, master)
    assert len(found) >= 4  # index, stock tiers, commodity, options all present
    for volatility, indices in found.items():
        returns = np.concatenate([np.diff(np.log(s[:, indices]), axis=0).ravel() for s in sessions])
        realised = float(np.std(returns)) * math.sqrt(minutes_per_year)
        assert realised == pytest.approx(volatility, rel=0.10), (volatility, len(indices))


def test_session_returns_when_many_sessions_then_no_drift(
    config: Config, master: InstrumentMaster, sessions: list[np.ndarray]
) -> None:
    session_share = SESSION_MINUTES * 60_000 / config.market.volatility.trading_year_ms
    found = classes(config, master)
    indices = [i for members in found.values() for i in members]
    sigma = np.array(
        [annual_volatility(config.market.volatility, master.at(i)) for i in indices]
    ) * math.sqrt(session_share)
    log_returns = np.array([np.log(s[-1, indices] / s[0, indices]) for s in sessions])
    price_returns = np.array([s[-1, indices] / s[0, indices] - 1 for s in sessions])
    for returns in (log_returns, price_returns):
        standardised = (returns / sigma).ravel()  # each ~ N(0, 1) without drift
        standard_error = 1 / math.sqrt(standardised.size)
        assert abs(float(standardised.mean())) < 3 * standard_error


def test_round_to_ticks_when_price_between_ticks_then_expected_value_is_the_price() -> None:
    rng = np.random.default_rng(1)
    n = 200_000
    price = np.full(n, 1_002.3)  # 2.3 paise past the grid of 5: up with probability 0.46
    rounded = round_to_ticks(price, np.full(n, 5, dtype=np.int64), rng.random(n))
    assert set(np.unique(rounded)) == {1_000, 1_005}
    standard_error = float(np.std(rounded)) / math.sqrt(n)
    assert abs(float(rounded.mean()) - 1_002.3) < 3 * standard_error
    on_grid = round_to_ticks(np.full(3, 1_005.0), np.full(3, 5, dtype=np.int64), np.zeros(3))
    assert list(on_grid) == [1_005] * 3


def test_walk_when_same_seed_then_same_prices_and_another_seed_others(
    config: Config, master: InstrumentMaster
) -> None:
    def walk(seed: int) -> list[list[int]]:
        data = market(config, master)
        source = SimulatedQuoteSource(seed, master, config.market.volatility)
        seen = []
        for step in range(50):
            source.refresh(data, step * STEP_MS)
            seen.append(data.reference.tolist())
        return seen

    assert walk(5) == walk(5)
    assert walk(5) != walk(6)


def test_reference_when_written_by_another_source_then_walk_restarts_there(
    config: Config, master: InstrumentMaster
) -> None:
    data = market(config, master)
    source = SimulatedQuoteSource(3, master, config.market.volatility)
    source.refresh(data, 0)
    stored = data.reference[0] * 105 // 100 // data.tick[0] * data.tick[0]  # inside its band
    data.reference[0] = stored  # e.g. a last price loaded from the database
    source.refresh(data, 0)  # no time passed: only rounding, from the new price
    assert data.reference[0] == stored
