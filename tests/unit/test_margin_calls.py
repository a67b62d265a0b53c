"""Mark-to-market, margin calls, liquidation and the daily settlement of futures
(``engine.domain.account.margin_call``, docs/DOMAIN.md §2), to the paisa."""

from __future__ import annotations

from dataclasses import replace

import msgspec
import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply_all
from engine.domain.account.decide import decide
from engine.domain.account.margin_call import (
    counted,
    decide_revalue,
    liquidation_order_id,
    required_paise,
    unrealised_paise,
)
from engine.domain.account.state import AccountState, Decision
from engine.domain.enums import (
    CancelReason,
    CloseReason,
    FundKind,
    PriceSource,
    Product,
    Rejection,
    Side,
)
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.rules import AccountRules
from engine.domain.sessions import MS_PER_DAY
from tests.conftest import NOW_MS, Execute, QuoteFor, place
from tests.support.margin_markets import market_for

# A liquidation that never ends (an exit not booked, a short "closed" by selling more) must fail
# its test, not hang it (each test here takes milliseconds).
pytestmark = pytest.mark.timeout(10)

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


def _mis(
    state: AccountState,
    execute: Execute,
    quote_for: QuoteFor,
    instrument: Instrument,
    side: Side,
    quantity: int,
    *,
    product: Product = Product.MIS,
) -> str:
    """Trade ``quantity`` of ``instrument`` at its previous close; the position's id."""
    price = instrument.reference_price_paise
    order = place(
        instrument,
        order_id=f"{instrument.symbol}-{side.value}",
        side=side,
        product=product,
        quantity=quantity,
        price_paise=price,
        quote=quote_for(instrument, price),
    )
    assert execute(state, order).rejection is None
    fill = cmd.FillOrder(order.order_id, instrument, quantity, price, now_ms=NOW_MS)
    assert execute(state, fill).rejection is None
    return state.position_ids[f"{product.value}:{instrument.instrument_id}"]


def _fills(decision: Decision) -> list[ev.OrderFilled]:
    return [e for e in decision.events if isinstance(e, ev.OrderFilled)]


def test_liquidation_when_every_position_must_go_then_each_exit_named_sided_and_sourced(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
    reliance: Instrument,
    wipro: Instrument,
) -> None:
    """A crash of ₹6,000 on the future (−₹3,90,000) sinks the ₹2,50,000 account below nothing:
    everything is closed, most margin freed first (the future, then 10 WIPRO short, then one
    RELIANCE share), each exit the opposite side at its mark's exit price and tier, its order id
    the ``n``-th of this liquidation; left with no margin to cover, the call is met."""
    state = funded_account(2_50_000_00)  # type: ignore[operator]
    future_id = _long_future(state, execute, quote_for, nifty_fut)
    short_id = _mis(state, execute, quote_for, wipro, Side.SELL, 10)
    one_id = _mis(state, execute, quote_for, reliance, Side.BUY, 1)
    assert state.positions[short_id].margin_paise > state.positions[one_id].margin_paise
    price = FUTURE_PRICE - 600_000
    market = market_for(rules, state, nifty_fut, now_ms=NOW_MS, price_paise=price)
    assert market is not None
    marks = (
        cmd.PositionMark(future_id, nifty_fut, price, price, PriceSource.LIVE),
        cmd.PositionMark(short_id, wipro, 24_487, 24_500, PriceSource.STORED),
        cmd.PositionMark(one_id, reliance, 154_280, 154_200, PriceSource.POSITION_AVERAGE),
    )

    decided = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(market,), marks=marks))

    closes = [
        (f.order_id, f.side, f.quantity, f.price_paise, f.price_source) for f in _fills(decided)
    ]
    assert closes == [
        (liquidation_order_id(NOW_MS, 0, future_id), Side.SELL, 65, price, "LIVE"),
        (liquidation_order_id(NOW_MS, 1, short_id), Side.BUY, 10, 24_500, "STORED"),
        (liquidation_order_id(NOW_MS, 2, one_id), Side.SELL, 1, 154_200, "POSITION_AVERAGE"),
    ]
    assert state.positions == {} and state.balance_paise < 0
    met = decided.events[-1]
    assert isinstance(met, ev.MarginCallMet)
    assert (met.required_paise, met.equity_paise) == (0, state.balance_paise)
    assert not state.margin_called


def test_liquidation_when_only_intraday_equity_then_decided_without_touching_the_state(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    reliance: Instrument,
) -> None:
    """No portfolio to revalue, so the liquidation starts from the state itself: it must work
    on a copy of its own (``execute`` checks the state is untouched by deciding)."""
    state = funded_account(1_000_00)  # type: ignore[operator]
    position_id = _mis(state, execute, quote_for, reliance, Side.BUY, 1)
    crash = 50_000  # ₹1,542.80 → ₹500: −₹1,042.80, more than the account holds
    marks = (cmd.PositionMark(position_id, reliance, crash, crash),)

    decided = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(), marks=marks))

    assert [type(e) for e in decided.events] == [
        ev.MarginCalled,
        ev.OrderAccepted,
        ev.OrderFilled,
        ev.MarginCallMet,
    ]
    assert state.positions == {}


def test_liquidation_when_a_position_has_no_exit_price_then_skipped_and_a_one_paisa_one_closed(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    reliance: Instrument,
    wipro: Instrument,
) -> None:
    """10 RELIANCE (held first, no price to exit at) and 100 WIPRO, whose last price fell to
    one paisa: a loss of 100 × ₹244.86 that takes the ₹10,000 account far under. Only WIPRO
    can be closed, at that paisa; RELIANCE stays, and the account stays called."""
    state = funded_account(10_000_00)  # type: ignore[operator]
    unpriced_id = _mis(state, execute, quote_for, reliance, Side.BUY, 10)
    crashed_id = _mis(state, execute, quote_for, wipro, Side.BUY, 100)
    marks = (
        cmd.PositionMark(unpriced_id, reliance, 154_280, 0),
        cmd.PositionMark(crashed_id, wipro, 1, 1),
    )
    positions = {p.position_id: p for p in state.positions.values()}
    assert unrealised_paise(positions.values(), {m.position_id: m for m in marks}) == 100 * (
        1 - 24_487
    )

    decided = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(), marks=marks))

    assert [(f.instrument_id, f.price_paise) for f in _fills(decided)] == [(wipro.instrument_id, 1)]
    assert not any(isinstance(e, ev.MarginCallMet) for e in decided.events)
    assert list(state.positions) == [unpriced_id]
    assert state.margin_called


def test_unrealised_when_delivery_shares_then_not_marked_and_intraday_ones_are(
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    reliance: Instrument,
    wipro: Instrument,
) -> None:
    state = funded_account(10_000_00)  # type: ignore[operator]
    delivery_id = _mis(state, execute, quote_for, reliance, Side.BUY, 2, product=Product.CNC)
    intraday_id = _mis(state, execute, quote_for, wipro, Side.BUY, 3)
    marks = {
        delivery_id: cmd.PositionMark(delivery_id, reliance, 150_000, 150_000),
        intraday_id: cmd.PositionMark(intraday_id, wipro, 24_000, 24_000),
    }
    # Only WIPRO's: 3 × (₹240.00 − ₹244.87); the CNC shares are paid for.
    assert unrealised_paise(state.positions.values(), marks) == 3 * (24_000 - 24_487) == -1_461


def test_settle_futures_when_held_over_two_days_then_both_days_realised(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
) -> None:
    state = funded_account(10_00_000_00)  # type: ignore[operator]
    position_id = _long_future(state, execute, quote_for, nifty_fut)
    first, second = 2_620_010, 2_611_000
    for day, close in ((1, first), (2, second)):
        settle = cmd.SettleFutures(now_ms=NOW_MS + day * MS_PER_DAY, closes=((position_id, close),))
        assert execute(state, settle).rejection is None
    # 65 × (₹26,200.10 − ₹26,138.60) = ₹3,997.50, then 65 × (₹26,110.00 − ₹26,200.10) = −₹5,856.50
    assert state.positions[position_id].realized_pnl_paise == 399_750 - 585_650 == -185_900
    assert state.positions[position_id].cost_paise == 65 * second


@pytest.mark.parametrize(("close", "settled"), [(0, False), (1, True)])
def test_settle_futures_when_no_close_or_a_one_paisa_close_then_only_a_price_settles(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
    close: int,
    settled: bool,
) -> None:
    """A close of 0 is no price (the feed had none); any price above it settles. Ids that are
    not held (sorted first here) are passed over, not the end of the list."""
    state = funded_account(10_00_000_00)  # type: ignore[operator]
    position_id = _long_future(state, execute, quote_for, nifty_fut)
    closes = (("-gone", 2_620_010), (position_id, close))
    settle = cmd.SettleFutures(now_ms=NOW_MS + MS_PER_DAY, closes=closes)

    events = execute(state, settle).events

    expected = [(position_id, 1, 65 * (1 - FUTURE_PRICE))] if settled else []
    assert [
        (s.position_id, s.price_paise, s.realized_pnl_paise)
        for e in events
        if isinstance(e, ev.FuturesSettled)
        for s in e.settlements
    ] == expected


def _with_margin_of_its_own(
    state: AccountState,
    rules: AccountRules,
    execute: Execute,
    quote_for: QuoteFor,
    instrument: Instrument,
    margin_paise: int,
) -> str:
    """One share bought MIS at its previous close, its fill journaled with ``margin_paise`` as
    the position's margin (any figure a journal may hold, down to one paisa)."""
    price = instrument.reference_price_paise
    order = place(
        instrument,
        order_id=instrument.symbol,
        price_paise=price,
        quote=quote_for(instrument, price),
    )
    assert execute(state, order).rejection is None
    (filled,) = decide(
        state, cmd.FillOrder(order.order_id, instrument, 1, price, now_ms=NOW_MS), rules
    ).events
    assert isinstance(filled, ev.OrderFilled)
    apply_all(state, [msgspec.structs.replace(filled, position_margin_paise=margin_paise)])
    return filled.position_id


def _future_without_market(
    state: AccountState,
    rules: AccountRules,
    execute: Execute,
    quote_for: QuoteFor,
    future: Instrument,
) -> str:
    """A long future whose fill came without its market: no margin of its own, no portfolio
    booked (until a revaluation of its underlying)."""
    order = place(
        future,
        order_id="fut",
        product=Product.NRML,
        quantity=65,
        price_paise=FUTURE_PRICE,
        quote=quote_for(future, FUTURE_PRICE),
    )
    assert execute(state, order).rejection is None
    fill = cmd.FillOrder("fut", future, 65, FUTURE_PRICE, now_ms=NOW_MS)
    apply_all(state, decide(state, fill, rules).events)
    position_id = state.position_ids[f"NRML:{future.instrument_id}"]
    assert (state.positions[position_id].margin_paise, state.portfolio_margin) == (0, {})
    return position_id


def _revalued_kinds(
    state: AccountState, rules: AccountRules, position_id: str, shares: Instrument, ltp: int
) -> list[type]:
    """The kinds of event a revaluation decides with the position marked at ``ltp``."""
    marks = (cmd.PositionMark(position_id, shares, ltp, ltp),)
    command = cmd.RevalueMargin(now_ms=NOW_MS, markets=(), marks=marks)
    return [type(e) for e in decide_revalue(state, command, rules).events]


def test_revalue_when_equity_exactly_at_the_liquidation_level_then_called_not_liquidated(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    reliance: Instrument,
) -> None:
    state = funded_account(1_000_00)  # type: ignore[operator]
    position_id = _mis(state, execute, quote_for, reliance, Side.BUY, 1)
    required = required_paise(state)
    level = rules.risk.liquidation_level.of(required)  # 80 % of ₹308.56, ₹246.85
    assert (required, level) == (30_856, 24_685)
    # The loss that leaves the equity (the balance plus the loss) exactly at the level.
    at_level = 154_280 + level - state.balance_paise

    def revalue(ltp: int) -> list[type]:
        return _revalued_kinds(state, rules, position_id, reliance, ltp)

    assert revalue(at_level) == [ev.MarginCalled]
    assert revalue(at_level - 1) == [
        ev.MarginCalled,
        ev.OrderAccepted,
        ev.OrderFilled,
        ev.MarginCallMet,
    ]


def test_revalue_when_equity_exactly_at_the_margin_call_level_then_not_called(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    reliance: Instrument,
) -> None:
    state = funded_account(1_000_00)  # type: ignore[operator]
    position_id = _mis(state, execute, quote_for, reliance, Side.BUY, 1)
    level = rules.risk.margin_call_level.of(required_paise(state))
    at_level = 154_280 + level - state.balance_paise  # the LTP leaving equity at the level

    def revalue(ltp: int) -> list[type]:
        return _revalued_kinds(state, rules, position_id, reliance, ltp)

    assert revalue(at_level) == [], "equity at the call level is not below it"
    assert revalue(at_level - 1) == [ev.MarginCalled]


def test_liquidation_when_a_close_leaves_equity_exactly_at_the_margin_then_stops_and_call_met(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    reliance: Instrument,
    wipro: Instrument,
) -> None:
    """10 RELIANCE at ₹560 (−₹9,928 of ₹9,993.40) go first; one WIPRO share's loss is chosen so
    that, with RELIANCE's exit charges paid, the equity left equals WIPRO's margin to the paisa:
    covered, so WIPRO stays and the call is met."""
    state = funded_account(10_000_00)  # type: ignore[operator]
    big_id = _mis(state, execute, quote_for, reliance, Side.BUY, 10)
    small_id = _mis(state, execute, quote_for, wipro, Side.BUY, 1)
    small_margin = state.positions[small_id].margin_paise
    exit_paise = 56_000

    def revalue(wipro_ltp: int) -> Decision:
        marks = (
            cmd.PositionMark(big_id, reliance, exit_paise, exit_paise),
            cmd.PositionMark(small_id, wipro, wipro_ltp, wipro_ltp),
        )
        return decide_revalue(
            state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(), marks=marks), rules
        )

    exit_charges = _fills(revalue(24_487))[0].charges_paise
    left = state.balance_paise + 10 * (exit_paise - 154_280) - exit_charges
    wipro_ltp = 24_487 + small_margin - left
    assert 0 < wipro_ltp < 24_487  # a loss on WIPRO too

    decided = revalue(wipro_ltp)

    assert [f.instrument_id for f in _fills(decided)] == [reliance.instrument_id]
    met = decided.events[-1]
    assert isinstance(met, ev.MarginCallMet)
    assert met.equity_paise == met.required_paise == small_margin


def test_revalue_when_one_paisa_is_required_then_called_and_liquidated_like_any_margin(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    reliance: Instrument,
) -> None:
    state = funded_account(1_000_00)  # type: ignore[operator]
    position_id = _with_margin_of_its_own(state, rules, execute, quote_for, reliance, 1)
    assert required_paise(state) == 1
    ltp = 154_280 - state.balance_paise - 100  # the equity: −₹1
    marks = (cmd.PositionMark(position_id, reliance, ltp, ltp),)

    decided = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(), marks=marks))

    assert [type(e) for e in decided.events] == [
        ev.MarginCalled,
        ev.OrderAccepted,
        ev.OrderFilled,
        ev.MarginCallMet,
    ]
    called = decided.events[0]
    assert isinstance(called, ev.MarginCalled)
    assert (called.required_paise, called.equity_paise) == (1, -100)


def test_liquidation_when_one_paisa_of_margin_is_left_unpriced_then_the_call_stays(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    reliance: Instrument,
    wipro: Instrument,
) -> None:
    """RELIANCE's crash to ₹10 is closed; WIPRO (one paisa of margin, no price) cannot be, and
    the equity is below even that paisa: no ``MarginCallMet``."""
    state = funded_account(1_000_00)  # type: ignore[operator]
    crashed_id = _mis(state, execute, quote_for, reliance, Side.BUY, 1)
    _with_margin_of_its_own(state, rules, execute, quote_for, wipro, 1)
    marks = (cmd.PositionMark(crashed_id, reliance, 1_000, 1_000),)

    decided = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(), marks=marks))

    assert [type(e) for e in decided.events] == [ev.MarginCalled, ev.OrderAccepted, ev.OrderFilled]
    assert required_paise(state) == 1 and state.balance_paise < 0
    assert state.margin_called


def test_revalue_when_no_margin_is_required_then_no_liquidation_even_in_debit(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
    reliance: Instrument,
) -> None:
    """A future filled without its market carries no margin yet; its ₹2,60,000 loss puts the
    equity below nothing, but with nothing required there is no call and the working order
    that holds margin stays."""
    state = funded_account(2_50_000_00)  # type: ignore[operator]
    future_id = _future_without_market(state, rules, execute, quote_for, nifty_fut)
    working = place(reliance, order_id="w", quantity=1, price_paise=150_000)
    assert execute(state, working).rejection is None
    price = FUTURE_PRICE - 400_000
    marks = (cmd.PositionMark(future_id, nifty_fut, price, price),)

    decided = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(), marks=marks))

    assert decided.events == ()
    assert "w" in state.orders


def test_liquidation_when_the_margin_is_gone_then_positions_without_margin_stay(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
    reliance: Instrument,
) -> None:
    """The RELIANCE position's margin is all that is required: once it is closed nothing is,
    and the future (no margin of its own yet) is left open though the account is in debit."""
    state = funded_account(2_50_000_00)  # type: ignore[operator]
    future_id = _future_without_market(state, rules, execute, quote_for, nifty_fut)
    equity_id = _mis(state, execute, quote_for, reliance, Side.BUY, 1)
    price = FUTURE_PRICE - 400_000
    marks = (
        cmd.PositionMark(future_id, nifty_fut, price, price),
        cmd.PositionMark(equity_id, reliance, 150_000, 150_000),
    )

    decided = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(), marks=marks))

    assert [f.instrument_id for f in _fills(decided)] == [reliance.instrument_id]
    assert isinstance(decided.events[-1], ev.MarginCallMet)
    assert list(state.positions) == [future_id]


@pytest.mark.parametrize(("mtm", "taken"), [(1_000_00, True), (-1_000_00, False)])
def test_order_when_marked_to_market_then_the_mtm_counts_in_the_funds_available(
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    reliance: Instrument,
    mtm: int,
    taken: bool,
) -> None:
    """₹300 and one RELIANCE share MIS at ₹1,542.80 (₹308.56 of margin): a ₹1,000 profit the
    account is credited with pays for it; a ₹1,000 loss leaves ₹300 − ₹1,000 available."""
    state = funded_account(300_00)  # type: ignore[operator]
    order = place(reliance, price_paise=154_280, quote=quote_for(reliance, 154_280))

    decided = execute(state, msgspec.structs.replace(order, mtm_paise=mtm))

    assert (decided.rejection is None) is taken
    if not taken:
        assert decided.shortfall is not None
        assert decided.shortfall.available_paise == 300_00 - 1_000_00


@pytest.mark.parametrize("mtm", [5_000_00, -5_000_00])
def test_modify_when_refused_for_funds_then_the_shortfall_counts_its_block_and_the_mtm(
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    reliance: Instrument,
    mtm: int,
) -> None:
    state = funded_account(1_000_00)  # type: ignore[operator]
    quote = quote_for(reliance, 154_280)
    assert execute(state, place(reliance, price_paise=154_280, quote=quote)).rejection is None
    block = state.orders["o1"].margin_blocked_paise
    bigger = cmd.ModifyOrder(
        order_id="o1", quantity=100, now_ms=NOW_MS, instrument=reliance, quote=quote, mtm_paise=mtm
    )

    refused = execute(state, bigger)

    assert refused.rejection is Rejection.INSUFFICIENT_FUNDS
    assert refused.shortfall is not None
    # What is free, the order's own block (₹308.56) and the mark-to-market.
    assert refused.shortfall.available_paise == state.available_paise + block + mtm


def test_liquidation_when_positions_free_the_same_margin_then_the_earliest_id_first(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    master: InstrumentMaster,
    reliance: Instrument,
) -> None:
    """A crash: NIFTY to 20,000 leaves the 25500 call sold at ₹792.50 nearly worthless, so its
    portfolio blocks nothing (the ₹51,512.50 premium credited exceeds its SPAN and exposure) and
    is released; BANKNIFTY's fall to 50,000 costs the long future (filled without its market,
    so no margin of its own) ₹2,81,712. Closing either frees no margin: the one with the
    earlier id (the future's, 864d…, before the call's, f91c…) goes first; the RELIANCE share
    holding all the margin has no price, so it stays."""
    call = master.get("NFO:NIFTY26DEC25500CE")
    bank = master.get("NFO:BANKNIFTY26DECFUT")
    assert call is not None and bank is not None
    state = funded_account(10_00_000_00)  # type: ignore[operator]
    sold = place(
        call,
        order_id="s",
        side=Side.SELL,
        product=Product.NRML,
        quantity=65,
        price_paise=79_250,
        quote=quote_for(call, 79_250),
    )
    assert execute(state, sold).rejection is None
    assert execute(state, cmd.FillOrder("s", call, 65, 79_250, now_ms=NOW_MS)).rejection is None
    bought = place(
        bank,
        order_id="b",
        product=Product.NRML,
        quantity=30,
        price_paise=5_939_040,
        quote=quote_for(bank, 5_939_040),
    )
    assert execute(state, bought).rejection is None
    apply_all(
        state, decide(state, cmd.FillOrder("b", bank, 30, 5_939_040, now_ms=NOW_MS), rules).events
    )
    unpriced_id = _mis(state, execute, quote_for, reliance, Side.BUY, 1)
    spare = cmd.DebitFunds(
        now_ms=NOW_MS, amount_paise=state.available_paise, kind=FundKind.ADJUSTMENT, reference="all"
    )
    assert execute(state, spare).rejection is None
    call_id, bank_id = (state.position_ids[f"NRML:{i.instrument_id}"] for i in (call, bank))
    assert bank_id < call_id
    crash = market_for(rules, state, call, now_ms=NOW_MS, price_paise=20_00_000)
    assert crash is not None
    marks = (
        cmd.PositionMark(call_id, call, 5, 5),
        cmd.PositionMark(bank_id, bank, 50_00_000, 50_00_000),
    )

    decided = execute(state, cmd.RevalueMargin(now_ms=NOW_MS, markets=(crash,), marks=marks))

    (revalued,) = [e for e in decided.events if isinstance(e, ev.PortfolioMarginRevalued)]
    assert revalued.blocks == (ev.PortfolioBlock("NIFTY", 0, (call_id,)),)
    assert [f.instrument_id for f in _fills(decided)] == [bank.instrument_id, call.instrument_id]
    assert list(state.positions) == [unpriced_id]


def test_liquidation_when_two_positions_share_a_portfolio_then_the_one_freeing_more_first(
    rules: AccountRules,
    execute: Execute,
    funded_account: object,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
) -> None:
    """One lot of the NIFTY future NRML (the earlier id) and three MIS: one portfolio, its
    margin blocked as a whole, so neither position carries any of its own. At −₹3,000 a unit
    (−₹7,80,000) the four lots' ₹6,79,812.07 is called and liquidated: closing the three lots
    leaves one lot's margin, closing the one lot three lots', so the three go first, and the
    one lot left is covered (its ₹1,69,953.02 against ₹2,17,220.74 of equity)."""
    state = funded_account(10_00_000_00)  # type: ignore[operator]
    ids: dict[Product, str] = {}
    for order_id, product, lots in (("nrml", Product.NRML, 1), ("mis", Product.MIS, 3)):
        order = place(
            nifty_fut,
            order_id=order_id,
            product=product,
            quantity=65 * lots,
            price_paise=FUTURE_PRICE,
            quote=quote_for(nifty_fut, FUTURE_PRICE),
        )
        assert execute(state, order).rejection is None
        fill = cmd.FillOrder(order_id, nifty_fut, 65 * lots, FUTURE_PRICE, now_ms=NOW_MS)
        assert execute(state, fill).rejection is None
        ids[product] = state.position_ids[f"{product.value}:{nifty_fut.instrument_id}"]
    assert ids[Product.NRML] < ids[Product.MIS]
    assert [p.margin_paise for p in state.positions.values()] == [0, 0]

    price = FUTURE_PRICE - 300_000
    decided = execute(state, _revalue(rules, state, nifty_fut, price))

    called = [e for e in decided.events if isinstance(e, ev.MarginCalled)]
    assert [e.required_paise for e in called] == [6_79_812_07]
    assert [(f.position_id, f.quantity) for f in _fills(decided)] == [(ids[Product.MIS], 195)]
    met = decided.events[-1]
    assert isinstance(met, ev.MarginCallMet)
    assert (met.required_paise, met.equity_paise) == (1_69_953_02, 2_17_220_74)
    assert list(state.positions) == [ids[Product.NRML]]
    assert state.portfolio_margin == {"NIFTY": 1_69_953_02}
