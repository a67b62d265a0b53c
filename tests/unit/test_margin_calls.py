"""Mark-to-market, margin calls, liquidation and the daily settlement of futures
(``engine.domain.account.margin_call``, docs/DOMAIN.md §2), to the paisa."""

from __future__ import annotations

from dataclasses import replace

import msgspec
import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.margin_call import (
    counted,
    decide_revalue,
    required_paise,
    unrealised_paise,
)
from engine.domain.account.state import AccountState
from engine.domain.enums import CancelReason, CloseReason, Product, Rejection, Side
from engine.domain.instruments import Instrument
from engine.domain.rules import AccountRules
from engine.domain.sessions import MS_PER_DAY
from tests.conftest import NOW_MS, Execute, QuoteFor, place
from tests.support.margin_markets import market_for

FUTURE_PRICE = 2_613_860  # NIFTY Dec future, ₹26,138.60; lot 65


def _long_future(
    state: AccountState,
    execute: Execute,
    quote_for: QuoteFor,
    future: Instrument,
    lots: int = 1,
) -> str:
    quantity = future.lot_size * lots
    order = place(
        future,
        order_id=f"buy-{len(state.positions)}",
        product=Product.NRML,
        quantity=quantity,
        price_paise=FUTURE_PRICE,
        quote=quote_for(future, FUTURE_PRICE),
    )
    assert execute(state, order).rejection is None
    fill = cmd.FillOrder(
        order.order_id, future, quantity, FUTURE_PRICE, now_ms=NOW_MS, at_market=False
    )
    assert execute(state, fill).rejection is None
    return state.position_ids[f"NRML:{future.instrument_id}"]


def _revalue(
    rules: AccountRules,
    state: AccountState,
    future: Instrument,
    price_paise: int,
    *,
    now_ms: int = NOW_MS,
) -> cmd.RevalueMargin:
    """A revaluation with the future (and its portfolio) at ``price_paise``, exits there too."""
    market = market_for(rules, state, future, now_ms=now_ms, price_paise=price_paise)
    assert market is not None
    marks = tuple(
        cmd.PositionMark(position.position_id, future, price_paise, price_paise)
        for position in state.positions.values()
    )
    return cmd.RevalueMargin(now_ms=now_ms, markets=(market,), marks=marks)


def test_counted_when_profit_then_only_with_the_credit_configured(rules: AccountRules) -> None:
    assert counted(-5_000, rules.risk) == -5_000
    assert counted(7_000, rules.risk) == 0
    crediting = replace(rules.risk, credit_unrealised_profit=True)
    assert counted(7_000, crediting) == 7_000


def test_revalue_when_equity_falls_below_the_margin_then_called_once_and_met_on_recovery(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
) -> None:
    state = funded_account(2_50_000_00)  # type: ignore[operator]
    _long_future(state, execute, quote_for, nifty_fut)
    # −₹1,200 a unit: the loss (₹78,000) takes the equity (₹1,72,000) below the margin at the
    # new price (about ₹1,82,000), but not below 80 % of it: a call, no liquidation.
    price = FUTURE_PRICE - 120_000
    called = execute(state, _revalue(rules, state, nifty_fut, price))
    loss = 65 * (price - FUTURE_PRICE)
    revalued = [e for e in called.events if isinstance(e, ev.PortfolioMarginRevalued)]
    required_now = required_paise(state)
    calls = [e for e in called.events if isinstance(e, ev.MarginCalled)]
    assert len(calls) == 1, called.events
    assert calls[0].unrealised_paise == loss
    assert calls[0].required_paise == required_now
    assert calls[0].equity_paise == state.balance_paise + loss  # nothing else is blocked
    assert state.margin_called
    assert len(revalued) <= 1
    assert not any(isinstance(e, ev.OrderFilled) for e in called.events)  # not liquidated
    again = execute(state, _revalue(rules, state, nifty_fut, price))
    assert not any(isinstance(e, ev.MarginCalled) for e in again.events)  # once
    met = execute(state, _revalue(rules, state, nifty_fut, FUTURE_PRICE))
    assert [type(e) for e in met.events if not isinstance(e, ev.PortfolioMarginRevalued)] == [
        ev.MarginCallMet
    ]
    assert not state.margin_called


def test_order_when_in_shortfall_then_adding_refused_and_reducing_taken(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
) -> None:
    state = funded_account(2_50_000_00)  # type: ignore[operator]
    _long_future(state, execute, quote_for, nifty_fut)
    price = FUTURE_PRICE - 100_000  # down ₹1,000 a unit: ₹65,000 lost, more than is free
    mtm = 65 * (price - FUTURE_PRICE)
    assert state.available_paise + mtm < 0
    quote = quote_for(nifty_fut, price)
    adding = place(
        nifty_fut,
        order_id="add",
        product=Product.NRML,
        quantity=65,
        price_paise=price,
        quote=quote,
        market=market_for(rules, state, nifty_fut, now_ms=NOW_MS, price_paise=price),
    )
    refused = execute(state, msgspec.structs.replace(adding, mtm_paise=mtm))
    assert refused.rejection is Rejection.INSUFFICIENT_FUNDS
    assert refused.shortfall is not None
    assert refused.shortfall.available_paise == state.available_paise + mtm
    reducing = msgspec.structs.replace(adding, order_id="cut", side=Side.SELL, mtm_paise=mtm)
    taken = execute(state, reducing)
    assert taken.rejection is None
    (accepted,) = taken.events
    assert isinstance(accepted, ev.OrderAccepted) and accepted.margin_blocked_paise == 0


def test_revalue_when_below_the_liquidation_level_then_squared_off_most_margin_first(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
    reliance: Instrument,
) -> None:
    state = funded_account(2_50_000_00)  # type: ignore[operator]
    future_id = _long_future(state, execute, quote_for, nifty_fut)
    # A small intraday equity position, and a working order that holds margin.
    shares = place(reliance, order_id="eq", quantity=10, price_paise=154_280)
    assert execute(state, shares).rejection is None
    fill = cmd.FillOrder("eq", reliance, 10, 154_280, now_ms=NOW_MS)
    assert execute(state, fill).rejection is None
    working = place(reliance, order_id="w", quantity=10, price_paise=150_000)
    assert execute(state, working).rejection is None
    equity_id = state.position_ids[f"MIS:{reliance.instrument_id}"]
    price = FUTURE_PRICE - 300_000  # −₹3,000 a unit: −₹1,95,000
    market = market_for(rules, state, nifty_fut, now_ms=NOW_MS, price_paise=price)
    assert market is not None
    marks = (
        cmd.PositionMark(future_id, nifty_fut, price, price),
        cmd.PositionMark(equity_id, reliance, 154_280, 154_280),
    )
    decided = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(market,), marks=marks))
    kinds = [type(e) for e in decided.events]
    assert ev.MarginCalled in kinds
    cancels = [e for e in decided.events if isinstance(e, ev.OrderCancelled)]
    assert [(e.order_id, e.reason) for e in cancels] == [("w", CancelReason.LIQUIDATION)]
    fills = [e for e in decided.events if isinstance(e, ev.OrderFilled)]
    # The future frees by far the most margin: it goes first, and that meets the margin.
    assert [f.instrument_id for f in fills] == [nifty_fut.instrument_id]
    (closed,) = fills
    assert closed.price_paise == price
    assert closed.close_reason == CloseReason.LIQUIDATED.value
    schedule = rules.charges.on(rules.trade_date(NOW_MS))
    assert closed.charges_paise >= schedule.squareoff_charge_paise  # the fee on top
    assert closed.realized_pnl_paise == 65 * (price - FUTURE_PRICE)
    assert kinds[-1] is ev.MarginCallMet
    assert future_id not in state.positions and equity_id in state.positions
    assert state.portfolio_margin == {}
    assert not state.margin_called


def test_revalue_when_nothing_moved_then_no_event(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
) -> None:
    state = funded_account(10_00_000_00)  # type: ignore[operator]
    _long_future(state, execute, quote_for, nifty_fut)
    command = _revalue(rules, state, nifty_fut, FUTURE_PRICE)
    assert decide_revalue(state, command, rules).events == ()


def test_settle_futures_when_held_into_a_new_day_then_pnl_realised_and_cost_reset_once(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
) -> None:
    state = funded_account(10_00_000_00)  # type: ignore[operator]
    position_id = _long_future(state, execute, quote_for, nifty_fut, lots=2)
    balance = state.balance_paise
    tomorrow = NOW_MS + MS_PER_DAY
    close = 2_620_010
    settle = cmd.SettleFutures(now_ms=tomorrow, closes=((position_id, close),))
    decided = execute(state, settle)
    (settled,) = decided.events
    assert isinstance(settled, ev.FuturesSettled)
    assert settled.trade_day == rules.trade_day(tomorrow)
    (settlement,) = settled.settlements
    assert settlement.realized_pnl_paise == 130 * (close - FUTURE_PRICE) == 799_500
    position = state.positions[position_id]
    assert position.cost_paise == 130 * close
    assert position.realized_pnl_paise == 799_500
    assert state.balance_paise == balance + 799_500
    assert execute(state, settle).events == ()  # once a day
    same_day = cmd.SettleFutures(now_ms=NOW_MS, closes=((position_id, close),))
    fresh = AccountState("other")
    assert execute(fresh, same_day).events == ()  # nothing held: nothing settled


def test_settle_futures_when_opened_today_then_not_settled(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
) -> None:
    state = funded_account(10_00_000_00)  # type: ignore[operator]
    position_id = _long_future(state, execute, quote_for, nifty_fut)
    settle = cmd.SettleFutures(now_ms=NOW_MS, closes=((position_id, 2_620_010),))
    assert execute(state, settle).events == ()


@pytest.mark.parametrize("ltp", [0, 2_600_000])
def test_unrealised_when_option_or_unpriced_then_not_marked(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
    nifty_call: Instrument,
    ltp: int,
) -> None:
    state = funded_account(10_00_000_00)  # type: ignore[operator]
    future_id = _long_future(state, execute, quote_for, nifty_fut)
    marks = {
        future_id: cmd.PositionMark(future_id, nifty_fut, ltp, ltp),
        "other": cmd.PositionMark("other", nifty_call, 10_000, 10_000),
    }
    expected = 0 if ltp == 0 else 65 * (ltp - FUTURE_PRICE)
    assert unrealised_paise(state.positions.values(), marks) == expected
