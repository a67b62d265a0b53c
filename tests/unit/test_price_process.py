"""The driven price process, by statistics over many seeded sessions (docs/DOMAIN.md §5).

Twelve sessions run side by side as twelve copies of the default master's driven instruments
(each copy with its own factors), stepped as the market does: a reference drawn every 3 s and
the bridge sampled at every 250 ms tick between, for a full 375-minute session on a fake clock.
Over the instruments whose price is at least 1,000 ticks (below that the tick itself adds
visible noise to one-minute returns):

* realised volatility of one-minute returns, annualised over the configured trading year, is
  within ±10 % of each class's configured volatility, on the reference path (every 3 s) and on
  the 250 ms path alike: the path between references adds no noise of its own;
* the mean session log return and price return, in units of their standard deviation, are
  within three standard errors of zero: the process has no drift;
* each stock's one-minute returns correlate with its index's as configured (the factor model);
* rounding to the tick is unbiased, a stored price restarts the process, and the same seed gives
  the same walk.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from engine.config import Config, load_config
from engine.domain.calendar import ExchangeCalendar
from engine.domain.instruments import InstrumentMaster
from engine.market.market_layout import NO_INDEX, DrivenLayout, MarketLayout
from engine.market.simulated_prices import DrivenProcess, round_to_ticks

TICK_MS = 250
REFERENCE_MS = 3_000
SESSION_MINUTES = 375
SESSIONS = 12
MIN_TICKS = 1_000
START_MS = 1_796_269_500_000
MID_BRIDGE_TICKS = 5  # 1.25 s after a reference: the bridge halfway between two


def driven_layout(config: Config, master: InstrumentMaster) -> DrivenLayout:
    market = config.market
    return MarketLayout.of(
        master, market.volatility, market.factor, ExchangeCalendar.from_config(config.sessions)
    ).driven


def replicated(layout: DrivenLayout, copies: int) -> DrivenLayout:
    """``copies`` independent copies of ``layout``, each copy's factors inside it."""
    n = len(layout.index)
    factor = np.concatenate(
        [
            np.where(layout.factor == NO_INDEX, NO_INDEX, layout.factor + c * n)
            for c in range(copies)
        ]
    )
    return DrivenLayout(
        index=np.tile(layout.index, copies),
        volatility=np.tile(layout.volatility, copies),
        factor=factor.astype(np.int64),
        correlation=np.tile(layout.correlation, copies),
    )


def run_sessions(config: Config, master: InstrumentMaster, seed: int) -> dict[str, np.ndarray]:
    """Log prices each minute (row 0: the open), one column per instrument copy: on the
    reference grid, and on the 250 ms path 1.25 s after each minute (mid-bridge)."""
    layout = replicated(driven_layout(config, master), SESSIONS)
    process = DrivenProcess(
        layout, config.market.volatility, np.random.default_rng(seed), 0.0015, 330
    )
    start = np.array([master.at(int(i)).reference_price_paise for i in layout.index])
    process.restart(np.arange(len(start)), start)
    ticks_per_minute = 60_000 // TICK_MS
    references, between = [], []
    for tick in range(SESSION_MINUTES * ticks_per_minute + MID_BRIDGE_TICKS + 1):
        now = START_MS + tick * TICK_MS
        if tick % (REFERENCE_MS // TICK_MS) == 0:
            process.refresh(now, now + REFERENCE_MS)
        path = process.sample(now)
        if tick % ticks_per_minute == 0:
            references.append(path.copy())
        elif tick % ticks_per_minute == MID_BRIDGE_TICKS:
            between.append(path.copy())
    return {
        "reference": np.array(references),
        "tick": np.array(between),
        "layout": layout.index,
        "factor": layout.factor,
        "correlation": layout.correlation,
    }


@pytest.fixture(scope="module")
def sessions(config: Config, master: InstrumentMaster) -> dict[str, np.ndarray]:
    return run_sessions(config, master, 7)


def by_volatility(
    config: Config, master: InstrumentMaster, layout_index: np.ndarray
) -> dict[float, list[int]]:
    """Columns by their configured volatility, those of at least MIN_TICKS ticks."""
    driven = driven_layout(config, master)
    sigma = dict(zip(driven.index.tolist(), driven.volatility.tolist(), strict=True))
    found: dict[float, list[int]] = defaultdict(list)
    for column, index in enumerate(layout_index.tolist()):
        instrument = master.at(index)
        if instrument.reference_price_paise >= MIN_TICKS * instrument.tick_paise:
            found[sigma[index]].append(column)
    return found


@pytest.mark.parametrize("path", ["reference", "tick"])
def test_realised_volatility_when_sampled_each_minute_then_within_ten_percent_of_configured(
    config: Config, master: InstrumentMaster, sessions: dict[str, np.ndarray], path: str
) -> None:
    minutes_per_year = config.market.volatility.trading_year_ms / 60_000
    found = by_volatility(config, master, sessions["layout"])
    assert len(found) >= 4  # index, three stock tiers, commodity
    for volatility, columns in found.items():
        returns = np.diff(sessions[path][:, columns], axis=0)
        realised = float(np.std(returns)) * math.sqrt(minutes_per_year)
        assert realised == pytest.approx(volatility, rel=0.10), (path, volatility, len(columns))


def test_intraday_profile_when_configured_then_each_window_scaled_and_the_session_unchanged(
    master: InstrumentMaster,
) -> None:
    profile = {"09:15": "1.8", "09:45": "1.2", "10:30": "0.9", "14:00": "1.0", "15:00": "1.4"}
    config = load_config(market={"volatility": {"intraday": profile}})
    sessions = run_sessions(config, master, 13)
    volatility = config.market.volatility
    minutes_per_year = volatility.trading_year_ms / 60_000
    columns = [
        c for members in by_volatility(config, master, sessions["layout"]).values() for c in members
    ]
    sigma = driven_layout(config, master).volatility
    sigma = np.tile(sigma, SESSIONS)[columns]

    def realised_ratio(first: int, last: int) -> float:
        """Realised over configured volatility, pooled, for the minutes first..last."""
        returns = np.diff(sessions["tick"][first : last + 1, columns], axis=0) / sigma
        return float(np.std(returns)) * math.sqrt(minutes_per_year)

    opening = volatility.intraday_multiplier(9 * 60 + 15)
    assert opening > 1.5  # 1.8 before scaling: the profile's mean square is about 1.2
    assert realised_ratio(0, 30) == pytest.approx(opening, rel=0.10)
    assert realised_ratio(75, 285) == pytest.approx(
        volatility.intraday_multiplier(11 * 60), rel=0.10
    )
    assert realised_ratio(0, SESSION_MINUTES) == pytest.approx(1.0, rel=0.10)


def test_session_returns_when_many_sessions_then_no_drift(
    config: Config, master: InstrumentMaster
) -> None:
    # Two hundred sessions on the reference grid alone. Instruments of one session share their
    # index's moves, so the independent samples are the sessions: each session's mean
    # standardised return, over its instruments.
    copies = 200
    driven = driven_layout(config, master)
    layout = replicated(driven, copies)
    process = DrivenProcess(layout, config.market.volatility, np.random.default_rng(11), 0.0, 330)
    start = np.array([master.at(int(i)).reference_price_paise for i in layout.index])
    process.restart(np.arange(len(start)), start)
    opening = np.log(start.astype(np.float64))
    for step in range(SESSION_MINUTES * 60_000 // REFERENCE_MS):
        now = START_MS + step * REFERENCE_MS
        process.refresh(now, now + REFERENCE_MS)
    closing = process.sample(START_MS + SESSION_MINUTES * 60_000)
    session_share = SESSION_MINUTES * 60_000 / config.market.volatility.trading_year_ms
    sigma = layout.volatility * math.sqrt(session_share)
    log_returns = (closing - opening) / sigma
    price_returns = (np.exp(closing - opening) - 1) / sigma
    for returns in (log_returns, price_returns):
        per_session = returns.reshape(copies, len(driven.index)).mean(axis=1)
        standard_error = float(np.std(per_session, ddof=1)) / math.sqrt(copies)
        assert abs(float(per_session.mean())) < 3 * standard_error


def test_stock_returns_when_factor_model_then_correlate_with_their_index_as_configured(
    sessions: dict[str, np.ndarray],
) -> None:
    returns = np.diff(sessions["tick"], axis=0)
    factor, correlation = sessions["factor"], sessions["correlation"]
    followers = np.flatnonzero(factor != NO_INDEX)
    assert len(followers) > 100
    by_configured: dict[float, list[float]] = defaultdict(list)
    for column in followers:
        measured = np.corrcoef(returns[:, column], returns[:, factor[column]])[0, 1]
        by_configured[round(float(correlation[column]), 3)].append(float(measured))
    assert set(by_configured) >= {0.6, 0.5, 0.4, 0.8, 0.95}
    for configured, measured in by_configured.items():
        # 375 one-minute returns a session: the standard error of one estimate is ~0.04.
        assert float(np.mean(measured)) == pytest.approx(configured, abs=0.03), configured


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


def _walk(config: Config, master: InstrumentMaster, seed: int) -> list[list[float]]:
    layout = driven_layout(config, master)
    process = DrivenProcess(layout, config.market.volatility, np.random.default_rng(seed), 0.0, 330)
    start = np.array([master.at(int(i)).reference_price_paise for i in layout.index])
    process.restart(np.arange(len(start)), start)
    seen = []
    for tick in range(48):
        now = START_MS + tick * TICK_MS
        if tick % 12 == 0:
            process.refresh(now, now + REFERENCE_MS)
        seen.append(process.sample(now).tolist())
    return seen


def test_walk_when_same_seed_then_same_path_and_another_seed_another(
    config: Config, master: InstrumentMaster
) -> None:
    assert _walk(config, master, 5) == _walk(config, master, 5)
    assert _walk(config, master, 5) != _walk(config, master, 6)


def test_bridge_when_next_reference_reached_then_path_is_on_it(
    config: Config, master: InstrumentMaster
) -> None:
    layout = driven_layout(config, master)
    process = DrivenProcess(layout, config.market.volatility, np.random.default_rng(2), 0.0, 330)
    process.restart(np.arange(3), np.array([100_000, 200_000, 300_000]))
    process.refresh(START_MS, START_MS + REFERENCE_MS)
    target = process.target.copy()
    for tick in range(1, 12):
        process.sample(START_MS + tick * TICK_MS)
    np.testing.assert_allclose(process.sample(START_MS + REFERENCE_MS)[:3], target[:3])
    assert not np.any(process.live[3:])  # never priced: never started


def test_step_bound_when_set_then_no_tick_moves_further(
    config: Config, master: InstrumentMaster
) -> None:
    layout = driven_layout(config, master)
    bound = 0.00001  # a hundredth of a percent: binds on most steps
    process = DrivenProcess(layout, config.market.volatility, np.random.default_rng(3), bound, 330)
    process.restart(np.arange(len(layout.index)), np.full(len(layout.index), 100_000))
    process.refresh(START_MS, START_MS + REFERENCE_MS)
    before = process.path.copy()
    after = process.sample(START_MS + TICK_MS)
    assert np.max(np.abs(after - before)) <= math.log1p(bound) + 1e-15
