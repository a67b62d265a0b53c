"""A forced price path through a margin call and a liquidation, on the real engine with a fake
clock (docs/DOMAIN.md §2): the market's revaluation cadence finds the shortfall, the account is
called, then squared off below the liquidation level; the funds identity holds after every
step, and replaying the journal rebuilds the same account."""

from __future__ import annotations

from engine.actors.sink import InMemorySink
from engine.domain import events as ev
from engine.domain.account.apply import apply_all
from engine.domain.account.state import AccountState, funds_identity_holds, state_fingerprint
from engine.domain.enums import CloseReason, OrderType, Product
from engine.domain.instruments import Instrument, InstrumentMaster
from tests.support.engine_driver import order_request, started_driver

OPEN_PRICE = 2_613_860  # NIFTY Dec future, lot 65
STEP_MS = 6_000  # past the 5 s revaluation cadence


def test_price_path_when_it_falls_then_called_then_liquidated_and_replay_agrees(
    master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    # Without options listed, the scan range is the index minimum (9.3 %): the figures below
    # do not depend on implied volatilities read from option prices the path leaves stale.
    driver = started_driver(InstrumentMaster(i for i in master if not i.is_option))
    try:
        driver.set_price(nifty_fut, OPEN_PRICE)
        driver.open_account("acct", 2_50_000_00)
        order = order_request(
            nifty_fut, "buy", product=Product.NRML, order_type=OrderType.MARKET, quantity=65
        )
        assert driver.ask("acct", order).rejection is None
        driver.set_price(nifty_fut, OPEN_PRICE, advance_ms=STEP_MS)
        assert driver.inspect("acct", lambda s: len(s.positions)) == 1
        sink = driver.engine.sink
        assert isinstance(sink, InMemorySink)

        def kinds() -> list[type]:
            return [type(e) for e in sink.events_for("acct")]

        # −₹500: a loss the free cash covers; −₹1,300: below the margin, a call only;
        # −₹3,000: below 80 % of it, squared off.
        path = [(OPEN_PRICE - 50_000, False), (OPEN_PRICE - 130_000, True)]
        for price, called in path:
            driver.set_price(nifty_fut, price, advance_ms=STEP_MS)
            assert driver.inspect("acct", funds_identity_holds)
            assert driver.inspect("acct", lambda s: s.margin_called) is called
            assert (ev.MarginCalled in kinds()) is called
        assert ev.OrderFilled in kinds() and kinds().count(ev.OrderFilled) == 1  # not yet closed
        driver.set_price(nifty_fut, OPEN_PRICE - 300_000, advance_ms=STEP_MS)
        assert driver.inspect("acct", funds_identity_holds)
        closes = [
            e
            for e in sink.events_for("acct")
            if isinstance(e, ev.OrderFilled) and e.close_reason == CloseReason.LIQUIDATED.value
        ]
        assert len(closes) == 1
        assert driver.inspect("acct", lambda s: s.positions) == {}
        assert driver.inspect("acct", lambda s: s.portfolio_margin) == {}
        assert kinds()[-1] is ev.MarginCallMet
        assert kinds().count(ev.MarginCalled) == 1
        # The loss was bounded by the liquidation: the account keeps positive cash.
        assert driver.inspect("acct", lambda s: s.balance_paise) > 0
        replayed = apply_all(AccountState("acct"), sink.events_for("acct"))
        assert funds_identity_holds(replayed)
        assert state_fingerprint(replayed) == driver.inspect("acct", state_fingerprint)
    finally:
        driver.engine.stop()


def test_intraday_equity_when_its_loss_exceeds_the_free_cash_then_called_then_squared_off(
    master: InstrumentMaster, reliance: Instrument
) -> None:
    driver = started_driver(InstrumentMaster(i for i in master if not i.is_option))
    try:
        driver.set_price(reliance, 154_280)
        driver.open_account("acct", 1_60_000_00)
        order = order_request(reliance, "buy", order_type=OrderType.MARKET, quantity=500)
        assert driver.ask("acct", order).rejection is None
        driver.set_price(reliance, 154_280, advance_ms=STEP_MS)
        assert driver.inspect("acct", lambda s: len(s.positions)) == 1
        sink = driver.engine.sink
        assert isinstance(sink, InMemorySink)
        # −3 %: about ₹23,000 lost of ₹1,60,000, below the 20 % margin (about ₹1,50,000).
        driver.set_price(reliance, 149_650, advance_ms=STEP_MS)
        assert driver.inspect("acct", lambda s: s.margin_called)
        assert driver.inspect("acct", lambda s: len(s.positions)) == 1
        # −10 %: the equity is below 80 % of the margin: squared off.
        driver.set_price(reliance, 138_850, advance_ms=STEP_MS)
        assert driver.inspect("acct", lambda s: s.positions) == {}
        assert not driver.inspect("acct", lambda s: s.margin_called)
        closes = [
            e
            for e in sink.events_for("acct")
            if isinstance(e, ev.OrderFilled) and e.close_reason == CloseReason.LIQUIDATED.value
        ]
        assert len(closes) == 1
        assert driver.inspect("acct", funds_identity_holds)
    finally:
        driver.engine.stop()
