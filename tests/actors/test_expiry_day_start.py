"""The expiry-day extra ELM through the running engine (docs/DOMAIN.md §2): with a fake clock
crossing the start of the NIFTY December contracts' expiry day, the engine's first tick of the
day makes every account block the extra on its short index options held into the day, by
itself (no request of the account's needed), once; a long option gets nothing; a server down
across the day's start blocks it at recovery (``catch_up_expiry_margin``), once however often
that runs."""

from __future__ import annotations

import time

import msgspec

from engine.actors.sink import InMemorySink
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState, funds_identity_holds
from engine.domain.enums import FundKind, OrderType, Product, Side
from engine.domain.instruments import Instrument, InstrumentMaster
from tests.support.engine_driver import EngineDriver, order_request, started_driver

# 2026-12-29 00:00 IST: the start of the NIFTY December contracts' expiry day (15:40 IST).
EXPIRY_DAY_START_MS = 1_798_539_000_000 - (15 * 60 + 40) * 60_000
UNDERLYING_PAISE = 2_613_860  # the NIFTY December future, the options' underlying price
# 2 % of 65 × ₹26,138.60 = ₹33,980.18.
EXTRA_PAISE = 3_398_018


def _sink(driver: EngineDriver) -> InMemorySink:
    sink = driver.engine.sink
    assert isinstance(sink, InMemorySink)
    return sink


def _blocked_events(driver: EngineDriver, account_id: str) -> list[ev.ExpiryMarginBlocked]:
    events = _sink(driver).events_for(account_id)
    return [e for e in events if isinstance(e, ev.ExpiryMarginBlocked)]


def _wait_for_block(driver: EngineDriver, account_id: str) -> None:
    """Wait, without asking the account anything, until it journals the day's check."""
    deadline = time.monotonic() + 10
    while not _blocked_events(driver, account_id):
        assert time.monotonic() < deadline, "no ExpiryMarginBlocked journaled"
        time.sleep(0.01)


def _open_positions(
    driver: EngineDriver, master: InstrumentMaster, nifty_fut: Instrument
) -> tuple[str, str]:
    """Account "short" sells a NIFTY put, account "long" buys a call, both NRML at market;
    return the put's position id and the margin it holds."""
    put = master.get("NFO:NIFTY26DEC25500PE")
    call = master.get("NFO:NIFTY26DEC26000CE")
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
    return position_id, put.instrument_id


def _margins(driver: EngineDriver, account_id: str) -> tuple[int, int, int]:
    """(position margins, blocked, available) of an account."""
    return driver.inspect(
        account_id,
        lambda s: (
            sum(p.margin_paise for p in s.positions.values()),
            s.blocked_paise,
            s.available_paise,
        ),
    )


def test_expiry_day_when_its_first_tick_comes_then_shorts_block_the_extra_once(
    master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    driver = started_driver(master)
    try:
        position_id, put_id = _open_positions(driver, master, nifty_fut)
        short_before = _margins(driver, "short")
        long_before = _margins(driver, "long")
        index = master.index_of(nifty_fut.instrument_id)
        assert index is not None

        # The clock crosses into the expiry day; one tick, and no request to any account.
        driver.clock.advance(EXPIRY_DAY_START_MS + 1_000 - driver.clock.now_ms())
        driver.engine.tick()
        _wait_for_block(driver, "short")

        (event,) = _blocked_events(driver, "short")
        assert [
            (b.position_id, b.instrument_id, b.quantity, b.amount_paise) for b in event.blocks
        ] == [(position_id, put_id, 65, EXTRA_PAISE)]
        assert event.blocks[0].reference_paise == UNDERLYING_PAISE
        margin, blocked, available = short_before
        assert _margins(driver, "short") == (
            margin + EXTRA_PAISE,
            blocked + EXTRA_PAISE,
            available - EXTRA_PAISE,
        )
        assert driver.inspect("short", funds_identity_holds)
        # The long call blocks nothing (its day's check is recorded, with no block).
        assert [e.blocks for e in _blocked_events(driver, "long")] == [()]
        assert _margins(driver, "long") == long_before

        # Later the same day: more ticks, a restart's catch-up, requests: nothing more.
        driver.set_price(nifty_fut, UNDERLYING_PAISE, advance_ms=3_600_000)
        driver.engine.catch_up_expiry_margin()
        driver.settle()
        request = cmd.CreditFundsRequest(amount_paise=1, kind=FundKind.DEPOSIT, reference="t")
        assert driver.ask("short", request).rejection is None
        assert len(_blocked_events(driver, "short")) == 1
        assert _margins(driver, "short")[0] == margin + EXTRA_PAISE
    finally:
        driver.engine.stop()


def test_expiry_day_when_server_was_down_at_its_start_then_blocked_at_recovery_once(
    master: InstrumentMaster, nifty_fut: Instrument
) -> None:
    before = started_driver(master)
    try:
        position_id, _ = _open_positions(before, master, nifty_fut)
        margin_before = _margins(before, "short")[0]
        state = before.inspect("short", msgspec.json.encode)
    finally:
        before.engine.stop()  # down from the day before until 10:00 on the expiry day

    after = started_driver(master)
    try:
        after.clock.advance(EXPIRY_DAY_START_MS + 10 * 3_600_000 - after.clock.now_ms())
        after.set_price(nifty_fut, UNDERLYING_PAISE)
        after.engine.restore_account(msgspec.json.decode(state, type=AccountState))
        after.engine.catch_up_expiry_margin()
        _wait_for_block(after, "short")  # by the catch-up itself: nothing else asked it
        after.engine.catch_up_expiry_margin()  # again (another restart): nothing more
        after.settle()
        (event,) = _blocked_events(after, "short")
        assert [(b.position_id, b.amount_paise) for b in event.blocks] == [
            (position_id, EXTRA_PAISE)
        ]
        assert _margins(after, "short")[0] == margin_before + EXTRA_PAISE
        assert after.inspect("short", funds_identity_holds)
    finally:
        after.engine.stop()
