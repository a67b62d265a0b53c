"""The market marks what the accounts hold: a filled position is marked at each tick's price
once its fill is durable, and a closed one no longer is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.actors.clock import FakeClock
from engine.actors.sink import InMemorySink
from engine.actors.trading_engine import TradingEngine
from engine.domain import commands as cmd
from engine.domain.enums import OrderType, Product, Side, Validity
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.market.risk import RiskMarks
from tests.support.engine_driver import EngineDriver, ScriptedSource, exact_config

START_MS = 1_795_496_400_000


@pytest.fixture
def driver(master: InstrumentMaster) -> Iterator[EngineDriver]:
    source, clock = ScriptedSource(), FakeClock(START_MS)
    engine = TradingEngine(
        exact_config(), master, sink=InMemorySink(), clock=clock, source=source, runtime="pooled"
    )
    engine.start(ticking=False)
    yield EngineDriver(engine, source, clock)
    engine.stop()


def test_position_when_filled_then_marked_each_tick_until_closed(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, 150_000)
    driver.open_account("acct", 10_000_000)
    buy = cmd.PlaceOrderRequest(
        "buy", None, reliance, Side.BUY, Product.MIS, OrderType.MARKET, Validity.DAY, 10, 0, 0
    )
    assert driver.ask("acct", buy).rejection is None
    driver.set_price(reliance, 150_000)  # fills at the ask
    cost = driver.inspect("acct", lambda s: next(iter(s.positions.values())).cost_paise)

    driver.set_price(reliance, 151_000, advance_ms=1_000)

    marks = driver.engine.risk.latest
    assert (marks.positions, marks.unrealized_paise) == (1, 10 * 151_000 - cost)
    assert marks.at_ms == START_MS + 1_000
    assert marks.accounts_in_loss == (1 if cost > 10 * 151_000 else 0)
    position_id = driver.inspect("acct", lambda s: next(iter(s.positions)))
    assert driver.ask("acct", cmd.ClosePositionRequest(position_id)).rejection is None
    driver.set_price(reliance, 151_000, advance_ms=1_000)
    assert driver.engine.risk.latest == RiskMarks(START_MS + 2_000, 0, 0, 0)
