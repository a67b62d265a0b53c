"""Physical settlement through the engine's actors (docs/DOMAIN.md §6).

The market actor reports the RELIANCE contracts' expiry instant; the engine reads their
settlement values from that tick; each account actor stamps the shares a stock contract
delivers and settles: a short future out of the CNC holding bought on an earlier day, a short
put assigned into it. A second report (a restart's catch-up) changes nothing, and a stock
contract whose shares are not listed settles in cash.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.actors.sink import InMemorySink
from engine.domain import events as ev
from engine.domain.account.state import funds_identity_holds
from engine.domain.enums import InstrumentType, OrderType, Product, Side
from engine.domain.instruments import Instrument, InstrumentMaster
from tests.support.engine_driver import EngineDriver, order_request, started_driver
from tests.support.stock_fno import (
    EXPIRY_MS,
    RELIANCE_LOT,
    reliance_future,
    reliance_option,
    with_stock_fno,
)

DAY_MS = 86_400_000
FUTURE = reliance_future()
PUT = reliance_option(1600, InstrumentType.PE)


@pytest.fixture
def driver(master: InstrumentMaster) -> Iterator[EngineDriver]:
    h = started_driver(with_stock_fno(master, FUTURE, PUT))
    yield h
    h.engine.stop()


def _events(driver: EngineDriver) -> list[ev.AccountEvent]:
    sink = driver.engine.sink
    assert isinstance(sink, InMemorySink)
    return list(sink.events_for("acct"))


def _sell(driver: EngineDriver, contract: Instrument) -> None:
    order = order_request(
        contract,
        f"sell-{contract.symbol}",
        side=Side.SELL,
        product=Product.NRML,
        order_type=OrderType.MARKET,
        quantity=RELIANCE_LOT,
    )
    assert driver.ask("acct", order).rejection is None


def test_expiry_when_short_future_and_short_put_then_shares_delivered_out_and_in_once(
    driver: EngineDriver,
) -> None:
    reliance = driver.engine.master.get("NSE:RELIANCE")
    assert reliance is not None
    driver.set_price(reliance, 154_280)
    driver.open_account("acct", 10_000_000_00)
    bought = order_request(
        reliance, "cnc", product=Product.CNC, order_type=OrderType.MARKET, quantity=600
    )
    assert driver.ask("acct", bought).rejection is None
    driver.set_price(reliance, 154_280)  # a tick: the MARKET buy fills
    driver.clock.advance(DAY_MS)  # the next day's first read settles the buy into holdings
    assert driver.inspect("acct", lambda s: s.holdings[reliance.instrument_id].quantity) == 600
    for contract in (FUTURE, PUT):
        _sell(driver, contract)
    driver.settle()
    # RELIANCE closes at ₹1,560 at the expiry instant: the future delivers 500 shares out at
    # ₹1,560, the ₹1,600 put (₹40 in the money) takes 500 in at ₹1,600.
    driver.set_price(reliance, 156_000, advance_ms=EXPIRY_MS - driver.clock.now_ms())
    driver.settle()
    for _ in range(2):  # reported again (a restart): nothing more happens
        driver.engine.catch_up_expiries()
        driver.settle()
    expired = [
        e for e in _events(driver) if isinstance(e, ev.OrderFilled) and e.close_reason == "EXPIRED"
    ]
    assert sorted((e.instrument_id, e.price_paise) for e in expired) == sorted(
        [(FUTURE.instrument_id, 156_000), (PUT.instrument_id, 0)]
    )
    delivered = {e.contract_id: e for e in _events(driver) if isinstance(e, ev.SharesDelivered)}
    future, put = delivered[FUTURE.instrument_id], delivered[PUT.instrument_id]
    assert (future.side, future.price_paise, future.delivered_quantity) == (
        Side.SELL,
        156_000,
        500,
    )
    assert (put.side, put.price_paise, put.delivered_quantity) == (Side.BUY, 160_000, 500)
    assert future.penalty_paise == put.penalty_paise == 0
    holding = driver.inspect("acct", lambda s: s.holdings[reliance.instrument_id])
    assert holding.quantity == 600 - 500 + 500
    assert driver.inspect("acct", lambda s: s.positions) == {}
    assert driver.inspect("acct", funds_identity_holds)
    assert len(delivered) == len([e for e in _events(driver) if isinstance(e, ev.SharesDelivered)])


def test_expiry_when_stock_not_listed_then_future_settled_in_cash(
    master: InstrumentMaster,
) -> None:
    # A master listing the future but no RELIANCE shares (nor anything to price them from
    # but the future itself): it settles in cash at its own price.
    listed = InstrumentMaster([i for i in with_stock_fno(master, FUTURE) if i.symbol != "RELIANCE"])
    h = started_driver(listed)
    try:
        h.set_price(FUTURE, 154_500)
        h.open_account("acct", 10_000_000_00)
        _sell(h, FUTURE)
        h.settle()
        h.set_price(FUTURE, 155_000, advance_ms=EXPIRY_MS - h.clock.now_ms())
        h.settle()
        assert not [e for e in _events(h) if isinstance(e, ev.SharesDelivered)]
        assert h.inspect("acct", lambda s: (s.positions, s.holdings)) == ({}, {})
        assert h.inspect("acct", funds_identity_holds)
    finally:
        h.engine.stop()
