"""After-market orders in the real engine with hours enforced and a fake clock (docs/DOMAIN.md
§3): the market holds an AMO until its instrument's session opens, then takes it as a freshly
placed order. A MARKET AMO placed before the open fills at the first prices after it; a LIMIT
AMO marketable while closed does not fill before the open, rests there when the opening price
is beyond its limit, and fills when the market crosses it; an MIS AMO placed after the
square-off outlives that day's close and fills at the next session's open; one modified while
waiting is taken on its new terms at the open, and one cancelled never reaches the market."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from engine.actors.sink import InMemorySink
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.enums import OrderType, Product, Rejection
from engine.domain.instruments import Instrument, InstrumentMaster
from tests.support.engine_driver import EngineDriver, exact_config, order_request, started_driver

IST = timezone(timedelta(hours=5, minutes=30))
MINUTE_MS = 60_000


def ist(day: int, hour: int, minute: int) -> int:
    """2026-11-``day`` at ``hour:minute`` IST (the 25th a Wednesday, the 26th a Thursday)."""
    return int(datetime(2026, 11, day, hour, minute, tzinfo=IST).timestamp() * 1000)


@pytest.fixture
def driver(master: InstrumentMaster) -> Iterator[EngineDriver]:
    driven = started_driver(master, config=exact_config(sessions={"enforce_hours": True}))
    try:
        yield driven
    finally:
        driven.engine.stop()


def at(driver: EngineDriver, moment_ms: int) -> None:
    driver.clock.advance(moment_ms - driver.clock.now_ms())


def amo(instrument: Instrument, order_id: str, **terms: object) -> cmd.PlaceOrderRequest:
    request = order_request(instrument, order_id, quantity=10, **terms)  # type: ignore[arg-type]
    return msgspec.structs.replace(request, after_market=True)


def fills(driver: EngineDriver, order_id: str) -> list[ev.OrderFilled]:
    sink = driver.engine.sink
    assert isinstance(sink, InMemorySink)
    return [
        e
        for e in sink.events_for("acct")
        if isinstance(e, ev.OrderFilled) and e.order_id == order_id
    ]


def ask_now(driver: EngineDriver, instrument: Instrument) -> int:
    index = driver.engine.master.index_of(instrument.instrument_id)
    assert index is not None
    return int(driver.engine.market.snapshot.ask[index])


def working(driver: EngineDriver) -> list[str]:
    return sorted(driver.inspect("acct", lambda s: list(s.orders)))


def test_market_amo_when_placed_before_the_open_then_fills_at_the_first_price_after_it(
    driver: EngineDriver, reliance: Instrument
) -> None:
    at(driver, ist(25, 8, 0))
    driver.set_price(reliance, 150_000)
    driver.open_account("acct", 10_000_000)
    regular = order_request(reliance, "regular", product=Product.CNC, order_type=OrderType.MARKET)
    assert driver.ask("acct", regular).rejection is Rejection.MARKET_CLOSED

    placed = driver.ask(
        "acct", amo(reliance, "amo", product=Product.CNC, order_type=OrderType.MARKET)
    )

    assert placed.rejection is None
    driver.set_price(reliance, 150_000, advance_ms=74 * MINUTE_MS)  # 09:14: still closed
    assert fills(driver, "amo") == [] and working(driver) == ["amo"]
    driver.set_price(reliance, 152_000, advance_ms=MINUTE_MS)  # 09:15: the open
    (filled,) = fills(driver, "amo")
    assert (filled.at_ms, filled.quantity) == (ist(25, 9, 15), 10)
    assert filled.price_paise == ask_now(driver, reliance) >= 152_000  # the opening ask
    assert working(driver) == []


def test_limit_amo_when_marketable_while_closed_then_rests_from_the_open_until_crossed(
    driver: EngineDriver, reliance: Instrument
) -> None:
    at(driver, ist(25, 8, 0))
    driver.set_price(reliance, 150_000)
    driver.open_account("acct", 10_000_000)
    limit = amo(reliance, "amo", product=Product.CNC, price_paise=151_000)
    assert driver.ask("acct", limit).rejection is None

    driver.set_price(reliance, 150_000, advance_ms=60 * MINUTE_MS)  # 09:00: crossed, closed
    assert fills(driver, "amo") == []
    driver.set_price(reliance, 152_000, advance_ms=15 * MINUTE_MS)  # opens above its limit
    assert fills(driver, "amo") == [] and working(driver) == ["amo"]
    driver.set_price(reliance, 150_500, advance_ms=MINUTE_MS)  # the ask crosses 151_000
    (filled,) = fills(driver, "amo")
    assert filled.price_paise == ask_now(driver, reliance) <= 151_000
    assert (filled.at_ms, filled.quantity) == (ist(25, 9, 16), 10)


def test_mis_amo_when_placed_after_square_off_then_outlives_the_close_and_fills_next_open(
    driver: EngineDriver, reliance: Instrument
) -> None:
    at(driver, ist(25, 15, 25))
    driver.set_price(reliance, 150_000)
    driver.open_account("acct", 10_000_000)
    assert driver.ask("acct", amo(reliance, "mis", order_type=OrderType.MARKET)).rejection is None

    driver.set_price(reliance, 150_000, advance_ms=10 * MINUTE_MS)  # 15:35: past the close
    assert working(driver) == ["mis"] and fills(driver, "mis") == []
    at(driver, ist(26, 9, 15))
    driver.set_price(reliance, 151_000)
    (filled,) = fills(driver, "mis")
    assert (filled.at_ms, filled.product) == (ist(26, 9, 15), Product.MIS)
    assert filled.price_paise == ask_now(driver, reliance)


def test_amo_when_modified_or_cancelled_while_waiting_then_the_open_takes_what_is_left(
    driver: EngineDriver, reliance: Instrument
) -> None:
    at(driver, ist(25, 20, 0))
    driver.set_price(reliance, 150_000)
    driver.open_account("acct", 10_000_000)
    for order_id in ("kept", "dropped"):
        request = amo(reliance, order_id, product=Product.CNC, price_paise=140_000)
        assert driver.ask("acct", request).rejection is None
    modify = cmd.ModifyOrderRequest("kept", quantity=4, price_paise=151_000)
    assert driver.ask("acct", modify).rejection is None
    assert driver.ask("acct", cmd.CancelOrderRequest("dropped")).rejection is None
    driver.set_price(reliance, 150_000, advance_ms=MINUTE_MS)
    assert fills(driver, "kept") == []

    at(driver, ist(26, 9, 15))
    driver.set_price(reliance, 150_000)
    (filled,) = fills(driver, "kept")
    assert (filled.quantity, filled.price_paise) == (4, ask_now(driver, reliance))
    assert fills(driver, "dropped") == [] and working(driver) == []
