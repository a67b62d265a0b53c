"""The expiry-day extra ELM through the running engine (docs/DOMAIN.md §2), now part of the
portfolio margin: with a fake clock crossing the start of the NIFTY December contracts' expiry
day, the engine's first tick of the day has every account holding positions revalue its
portfolios by itself (no request of the account's needed). The account short a NIFTY put
journals one ``PortfolioMarginRevalued``: its NIFTY figure is the model's margin at the market
then, whose additional margin is the extra, 2 % of 65 × the underlying's price, and which is
that much above what the same market requires on any other day; a second revaluation at
unchanged prices changes nothing. A long call's portfolio (its premium) does not change, so it
journals nothing. Without a tick, the account's first read of the day revalues it; a server
down across the day's start revalues at recovery (``revalue_margins``), once however often
that runs."""

from __future__ import annotations

import time
from datetime import timedelta

import msgspec

from engine.actors.sink import InMemorySink
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState, funds_identity_holds
from engine.domain.enums import FundKind, OrderType, Product, Side
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.portfolio import PortfolioMargin, position_legs
from engine.market.margin_inputs import underlying_market
from tests.support.engine_driver import EngineDriver, order_request, started_driver

# 2026-12-29 00:00 IST: the start of the NIFTY December contracts' expiry day (15:40 IST).
EXPIRY_DAY_START_MS = 1_798_539_000_000 - (15 * 60 + 40) * 60_000
HOUR_MS = 3_600_000
UNDERLYING_PAISE = 2_613_860  # the NIFTY December future, the options' underlying price
# 2 % of 65 × ₹26,138.60 = ₹33,980.18.
EXTRA_PAISE = 3_398_018
PUT = "NFO:NIFTY26DEC25500PE"
CALL = "NFO:NIFTY26DEC26000CE"


def _sink(driver: EngineDriver) -> InMemorySink:
    sink = driver.engine.sink
    assert isinstance(sink, InMemorySink)
    return sink


def _revalued(driver: EngineDriver, account_id: str) -> list[ev.PortfolioMarginRevalued]:
    events = _sink(driver).events_for(account_id)
    return [e for e in events if isinstance(e, ev.PortfolioMarginRevalued)]


def _wait_for_revaluation(driver: EngineDriver, account_id: str) -> None:
    """Wait, without asking the account anything, until it journals a revaluation."""
    deadline = time.monotonic() + 10
    while not _revalued(driver, account_id):
        assert time.monotonic() < deadline, "no PortfolioMarginRevalued journaled"
        time.sleep(0.01)


def _open_positions(driver: EngineDriver, master: InstrumentMaster, nifty_fut: Instrument) -> str:
    """Account "short" sells a NIFTY put, account "long" buys a call, both NRML at market;
    return the put's position id."""
    put, call = master.get(PUT), master.get(CALL)
    assert put is not None and call is not None
    driver.set_price(nifty_fut, UNDERLYING_PAISE)
    driver.set_price(put, 15_725)
    driver.set_price(call, 44_145)
    for account_id, instrument, side in (("short", put, Side.SELL), ("long", call, Side.BUY)):
        driver.open_account(account_id, 10_000_000_00)
        request = order_request(
            instrument,
            f"{account_id}-1",
            side=side,
            product=Product.NRML,
            order_type=OrderType.MARKET,
            quantity=65,
        )
        assert driver.ask(account_id, request).rejection is None
    driver.set_price(put, 15_725)  # the MARKET orders fill on these ticks
    (position_id,) = driver.inspect("short", lambda s: list(s.positions))
    return position_id


def _funds(driver: EngineDriver, account_id: str) -> tuple[int, int, int]:
    """(NIFTY portfolio margin, blocked, available) of an account."""
    return driver.inspect(
        account_id,
        lambda s: (s.portfolio_margin.get("NIFTY", 0), s.blocked_paise, s.available_paise),
    )


def _model(driver: EngineDriver, master: InstrumentMaster, days_on: int = 0) -> PortfolioMargin:
    """The model's margin on the short put's portfolio at the engine's market now (as the
    account builds it), on the trade date ``days_on`` days from today's."""
    put = master.get(PUT)
    assert put is not None
    engine, now_ms = driver.engine, driver.clock.now_ms()
    fallback = engine.rules.margin.portfolio.fallback_volatility
    market = underlying_market(engine.market, [put], now_ms, fallback)
    positions = driver.inspect("short", lambda s: list(s.positions.values()))
    legs = tuple(position_legs(positions, market).values())
    trade_date = engine.rules.trade_date(now_ms) + timedelta(days=days_on)
    return engine.rules.portfolio.margin(legs, market, trade_date)


def _check_revalued_once(driver: EngineDriver, master: InstrumentMaster, position_id: str) -> None:
    """One revaluation journaled for "short": its NIFTY block is the model's margin now, with
    the extra ELM as its additional margin, the extra above any other day's."""
    (event,) = _revalued(driver, "short")
    ((underlying, margin_paise, members),) = [
        (b.underlying, b.margin_paise, b.position_ids) for b in event.blocks
    ]
    model = _model(driver, master)
    assert (underlying, margin_paise, members) == ("NIFTY", model.blocked_paise, (position_id,))
    assert model.additional_paise == EXTRA_PAISE
    assert model.blocked_paise - _model(driver, master, days_on=-1).blocked_paise == EXTRA_PAISE
    assert _funds(driver, "short")[0] == margin_paise
    assert driver.inspect("short", funds_identity_holds)


def test_expiry_day_when_its_first_tick_comes_then_the_short_revalues_with_the_extra_once(
    master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    driver = started_driver(master)
    try:
        position_id = _open_positions(driver, master, nifty_fut)
        short_before = _funds(driver, "short")
        long_before = _funds(driver, "long")

        # The clock crosses into the expiry day; one tick, and no request to any account.
        driver.clock.advance(EXPIRY_DAY_START_MS + 1_000 - driver.clock.now_ms())
        driver.engine.tick()
        _wait_for_revaluation(driver, "short")

        _check_revalued_once(driver, master, position_id)
        margin, blocked, available = short_before
        raised = _funds(driver, "short")[0] - margin
        assert raised > 0
        assert _funds(driver, "short") == (margin + raised, blocked + raised, available - raised)
        # The long call's portfolio is its premium, whatever the day: nothing to journal.
        assert _revalued(driver, "long") == []
        assert _funds(driver, "long") == long_before

        # Again at the same prices and instant: more ticks, a recovery's revaluation, a
        # request: nothing more.
        driver.set_price(nifty_fut, UNDERLYING_PAISE)
        driver.engine.revalue_margins()
        driver.settle()
        request = cmd.CreditFundsRequest(amount_paise=1, kind=FundKind.DEPOSIT, reference="t")
        assert driver.ask("short", request).rejection is None
        assert len(_revalued(driver, "short")) == 1
        assert _funds(driver, "short")[0] == margin + raised
    finally:
        driver.engine.stop()


def test_expiry_day_when_read_before_any_tick_then_revalued_first(
    master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    """No tick yet on the expiry day: the account's first read of the day revalues it before
    answering (the market's prices are the day before's last)."""
    driver = started_driver(master)
    try:
        position_id = _open_positions(driver, master, nifty_fut)
        driver.clock.advance(EXPIRY_DAY_START_MS + HOUR_MS - driver.clock.now_ms())
        assert _revalued(driver, "short") == []
        margin = _funds(driver, "short")[0]  # the read itself revalues first
        assert len(_revalued(driver, "short")) == 1
        _check_revalued_once(driver, master, position_id)
        assert _funds(driver, "short")[0] == margin
    finally:
        driver.engine.stop()


def test_expiry_day_when_server_was_down_at_its_start_then_revalued_at_recovery_once(
    master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    before = started_driver(master)
    try:
        position_id = _open_positions(before, master, nifty_fut)
        margin_before = _funds(before, "short")[0]
        state = before.inspect("short", msgspec.json.encode)
    finally:
        before.engine.stop()  # down from the day before until 10:00 on the expiry day

    after = started_driver(master)
    try:
        after.clock.advance(EXPIRY_DAY_START_MS + 10 * HOUR_MS - after.clock.now_ms())
        after.set_price(nifty_fut, UNDERLYING_PAISE)
        after.engine.restore_account(msgspec.json.decode(state, type=AccountState))
        after.engine.revalue_margins()
        _wait_for_revaluation(after, "short")  # by the recovery's revaluation: nothing asked it
        after.engine.revalue_margins()  # again (another restart): nothing more
        after.settle()
        _check_revalued_once(after, master, position_id)
        assert _funds(after, "short")[0] > margin_before
    finally:
        after.engine.stop()
