"""Run the simulated market in-process on a fake clock, as the market actor does: the quote
source refreshed every ``reference_interval_ms`` and every tick's prices from the real market
behaviour (``MarketBehaviour.tick``), for the statistical tests of the market model."""

from __future__ import annotations

from collections.abc import Iterator

from engine.actors.clock import FakeClock
from engine.actors.market_actor import MarketBehaviour
from engine.config import Config
from engine.domain.calendar import ExchangeCalendar
from engine.domain.instruments import InstrumentMaster
from engine.market.depth import MarketDepth
from engine.market.market_data import MarketData, MarketSnapshot
from engine.market.simulated_market import SimulatedMarket

SESSION_START_MS = 1_796_269_500_000  # 2026-12-03 09:15 IST, a Thursday
TICK_MS = 250


def simulated_ticks(
    config: Config, master: InstrumentMaster, seed: int, ticks: int, every: int = 1
) -> Iterator[MarketSnapshot]:
    """Every ``every``-th snapshot of ``ticks`` market ticks 250 ms apart from the session
    start (the first tick's snapshot included)."""
    return simulated_ticks_from(config, master, seed, SESSION_START_MS, ticks, every)


def simulated_ticks_from(
    config: Config, master: InstrumentMaster, seed: int, start_ms: int, ticks: int, every: int = 1
) -> Iterator[MarketSnapshot]:
    """As :func:`simulated_ticks`, from ``start_ms``."""
    calendar = ExchangeCalendar.from_config(config.sessions)
    data = MarketData(
        master, config.market, config.circuits, config.execution.slippage_cap_ticks, calendar
    )
    source = SimulatedMarket(seed, master, config.market, calendar)
    clock = FakeClock(start_ms)
    market = MarketBehaviour(
        data=data,
        config=config.market,
        protection=config.execution.market_protection,
        depth=MarketDepth(data, config.market.depth, seed),
        source=source,
        path=source,
        clock=clock,
        dispatch=lambda *_: None,
    )
    for tick in range(ticks):
        market.tick()
        if tick % every == 0:
            yield data.snapshot
        clock.advance(TICK_MS)
