"""The seeded history of the simulated market (engine/market/history.py): over many
instruments and days its realised volatility is the configured one, rounding to the tick adds
no drift, every candle is on the grid with its high and low holding its open and close, only
trading minutes are generated, each instrument's history ends at its seed's price, and the same
seed gives the same history."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engine.actors.clock import FakeClock
from engine.actors.sink import InMemorySink
from engine.actors.trading_engine import TradingEngine
from engine.config import Config
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.sessions import SessionGroup
from engine.market.candles import minute_of
from engine.market.history import HistoryModel, Seed, candles_of
from engine.market.market_layout import annual_volatility

START_MS = 1_795_496_400_000  # 2026-11-24 10:30 IST, a Tuesday and an NSE holiday
SEED_DAYS = 30


@pytest.fixture(scope="module")
def market(
    config: Config, master: InstrumentMaster
) -> Iterator[tuple[TradingEngine, dict[str, Seed]]]:
    """The simulated market of the sample master and its generated contracts after one tick,
    and the seeds a first start would take from that tick."""
    clock = FakeClock(START_MS)
    engine = TradingEngine(config, InstrumentMaster(list(master)), sink=InMemorySink(), clock=clock)
    engine.list_contracts(clock.now_ms())
    engine.start(ticking=False)
    try:
        engine.tick()
        snapshot = engine.market.snapshot
        assert snapshot.options is not None
        seeds = {}
        for index in np.flatnonzero(snapshot.ltp > 0):
            iv = float(snapshot.options.iv[index])
            instrument = engine.master.at(int(index))
            seeds[instrument.instrument_id] = Seed(
                instrument.instrument_id,
                minute_of(snapshot.at_ms),
                int(snapshot.ltp[index]),
                None if math.isnan(iv) else iv,
            )
        yield engine, seeds
    finally:
        engine.stop()


def model_of(config: Config, engine: TradingEngine) -> HistoryModel:
    return HistoryModel(config.market, config.sessions, engine.master, SEED_DAYS)


def driven(engine: TradingEngine) -> list[Instrument]:
    return [i for i in engine.master if not i.is_option and not i.is_future]


def test_history_realised_volatility_matches_configured_over_many_instruments(
    config: Config, market: tuple[TradingEngine, dict[str, Seed]]
) -> None:
    engine, seeds = market
    model = model_of(config, engine)
    year_minutes = config.market.volatility.trading_year_ms / 60_000
    ratios = []
    for instrument in driven(engine):
        candles = model.generate(instrument, seeds)
        closes = np.array([c.close_paise for c in candles], dtype=np.float64)
        returns = np.diff(np.log(closes))
        realised = returns.std() * math.sqrt(year_minutes)
        ratios.append(realised / annual_volatility(config.market.volatility, instrument))
    assert len(ratios) >= 40
    # ~11,600 minutes an instrument: each within 5 %, and all of them together within 1 %.
    assert all(0.95 < r < 1.05 for r in ratios), ratios
    assert abs(float(np.mean(ratios)) - 1) < 0.01


def test_history_rounding_adds_no_drift(
    config: Config, market: tuple[TradingEngine, dict[str, Seed]]
) -> None:
    engine, seeds = market
    model = model_of(config, engine)
    errors = []
    for instrument in driven(engine):
        path = model.path(instrument, seeds)
        assert path is not None
        rounded = candles_of(
            path,
            instrument.tick_paise,
            seeds[instrument.instrument_id].price_paise,
            np.random.default_rng(7),
        )
        closes = np.array([c.close_paise for c in rounded[:-1]], dtype=np.float64)
        errors.append((closes - path.close[:-1]) / instrument.tick_paise)
    error = np.concatenate(errors)
    assert np.abs(error).max() < 1  # on a neighbouring tick
    # Half a tick of noise at most per minute; its mean over ~500,000 minutes is ~0.
    assert abs(float(error.mean())) < 0.005


def test_history_candles_on_tick_grid_with_consistent_ohlc_ending_at_the_seed(
    config: Config, market: tuple[TradingEngine, dict[str, Seed]]
) -> None:
    engine, seeds = market
    model = model_of(config, engine)
    chosen = [*driven(engine)[:10]]
    chosen += [i for i in engine.master if i.is_future][:5]
    chosen += [i for i in engine.master if i.is_option][::200]
    for instrument in chosen:
        seed = seeds[instrument.instrument_id]
        candles = model.generate(instrument, seeds)
        assert candles, instrument.instrument_id
        assert candles[-1].close_paise == seed.price_paise
        assert candles[-1].at_ms < seed.first_minute_ms
        tick = instrument.tick_paise
        for before, c in itertools.pairwise(candles):
            assert c.open_paise == before.close_paise
        for c in candles:
            assert c.high_paise >= max(c.open_paise, c.close_paise)
            assert 0 < c.low_paise <= min(c.open_paise, c.close_paise)
            for price in (c.open_paise, c.high_paise, c.low_paise, c.close_paise):
                assert price % tick == 0, (instrument.instrument_id, c)
            assert c.volume == 0 and c.oi == 0


def test_history_only_trading_minutes_of_trading_days(
    config: Config, market: tuple[TradingEngine, dict[str, Seed]]
) -> None:
    engine, _ = market
    model = model_of(config, engine)
    minutes = model.minutes(SessionGroup.EQUITY, minute_of(START_MS))
    local = [datetime.fromtimestamp(m / 1000 + 330 * 60, tz=UTC) for m in minutes.tolist()]
    days = sorted({t.date() for t in local})
    # 30 trading days before the start's date (a holiday: none of its own).
    assert len(days) == SEED_DAYS
    assert len(minutes) == SEED_DAYS * 375
    assert all(t.weekday() < 5 for t in local)
    assert not {t.date() for t in local} & set(config.sessions.holidays)
    assert all(9 * 60 + 15 <= t.hour * 60 + t.minute < 15 * 60 + 30 for t in local)
    # MCX trades that day (not one of its holidays): its morning to 10:29 is history too.
    mcx = model.minutes(SessionGroup.COMMODITIES, minute_of(START_MS))
    last = datetime.fromtimestamp(int(mcx[-1]) / 1000, tz=UTC) + timedelta(minutes=330)
    assert (last.day, last.hour, last.minute) == (24, 10, 29)
    first_today = int(np.searchsorted(mcx, START_MS - 90 * 60_000))
    assert len(mcx) - first_today == 90  # 09:00-10:29 IST


def test_history_same_seed_same_history_and_stocks_follow_their_index(
    config: Config, market: tuple[TradingEngine, dict[str, Seed]]
) -> None:
    engine, seeds = market
    first = model_of(config, engine)
    second = model_of(config, engine)
    stock = engine.master.get("NSE:RELIANCE")
    index = engine.master.get("NSE:NIFTY 50")
    assert stock is not None and index is not None
    assert first.generate(stock, seeds) == second.generate(stock, seeds)
    stock_returns = np.diff(np.log([c.close_paise for c in first.generate(stock, seeds)]))
    index_returns = np.diff(np.log([c.close_paise for c in first.generate(index, seeds)]))
    correlation = float(np.corrcoef(stock_returns, index_returns)[0, 1])
    assert abs(correlation - 0.6) < 0.05  # market.factor.correlation.HIGH


def test_history_option_follows_its_underlying_by_black76(
    config: Config, market: tuple[TradingEngine, dict[str, Seed]]
) -> None:
    engine, seeds = market
    model = model_of(config, engine)
    calls = [i for i in engine.master if i.is_option and i.underlying == "NIFTY"]
    call = next(i for i in calls if i.instrument_type.value == "CE")
    spot = engine.master.get("NSE:NIFTY 50")
    assert spot is not None
    assert spot.instrument_id in model.dependencies(call)
    option = {c.at_ms: c.close_paise for c in model.generate(call, seeds)}
    underlying = {c.at_ms: c.close_paise for c in model.generate(spot, seeds)}
    # Derivatives trade to 15:40 from August 2026, the index to 15:30: its minutes are common.
    common = sorted(option.keys() & underlying.keys())
    assert len(common) == len(underlying)
    moves = [np.diff([float(series[m]) for m in common]) for series in (option, underlying)]
    assert float(np.corrcoef(*moves)[0, 1]) > 0.8  # a call rises with its index
