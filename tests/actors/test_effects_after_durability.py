"""What others learn of an account's write (the market's books, the websocket's updates) goes
out only once the batch is durable, and never for a batch that failed.

The sink here holds each batch until the test acknowledges it, as the journal holds a batch
until its transaction commits (``durability = "commit"``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from engine.actors.account_actor import Outcome
from engine.actors.clock import FakeClock
from engine.actors.sink import EventBatch, OnDurable
from engine.actors.trading_engine import TradingEngine
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState
from engine.domain.enums import FundKind, OrderStatus, OrderType
from engine.domain.instruments import Instrument, InstrumentMaster
from tests.support.engine_driver import (
    WAIT_S,
    EngineDriver,
    ScriptedSource,
    exact_config,
    order_request,
)

START_MS = 1_795_496_400_000
ACCOUNT = "acct-held"


class HeldSink:
    """Holds every batch until the test acknowledges it (True: durable, False: failed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[tuple[EventBatch, OnDurable]] = []
        self.arrived = threading.Condition(self._lock)

    def accepting(self) -> bool:
        return True

    def quarantined(self, account_id: str) -> bool:
        return False

    def quarantine(self, account_id: str) -> None:
        raise AssertionError(f"{account_id} quarantined")

    def submit(self, batch: EventBatch, on_durable: OnDurable) -> None:
        with self.arrived:
            self._held.append((batch, on_durable))
            self.arrived.notify_all()

    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def wait_for(self, count: int) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self._held) >= count, WAIT_S)

    def acknowledge(self, ok: bool) -> EventBatch:
        """Answer the oldest held batch."""
        with self._lock:
            batch, on_durable = self._held.pop(0)
        on_durable(ok)
        return batch

    def acknowledge_all(self) -> None:
        while self.held():
            self.acknowledge(True)


class Watcher:
    """A publisher that records what was built in the actor's turn and what was delivered."""

    def __init__(self) -> None:
        self.built: list[tuple[type, ...]] = []
        self.delivered: list[tuple[type, ...]] = []

    def publish(
        self, account_id: str, events: tuple[ev.AccountEvent, ...], state: AccountState
    ) -> Callable[[], None]:
        kinds = tuple(type(e) for e in events)
        self.built.append(kinds)
        return lambda: self.delivered.append(kinds)


class Harness:
    def __init__(self, master: InstrumentMaster) -> None:
        self.sink = HeldSink()
        self.watcher = Watcher()
        self.source = ScriptedSource()
        self.clock = FakeClock(START_MS)
        self.engine = TradingEngine(
            exact_config(),
            master,
            sink=self.sink,
            clock=self.clock,
            source=self.source,
            runtime="pooled",
            publish=self.watcher.publish,
        )
        self.engine.start(ticking=False)
        self.driver = EngineDriver(self.engine, self.source, self.clock)
        self.engine.add_account(AccountState(ACCOUNT))
        credit = cmd.CreditFundsRequest(
            amount_paise=10_00_000_00, kind=FundKind.DEPOSIT, reference="t"
        )
        replies = self.submit(credit)
        self.sink.wait_for(1)
        self.sink.acknowledge(True)
        assert replies[0].rejection is None
        self.watcher.built.clear()
        self.watcher.delivered.clear()

    def submit(self, command: cmd.AccountCommand) -> list[Outcome]:
        replies: list[Outcome] = []
        self.engine.submit(ACCOUNT, command, replies.append)
        return replies

    def status(self, order_id: str) -> OrderStatus | None:
        order = self.driver.inspect(
            ACCOUNT, lambda state: state.orders.get(order_id) and state.orders[order_id].status
        )
        return order if isinstance(order, OrderStatus) else None

    def position_quantity(self, instrument: Instrument) -> int:
        quantity: int = self.driver.inspect(
            ACCOUNT,
            lambda state: sum(
                p.quantity
                for p in state.positions.values()
                if p.instrument_id == instrument.instrument_id
            ),
        )
        return quantity


@pytest.fixture
def harness(master: InstrumentMaster) -> Iterator[Harness]:
    h = Harness(master)
    yield h
    h.sink.acknowledge_all()
    h.engine.stop()


def market_buy(instrument: Instrument, order_id: str) -> cmd.PlaceOrderRequest:
    return order_request(instrument, order_id, order_type=OrderType.MARKET)


def priced(h: Harness, master: InstrumentMaster) -> Instrument:
    instrument = master.get("NSE:INFY")
    assert instrument is not None
    h.driver.set_price(instrument, 1500_00)
    return instrument


def test_order_when_batch_not_yet_durable_then_neither_market_nor_watchers_learn_of_it(
    harness: Harness, master: InstrumentMaster
) -> None:
    instrument = priced(harness, master)
    replies = harness.submit(market_buy(instrument, "o-held"))
    harness.sink.wait_for(1)
    for _ in range(3):  # the market would fill a MARKET order it knew of on its next tick
        harness.driver.set_price(instrument, 1500_00)
    assert replies == []
    assert harness.watcher.built == [(ev.OrderAccepted,)]  # built in the actor's turn
    assert harness.watcher.delivered == []
    assert harness.position_quantity(instrument) == 0
    assert harness.sink.held() == 1  # no fill batch followed

    harness.sink.acknowledge(True)
    assert replies[0].rejection is None and not replies[0].unavailable
    assert harness.watcher.delivered == [(ev.OrderAccepted,)]
    harness.driver.set_price(instrument, 1500_00)  # now the market knows it: it fills
    harness.sink.wait_for(1)
    assert harness.watcher.delivered == [(ev.OrderAccepted,)]  # the fill is not durable yet
    harness.sink.acknowledge(True)
    assert harness.watcher.delivered == [(ev.OrderAccepted,), (ev.OrderFilled,)]
    assert harness.position_quantity(instrument) == 1


def test_order_when_batch_fails_then_market_never_fills_it_and_watchers_hear_nothing(
    harness: Harness, master: InstrumentMaster
) -> None:
    instrument = priced(harness, master)
    replies = harness.submit(market_buy(instrument, "o-failed"))
    harness.sink.wait_for(1)
    harness.sink.acknowledge(False)
    assert replies[0].unavailable
    for _ in range(3):
        harness.driver.set_price(instrument, 1500_00)
    assert harness.watcher.delivered == []
    assert harness.sink.held() == 0  # no fill was ever decided
    assert harness.position_quantity(instrument) == 0
    assert harness.status("o-failed") is OrderStatus.PENDING  # applied in memory only
