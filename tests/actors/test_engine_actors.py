"""The engine's actors under concurrency, on both runtimes.

Proves that one account never spends more than its funds however many orders race for them,
that each account handles its messages in the order they were sent, that a failing handler
stops only its own actor (which restarts on its state), that orders really fill through market
ticks (MARKET after the configured delay, LIMIT when crossed, SL-M on trigger, IOC cancelled,
target exits), and that idle accounts passivate and come back with their state.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator

import msgspec
import pytest

from engine.actors.account_actor import Outcome, Passivate
from engine.actors.clock import FakeClock
from engine.actors.registry import AccountBusyError
from engine.actors.sink import InMemorySink
from engine.actors.trading_engine import TradingEngine
from engine.config import Config
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState, funds_identity_holds, position_key
from engine.domain.charges import ChargeCategory, order_charges
from engine.domain.enums import FundKind, OrderType, PriceSource, Product, Rejection, Side, Validity
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.positions import Position
from tests.support.engine_driver import WAIT_S, EngineDriver, ScriptedSource, exact_config

RUNTIMES = ["pooled", "threaded", "serial"]
START_MS = 1_795_496_400_000


Harness = EngineDriver


def make_harness(master: InstrumentMaster, runtime: str, config: Config) -> Harness:
    source = ScriptedSource()
    clock = FakeClock(START_MS)
    engine = TradingEngine(
        config, master, sink=InMemorySink(), clock=clock, source=source, runtime=runtime
    )
    engine.start(ticking=False)
    return Harness(engine, source, clock)


@pytest.fixture(params=RUNTIMES)
def harness(request: pytest.FixtureRequest, master: InstrumentMaster) -> Iterator[Harness]:
    h = make_harness(master, request.param, exact_config())
    yield h
    h.engine.stop()


def place(
    instrument: Instrument,
    side: Side,
    quantity: int,
    order_type: OrderType = OrderType.MARKET,
    price_paise: int = 0,
    trigger_paise: int = 0,
    product: Product = Product.MIS,
    validity: Validity = Validity.DAY,
    order_id: str = "",
) -> cmd.PlaceOrderRequest:
    return cmd.PlaceOrderRequest(
        order_id=order_id or f"o-{threading.get_ident()}-{next(_ids)}",
        client_order_id=None,
        instrument=instrument,
        side=side,
        product=product,
        order_type=order_type,
        validity=validity,
        quantity=quantity,
        price_paise=price_paise,
        trigger_paise=trigger_paise,
    )


_ids = iter(range(10**9))


def test_thousand_concurrent_orders_when_funds_cover_some_then_never_overspent(
    harness: Harness, reliance: Instrument
) -> None:
    harness.set_price(reliance, 150_000)
    funds = 10_000_000  # ₹1 lakh
    harness.open_account("acct", funds)
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    done = threading.Semaphore(0)

    def reply(outcome: Outcome) -> None:
        with lock:
            outcomes.append(outcome)
        done.release()

    def producer() -> None:
        for _ in range(250):
            # Rests far below the market: each accepted order keeps its margin blocked.
            order = place(reliance, Side.BUY, 10, OrderType.LIMIT, price_paise=140_000)
            harness.engine.submit("acct", order, reply)

    threads = [threading.Thread(target=producer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for _ in range(1000):
        assert done.acquire(timeout=WAIT_S)

    accepted = [o for o in outcomes if o.rejection is None]
    rejected = [o for o in outcomes if o.rejection is Rejection.INSUFFICIENT_FUNDS]
    assert len(accepted) + len(rejected) == 1000
    # MIS margin 20 % of ₹14,000 = ₹2,800 + charges (< ₹6) per order: 35 fit in ₹1 lakh.
    assert len(accepted) == 35
    state = harness.inspect(
        "acct",
        lambda s: (s.available_paise, s.blocked_paise, funds_identity_holds(s), len(s.orders)),
    )
    available, blocked, identity, open_orders = state
    assert identity
    assert available >= 0
    assert open_orders == 35
    assert blocked == 35 * 280_000


def test_messages_when_many_producers_then_each_account_keeps_order(
    harness: Harness,
) -> None:
    accounts = [f"acct-{i}" for i in range(200)]
    for account_id in accounts:
        harness.engine.add_account(AccountState(account_id))
    done = threading.Semaphore(0)

    def producer(mine: list[str]) -> None:
        for n in range(1, 26):
            for account_id in mine:
                credit = cmd.CreditFundsRequest(
                    amount_paise=n, kind=FundKind.DEPOSIT, reference=str(n)
                )
                harness.engine.submit(account_id, credit, lambda _: done.release())

    threads = [threading.Thread(target=producer, args=(accounts[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for _ in range(200 * 25):
        assert done.acquire(timeout=WAIT_S)
    sink = harness.engine.sink
    assert isinstance(sink, InMemorySink)
    for account_id in accounts:
        references = [e.reference for e in sink.events_for(account_id)]  # type: ignore[union-attr]
        assert references == [str(n) for n in range(1, 26)]
        assert harness.inspect(account_id, lambda s: s.seq) == 25


def test_handler_exception_when_one_account_fails_then_others_keep_working(
    harness: Harness, reliance: Instrument
) -> None:
    harness.open_account("good", 1_000_000)
    harness.open_account("bad", 1_000_000)

    def boom(_: AccountState) -> None:
        raise RuntimeError("bug in a handler")

    failure = harness.inspect("bad", boom)
    assert isinstance(failure, RuntimeError)  # handed back to the caller, not swallowed
    for _ in range(20):
        credit = cmd.CreditFundsRequest(amount_paise=100, kind=FundKind.DEPOSIT, reference="x")
        assert harness.ask("good", credit).rejection is None
    assert harness.inspect("good", lambda s: s.balance_paise) == 1_002_000
    assert harness.inspect("bad", lambda s: s.balance_paise) == 1_000_000


def test_actor_when_it_dies_then_registry_restarts_it_on_its_state(harness: Harness) -> None:
    harness.open_account("acct", 5_000)
    registry = harness.engine.registry
    assert registry is not None
    first = registry._refs["acct"]
    first.stop(block=True, timeout=WAIT_S)
    assert harness.inspect("acct", lambda s: s.balance_paise) == 5_000
    assert registry._refs["acct"] is not first


def test_market_order_when_delay_configured_then_fills_only_after_it(
    master: InstrumentMaster, reliance: Instrument
) -> None:
    h = make_harness(master, "pooled", exact_config(execution={"market_fill_delay_ms": 3000}))
    try:
        h.set_price(reliance, 150_000)
        h.open_account("acct", 10_000_000)
        assert h.ask("acct", place(reliance, Side.BUY, 10, order_id="m1")).rejection is None
        h.clock.advance(2_750)
        h.engine.tick()
        h.settle()
        assert h.inspect("acct", lambda s: "m1" in s.orders)
        h.clock.advance(250)
        h.engine.tick()
        h.settle()
        assert not h.inspect("acct", lambda s: "m1" in s.orders)
        quantity = h.inspect("acct", lambda s: [p.quantity for p in s.positions.values()])
        assert quantity == [10]
    finally:
        h.engine.stop()


def test_limit_order_when_market_crosses_then_fills_at_limit_or_better(
    harness: Harness, reliance: Instrument
) -> None:
    harness.set_price(reliance, 150_000)
    harness.open_account("acct", 10_000_000)
    order = place(reliance, Side.BUY, 10, OrderType.LIMIT, price_paise=149_000, order_id="l1")
    assert harness.ask("acct", order).rejection is None
    harness.set_price(reliance, 149_500)
    assert harness.inspect("acct", lambda s: "l1" in s.orders)
    harness.set_price(reliance, 148_000)
    positions = harness.inspect(
        "acct", lambda s: [(p.quantity, p.cost_paise) for p in s.positions.values()]
    )
    ask = int(
        harness.engine.market.snapshot.ask[harness.engine.master.index_of(reliance.instrument_id)]
    )
    assert positions == [(10, 10 * min(149_000, ask))]


def test_sl_m_order_when_trigger_crossed_then_executes_at_market(
    harness: Harness, reliance: Instrument
) -> None:
    harness.set_price(reliance, 150_000)
    harness.open_account("acct", 10_000_000)
    buy = place(reliance, Side.BUY, 10, order_id="b1")
    assert harness.ask("acct", buy).rejection is None
    harness.settle()
    stop = place(reliance, Side.SELL, 10, OrderType.SL_M, trigger_paise=147_000, order_id="s1")
    assert harness.ask("acct", stop).rejection is None
    harness.set_price(reliance, 148_000)
    assert harness.inspect("acct", lambda s: "s1" in s.orders)
    harness.set_price(reliance, 146_500)
    assert harness.inspect("acct", lambda s: ("s1" in s.orders, len(s.positions))) == (False, 0)
    assert harness.inspect("acct", lambda s: s.realized_pnl_paise) < 0


def test_ioc_limit_when_not_marketable_then_cancelled(
    harness: Harness, reliance: Instrument
) -> None:
    harness.set_price(reliance, 150_000)
    harness.open_account("acct", 10_000_000)
    order = place(
        reliance,
        Side.BUY,
        10,
        OrderType.LIMIT,
        price_paise=140_000,
        validity=Validity.IOC,
        order_id="i1",
    )
    assert harness.ask("acct", order).rejection is None
    harness.settle()
    assert harness.inspect("acct", lambda s: (len(s.orders), s.blocked_paise)) == (0, 0)


def test_target_when_ltp_touches_it_then_position_closed(
    harness: Harness, reliance: Instrument
) -> None:
    harness.set_price(reliance, 150_000)
    harness.open_account("acct", 10_000_000)
    assert harness.ask("acct", place(reliance, Side.BUY, 10)).rejection is None
    harness.settle()
    position_id = harness.inspect("acct", lambda s: next(iter(s.positions)))
    levels = cmd.SetRiskLevelsRequest(
        position_id=position_id,
        stop_loss_paise=145_000,
        target_paise=152_000,
    )
    assert harness.ask("acct", levels).rejection is None
    harness.set_price(reliance, 151_000)
    assert harness.inspect("acct", lambda s: len(s.positions)) == 1
    harness.set_price(reliance, 152_500)
    assert harness.inspect("acct", lambda s: (len(s.positions), s.realized_pnl_paise > 0)) == (
        0,
        True,
    )
    assert harness.inspect("acct", funds_identity_holds)


def test_idle_accounts_when_passivated_then_restart_with_state(
    master: InstrumentMaster,
) -> None:
    h = make_harness(master, "pooled", exact_config(accounts={"passivate_after_s": 0}))
    try:
        for i in range(50):
            h.open_account(f"acct-{i}", 1_000 + i)
        registry = h.engine.registry
        assert registry is not None
        assert registry.actors_alive == 50
        registry.passivate_idle()
        h.engine.sync_market()
        deadline = threading.Event()
        for _ in range(100):
            if registry.actors_alive == 0:
                break
            deadline.wait(0.05)
        assert registry.actors_alive == 0
        assert registry.passivated_total == 50
        assert [h.inspect(f"acct-{i}", lambda s: s.balance_paise) for i in range(50)] == [
            1_000 + i for i in range(50)
        ]
    finally:
        h.engine.stop()


def test_engine_when_stopped_then_no_account_actor_outlives_it(
    master: InstrumentMaster, reliance: Instrument
) -> None:
    """On the thread-per-actor runtime an actor started after the registry stopped (by a fill
    or a tick the market sent meanwhile) was a thread nothing stopped: the process could not
    exit. The market stops first, and a stopped registry starts nothing."""
    h = make_harness(master, "threaded", exact_config())
    h.set_price(reliance, 150_000)
    for n in range(20):
        h.open_account(f"acct-{n}", 10_000_000)
        assert h.ask(f"acct-{n}", place(reliance, Side.BUY, 1)).rejection is None
    h.settle()
    registry = h.engine.registry
    assert registry is not None
    started = registry.started_total
    h.engine.stop()
    registry.tell("acct-0", Passivate())  # what a late market message would do
    assert registry.started_total == started
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and _account_threads():
        time.sleep(0.05)
    assert _account_threads() == []


def _account_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("AccountBehaviour")]


def test_close_position_when_no_market_price_then_position_average_tier(
    master: InstrumentMaster,
) -> None:
    template = master.get("NSE:WIPRO")
    assert template is not None
    unpriced = dataclasses.replace(
        template,
        instrument_id="NSE_EQ|INE000UNPRICED",
        token=999_001,
        symbol="UNPRICED",
        reference_price_paise=0,
    )
    h = make_harness(InstrumentMaster([*master, unpriced]), "pooled", exact_config())
    try:
        state = AccountState("acct", balance_paise=1_000_000, deposits_paise=1_000_000)
        position = Position(
            position_id="p1",
            instrument_id=unpriced.instrument_id,
            product=Product.MIS,
            quantity=10,
            cost_paise=10 * 20_003,
            margin_paise=40_006,
            realized_pnl_paise=0,
            opened_ms=START_MS,
        )
        state.positions["p1"] = position
        state.position_ids[position_key(unpriced.instrument_id, Product.MIS)] = "p1"
        state.blocked_paise = position.margin_paise
        h.engine.restore_account(state)
        close = cmd.ClosePositionRequest(
            position_id="p1",
        )
        outcome = h.ask("acct", close)
        assert outcome.rejection is None
        fill = next(e for e in outcome.events if isinstance(e, ev.OrderFilled))
        assert fill.price_source == PriceSource.POSITION_AVERAGE.value
        assert fill.price_paise == 20_003  # the average, already on WIPRO's one-paisa tick
        assert fill.realized_pnl_paise == 0
        assert h.engine.market.resolutions[PriceSource.POSITION_AVERAGE] == 1
    finally:
        h.engine.stop()


def test_modify_and_cancel_when_accepted_then_outcome_carries_a_detached_order(
    harness: Harness, reliance: Instrument
) -> None:
    """The gateway answers a modification or cancellation from the outcome's order, so it must
    be the order as the command left it and never the object the actor keeps mutating."""
    harness.set_price(reliance, 150_000)
    harness.open_account("acct", 10_000_000)
    placed = place(reliance, Side.BUY, 10, OrderType.LIMIT, price_paise=149_000, order_id="m1")
    assert harness.ask("acct", placed).order is None  # only modify and cancel report one
    modify = cmd.ModifyOrderRequest(
        order_id="m1",
        price_paise=148_000,
    )
    modified = harness.ask("acct", modify)
    assert modified.rejection is None and modified.order is not None
    assert (modified.order.price_paise, modified.order.quantity) == (148_000, 10)
    live = harness.inspect("acct", lambda s: s.orders["m1"])
    assert modified.order is not live and modified.order == live
    second = harness.ask("acct", msgspec.structs.replace(modify, price_paise=147_000))
    assert modified.order.price_paise == 148_000  # untouched by the later modification
    assert second.order is not None and second.order.price_paise == 147_000

    cancelled = harness.ask("acct", cmd.CancelOrderRequest(order_id="m1"))
    assert cancelled.rejection is None and cancelled.order is not None
    assert (cancelled.order.order_id, cancelled.order.price_paise) == ("m1", 147_000)
    assert harness.inspect("acct", lambda s: "m1" not in s.orders)
    again = harness.ask("acct", cmd.CancelOrderRequest(order_id="m1"))
    assert (again.rejection, again.order) == (Rejection.ORDER_NOT_OPEN, None)


DAY_MS = 86_400_000


def test_cnc_buy_when_next_trade_day_comes_then_holding_and_delivery_sell(
    harness: Harness, reliance: Instrument
) -> None:
    harness.set_price(reliance, 150_000)
    harness.open_account("acct", 10_000_000)
    buy = place(reliance, Side.BUY, 10, product=Product.CNC, order_id="buy")
    assert harness.ask("acct", buy).rejection is None
    harness.set_price(reliance, 150_000)  # the tick that fills it

    def book(state: AccountState) -> tuple[list[tuple[Product, int]], dict[str, int]]:
        positions = [(p.product, p.quantity) for p in state.positions.values()]
        return positions, {i: h.quantity for i, h in state.holdings.items()}

    harness.clock.advance(60_000)  # later the same day: still today's position
    assert harness.inspect("acct", book) == ([(Product.CNC, 10)], {})
    harness.clock.advance(DAY_MS)  # the next day's first read settles it
    assert harness.inspect("acct", book) == ([], {reliance.instrument_id: 10})
    assert harness.inspect("acct", funds_identity_holds)

    sell = place(reliance, Side.SELL, 10, product=Product.CNC, order_id="sell")
    assert harness.ask("acct", sell).rejection is None
    harness.set_price(reliance, 150_000)
    sink = harness.engine.sink
    assert isinstance(sink, InMemorySink)
    events = sink.events_for("acct")
    assert sum(isinstance(e, ev.HoldingsSettled) for e in events) == 1
    fills = {e.order_id: e for e in events if isinstance(e, ev.OrderFilled)}
    # A delivery sell from holdings: no brokerage, the DP charge levied for the day.
    assert fills["sell"].brokerage_paise == 0
    assert fills["sell"].dp_day == harness.engine.rules.trade_day(harness.clock.now_ms())
    assert fills["sell"].holding_quantity == 0
    assert harness.inspect("acct", book) == ([], {})


def test_cnc_buy_and_sell_when_same_day_then_intraday_and_nothing_settles(
    harness: Harness, reliance: Instrument
) -> None:
    harness.set_price(reliance, 150_000)
    harness.open_account("acct", 10_000_000)
    for side, order_id in ((Side.BUY, "buy"), (Side.SELL, "sell")):
        order = place(reliance, side, 10, product=Product.CNC, order_id=order_id)
        assert harness.ask("acct", order).rejection is None
        harness.set_price(reliance, 150_000)
    sink = harness.engine.sink
    assert isinstance(sink, InMemorySink)
    events = sink.events_for("acct")
    assert not any(isinstance(e, ev.HoldingsSettled) for e in events)
    sell = next(e for e in events if isinstance(e, ev.OrderFilled) and e.order_id == "sell")
    assert (sell.dp_day, sell.holding_quantity, sell.position_quantity) == (0, 0, 0)
    assert sell.brokerage_paise > 0  # charged as intraday (docs/DOMAIN.md §1)


MONDAY_3PM_IST = 1_795_426_200_000  # 2026-11-23 15:00 IST


def test_session_when_hours_enforced_then_mis_squared_off_and_day_orders_expire(
    master: InstrumentMaster, reliance: Instrument
) -> None:
    h = make_harness(master, "pooled", exact_config(sessions={"enforce_hours": True}))
    try:
        h.clock.advance(MONDAY_3PM_IST - h.clock.now_ms())
        h.set_price(reliance, 150_000)
        h.open_account("acct", 10_000_000)
        orders = [
            place(reliance, Side.BUY, 10, order_id="mis-market"),
            place(reliance, Side.BUY, 10, OrderType.LIMIT, price_paise=140_000, order_id="mis"),
            place(
                reliance,
                Side.BUY,
                10,
                OrderType.LIMIT,
                price_paise=140_000,
                product=Product.CNC,
                order_id="cnc",
            ),
        ]
        for order in orders:
            assert h.ask("acct", order).rejection is None
        h.set_price(reliance, 150_000)  # the MARKET order fills
        assert h.inspect("acct", lambda s: [p.quantity for p in s.positions.values()]) == [10]

        h.set_price(reliance, 150_000, advance_ms=21 * 60_000)  # 15:21: MIS squared off
        sink = h.engine.sink
        assert isinstance(sink, InMemorySink)
        events = sink.events_for("acct")
        cancelled = {e.order_id: e.reason for e in events if isinstance(e, ev.OrderCancelled)}
        assert cancelled == {"mis": "SQUARE_OFF"}
        exit_fill = [e for e in events if isinstance(e, ev.OrderFilled)][-1]
        assert (exit_fill.side, exit_fill.position_quantity) == (Side.SELL, 0)
        schedule = h.engine.rules.charges.on(h.engine.rules.trade_date(h.clock.now_ms()))
        normal = order_charges(
            schedule, ChargeCategory.MIS, "NSE", Side.SELL, 10 * exit_fill.price_paise
        )
        assert exit_fill.charges_paise == normal.total_paise + 5_900  # ₹50 + GST on top
        assert exit_fill.brokerage_paise == normal.brokerage_paise + 5_000
        assert h.inspect("acct", lambda s: (list(s.positions), sorted(s.orders))) == ([], ["cnc"])
        refused = h.ask("acct", place(reliance, Side.BUY, 1, order_id="late-mis"))
        assert refused.rejection is Rejection.MARKET_CLOSED
        assert h.ask("acct", place(reliance, Side.BUY, 1, product=Product.CNC)).rejection is None
        assert h.inspect("acct", funds_identity_holds)

        h.set_price(reliance, 150_000, advance_ms=10 * 60_000)  # 15:31: the close
        events = sink.events_for("acct")
        cancelled = {e.order_id: e.reason for e in events if isinstance(e, ev.OrderCancelled)}
        assert cancelled == {"mis": "SQUARE_OFF", "cnc": "EXPIRED"}
        after_close = h.ask("acct", place(reliance, Side.BUY, 1, product=Product.CNC))
        assert after_close.rejection is Rejection.MARKET_CLOSED
        # Nothing triggers while the session is closed: a target the price passes stays set.
        position_id = h.inspect("acct", lambda s: next(iter(s.positions)))
        levels = cmd.SetRiskLevelsRequest(
            position_id=position_id,
            stop_loss_paise=None,
            target_paise=152_000,
        )
        assert h.ask("acct", levels).rejection is None
        h.set_price(reliance, 153_000, advance_ms=60_000)
        assert h.inspect("acct", lambda s: list(s.positions)) == [position_id]
    finally:
        h.engine.stop()


def test_session_when_server_was_down_at_square_off_and_close_then_caught_up_at_start(
    master: InstrumentMaster, reliance: Instrument
) -> None:
    config = exact_config(sessions={"enforce_hours": True})
    before = make_harness(master, "pooled", config)
    try:
        before.clock.advance(MONDAY_3PM_IST - before.clock.now_ms())
        before.set_price(reliance, 150_000)
        before.open_account("acct", 10_000_000)
        cnc = place(reliance, Side.BUY, 10, OrderType.LIMIT, 140_000, product=Product.CNC)
        for order in (place(reliance, Side.BUY, 10, order_id="mis"), cnc):
            assert before.ask("acct", order).rejection is None
        before.set_price(reliance, 150_000)
        state = before.inspect("acct", msgspec.json.encode)
    finally:
        before.engine.stop()  # down from 15:00 on Monday

    # Back at 10:00 on Wednesday: Tuesday the 24th was an exchange holiday, with no session.
    after = make_harness(master, "pooled", config)
    try:
        after.clock.advance(MONDAY_3PM_IST + 43 * 3_600_000 - after.clock.now_ms())
        after.set_price(reliance, 151_000)
        after.engine.restore_account(msgspec.json.decode(state, type=AccountState))
        today = place(reliance, Side.BUY, 1, OrderType.LIMIT, 140_000, product=Product.CNC)
        assert after.ask("acct", today).rejection is None
        after.engine.catch_up_sessions()
        after.settle()
        sink = after.engine.sink
        assert isinstance(sink, InMemorySink)
        events = sink.events_for("acct")
        cancelled = {e.order_id: e.reason for e in events if isinstance(e, ev.OrderCancelled)}
        assert cancelled == {cnc.order_id: "EXPIRED"}  # Monday's DAY order; today's stays
        exits = [e for e in events if isinstance(e, ev.OrderFilled)]
        assert [(e.side, e.position_quantity) for e in exits] == [(Side.SELL, 0)]
        assert after.inspect("acct", lambda s: sorted(s.orders)) == [today.order_id]
        assert after.inspect("acct", funds_identity_holds)
    finally:
        after.engine.stop()


# Not "serial": the test holds the account's turn while the market ticks, and there the market
# shares the account's one thread.
@pytest.mark.parametrize("runtime", ["pooled", "threaded"])
def test_account_inbox_when_full_then_requests_refused_and_market_fills_still_taken(
    master: InstrumentMaster, reliance: Instrument, runtime: str
) -> None:
    h = make_harness(master, runtime, exact_config(accounts={"inbox_max": 2}))
    try:
        h.set_price(reliance, 150_000)
        h.open_account("acct", 10_000_000)
        resting = place(reliance, Side.BUY, 10, OrderType.LIMIT, 149_000, order_id="rest")
        assert h.ask("acct", resting).rejection is None
        running, gate = threading.Event(), threading.Event()

        def hold(_: AccountState) -> None:
            running.set()
            gate.wait(WAIT_S)

        h.engine.inspect("acct", hold, lambda _: None)
        assert running.wait(WAIT_S)  # the actor is busy and its inbox empty
        answered = threading.Semaphore(0)
        outcomes: list[Outcome] = []

        def reply(outcome: Outcome) -> None:
            outcomes.append(outcome)
            answered.release()

        for n in range(2):
            waiting = place(reliance, Side.BUY, 1, OrderType.LIMIT, 140_000, order_id=f"w{n}")
            h.engine.submit("acct", waiting, reply)
        with pytest.raises(AccountBusyError):
            h.engine.submit("acct", place(reliance, Side.BUY, 1, OrderType.LIMIT, 140_000), reply)
        with pytest.raises(AccountBusyError):
            h.engine.inspect("acct", lambda state: None, lambda _: None)
        # The market reaches the resting order: its fill joins the full inbox all the same.
        h.source.prices[master.index_of(reliance.instrument_id) or 0] = 148_000
        h.engine.tick()
        h.engine.sync_market()

        gate.set()
        assert answered.acquire(timeout=WAIT_S) and answered.acquire(timeout=WAIT_S)
        h.settle()
        assert [o.rejection for o in outcomes] == [None, None]
        orders = h.inspect("acct", lambda state: sorted(state.orders))
        assert orders == ["w0", "w1"]  # "rest" filled whole while the inbox was full
        sink = h.engine.sink
        assert isinstance(sink, InMemorySink)
        fills = [e for e in sink.events_for("acct") if isinstance(e, ev.OrderFilled)]
        assert [(f.order_id, f.quantity) for f in fills] == [("rest", 10)]
    finally:
        h.engine.stop()


# NIFTY's December 2026 contracts expire on the 29th at the F&O close, 15:40 IST.
NIFTY_EXPIRY_MS = 1_798_539_000_000


def test_contract_expiry_when_passed_then_its_working_orders_cancelled_and_others_kept(
    master: InstrumentMaster, nifty_fut: Instrument, reliance: Instrument
) -> None:
    h = make_harness(master, "pooled", exact_config())
    try:
        h.set_price(nifty_fut, 2_613_860)
        h.set_price(reliance, 150_000)
        h.open_account("acct", 10_000_000_000)
        resting = place(nifty_fut, Side.BUY, 65, OrderType.LIMIT, 2_500_000, product=Product.NRML)
        kept = place(reliance, Side.BUY, 1, OrderType.LIMIT, 140_000, product=Product.CNC)
        for order in (resting, kept):
            assert h.ask("acct", order).rejection is None
        blocked = h.inspect("acct", lambda s: s.blocked_paise)
        h.set_price(nifty_fut, 2_613_860, advance_ms=NIFTY_EXPIRY_MS - 1 - h.clock.now_ms())
        assert h.inspect("acct", lambda s: sorted(s.orders)) == sorted(
            [resting.order_id, kept.order_id]
        )  # a millisecond before: still working
        h.set_price(nifty_fut, 2_613_860, advance_ms=1)
        sink = h.engine.sink
        assert isinstance(sink, InMemorySink)
        cancelled = {
            e.order_id: e.reason
            for e in sink.events_for("acct")
            if isinstance(e, ev.OrderCancelled)
        }
        assert cancelled == {resting.order_id: "CONTRACT_EXPIRED"}
        assert h.inspect("acct", lambda s: sorted(s.orders)) == [kept.order_id]
        assert h.inspect("acct", lambda s: s.blocked_paise) < blocked
        assert h.inspect("acct", funds_identity_holds)
        late = place(nifty_fut, Side.BUY, 65, OrderType.LIMIT, 2_500_000, product=Product.NRML)
        assert h.ask("acct", late).rejection is Rejection.INSTRUMENT_EXPIRED
    finally:
        h.engine.stop()


def test_contract_expiry_when_server_was_down_then_orders_cancelled_positions_settled_once(
    master: InstrumentMaster, nifty_fut: Instrument, nifty_call: Instrument
) -> None:
    before = make_harness(master, "pooled", exact_config())
    try:
        before.set_price(nifty_fut, 2_613_860)
        before.set_price(nifty_call, 44_145)
        before.open_account("acct", 10_000_000_000)
        resting = place(nifty_fut, Side.BUY, 65, OrderType.LIMIT, 2_500_000, product=Product.NRML)
        assert before.ask("acct", resting).rejection is None
        bought = place(nifty_call, Side.BUY, 65, product=Product.NRML)
        assert before.ask("acct", bought).rejection is None
        before.settle()
        state = before.inspect("acct", msgspec.json.encode)
    finally:
        before.engine.stop()  # down from well before the expiry

    after = make_harness(master, "pooled", exact_config())
    try:
        after.clock.advance(
            NIFTY_EXPIRY_MS + 3_600_000 - after.clock.now_ms()
        )  # back an hour after
        after.set_price(nifty_fut, 2_613_860)
        after.engine.restore_account(msgspec.json.decode(state, type=AccountState))
        for _ in range(2):  # a second catch-up (another restart) changes nothing
            after.engine.catch_up_expiries()
            after.settle()
        sink = after.engine.sink
        assert isinstance(sink, InMemorySink)
        cancelled = [e for e in sink.events_for("acct") if isinstance(e, ev.OrderCancelled)]
        assert [(e.order_id, e.reason) for e in cancelled] == [
            (resting.order_id, "CONTRACT_EXPIRED")
        ]
        assert after.inspect("acct", lambda s: s.orders) == {}
        # Settled once, against the spot's price at start (its close was not kept).
        settled = [e for e in sink.events_for("acct") if isinstance(e, ev.OrderFilled)]
        assert [(e.instrument_id, e.side) for e in settled] == [
            (nifty_call.instrument_id, Side.SELL)
        ]
        assert settled[0].price_paise == max(2_601_785 - 2_600_000, 0)  # the master's spot
        assert after.inspect("acct", lambda s: s.positions) == {}
        assert after.inspect("acct", funds_identity_holds)
    finally:
        after.engine.stop()


def test_contract_expiry_when_positions_open_then_settled_at_the_spots_close_once(
    master: InstrumentMaster, nifty_fut: Instrument, nifty_call: Instrument
) -> None:
    spot = master.get("NSE:NIFTY 50")
    assert spot is not None
    h = make_harness(master, "pooled", exact_config())
    try:
        h.set_price(nifty_fut, 2_613_860)
        h.set_price(nifty_call, 44_145)
        h.set_price(spot, 2_601_785)
        h.open_account("acct", 10_000_000_000)
        for instrument in (nifty_fut, nifty_call):
            order = place(instrument, Side.BUY, 65, product=Product.NRML)
            assert h.ask("acct", order).rejection is None
        h.settle()
        assert len(h.inspect("acct", lambda s: s.positions)) == 2
        balance = h.inspect("acct", lambda s: s.balance_paise)
        # The index closes at 26,150 as the contracts expire.
        h.set_price(spot, 2_615_000, advance_ms=NIFTY_EXPIRY_MS - h.clock.now_ms())
        h.settle()
        sink = h.engine.sink
        assert isinstance(sink, InMemorySink)
        settled = {
            e.instrument_id: e
            for e in sink.events_for("acct")
            if isinstance(e, ev.OrderFilled) and e.side is Side.SELL
        }
        future, call = settled[nifty_fut.instrument_id], settled[nifty_call.instrument_id]
        assert (future.price_paise, future.charges_paise) == (2_615_000, 0)
        assert (call.price_paise, call.charges_paise) == (15_000, 1_219)  # STT on exercise
        assert h.inspect("acct", lambda s: s.positions) == {}
        # The future was settled to market at the start of each day it was held across (its
        # cost basis moved to each close), so its P&L is realised partly there.
        daily = sum(
            settlement.realized_pnl_paise
            for e in sink.events_for("acct")
            if isinstance(e, ev.FuturesSettled)
            for settlement in e.settlements
        )
        realized = future.realized_pnl_paise + call.realized_pnl_paise + daily
        assert h.inspect("acct", lambda s: s.balance_paise) == balance + realized - 1_219
        assert h.inspect("acct", funds_identity_holds)
        h.engine.catch_up_expiries()  # reported again (a restart): nothing more happens
        h.settle()
        assert len([e for e in sink.events_for("acct") if isinstance(e, ev.OrderFilled)]) == 4
    finally:
        h.engine.stop()
