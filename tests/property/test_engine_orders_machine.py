"""Random interleavings of orders and market ticks through the real actors stay within terms.

A Hypothesis state machine drives one account on the real engine (account and market actors
on the pooled runtime, a fake clock, scripted prices): it places buys of every order type,
modifies their type, price, trigger and quantity, cancels them and moves the market, with
MARKET orders filling after a delay, and some orders larger than the book's touch, so they walk
it and fill in parts. After every step it checks, from the events the account published (an
oracle independent of the engine's own checks), that no fill broke the terms the order had when
it filled (a LIMIT or triggered SL buy above its limit, a stop filled before its trigger, more
than the order's quantity, EXECUTED before all of it or PENDING after), that every open order's
filled quantity is the sum of its trades, that the account's available funds never went below
zero through its own orders, and that the funds identity holds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.actors.clock import FakeClock
from engine.actors.sink import InMemorySink
from engine.actors.trading_engine import TradingEngine
from engine.config import DEFAULT_INSTRUMENTS_PATH
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import funds_identity_holds
from engine.domain.enums import OrderStatus, OrderType, Product, Side, Validity
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.market.instrument_import import read_instruments_csv
from tests.conftest import FUZZ_SCALE
from tests.support.engine_driver import EngineDriver, ScriptedSource, exact_config

START_MS = 1_795_496_400_000
TICK_MS = 250
FILL_DELAY_MS = 500
ACCOUNT = "acct"
TICKERS = ("NSE:RELIANCE", "NFO:NIFTY26DEC26000CE")
STOPS = (OrderType.SL, OrderType.SL_M)
MASTER = InstrumentMaster(read_instruments_csv(DEFAULT_INSTRUMENTS_PATH))


# Mostly a few lots; sometimes more than the touch shows, so orders walk the book, fill in parts
# and leave rests that later ticks fill as the book replenishes.
LOTS = st.one_of(st.integers(1, 4), st.integers(20, 60))


def _quantity(instrument: Instrument, lots: int) -> int:
    """``lots`` of a contract; of shares, a hundred times as many (a share's touch shows
    thousands)."""
    return lots * instrument.lot_size * (1 if instrument.lot_size > 1 else 100)


def _limit_for(order_type: OrderType | None, limit: int, trigger: int) -> int:
    """The limit an order of ``order_type`` carries (an SL buy's limit is at its trigger or
    above; MARKET and SL-M orders carry none)."""
    if order_type is OrderType.SL:
        return max(limit, trigger)
    return 0 if order_type in (OrderType.MARKET, OrderType.SL_M) else limit


@dataclass
class Terms:
    """An order's terms as its own events describe them (the oracle's view)."""

    order_type: OrderType
    quantity: int
    price_paise: int
    trigger_paise: int
    triggered: bool = False
    filled: int = 0


class TermsOracle:
    """Replays every published event and records each fill that broke its order's terms."""

    def __init__(self) -> None:
        self.terms: dict[str, Terms] = {}
        self.violations: list[str] = []
        self.fills = 0
        self.lock = threading.Lock()

    def publish(self, account_id: str, events: tuple[ev.AccountEvent, ...], _: object) -> None:
        with self.lock:
            for event in events:
                self._see(event)

    def _see(self, event: ev.AccountEvent) -> None:
        if isinstance(event, ev.OrderAccepted):
            self.terms[event.order_id] = Terms(
                event.order_type, event.quantity, event.price_paise, event.trigger_paise
            )
        elif isinstance(event, ev.OrderModified):
            terms = self.terms[event.order_id]
            terms.order_type, terms.quantity = event.order_type, event.quantity
            terms.price_paise, terms.trigger_paise = event.price_paise, event.trigger_paise
        elif isinstance(event, ev.OrderTriggered):
            self.terms[event.order_id].triggered = True
        elif isinstance(event, ev.OrderCancelled):
            del self.terms[event.order_id]
        elif isinstance(event, ev.OrderFilled):
            self.fills += 1
            self._check_fill(event)

    def _check_fill(self, fill: ev.OrderFilled) -> None:
        terms = self.terms[fill.order_id]
        stop = terms.order_type in (OrderType.SL, OrderType.SL_M)
        if stop and not terms.triggered:
            self.violations.append(f"{fill.order_id}: filled before its trigger")
        rests_at_limit = terms.order_type is OrderType.LIMIT or terms.order_type is OrderType.SL
        through = (
            fill.price_paise > terms.price_paise
            if fill.side is Side.BUY
            else (fill.price_paise < terms.price_paise)
        )
        if rests_at_limit and through:
            self.violations.append(
                f"{fill.order_id}: {fill.side} at {fill.price_paise} through its limit "
                f"{terms.price_paise}"
            )
        terms.filled += fill.quantity
        if terms.filled > terms.quantity:
            self.violations.append(f"{fill.order_id}: {terms.filled} filled of {terms.quantity}")
        done = fill.status_after is OrderStatus.EXECUTED
        if done != (terms.filled == terms.quantity):
            self.violations.append(
                f"{fill.order_id}: {fill.status_after} with {terms.filled} of {terms.quantity}"
            )
        if terms.filled == terms.quantity:
            del self.terms[fill.order_id]


class EngineOrders(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.oracle = TermsOracle()
        self.source = ScriptedSource()
        self.clock = FakeClock(START_MS)
        config = exact_config(
            execution={"market_fill_delay_ms": FILL_DELAY_MS}, limits={"open_orders_max": 12}
        )
        engine = TradingEngine(
            config,
            MASTER,
            sink=InMemorySink(),
            clock=self.clock,
            source=self.source,
            runtime="pooled",
            publish=self.oracle.publish,
        )
        engine.start(ticking=False)
        self.driver = EngineDriver(engine, self.source, self.clock)
        self.instruments: list[Instrument] = []
        self.prices: dict[str, int] = {}
        for ticker in TICKERS:
            instrument = MASTER.get(ticker)
            assert instrument is not None
            self.instruments.append(instrument)
            self.prices[instrument.instrument_id] = instrument.reference_price_paise
            self.driver.set_price(instrument, instrument.reference_price_paise)
        self.driver.open_account(ACCOUNT, 1_00_00_000_00)
        self.next_id = 0
        self.order_ids: list[str] = []

    def teardown(self) -> None:
        self.driver.engine.stop()

    def _price(self, instrument: Instrument, offset_ticks: int) -> int:
        tick = instrument.tick_paise
        base = self.prices[instrument.instrument_id] // tick * tick
        return max(tick, base + offset_ticks * tick)

    def _pick_working(self, pick: int) -> str | None:
        """A working order: the newest when ``pick`` is 0 (so a fresh MARKET order is often
        changed before its delay ends), else one chosen by ``pick``."""
        ids: list[str] = self.driver.inspect(
            ACCOUNT, lambda s: sorted(s.orders, key=lambda order_id: int(order_id[1:]))
        )
        if not ids:
            return None
        return ids[-1] if pick == 0 else ids[pick % len(ids)]

    # -- rules ------------------------------------------------------------------------------

    @rule(
        which=st.integers(0, len(TICKERS) - 1),
        order_type=st.sampled_from(list(OrderType)),
        lots=LOTS,
        price_ticks=st.integers(-10, 10),
        trigger_ticks=st.integers(1, 12),
    )
    def place(
        self, which: int, order_type: OrderType, lots: int, price_ticks: int, trigger_ticks: int
    ) -> None:
        instrument = self.instruments[which]
        self.next_id += 1
        limit = self._price(instrument, price_ticks)
        trigger = self._price(instrument, trigger_ticks)
        self.driver.ask(
            ACCOUNT,
            cmd.PlaceOrderRequest(
                order_id=f"o{self.next_id}",
                client_order_id=None,
                instrument=instrument,
                side=Side.BUY,
                product=Product.NRML if instrument.is_option else Product.MIS,
                order_type=order_type,
                validity=Validity.DAY,
                quantity=_quantity(instrument, lots),
                price_paise=_limit_for(order_type, limit, trigger),
                trigger_paise=trigger if order_type in STOPS else 0,
            ),
        )

    @precondition(lambda self: self.next_id > 0)
    @rule(
        pick=st.one_of(st.just(0), st.integers(1, 100)),
        order_type=st.sampled_from([None, *OrderType]),
        price_ticks=st.integers(-10, 10),
        trigger_ticks=st.integers(1, 12),
        lots=st.one_of(st.none(), LOTS),
    )
    def modify(
        self,
        pick: int,
        order_type: OrderType | None,
        price_ticks: int,
        trigger_ticks: int,
        lots: int | None,
    ) -> None:
        order_id = self._pick_working(pick)
        if order_id is None:
            return
        instrument_id: str = self.driver.inspect(
            ACCOUNT, lambda s: s.orders[order_id].instrument_id if order_id in s.orders else ""
        )
        instrument = next((i for i in self.instruments if i.instrument_id == instrument_id), None)
        if instrument is None:
            return
        limit = self._price(instrument, price_ticks)
        trigger = self._price(instrument, trigger_ticks)
        self.driver.ask(
            ACCOUNT,
            cmd.ModifyOrderRequest(
                order_id=order_id,
                quantity=None if lots is None else _quantity(instrument, lots),
                price_paise=_limit_for(order_type, limit, trigger) or limit,
                trigger_paise=trigger,
                order_type=order_type,
            ),
        )

    @precondition(lambda self: self.next_id > 0)
    @rule(pick=st.one_of(st.just(0), st.integers(1, 100)))
    def cancel(self, pick: int) -> None:
        order_id = self._pick_working(pick)
        if order_id is not None:
            self.driver.ask(ACCOUNT, cmd.CancelOrderRequest(order_id=order_id))

    @rule(which=st.integers(0, len(TICKERS) - 1), move_ticks=st.integers(-12, 12))
    def tick(self, which: int, move_ticks: int) -> None:
        """Move one instrument a little (at most ±12 ticks) and let the market act on it."""
        instrument = self.instruments[which]
        price = self._price(instrument, move_ticks)
        self.prices[instrument.instrument_id] = price
        index = MASTER.index_of(instrument.instrument_id)
        assert index is not None
        self.source.prices[index] = price
        self.clock.advance(TICK_MS)
        self.driver.engine.tick()
        self.driver.settle()

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def fills_within_terms_and_funds_whole(self) -> None:
        self.driver.settle()
        with self.oracle.lock:
            assert not self.oracle.violations, self.oracle.violations
        available, identity, filled = self.driver.inspect(
            ACCOUNT,
            lambda s: (
                s.available_paise,
                funds_identity_holds(s),
                {order_id: order.filled_quantity for order_id, order in s.orders.items()},
            ),
        )
        with self.oracle.lock:
            traded = {order_id: self.oracle.terms[order_id].filled for order_id in filled}
        assert filled == traded, "an open order's filled quantity is the sum of its trades"
        assert identity
        assert available >= 0, f"available funds went to {available} paise"


EngineOrders.TestCase.settings = settings(
    max_examples=150 * FUZZ_SCALE,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_engine_orders_when_random_interleavings_then_fills_within_terms = EngineOrders.TestCase
