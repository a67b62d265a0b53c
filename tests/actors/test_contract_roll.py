"""The simulated exchange lists its contracts at each trade day's first tick: a fake clock that
crosses a weekly expiry sees the next weekly listed around the market's price then, the expired
one stop being priced, and its expiry reported to the accounts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from engine.actors.clock import FakeClock
from engine.actors.trading_engine import TradingEngine
from engine.config import DEFAULT_INSTRUMENTS_PATH, load_config
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.market.instrument_import import read_instruments_csv

IST = timezone(timedelta(hours=5, minutes=30))


def ms(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=IST).timestamp() * 1000)


@pytest.fixture
def engine() -> Iterator[TradingEngine]:
    master = InstrumentMaster(read_instruments_csv(DEFAULT_INSTRUMENTS_PATH))
    started = TradingEngine(
        load_config(), master, clock=FakeClock(ms(2026, 12, 4, 10, 0)), runtime="serial"
    )
    started.start(ticking=False)
    yield started
    started.stop()


def symbols_of(engine: TradingEngine, prefix: str) -> list[Instrument]:
    return [i for i in engine.master if i.symbol.startswith(prefix)]


def test_engine_when_started_then_weeklies_next_months_and_mcx_options_listed_and_priced(
    engine: TradingEngine,
) -> None:
    master, data = engine.master, engine.market
    assert len(master) > 2_000
    for ticker in (
        "NFO:NIFTY26D0826000CE",
        "NFO:BANKNIFTY27JANFUT",
        "BFO:SENSEX26D1085000PE",
        "MCX:CRUDEOIL27JANFUT",
        "NFO:RELIANCE26DECFUT",
    ):
        index = master.index_of(ticker)
        assert index is not None, ticker
        engine.tick()
        quote = data.quote(index)
        assert quote is not None and quote.ltp_paise > 0, ticker
    assert engine.market.chains.get("NIFTY") is not None
    nifty = engine.market.chains.get("NIFTY")
    assert nifty is not None and len(nifty.expiries) == 6


def test_clock_when_crossing_a_weekly_expiry_then_it_stops_and_the_next_weekly_is_listed(
    engine: TradingEngine,
) -> None:
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    expiring = engine.master.index_of("NFO:NIFTY26D0826000CE")
    assert expiring is not None
    assert not symbols_of(engine, "NIFTY27105")  # the 5 Jan weekly is not listed yet
    clock.advance(ms(2026, 12, 8, 15, 41) - clock.now_ms())
    engine.tick()
    settled = int(engine.market.snapshot.ltp[expiring])
    clock.advance(ms(2026, 12, 9, 9, 15) - clock.now_ms())
    engine.tick()
    engine.tick()
    weekly = [i for i in symbols_of(engine, "NIFTY27105") if i.is_option]
    assert len(weekly) == 2 * 31
    spot = engine.master.index_of("NSE:NIFTY 50")
    assert spot is not None
    at_the_money = round(int(engine.market.snapshot.ltp[spot]) / 5_000) * 5_000
    strikes = sorted({i.strike_paise for i in weekly})
    assert strikes[15] == at_the_money  # centred on where the market is now
    # The expired weekly is no longer priced: its last price stays where it closed.
    assert int(engine.market.snapshot.ltp[expiring]) == settled
    nifty = engine.market.chains.get("NIFTY")
    assert nifty is not None
    default = nifty.default_chain(clock.now_ms())
    assert default is not None and default.expiry.isoformat() == "2026-12-15"
