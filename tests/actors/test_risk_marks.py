"""The market marks what the accounts hold: a filled position is marked at each tick's price
once its fill is durable, and a closed one no longer is."""

from __future__ import annotations

from engine.domain import commands as cmd
from engine.domain.enums import OrderType
from engine.domain.instruments import Instrument
from engine.market.risk import RiskMarks
from tests.support.engine_driver import START_MS, EngineDriver, order_request


def test_position_when_filled_then_marked_each_tick_until_closed(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, 150_000)
    driver.open_account("acct", 10_000_000)
    buy = order_request(reliance, "buy", order_type=OrderType.MARKET, quantity=10)
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
