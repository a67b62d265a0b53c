"""The ``serial`` runtime with seeded ids and a fake clock replays a run event for event.

A workload drawn from a seed (orders at and away from the market, cancellations,
modifications, closes, moving prices with the market's own jitter) runs twice on fresh engines:
every journaled batch is identical, ids and times included, so a failure found with a seed is
reproduced by running that seed again. Another seed gives another run.
"""

from __future__ import annotations

import random

import msgspec

from engine.actors.clock import FakeClock
from engine.actors.ids import seeded_ids
from engine.actors.sink import EventBatch, InMemorySink
from engine.actors.trading_engine import TradingEngine
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.enums import OrderType, Side
from engine.domain.instruments import Instrument, InstrumentMaster
from tests.support.engine_driver import (
    EngineDriver,
    ScriptedSource,
    exact_config,
    order_request,
)

START_MS = 1_795_496_400_000
ACCOUNTS = ("a", "b", "c")
STEPS = 120


def run(master: InstrumentMaster, seed: int) -> list[bytes]:
    """The journal of one seeded run, each batch encoded."""
    rng = random.Random(seed)
    sink, source, clock = InMemorySink(), ScriptedSource(), FakeClock(START_MS)
    config = exact_config(
        market={"seed": seed, "jitter_intensity_pct": "0.15", "jitter_convergence": "0.1"}
    )
    engine = TradingEngine(
        config,
        master,
        sink=sink,
        clock=clock,
        source=source,
        runtime="serial",
        new_id=seeded_ids(seed),
    )
    engine.start(ticking=False)
    try:
        driver = EngineDriver(engine, source, clock)
        instruments = [i for i in (master.get(t) for t in ("NSE:RELIANCE", "NSE:TCS")) if i]
        prices = {i.instrument_id: i.reference_price_paise for i in instruments}
        for instrument in instruments:
            driver.set_price(instrument, prices[instrument.instrument_id])
        for account_id in ACCOUNTS:
            driver.open_account(account_id, 50_00_000_00)
        for _ in range(STEPS):
            account_id = rng.choice(ACCOUNTS)
            instrument = rng.choice(instruments)
            _step(driver, rng, account_id, instrument, prices)
        driver.settle()
    finally:
        engine.stop()
    return [msgspec.json.encode(batch) for batch in sink.batches]


def _step(
    driver: EngineDriver,
    rng: random.Random,
    account_id: str,
    instrument: Instrument,
    prices: dict[str, int],
) -> None:
    kind = rng.choice(["limit", "limit", "market", "cancel", "modify", "close", "move"])
    tick = instrument.tick_paise
    price = prices[instrument.instrument_id]
    if kind in ("limit", "market"):
        offset = rng.randint(-20, 20) * tick
        driver.ask(
            account_id, _order(driver, instrument, kind, rng.choice(list(Side)), price + offset)
        )
    elif kind in ("cancel", "modify"):
        working = driver.inspect(account_id, lambda s: sorted(s.orders))
        if working:
            order_id = rng.choice(working)
            request: cmd.AccountRequest = (
                cmd.CancelOrderRequest(order_id)
                if kind == "cancel"
                else cmd.ModifyOrderRequest(order_id, quantity=rng.randint(1, 5))
            )
            driver.ask(account_id, request)
    elif kind == "close":
        open_positions = driver.inspect(account_id, lambda s: sorted(s.positions))
        if open_positions:
            driver.ask(account_id, cmd.ClosePositionRequest(rng.choice(open_positions)))
    else:
        moved = price + rng.randint(-30, 30) * tick
        prices[instrument.instrument_id] = moved
        driver.set_price(instrument, moved, advance_ms=rng.randint(1, 5_000))


def _order(
    driver: EngineDriver, instrument: Instrument, kind: str, side: Side, price_paise: int
) -> cmd.PlaceOrderRequest:
    market = kind == "market"
    return order_request(
        instrument,
        driver.engine.new_id(),
        side=side,
        order_type=OrderType.MARKET if market else OrderType.LIMIT,
        quantity=5,
        price_paise=0 if market else price_paise,
    )


def test_serial_runtime_when_same_seed_twice_then_same_journal_event_for_event(
    master: InstrumentMaster,
) -> None:
    first = run(master, seed=7)
    again = run(master, seed=7)

    assert first == again
    events = [msgspec.json.decode(b, type=EventBatch) for b in first]
    fills = sum(isinstance(e, ev.OrderFilled) for batch in events for e in batch.events)
    cancels = sum(isinstance(e, ev.OrderCancelled) for batch in events for e in batch.events)
    assert fills >= 10 and cancels >= 1  # a run with trading in it, not an idle one


def test_serial_runtime_when_another_seed_then_another_journal(master: InstrumentMaster) -> None:
    assert run(master, seed=7) != run(master, seed=8)
