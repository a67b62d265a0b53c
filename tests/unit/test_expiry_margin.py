"""The expiry-day extra ELM on shorts held into their expiry day (``BlockExpiryMargin``,
docs/DOMAIN.md §2), to the paisa: a short index option opened on an earlier day blocks 2 % of
quantity × its underlying's price (the strike without one) at the start of its expiry day, in
its position margin; a long option, a stock or commodity option, an index future and an index
option expiring another day block nothing; a short opened on the expiry day carries it from its
fill and is not charged again; the check is made once a day; the extra is released pro rata
with the rest of the margin when the position is reduced and whole when it closes or expires;
and a shortfall it leaves is no rejection."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply_all
from engine.domain.account.state import AccountState, state_fingerprint
from engine.domain.enums import Exchange, Product, Side
from engine.domain.instruments import Instrument, InstrumentMaster, UnderlyingKind
from engine.domain.margin import expiry_day_extra
from engine.domain.rules import AccountRules
from tests.conftest import DAY_MS, NOW_MS, Execute, QuoteFor, fill, place

EXPIRY = date(2026, 11, 25)  # the day after NOW_MS (2026-11-24 10:30 IST)
# 2026-11-25 00:00 IST: the expiry day's start.
DAY_START_MS = NOW_MS - (10 * 60 + 30) * 60_000 + DAY_MS
UNDERLYING_PAISE = 2_613_860  # NIFTY's nearest future, ₹26,138.60
LOT = 65
# 2 % of 65 × ₹26,138.60 = ₹33,980.18 (₹1,69,900.90 × 0.02, exact).
EXTRA_PAISE = 3_398_018


@pytest.fixture
def short_put(master: InstrumentMaster) -> Instrument:
    """NIFTY 25500 PE, its expiry moved to the day after NOW_MS."""
    put = master.get("NFO:NIFTY26DEC25500PE")
    assert put is not None
    return replace(put, expiry=EXPIRY)


def _open(
    state: AccountState,
    execute: Execute,
    quote_for: QuoteFor,
    instrument: Instrument,
    side: Side,
    *,
    quantity: int = LOT,
    now_ms: int = NOW_MS,
    order_id: str = "o1",
) -> str:
    """Trade into a position by a filled LIMIT at the instrument's reference price; return its
    id ("" once it is closed)."""
    price = instrument.reference_price_paise
    order = place(
        instrument,
        order_id=order_id,
        side=side,
        product=Product.NRML,
        quantity=quantity,
        price_paise=price,
        quote=quote_for(instrument, price),
        underlying_price_paise=UNDERLYING_PAISE,
        now_ms=now_ms,
    )
    assert execute(state, order).rejection is None
    filled = execute(
        state,
        fill(
            instrument,
            order_id,
            quantity,
            price,
            now_ms=now_ms,
            underlying_price_paise=UNDERLYING_PAISE,
        ),
    )
    assert filled.rejection is None
    position = state.position_for(instrument.instrument_id, Product.NRML)
    return "" if position is None else position.position_id


def _block(
    *contracts: Instrument, underlying_paise: int = UNDERLYING_PAISE, now_ms: int = DAY_START_MS
) -> cmd.BlockExpiryMargin:
    return cmd.BlockExpiryMargin(
        now_ms=now_ms,
        contracts=tuple(cmd.ExpiringContract(c, underlying_paise) for c in contracts),
    )


def test_short_index_option_when_held_into_its_expiry_day_then_two_percent_of_notional_blocked(
    short_put: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    rules: AccountRules,
) -> None:
    state = funded_account()
    position_id = _open(state, execute, quote_for, short_put, Side.SELL)
    margin = state.positions[position_id].margin_paise
    assert margin == 18_689_099  # 9 % + 2 % of ₹1,69,900.90, no extra the day before
    blocked, available = state.blocked_paise, state.available_paise

    decision = execute(state, _block(short_put))

    assert decision.rejection is None
    (event,) = decision.events
    assert isinstance(event, ev.ExpiryMarginBlocked)
    assert event.trade_day == rules.trade_day(DAY_START_MS)
    assert event.blocks == (
        ev.ExpiryMarginBlock(
            position_id=position_id,
            instrument_id=short_put.instrument_id,
            quantity=LOT,
            reference_paise=UNDERLYING_PAISE,
            amount_paise=EXTRA_PAISE,
        ),
    )
    assert state.positions[position_id].margin_paise == margin + EXTRA_PAISE
    assert state.blocked_paise == blocked + EXTRA_PAISE
    assert state.available_paise == available - EXTRA_PAISE
    assert state.expiry_margin_day == rules.trade_day(DAY_START_MS)


def test_short_index_option_when_no_underlying_price_then_extra_on_the_strike(
    short_put: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account()
    position_id = _open(state, execute, quote_for, short_put, Side.SELL)
    margin = state.positions[position_id].margin_paise
    (event,) = execute(state, _block(short_put, underlying_paise=0)).events
    assert isinstance(event, ev.ExpiryMarginBlocked)
    # 2 % of 65 × ₹25,500 = ₹33,150.
    assert [(b.reference_paise, b.amount_paise) for b in event.blocks] == [(2_550_000, 3_315_000)]
    assert state.positions[position_id].margin_paise == margin + 3_315_000


def test_extra_when_computed_then_the_same_as_an_expiry_day_sell_adds(
    short_put: Instrument, rules: AccountRules
) -> None:
    assert expiry_day_extra(rules.margin, short_put, LOT, UNDERLYING_PAISE) == EXTRA_PAISE
    # Half-up to the paisa: 2 % of 1 × ₹0.25 is ½ paisa, rounded up.
    assert expiry_day_extra(rules.margin, short_put, 1, 25) == 1
    assert expiry_day_extra(rules.margin, short_put, 1, 24) == 0


def _stock_option(put: Instrument) -> Instrument:
    return replace(put, underlying="RELIANCE", underlying_kind=UnderlyingKind.STOCK)


def _commodity_option(put: Instrument) -> Instrument:
    return replace(put, exchange=Exchange.MCX, underlying_kind=UnderlyingKind.COMMODITY)


def _index_future(master: InstrumentMaster) -> Instrument:
    future = master.get("NFO:NIFTY26DECFUT")
    assert future is not None
    return replace(future, expiry=EXPIRY)


def _other_expiry(put: Instrument) -> Instrument:
    return replace(put, expiry=date(2026, 11, 26))


@pytest.mark.parametrize(
    "contract",
    [_stock_option, _commodity_option, _other_expiry],
    ids=["stock-option", "commodity-option", "index-option-expiring-another-day"],
)
def test_short_when_not_an_index_option_expiring_today_then_nothing_blocked(
    short_put: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    contract: Callable[[Instrument], Instrument],
) -> None:
    instrument = contract(short_put)
    state = funded_account()
    _open(state, execute, quote_for, instrument, Side.SELL)
    before = state_fingerprint(state)
    decision = execute(state, _block(instrument))
    assert (decision.events, decision.rejection) == ((), None)
    assert state_fingerprint(state) == before


def test_short_index_future_when_expiring_today_then_nothing_blocked(
    master: InstrumentMaster,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    future = _index_future(master)
    state = funded_account()
    _open(state, execute, quote_for, future, Side.SELL)
    before = state_fingerprint(state)
    assert execute(state, _block(future)).events == ()
    assert state_fingerprint(state) == before


def test_long_index_option_when_held_into_its_expiry_day_then_nothing_blocked_check_recorded(
    short_put: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    rules: AccountRules,
) -> None:
    state = funded_account()
    position_id = _open(state, execute, quote_for, short_put, Side.BUY)
    margin, blocked = state.positions[position_id].margin_paise, state.blocked_paise
    (event,) = execute(state, _block(short_put)).events
    assert isinstance(event, ev.ExpiryMarginBlocked)
    assert event.blocks == ()
    assert (state.positions[position_id].margin_paise, state.blocked_paise) == (margin, blocked)
    assert state.expiry_margin_day == rules.trade_day(DAY_START_MS)


def test_long_when_turned_short_on_expiry_day_then_a_repeated_check_blocks_nothing(
    short_put: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    """A flip keeps the position (and its opening time); its short part was margined on the
    expiry day at its fill, so the check repeated after a restart must not charge it again."""
    state = funded_account()
    position_id = _open(state, execute, quote_for, short_put, Side.BUY)
    execute(state, _block(short_put))
    later = DAY_START_MS + 10 * 60 * 60_000
    _open(
        state,
        execute,
        quote_for,
        short_put,
        Side.SELL,
        quantity=2 * LOT,
        now_ms=later,
        order_id="flip",
    )
    position = state.positions[position_id]
    assert position.quantity == -LOT
    # The flipped short carries the extra from its fill: 11 % + 2 % of the notional.
    assert position.margin_paise == 18_689_099 + EXTRA_PAISE
    assert execute(state, _block(short_put, now_ms=later)).events == ()
    assert state.positions[position_id].margin_paise == 18_689_099 + EXTRA_PAISE


def test_short_when_opened_on_its_expiry_day_then_carries_it_from_its_fill_only(
    short_put: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account()
    opened_ms = DAY_START_MS + 60_000
    position_id = _open(state, execute, quote_for, short_put, Side.SELL, now_ms=opened_ms)
    assert state.positions[position_id].margin_paise == 18_689_099 + EXTRA_PAISE
    before = state_fingerprint(state)
    assert execute(state, _block(short_put, now_ms=opened_ms + 60_000)).events == ()
    assert state_fingerprint(state) == before


def test_check_when_made_again_the_same_day_then_nothing_more_blocked(
    short_put: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account()
    _open(state, execute, quote_for, short_put, Side.SELL)
    assert execute(state, _block(short_put)).events
    before = state_fingerprint(state)
    assert execute(state, _block(short_put, now_ms=DAY_START_MS + 5 * 60 * 60_000)).events == ()
    assert state_fingerprint(state) == before


def test_journal_when_replayed_then_the_same_state_and_no_second_block(
    short_put: Instrument, quote_for: QuoteFor, execute: Execute
) -> None:
    state = AccountState("acc-1")
    journal: list[ev.AccountEvent] = []

    def run(command: cmd.AccountCommand) -> None:
        decision = execute(state, command)
        assert decision.rejection is None
        journal.extend(decision.events)

    run(cmd.CreditFunds(now_ms=NOW_MS, amount_paise=10**10, kind="DEPOSIT", reference="d"))
    price = short_put.reference_price_paise
    run(
        place(
            short_put,
            side=Side.SELL,
            product=Product.NRML,
            quantity=LOT,
            price_paise=price,
            quote=quote_for(short_put, price),
            underlying_price_paise=UNDERLYING_PAISE,
        )
    )
    run(fill(short_put, "o1", LOT, price, underlying_price_paise=UNDERLYING_PAISE))
    run(_block(short_put))

    replayed = apply_all(
        AccountState("acc-1"), [ev.decode_event(ev.encode_event(e)) for e in journal]
    )
    assert state_fingerprint(replayed) == state_fingerprint(state)
    # After a restart (the replayed state) the day's check blocks nothing more.
    assert execute(replayed, _block(short_put, now_ms=DAY_START_MS + 60_000)).events == ()
    assert replayed.blocked_paise == state.blocked_paise


def test_short_when_reduced_and_closed_then_extra_released_with_the_rest(
    short_put: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account()
    position_id = _open(state, execute, quote_for, short_put, Side.SELL, quantity=2 * LOT)
    blocked_before_short = state.blocked_paise - state.positions[position_id].margin_paise
    execute(state, _block(short_put))
    margin = state.positions[position_id].margin_paise
    assert margin == 2 * 18_689_099 + 2 * EXTRA_PAISE
    later = DAY_START_MS + 10 * 60 * 60_000
    _open(state, execute, quote_for, short_put, Side.BUY, now_ms=later, order_id="cover-1")
    # Half bought back: half of the whole margin, the extra with it, is released.
    assert state.positions[position_id].margin_paise == margin - margin // 2
    _open(state, execute, quote_for, short_put, Side.BUY, now_ms=later, order_id="cover-2")
    assert position_id not in state.positions
    assert state.blocked_paise == blocked_before_short


def test_short_when_settled_at_expiry_then_whole_margin_with_extra_released(
    short_put: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account()
    position_id = _open(state, execute, quote_for, short_put, Side.SELL)
    blocked_before_short = state.blocked_paise - state.positions[position_id].margin_paise
    execute(state, _block(short_put))
    expire = cmd.ExpirePosition(
        position_id,
        0,
        now_ms=DAY_START_MS + 16 * 60 * 60_000,
        exit_order_id="expiry-1",
        instrument=short_put,
    )
    assert execute(state, expire).rejection is None
    assert position_id not in state.positions
    assert state.blocked_paise == blocked_before_short


def test_extra_when_funds_fall_short_then_blocked_anyway_and_available_negative(
    short_put: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account()
    _open(state, execute, quote_for, short_put, Side.SELL)
    withdraw = cmd.DebitFunds(
        now_ms=NOW_MS,
        amount_paise=state.available_paise - 1_000_00,
        kind="ADJUSTMENT",
        reference="leave ₹1,000",
    )
    assert execute(state, withdraw).rejection is None
    decision = execute(state, _block(short_put))
    assert decision.rejection is None
    assert decision.events
    assert state.available_paise == 1_000_00 - EXTRA_PAISE < 0


def test_shorts_when_mixed_with_positions_that_carry_nothing_then_only_those_held_short_blocked(
    master: InstrumentMaster,
    short_put: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    # Before the short put, in the account's order: a short opened on the expiry day, a short
    # index future, a long index option held into the day; none of them blocks, none stops
    # the check reaching the short put.
    def expiring(ticker: str) -> Instrument:
        instrument = master.get(ticker)
        assert instrument is not None
        return replace(instrument, expiry=EXPIRY)

    opened_today, long_call = expiring("NFO:NIFTY26DEC26000CE"), expiring("NFO:NIFTY26DEC26500CE")
    future = _index_future(master)
    state = funded_account(10_000_000_000)
    _open(state, execute, quote_for, opened_today, Side.SELL, now_ms=DAY_START_MS + 60_000)
    _open(state, execute, quote_for, future, Side.SELL, order_id="o2")
    _open(state, execute, quote_for, long_call, Side.BUY, order_id="o3")
    position_id = _open(state, execute, quote_for, short_put, Side.SELL, order_id="o4")

    contracts = (opened_today, future, long_call, short_put)
    (event,) = execute(state, _block(*contracts, now_ms=DAY_START_MS + 120_000)).events

    assert isinstance(event, ev.ExpiryMarginBlocked)
    assert [(b.position_id, b.amount_paise) for b in event.blocks] == [(position_id, EXTRA_PAISE)]


def test_extra_when_quantity_or_price_missing_then_refused_and_a_paisa_is_a_price(
    short_put: Instrument, rules: AccountRules
) -> None:
    with pytest.raises(ValueError, match=r"^quantity must be positive$"):
        expiry_day_extra(rules.margin, short_put, 0, UNDERLYING_PAISE)
    no_strike = replace(short_put, strike_paise=0)
    with pytest.raises(
        ValueError, match=re.escape(f"no underlying price or strike for {no_strike.instrument_id}")
    ):
        expiry_day_extra(rules.margin, no_strike, LOT, 0)
    assert expiry_day_extra(rules.margin, no_strike, 100, 1) == 2  # 2 % of ₹1.00
