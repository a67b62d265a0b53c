"""Positions settled at their contract's expiry (``ExpirePosition``, docs/DOMAIN.md §6), to the
paisa: closed whole at the settlement value through an exit order; the P&L realised against the
exact cost; the underlying's portfolio margin released with the last position on it; no
brokerage, exchange or stamp charges, and STT on exercise (0.125 % of the settlement value) only
for a long option settling in the money."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState
from engine.domain.enums import Product, Rejection, Side
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.portfolio import MarginLeg
from engine.domain.rules import AccountRules
from tests.conftest import NOW_MS, Execute, QuoteFor, fill, place
from tests.support.margin_markets import market_for

# 29 Dec 2026 15:40 IST: the NIFTY December contracts' expiry instant.
EXPIRY_MS = 1_798_539_000_000


Opened = Callable[..., str]


@pytest.fixture
def opened(rules: AccountRules, execute: Execute, quote_for: QuoteFor) -> Opened:
    """``opened(state, instrument, side, price_paise, lots=1)``: open an NRML position by a
    filled LIMIT order, on NIFTY at 26,138.60; return its id."""

    def open_position(
        state: AccountState, instrument: Instrument, side: Side, price_paise: int, lots: int = 1
    ) -> str:
        quantity = instrument.lot_size * lots
        market = market_for(rules, state, instrument, now_ms=NOW_MS, price_paise=2_613_860)
        order = place(
            instrument,
            side=side,
            product=Product.NRML,
            quantity=quantity,
            price_paise=price_paise,
            quote=quote_for(instrument, price_paise),
            market=market,
        )
        assert execute(state, order).rejection is None
        filled = execute(
            state, fill(instrument, order.order_id, quantity, price_paise, market=market)
        )
        assert filled.rejection is None
        (position_id,) = state.positions
        return position_id

    return open_position


def _expire(instrument: Instrument, position_id: str, settlement_paise: int) -> cmd.ExpirePosition:
    return cmd.ExpirePosition(
        position_id,
        settlement_paise,
        now_ms=EXPIRY_MS,
        exit_order_id="expiry-1",
        instrument=instrument,
    )


def _settled(decision_events: tuple[ev.AccountEvent, ...]) -> ev.OrderFilled:
    accepted, filled = decision_events
    assert isinstance(accepted, ev.OrderAccepted)
    assert isinstance(filled, ev.OrderFilled)
    assert accepted.order_id == filled.order_id == "expiry-1"
    return filled


@pytest.fixture
def put_25500(master: InstrumentMaster) -> Instrument:
    put = master.get("NFO:NIFTY26DEC25500PE")
    assert put is not None
    return put


def test_long_call_when_in_the_money_then_settled_at_intrinsic_with_stt_on_exercise(
    nifty_call: Instrument,
    opened: Opened,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(10_000_000_00)
    position_id = opened(state, nifty_call, Side.BUY, 44_145)
    balance, realized = state.balance_paise, state.realized_pnl_paise
    # Spot 26,150 at expiry: intrinsic ₹150 a unit on 65 units.
    decision = execute(state, _expire(nifty_call, position_id, 15_000))
    filled = _settled(decision.events)
    assert (filled.side, filled.quantity, filled.price_paise) == (Side.SELL, 65, 15_000)
    assert filled.realized_pnl_paise == (15_000 - 44_145) * 65  # −₹18,944.25
    # STT on exercise: 0.125 % of ₹9,750 = ₹12.1875, rounded half-up to ₹12.19.
    assert (filled.charges_paise, filled.brokerage_paise, filled.taxes_paise) == (1_219, 0, 1_219)
    assert filled.order_brokerage_paise == 0
    assert (filled.position_quantity, filled.position_margin_paise) == (0, 0)
    assert position_id not in state.positions  # closed
    assert state.realized_pnl_paise == realized + (15_000 - 44_145) * 65
    assert state.balance_paise == balance + (15_000 - 44_145) * 65 - 1_219


def test_long_call_when_out_of_the_money_then_worthless_and_no_charge(
    nifty_call: Instrument,
    opened: Opened,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(10_000_000_00)
    position_id = opened(state, nifty_call, Side.BUY, 44_145)
    balance = state.balance_paise
    filled = _settled(execute(state, _expire(nifty_call, position_id, 0)).events)
    assert (filled.price_paise, filled.charges_paise) == (0, 0)
    assert filled.realized_pnl_paise == -44_145 * 65
    assert state.balance_paise == balance - 44_145 * 65


def test_short_put_when_out_of_the_money_then_premium_kept_margin_released_no_charge(
    rules: AccountRules,
    put_25500: Instrument,
    opened: Opened,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(10_000_000_00)
    position_id = opened(state, put_25500, Side.SELL, 15_725)
    assert state.positions[position_id].margin_paise == 0  # the portfolio carries it
    market = market_for(rules, state, put_25500, now_ms=NOW_MS, price_paise=2_613_860)
    leg = None if market is None else market.leg(put_25500.instrument_id)
    assert market is not None and leg is not None
    short = MarginLeg(leg, -65, -65 * 15_725)
    margin = state.portfolio_margin["NIFTY"]
    assert margin == rules.portfolio.margin([short], market, rules.trade_date(NOW_MS)).blocked_paise
    assert margin > 0
    balance, blocked = state.balance_paise, state.blocked_paise
    filled = _settled(execute(state, _expire(put_25500, position_id, 0)).events)
    assert (filled.side, filled.price_paise, filled.charges_paise) == (Side.BUY, 0, 0)
    assert filled.realized_pnl_paise == 15_725 * 65  # the premium received, kept
    assert filled.portfolio == ev.PortfolioBlock("NIFTY", 0, ())
    assert state.balance_paise == balance + 15_725 * 65
    assert state.blocked_paise == blocked - margin  # the portfolio's margin released whole
    assert state.portfolio_margin == {}
    assert position_id not in state.positions


def test_short_call_when_in_the_money_then_assigned_at_intrinsic_without_stt(
    nifty_call: Instrument,
    opened: Opened,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(10_000_000_00)
    position_id = opened(state, nifty_call, Side.SELL, 44_145)
    filled = _settled(execute(state, _expire(nifty_call, position_id, 60_000)).events)
    assert (filled.side, filled.price_paise, filled.charges_paise) == (Side.BUY, 60_000, 0)
    assert filled.realized_pnl_paise == (44_145 - 60_000) * 65


def test_future_when_expired_then_settled_at_the_final_price_without_charges(
    nifty_fut: Instrument,
    opened: Opened,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    state = funded_account(10_000_000_00)
    position_id = opened(state, nifty_fut, Side.BUY, 2_613_860, lots=2)
    balance = state.balance_paise
    # The final settlement price is the spot's close, off the future's ₹0.10 grid.
    filled = _settled(execute(state, _expire(nifty_fut, position_id, 2_620_005)).events)
    assert (filled.quantity, filled.price_paise, filled.charges_paise) == (130, 2_620_005, 0)
    assert filled.realized_pnl_paise == (2_620_005 - 2_613_860) * 130
    assert state.balance_paise == balance + (2_620_005 - 2_613_860) * 130
    assert position_id not in state.positions


def test_expire_when_position_closed_price_negative_or_exit_id_taken_then_refused(
    nifty_call: Instrument,
    quote_for: QuoteFor,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    opened: Opened,
) -> None:
    state = funded_account(10_000_000_00)
    position_id = opened(state, nifty_call, Side.BUY, 44_145)
    assert execute(state, _expire(nifty_call, position_id, -5)).rejection is Rejection.INVALID_PRICE
    assert execute(state, _expire(nifty_call, "nope", 0)).rejection is Rejection.POSITION_CLOSED
    resting = place(
        nifty_call,
        order_id="expiry-1",
        product=Product.NRML,
        quantity=65,
        price_paise=5,
        quote=quote_for(nifty_call, 44_145),
    )
    assert execute(state, resting).rejection is None  # a working order holds the exit's id
    assert execute(state, _expire(nifty_call, position_id, 0)).rejection is Rejection.DUPLICATE
    taken = cmd.ExpirePosition(
        position_id, 0, now_ms=EXPIRY_MS, exit_order_id="expiry-2", instrument=nifty_call
    )
    assert execute(state, taken).rejection is None
    again = cmd.ExpirePosition(
        position_id, 0, now_ms=EXPIRY_MS, exit_order_id="expiry-3", instrument=nifty_call
    )
    assert execute(state, again).rejection is Rejection.POSITION_CLOSED  # settled once only


@pytest.mark.parametrize("kind", ["future", "call"])
def test_expire_when_one_unit_long_then_sold_and_an_option_pays_stt_on_exercise(
    kind: str,
    nifty_fut: Instrument,
    nifty_call: Instrument,
    opened: Opened,
    funded_account: Callable[..., AccountState],
    execute: Execute,
) -> None:
    # A contract of lot 1 (as some imported masters list): one unit long is still long.
    instrument = replace(nifty_fut if kind == "future" else nifty_call, lot_size=1)
    price = 2_613_860 if kind == "future" else 44_145
    state = funded_account(10_000_000_00)
    position_id = opened(state, instrument, Side.BUY, price)
    value = 2_620_000 if kind == "future" else 800_000
    filled = _settled(execute(state, _expire(instrument, position_id, value)).events)
    assert (filled.side, filled.quantity, filled.price_paise) == (Side.SELL, 1, value)
    # STT on exercise: 0.125 % of ₹8,000 = ₹10 for the call; nothing for the future.
    assert filled.charges_paise == (0 if kind == "future" else 1_000)
