"""Orders against the displayed book, through the real account and market actors.

A MARKET order larger than the touch walks the book level by level, one trade per level, no
further than its market protection (the rest rests at the protection price, or is cancelled
for IOC); a resting LIMIT fills over ticks as the book replenishes; two accounts share what the
book shows; a part-filled order can be modified (not below what it filled) or cancelled with
its fills kept; brokerage is charged once per order over all its fills.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import funds_identity_holds
from engine.domain.enums import OrderStatus, OrderType, Product, Rejection, Side, Validity
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.quote import DepthLevel
from engine.market.depth import ASKS, BIDS
from tests.actors.test_engine_actors import place
from tests.support.engine_driver import EngineDriver, exact_config, started_driver

RELIANCE_PAISE = 150_000
NIFTY_FUT_PAISE = 2_613_860
FUNDS_PAISE = 50_000_000_00  # ₹5 crore: enough for every level of the book


@pytest.fixture
def narrow(master: InstrumentMaster) -> Iterator[EngineDriver]:
    """MARKET orders protected to 0.02 % from the touch: inside the book's five levels."""
    driven = started_driver(
        master, config=exact_config(execution={"market_protection_pct": "0.02"})
    )
    yield driven
    driven.engine.stop()


def book_side(driver: EngineDriver, instrument: Instrument, side: int) -> list[DepthLevel]:
    index = driver.engine.master.index_of(instrument.instrument_id)
    assert index is not None
    return driver.engine.depth.side(index, side)


def fills_of(driver: EngineDriver, account_id: str, order_id: str) -> list[ev.OrderFilled]:
    return [
        event
        for event in driver.engine.sink.events_for(account_id)  # type: ignore[attr-defined]
        if isinstance(event, ev.OrderFilled) and event.order_id == order_id
    ]


def trades(fills: list[ev.OrderFilled]) -> list[tuple[int, int]]:
    return [(fill.price_paise, fill.quantity) for fill in fills]


def order_of(driver: EngineDriver, account_id: str, order_id: str) -> tuple[OrderStatus, int]:
    """(status, filled quantity) of an order: the account's while it is open, else what its
    journaled events say it ended as."""
    open_order = driver.inspect(account_id, lambda state: state.orders.get(order_id))
    if open_order is not None:
        return open_order.status, open_order.filled_quantity
    filled = sum(fill.quantity for fill in fills_of(driver, account_id, order_id))
    ended = [
        event
        for event in driver.engine.sink.events_for(account_id)  # type: ignore[attr-defined]
        if isinstance(event, ev.OrderCancelled | ev.OrderFilled) and event.order_id == order_id
    ][-1]
    if isinstance(ended, ev.OrderCancelled):
        return OrderStatus.CANCELLED, filled
    return ended.status_after, filled


def test_market_buy_when_larger_than_the_touch_then_walks_levels_one_trade_each(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, RELIANCE_PAISE)
    driver.open_account("acct", FUNDS_PAISE)
    asks = book_side(driver, reliance, ASKS)
    assert [level.price_paise for level in asks] == sorted(level.price_paise for level in asks)
    quantity = asks[0].quantity + asks[1].quantity + 1
    buy = place(reliance, Side.BUY, quantity, product=Product.CNC, order_id="big")
    assert driver.ask("acct", buy).rejection is None
    driver.settle()
    fills = fills_of(driver, "acct", "big")
    expected = [
        (asks[0].price_paise, asks[0].quantity),
        (asks[1].price_paise, asks[1].quantity),
        (asks[2].price_paise, 1),
    ]
    assert trades(fills) == expected
    assert asks[0].price_paise < asks[1].price_paise < asks[2].price_paise
    assert [fill.status_after for fill in fills] == [OrderStatus.PENDING] * 2 + [
        OrderStatus.EXECUTED
    ]
    cost = driver.inspect("acct", lambda s: [p.cost_paise for p in s.positions.values()])
    assert cost == [sum(price * units for price, units in expected)]
    shown = book_side(driver, reliance, ASKS)
    assert shown[0].quantity == 0 and shown[1].quantity == 0
    assert shown[2].quantity == asks[2].quantity - 1
    assert driver.inspect("acct", funds_identity_holds)


def test_market_sell_when_larger_than_the_touch_then_walks_bids_down(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, RELIANCE_PAISE)
    driver.open_account("acct", FUNDS_PAISE)
    bids = book_side(driver, reliance, BIDS)
    quantity = bids[0].quantity + 5
    sell = place(reliance, Side.SELL, quantity, product=Product.MIS, order_id="short")
    assert driver.ask("acct", sell).rejection is None
    driver.settle()
    fills = fills_of(driver, "acct", "short")
    assert trades(fills) == [(bids[0].price_paise, bids[0].quantity), (bids[1].price_paise, 5)]
    assert bids[1].price_paise < bids[0].price_paise


def asks_and_protection(narrow: EngineDriver, reliance: Instrument) -> tuple[list[DepthLevel], int]:
    """Funds account "acct" and returns RELIANCE's asks and a MARKET buy's protection price
    (0.02 % above the ask, down to the tick)."""
    narrow.set_price(reliance, RELIANCE_PAISE)
    narrow.open_account("acct", FUNDS_PAISE)
    asks = book_side(narrow, reliance, ASKS)
    tick = reliance.tick_paise
    return asks, asks[0].price_paise * 10002 // 10000 // tick * tick


def test_market_buy_when_beyond_protection_then_rest_waits_at_the_protection_price(
    narrow: EngineDriver, reliance: Instrument
) -> None:
    asks, protection = asks_and_protection(narrow, reliance)
    within = [level for level in asks if level.price_paise <= protection]
    assert 0 < len(within) < len(asks), "the test needs protection inside the book"
    available = sum(level.quantity for level in within)
    buy = place(reliance, Side.BUY, available + 100, product=Product.CNC, order_id="m")
    assert narrow.ask("acct", buy).rejection is None
    narrow.settle()
    expected = [(level.price_paise, level.quantity) for level in within]
    assert trades(fills_of(narrow, "acct", "m")) == expected
    assert order_of(narrow, "acct", "m") == (OrderStatus.PENDING, available)
    # The rest fills at no worse than the protection price once the book has it again.
    narrow.set_price(reliance, RELIANCE_PAISE, advance_ms=60_000)
    later = trades(fills_of(narrow, "acct", "m"))[len(expected) :]
    assert sum(units for _, units in later) == 100
    assert all(price <= protection for price, _ in later)
    assert order_of(narrow, "acct", "m") == (OrderStatus.EXECUTED, available + 100)
    assert narrow.inspect("acct", funds_identity_holds)


def test_market_ioc_when_beyond_protection_then_rest_cancelled_and_fills_kept(
    narrow: EngineDriver, reliance: Instrument
) -> None:
    asks, protection = asks_and_protection(narrow, reliance)
    available = sum(level.quantity for level in asks if level.price_paise <= protection)
    buy = place(
        reliance,
        Side.BUY,
        available + 100,
        validity=Validity.IOC,
        product=Product.CNC,
        order_id="ioc",
    )
    assert narrow.ask("acct", buy).rejection is None
    narrow.settle()
    assert order_of(narrow, "acct", "ioc") == (OrderStatus.CANCELLED, available)
    held = narrow.inspect("acct", lambda s: [p.quantity for p in s.positions.values()])
    assert held == [available]
    blocked = narrow.inspect(
        "acct", lambda s: (s.blocked_paise, [p.margin_paise for p in s.positions.values()])
    )
    assert blocked[0] == sum(blocked[1]), "the cancelled rest blocks nothing"
    assert narrow.inspect("acct", funds_identity_holds)


def test_resting_limit_when_larger_than_the_level_then_fills_over_ticks_as_it_replenishes(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, RELIANCE_PAISE)
    driver.open_account("acct", FUNDS_PAISE)
    touch = book_side(driver, reliance, ASKS)[0]
    quantity = 3 * touch.quantity
    buy = place(
        reliance,
        Side.BUY,
        quantity,
        OrderType.LIMIT,
        price_paise=touch.price_paise,
        product=Product.CNC,
        order_id="l",
    )
    assert driver.ask("acct", buy).rejection is None
    driver.settle()
    assert trades(fills_of(driver, "acct", "l")) == [(touch.price_paise, touch.quantity)]
    filled = [touch.quantity]
    half_life = driver.engine.config.market.depth.replenish_half_life_ms
    for _ in range(20):
        if filled[-1] == quantity:
            break
        driver.set_price(reliance, RELIANCE_PAISE, advance_ms=half_life)
        filled.append(order_of(driver, "acct", "l")[1])
    assert filled[-1] == quantity
    assert len(filled) > 2, "it took several ticks"
    assert all(price == touch.price_paise for price, _ in trades(fills_of(driver, "acct", "l")))


def test_two_accounts_when_both_want_the_touch_then_share_no_more_than_shown(
    driver: EngineDriver, reliance: Instrument
) -> None:
    driver.set_price(reliance, RELIANCE_PAISE)
    driver.open_account("a", FUNDS_PAISE)
    driver.open_account("b", FUNDS_PAISE)
    touch = book_side(driver, reliance, ASKS)[0]
    for account_id in ("a", "b"):
        buy = place(
            reliance,
            Side.BUY,
            touch.quantity,
            OrderType.LIMIT,
            price_paise=touch.price_paise,
            product=Product.CNC,
            order_id=f"{account_id}-1",
        )
        assert driver.ask(account_id, buy).rejection is None
    driver.settle()
    got = [order_of(driver, account_id, f"{account_id}-1")[1] for account_id in ("a", "b")]
    assert sum(got) == touch.quantity
    assert sorted(got) == [0, touch.quantity]


def part_filled_at_touch(
    driver: EngineDriver, nifty_fut: Instrument, *, lots_more: int
) -> DepthLevel:
    """Account "acct" buys "p", a NIFTY future LIMIT at the ask for the touch's quantity and
    ``lots_more`` lots: it takes the touch and rests the rest. Returns the touch it took."""
    driver.set_price(nifty_fut, NIFTY_FUT_PAISE)
    driver.open_account("acct", FUNDS_PAISE)
    touch = book_side(driver, nifty_fut, ASKS)[0]
    buy = place(
        nifty_fut,
        Side.BUY,
        touch.quantity + lots_more * nifty_fut.lot_size,
        OrderType.LIMIT,
        price_paise=touch.price_paise,
        product=Product.NRML,
        order_id="p",
    )
    assert driver.ask("acct", buy).rejection is None
    driver.settle()
    assert order_of(driver, "acct", "p") == (OrderStatus.PENDING, touch.quantity)
    return touch


def test_part_filled_order_when_cancelled_then_cancelled_with_its_fills_kept(
    driver: EngineDriver, nifty_fut: Instrument
) -> None:
    touch = part_filled_at_touch(driver, nifty_fut, lots_more=1)
    assert driver.ask("acct", cmd.CancelOrderRequest("p")).rejection is None
    assert order_of(driver, "acct", "p") == (OrderStatus.CANCELLED, touch.quantity)
    held = driver.inspect("acct", lambda s: [p.quantity for p in s.positions.values()])
    assert held == [touch.quantity]
    assert driver.inspect("acct", funds_identity_holds)
    driver.set_price(nifty_fut, NIFTY_FUT_PAISE, advance_ms=60_000)
    assert len(fills_of(driver, "acct", "p")) == 1, "a cancelled order's rest never fills"


def test_part_filled_order_when_modified_then_not_below_its_fills_and_the_rest_fills(
    driver: EngineDriver, nifty_fut: Instrument
) -> None:
    touch = part_filled_at_touch(driver, nifty_fut, lots_more=3)
    lot = nifty_fut.lot_size
    below = cmd.ModifyOrderRequest(order_id="p", quantity=touch.quantity - lot)
    assert driver.ask("acct", below).rejection is Rejection.INVALID_QUANTITY
    fewer = cmd.ModifyOrderRequest(order_id="p", quantity=touch.quantity + lot)
    assert driver.ask("acct", fewer).rejection is None
    driver.set_price(nifty_fut, NIFTY_FUT_PAISE, advance_ms=60_000)
    assert order_of(driver, "acct", "p") == (OrderStatus.EXECUTED, touch.quantity + lot)
    assert sum(fill.quantity for fill in fills_of(driver, "acct", "p")) == touch.quantity + lot
    assert driver.inspect("acct", funds_identity_holds)


def test_order_when_filled_in_several_trades_then_brokerage_charged_once(
    driver: EngineDriver, nifty_fut: Instrument
) -> None:
    driver.set_price(nifty_fut, NIFTY_FUT_PAISE)
    driver.open_account("acct", FUNDS_PAISE)
    asks = book_side(driver, nifty_fut, ASKS)
    lot = nifty_fut.lot_size
    buy = place(nifty_fut, Side.BUY, asks[0].quantity + lot, product=Product.NRML, order_id="b")
    assert driver.ask("acct", buy).rejection is None
    driver.settle()
    fills = fills_of(driver, "acct", "b")
    assert len(fills) == 2
    # ₹20 a futures order (0.03 % of over ₹2 crore is more): once, not once per trade.
    assert [fill.order_brokerage_paise for fill in fills] == [2000, 0]
    assert all(fill.taxes_paise > 0 for fill in fills)
