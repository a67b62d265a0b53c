"""At the trade-day boundary (IST) the market rolls: each instrument's last price becomes its
previous close, the session's open, high, low and volume start over, and its circuit band is
recomputed around the new previous close."""

from __future__ import annotations

from engine.config import load_config
from engine.domain.instruments import Instrument
from engine.domain.rules import circuit_band
from tests.support.engine_driver import START_MS, EngineDriver

DAY_MS = 86_400_000
IST_MS = 330 * 60_000


def test_trade_day_when_it_ends_then_close_band_and_session_roll(
    driver: EngineDriver, reliance: Instrument
) -> None:
    data = driver.engine.market
    index = driver.engine.master.index_of(reliance.instrument_id)
    assert index is not None
    driver.set_price(reliance, 150_000)
    driver.set_price(reliance, 153_000, advance_ms=1_000)
    driver.set_price(reliance, 151_000, advance_ms=1_000)  # the day's last price
    opened = reliance.reference_price_paise  # the engine's first tick opened the session
    assert int(data.day_open[index]) == opened
    assert (int(data.day_high[index]), int(data.day_low[index])) == (max(opened, 153_000), 150_000)
    old_band = (int(data.circuit_low[index]), int(data.circuit_high[index]))
    next_midnight = (START_MS + IST_MS) // DAY_MS * DAY_MS + DAY_MS - IST_MS

    driver.set_price(reliance, 152_000, advance_ms=next_midnight - driver.clock.now_ms())

    circuits = load_config().circuits
    assert int(data.previous_close[index]) == 151_000
    band = circuit_band(circuits, reliance, 151_000)
    assert (int(data.circuit_low[index]), int(data.circuit_high[index])) == band != old_band
    assert int(data.day_open[index]) == 152_000  # the new session opened at its first price
    assert (int(data.day_high[index]), int(data.day_low[index])) == (152_000, 152_000)
    quote = data.quote(index)
    assert quote is not None
    assert (quote.circuit_low_paise, quote.circuit_high_paise) == band


def test_trade_day_when_unchanged_then_nothing_rolls(
    driver: EngineDriver, reliance: Instrument
) -> None:
    data = driver.engine.market
    index = driver.engine.master.index_of(reliance.instrument_id)
    assert index is not None
    close = int(data.previous_close[index])
    driver.set_price(reliance, 150_000)
    driver.set_price(reliance, 149_000, advance_ms=60_000)
    assert int(data.previous_close[index]) == close
    assert int(data.day_open[index]) == reliance.reference_price_paise
    assert int(data.day_low[index]) == 149_000
