"""Executions the market holds for an order follow the order's current version.

Proves, through the real account and market actors, that a modification or cancellation
removes what the old version queued: a MARKET buy changed to a low LIMIT does not fill at
market when its delay ends (the review's repro, which left an account at -₹98,727), a MARKET
order whose quantity is raised fills once for the new quantity, a cancelled MARKET order never
fills, a stop moved away does not trigger at its old level; and that a fill or trigger the
market sends for an older version is refused, logged and counted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.domain import commands as cmd
from engine.domain.account.state import funds_identity_holds
from engine.domain.enums import FundKind, OrderType, Product, Rejection, Side
from engine.domain.instruments import Instrument, InstrumentMaster
from tests.actors.test_engine_actors import RUNTIMES, Harness, make_harness, place
from tests.support.engine_driver import exact_config

DELAY_MS = 3000


@pytest.fixture
def delayed(master: InstrumentMaster) -> Iterator[Harness]:
    """MARKET orders fill ``DELAY_MS`` after acceptance, as in the default configuration."""
    h = make_harness(master, "pooled", exact_config(execution={"market_fill_delay_ms": DELAY_MS}))
    yield h
    h.engine.stop()


@pytest.fixture(params=RUNTIMES)
def harness(request: pytest.FixtureRequest, master: InstrumentMaster) -> Iterator[Harness]:
    h = make_harness(master, request.param, exact_config())
    yield h
    h.engine.stop()


def _modify(order_id: str, **terms: object) -> cmd.ModifyOrderRequest:
    return cmd.ModifyOrderRequest(order_id=order_id, **terms)  # type: ignore[arg-type]


def _after_delay(h: Harness) -> None:
    h.clock.advance(DELAY_MS)
    h.engine.tick()
    h.settle()
    h.engine.tick()
    h.settle()


def test_market_buy_when_modified_to_low_limit_then_old_execution_dropped(
    delayed: Harness, nifty_call: Instrument
) -> None:
    h = delayed
    h.set_price(nifty_call, 41_000)  # ₹410: one lot of 65 blocks about ₹27,500
    h.open_account("acct", 35_000_00)
    for n in range(5):
        order_id = f"m{n}"
        buy = place(nifty_call, Side.BUY, 65, product=Product.NRML, order_id=order_id)
        assert h.ask("acct", buy).rejection is None
        low = _modify(order_id, order_type=OrderType.LIMIT, price_paise=5)
        assert h.ask("acct", low).rejection is None
    _after_delay(h)
    state = h.inspect("acct", lambda s: (len(s.orders), len(s.positions), s.available_paise))
    assert state[:2] == (5, 0), "every order still rests at ₹0.05, none filled at market"
    assert state[2] >= 0
    assert h.inspect("acct", funds_identity_holds)


def test_cnc_market_buy_when_modified_to_low_limit_then_withdrawal_cannot_take_its_cash(
    delayed: Harness, reliance: Instrument
) -> None:
    h = delayed
    h.set_price(reliance, 150_000)
    h.open_account("acct", 16_000_00)
    buy = place(reliance, Side.BUY, 10, product=Product.CNC, order_id="c1")
    assert h.ask("acct", buy).rejection is None
    low = _modify("c1", order_type=OrderType.LIMIT, price_paise=125_000)
    assert h.ask("acct", low).rejection is None
    available = h.inspect("acct", lambda s: s.available_paise)
    withdraw = cmd.DebitFundsRequest(
        amount_paise=available, kind=FundKind.WITHDRAWAL, reference="w"
    )
    assert h.ask("acct", withdraw).rejection is None
    _after_delay(h)
    assert h.inspect("acct", lambda s: (len(s.positions), len(s.holdings))) == (0, 0)
    assert h.inspect("acct", lambda s: s.available_paise) >= 0


def test_market_order_when_quantity_raised_then_fills_once_in_full(
    delayed: Harness, reliance: Instrument
) -> None:
    h = delayed
    h.set_price(reliance, 150_000)
    h.open_account("acct", 100_000_00)
    assert h.ask("acct", place(reliance, Side.BUY, 10, order_id="q1")).rejection is None
    assert h.ask("acct", _modify("q1", quantity=20)).rejection is None
    _after_delay(h)
    orders, positions, blocked = h.inspect(
        "acct",
        lambda s: (
            len(s.orders),
            [p.quantity for p in s.positions.values()],
            sum(o.margin_blocked_paise for o in s.orders.values()),
        ),
    )
    assert (orders, positions, blocked) == (0, [20], 0)


def test_market_order_when_cancelled_before_delay_then_never_fills(
    delayed: Harness, reliance: Instrument
) -> None:
    h = delayed
    h.set_price(reliance, 150_000)
    h.open_account("acct", 100_000_00)
    assert h.ask("acct", place(reliance, Side.BUY, 10, order_id="x1")).rejection is None
    assert h.ask("acct", cmd.CancelOrderRequest(order_id="x1")).rejection is None
    _after_delay(h)
    assert h.inspect("acct", lambda s: (len(s.orders), len(s.positions))) == (0, 0)
    assert h.engine.market_ref is not None
    assert not h.engine.market_ref.proxy().queued.get().keys()


def test_stop_when_trigger_moved_away_then_old_level_does_not_trigger(
    harness: Harness, reliance: Instrument
) -> None:
    h = harness
    h.set_price(reliance, 150_000)
    h.open_account("acct", 100_000_00)
    stop = place(reliance, Side.SELL, 10, OrderType.SL_M, trigger_paise=149_000, order_id="s1")
    assert h.ask("acct", stop).rejection is None
    assert h.ask("acct", _modify("s1", trigger_paise=140_000)).rejection is None
    h.set_price(reliance, 148_000)  # through the old trigger, above the new one
    assert h.inspect("acct", lambda s: (s.orders["s1"].triggered, len(s.positions))) == (
        False,
        0,
    )


def test_fill_when_sent_for_older_version_then_refused_and_counted(
    harness: Harness, reliance: Instrument
) -> None:
    h = harness
    h.set_price(reliance, 150_000)
    h.open_account("acct", 100_000_00)
    limit = place(reliance, Side.BUY, 10, OrderType.LIMIT, price_paise=140_000, order_id="v1")
    assert h.ask("acct", limit).rejection is None
    assert h.ask("acct", _modify("v1", price_paise=139_000)).rejection is None
    stale = cmd.FillOrderRequest(
        order_id="v1",
        instrument=reliance,
        quantity=10,
        price_paise=140_000,
    )
    over_limit = cmd.FillOrderRequest(
        order_id="v1",
        instrument=reliance,
        quantity=10,
        price_paise=139_500,
        order_version=1,
    )
    at_market = cmd.FillOrderRequest(
        order_id="v1",
        instrument=reliance,
        quantity=10,
        price_paise=138_000,
        order_version=1,
        at_market=True,
    )
    for command in (stale, over_limit, at_market):
        h.engine.submit("acct", command, None)
    h.settle()
    assert h.inspect("acct", lambda s: (s.orders["v1"].filled_quantity, len(s.positions))) == (
        0,
        0,
    )
    assert h.engine.refused_executions.snapshot() == {
        ("FillOrder", Rejection.STALE_EXECUTION): 1,
        ("FillOrder", Rejection.OUTSIDE_ORDER_TERMS): 2,
    }
