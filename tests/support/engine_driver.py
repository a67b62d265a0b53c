"""A synchronous driver for the real engine: scripted reference prices, a fake clock, blocking
ask/inspect helpers with timeouts, and an engine on the in-memory sink to drive (shared by the
actor and recovery tests); ``order_request`` builds a new order's request with test defaults."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from engine.actors.account_actor import Outcome
from engine.actors.clock import FakeClock
from engine.actors.sink import EventSink, InMemorySink
from engine.actors.trading_engine import TradingEngine
from engine.config import Config, load_config, merge
from engine.domain import commands as cmd
from engine.domain.account.state import AccountState
from engine.domain.enums import FundKind, OrderType, Product, Side, Validity
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.market.market_data import MarketData

WAIT_S = 20
START_MS = 1_795_496_400_000  # 2026-11-24 10:30 IST, a Tuesday: markets open


def order_request(
    instrument: Instrument,
    order_id: str,
    *,
    side: Side = Side.BUY,
    product: Product = Product.MIS,
    order_type: OrderType = OrderType.LIMIT,
    quantity: int = 1,
    price_paise: int = 0,
    client_order_id: str | None = None,
) -> cmd.PlaceOrderRequest:
    """A new order as a caller asks for it (a DAY order, no trigger)."""
    return cmd.PlaceOrderRequest(
        order_id=order_id,
        client_order_id=client_order_id,
        instrument=instrument,
        side=side,
        product=product,
        order_type=order_type,
        validity=Validity.DAY,
        quantity=quantity,
        price_paise=price_paise,
        trigger_paise=0,
    )


class ScriptedSource:
    """A real quote source whose reference prices the test sets (no randomness)."""

    def __init__(self) -> None:
        self.prices: dict[int, int] = {}

    def refresh(self, data: MarketData, now_ms: int) -> None:
        for index, price in self.prices.items():
            data.reference[index] = price


def exact_config(**overrides: Any) -> Config:
    """Jitter off and full convergence: each tick's LTP is exactly the scripted reference."""
    exact: dict[str, Any] = {
        "market": {
            "jitter_intensity_pct": "0",
            "jitter_convergence": "1",
            "reference_interval_ms": 0,
        },
        "execution": {"market_fill_delay_ms": 0},
    }
    return load_config(**merge(exact, overrides))


class EngineDriver:
    def __init__(self, engine: TradingEngine, source: ScriptedSource, clock: FakeClock) -> None:
        self.engine = engine
        self.source = source
        self.clock = clock

    def ask(self, account_id: str, command: cmd.AccountCommand) -> Outcome:
        done = threading.Event()
        box: list[Outcome] = []

        def reply(outcome: Outcome) -> None:
            box.append(outcome)
            done.set()

        self.engine.submit(account_id, command, reply)
        assert done.wait(WAIT_S), "no reply"
        return box[0]

    def inspect(self, account_id: str, fn: Callable[[AccountState], Any]) -> Any:
        done = threading.Event()
        box: list[Any] = []
        self.engine.inspect(account_id, fn, lambda value: (box.append(value), done.set()))
        assert done.wait(WAIT_S), "no reply"
        return box[0]

    def settle(self) -> None:
        """Wait until every message sent so far to the market and accounts is handled."""
        self.engine.sync_market()
        registry = self.engine.registry
        assert registry is not None
        for account_id in registry.account_ids():
            self.inspect(account_id, lambda state: None)

    def set_price(self, instrument: Instrument, price_paise: int, advance_ms: int = 0) -> None:
        """Move the instrument to ``price_paise`` over two ticks (after ``advance_ms``)."""
        index = self.engine.master.index_of(instrument.instrument_id)
        assert index is not None
        self.source.prices[index] = price_paise
        self.clock.advance(advance_ms)
        self.engine.tick()
        self.settle()
        self.engine.tick()  # fills sent by the first tick may rest or trigger orders
        self.settle()

    def open_account(self, account_id: str, funds_paise: int) -> None:
        self.engine.add_account(AccountState(account_id))
        if funds_paise:
            outcome = self.ask(
                account_id,
                cmd.CreditFundsRequest(
                    amount_paise=funds_paise, kind=FundKind.DEPOSIT, reference="t"
                ),
            )
            assert outcome.rejection is None


def started_driver(
    master: InstrumentMaster, sink: EventSink | None = None, **engine_options: Any
) -> EngineDriver:
    """A started engine (exact prices, pooled unless told otherwise) and its driver; the
    caller stops ``driver.engine``."""
    source, clock = ScriptedSource(), FakeClock(START_MS)
    engine = TradingEngine(
        engine_options.pop("config", None) or exact_config(),
        master,
        sink=sink if sink is not None else InMemorySink(),
        clock=clock,
        source=source,
        runtime=engine_options.pop("runtime", "pooled"),
        **engine_options,
    )
    engine.start(ticking=False)
    return EngineDriver(engine, source, clock)
