"""Iceberg orders in the real engine with a fake clock (docs/DOMAIN.md §3): the market works
one leg at a time. A MARKET iceberg's legs fill one after another, each placed by the account
when the one before it has filled, until the total is traded; a LIMIT iceberg shows only its
working leg to the market, its next leg appears only when the market crosses the price, and
cancelling the working leg ends the iceberg. A leg that closes a losing position leaves the
next one decided on the account as that fill leaves it: the loss realised once, not also
marked again."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from engine.actors.sink import InMemorySink
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.enums import OrderType, Product, Side
from engine.domain.iceberg import Iceberg
from engine.domain.instruments import Instrument, InstrumentMaster
from tests.support.engine_driver import EngineDriver, order_request, started_driver


@pytest.fixture
def driver(master: InstrumentMaster) -> Iterator[EngineDriver]:
    driven = started_driver(master)
    try:
        yield driven
    finally:
        driven.engine.stop()


def iceberg_request(
    instrument: Instrument, order_id: str, total: int, leg_quantity: int, **terms: object
) -> cmd.PlaceOrderRequest:
    legs = -(-total // leg_quantity)
    slicing = Iceberg(order_id, 1, legs, leg_quantity, total)
    request = order_request(
        instrument,
        order_id,
        quantity=slicing.quantity_of_leg(1),
        **terms,  # type: ignore[arg-type]
    )
    return msgspec.structs.replace(request, iceberg=slicing)


def events_of(driver: EngineDriver, kind: type[ev.AccountEvent]) -> list[ev.AccountEvent]:
    sink = driver.engine.sink
    assert isinstance(sink, InMemorySink)
    return [e for e in sink.events_for("acct") if isinstance(e, kind)]


def working(driver: EngineDriver) -> list[tuple[int, int]]:
    """The working orders as (leg, quantity)."""
    return driver.inspect(
        "acct",
        lambda s: [(o.iceberg.leg if o.iceberg else 0, o.quantity) for o in s.orders.values()],
    )


def test_market_iceberg_when_placed_then_its_legs_fill_in_turn_to_the_total(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, 150_000)
    driver.open_account("acct", 10_000_000)

    placed = driver.ask("acct", iceberg_request(reliance, "ice", 7, 3, order_type=OrderType.MARKET))

    assert placed.rejection is None
    for _ in range(3):  # each tick fills the working leg; the account then places the next
        driver.set_price(reliance, 150_000, advance_ms=250)
    accepted = events_of(driver, ev.OrderAccepted)
    filled = events_of(driver, ev.OrderFilled)
    legs = [
        (e.iceberg.leg, e.quantity)
        for e in accepted
        if isinstance(e, ev.OrderAccepted) and e.iceberg
    ]
    assert legs == [(1, 3), (2, 3), (3, 1)]
    assert [e.quantity for e in filled if isinstance(e, ev.OrderFilled)] == [3, 3, 1]
    parents = {
        e.iceberg.parent_order_id for e in accepted if isinstance(e, ev.OrderAccepted) and e.iceberg
    }
    assert parents == {"ice"}
    assert working(driver) == []
    held = driver.inspect(
        "acct", lambda s: s.position_for(reliance.instrument_id, Product.MIS).quantity
    )
    assert held == 7


def test_limit_iceberg_when_resting_then_only_its_working_leg_is_out_until_crossed(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, 150_000)
    driver.open_account("acct", 10_000_000)
    placed = driver.ask("acct", iceberg_request(reliance, "ice", 9, 3, price_paise=149_000))
    assert placed.rejection is None

    driver.set_price(reliance, 150_000, advance_ms=250)  # above the limit: nothing fills
    assert working(driver) == [(1, 3)]
    assert (
        driver.inspect("acct", lambda s: s.blocked_paise) == placed.events[0].margin_blocked_paise
    )
    driver.set_price(reliance, 148_500, advance_ms=250)  # crossed: each leg fills as it comes

    filled = events_of(driver, ev.OrderFilled)
    assert [e.quantity for e in filled if isinstance(e, ev.OrderFilled)] == [3, 3, 3]
    assert working(driver) == []


def test_limit_iceberg_when_its_working_leg_is_cancelled_then_no_leg_follows(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, 150_000)
    driver.open_account("acct", 10_000_000)
    assert (
        driver.ask("acct", iceberg_request(reliance, "ice", 9, 3, price_paise=149_000)).rejection
        is None
    )

    cancelled = driver.ask("acct", cmd.CancelOrderRequest("ice"))

    assert cancelled.rejection is None
    driver.set_price(reliance, 148_000, advance_ms=250)  # would have crossed every leg
    assert working(driver) == []
    assert events_of(driver, ev.OrderFilled) == []
    assert len(events_of(driver, ev.OrderAccepted)) == 1


def test_iceberg_when_a_leg_closes_a_losing_position_then_the_next_leg_is_as_affordable_as_alone(
    driver: EngineDriver, reliance: Instrument
) -> None:
    # ₹4,800; 10 RELIANCE MIS bought at ₹1,500 now at ₹1,300 (−₹2,000). Selling 20 in legs of
    # 10 closes the long, then shorts 10 (₹2,600 of margin) on the ₹2,782 or so left: as two
    # regular orders would. Counted again in a mark-to-market from before the fill, the loss
    # would leave too little for the second leg.
    driver.open_account("acct", 480_000)
    driver.set_price(reliance, 150_000)
    buy = order_request(reliance, "buy", order_type=OrderType.MARKET, quantity=10)
    assert driver.ask("acct", buy).rejection is None
    driver.set_price(reliance, 150_000, advance_ms=250)
    driver.set_price(reliance, 130_000, advance_ms=250)

    sell = iceberg_request(reliance, "ice", 20, 10, side=Side.SELL, order_type=OrderType.MARKET)
    assert driver.ask("acct", sell).rejection is None
    driver.set_price(reliance, 130_000, advance_ms=250)
    driver.set_price(reliance, 130_000, advance_ms=250)

    assert events_of(driver, ev.OrderRejected) == []
    held = driver.inspect(
        "acct", lambda s: s.position_for(reliance.instrument_id, Product.MIS).quantity
    )
    assert held == -10
