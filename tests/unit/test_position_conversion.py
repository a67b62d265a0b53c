"""Converting a position to another product (docs/DOMAIN.md §1, "Converting a position").

Proves that units move with their exact share of the cost, that the margin is re-taken for the
target product (an equity's on the cost moved: CNC its whole value, MIS the 20 % floor; a
derivative's portfolio margin over the legs as they end up), that nothing is charged or
realized, that a move merges into a position already held in the target product and that a
whole move closes the source; and that every refusal comes in its precedence order, leaving
the state untouched.

Amounts are paise; each hand computation sits in a comment next to its case. RELIANCE's
previous close is ₹1542.80 and MIS blocks 20 % of the value (configs: mis_equity_min_pct).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply_all
from engine.domain.account.decide import decide
from engine.domain.account.state import (
    POSITION_ID_NAMESPACE,
    AccountState,
    Decision,
    state_fingerprint,
)
from engine.domain.enums import FundKind, OrderType, Product, Rejection, Side
from engine.domain.instruments import Instrument
from engine.domain.rules import AccountRules
from tests.conftest import NOW_MS, Execute, QuoteFor, place, run_command
from tests.support.margin_markets import market_of

BUY, SELL = Side.BUY, Side.SELL
MIS, CNC, NRML = Product.MIS, Product.CNC, Product.NRML
PRICE = 154_280  # RELIANCE @ ₹1542.80
IST = timezone(timedelta(hours=5, minutes=30))
Trade = Callable[..., tuple[Decision, Decision]]


def _convert(
    state: AccountState,
    instrument: Instrument,
    held: Product,
    to: Product,
    quantity: int,
    *,
    now_ms: int = NOW_MS,
) -> cmd.ConvertPosition:
    position = state.position_for(instrument.instrument_id, held)
    assert position is not None
    return cmd.ConvertPosition(
        now_ms=now_ms,
        position_id=position.position_id,
        product=to,
        quantity=quantity,
        instrument=instrument,
    )


def _converted(decision: Decision) -> ev.PositionConverted:
    assert decision.rejection is None, decision
    (event,) = decision.events
    assert isinstance(event, ev.PositionConverted)
    return event


def _refused(state: AccountState, command: cmd.AccountCommand, rules: AccountRules) -> Rejection:
    fingerprint = state_fingerprint(state)
    decision = run_command(state, command, rules)
    assert decision.events == ()
    assert state_fingerprint(state) == fingerprint
    assert decision.rejection is not None
    return decision.rejection


def _ist(day: int, hour: int, minute: int) -> int:
    """Milliseconds at ``hour:minute`` IST on 2026-11-``day`` (the 23rd is a Monday)."""
    return int(datetime(2026, 11, day, hour, minute, tzinfo=IST).timestamp() * 1000)


# --------------------------------------------------------------------------------------------
# equity: MIS and CNC


def test_convert_mis_long_to_cnc_when_part_then_cost_moves_and_cnc_blocks_its_value(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    reliance: Instrument,
) -> None:
    state = funded_account()
    trade(state, reliance, BUY, 10, PRICE, product=MIS)
    # MIS long 10 @ 1542.80: cost 1,542,800, margin 20 % = 308,560.
    balance, charges, blocked = state.balance_paise, state.charges_paise, state.blocked_paise
    mis = state.position_for(reliance.instrument_id, MIS)
    assert mis is not None
    assert (mis.cost_paise, mis.margin_paise) == (1_542_800, 308_560)

    converted = _converted(execute(state, _convert(state, reliance, MIS, CNC, 4)))

    # 4 of 10 move: cost 617,120, MIS margin released 123,424; CNC blocks the value 617,120.
    seq_before = state.seq - 1
    expected_id = uuid.uuid5(POSITION_ID_NAMESPACE, f"{mis.position_id}:converted:{seq_before}")
    assert converted.target_position_id == str(expected_id)
    assert (converted.position_quantity, converted.position_cost_paise) == (6, 925_680)
    assert converted.position_margin_paise == 185_136
    assert (converted.target_quantity, converted.target_cost_paise) == (4, 617_120)
    assert converted.target_margin_paise == 617_120
    cnc = state.position_for(reliance.instrument_id, CNC)
    assert cnc is not None
    assert (cnc.quantity, cnc.cost_paise, cnc.margin_paise) == (4, 617_120, 617_120)
    assert cnc.opened_ms == NOW_MS and cnc.position_id == converted.target_position_id
    assert (mis.quantity, mis.cost_paise, mis.margin_paise) == (6, 925_680, 185_136)
    # Nothing trades: no charge, no P&L; the block grows by 617,120 - 123,424.
    assert (state.balance_paise, state.charges_paise) == (balance, charges)
    assert state.blocked_paise == blocked + 493_696
    assert mis.realized_pnl_paise == cnc.realized_pnl_paise == 0


def test_convert_when_whole_position_and_back_then_source_closes_and_margin_is_retaken(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    reliance: Instrument,
) -> None:
    state = funded_account()
    trade(state, reliance, BUY, 10, PRICE, product=MIS)
    converted = _converted(execute(state, _convert(state, reliance, MIS, CNC, 10)))
    assert converted.position_quantity == 0
    assert state.position_for(reliance.instrument_id, MIS) is None
    assert converted.position_id not in state.positions
    blocked_as_cnc = state.blocked_paise

    back = _converted(execute(state, _convert(state, reliance, CNC, MIS, 10)))

    # Back to MIS: 20 % of the cost 1,542,800 = 308,560 in place of the CNC block.
    assert back.target_margin_paise == 308_560
    assert state.position_for(reliance.instrument_id, CNC) is None
    mis = state.position_for(reliance.instrument_id, MIS)
    assert mis is not None
    assert (mis.quantity, mis.cost_paise, mis.margin_paise) == (10, 1_542_800, 308_560)
    assert state.blocked_paise == blocked_as_cnc - 1_542_800 + 308_560


def test_convert_when_target_product_is_held_then_units_merge_into_it(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    reliance: Instrument,
) -> None:
    state = funded_account()
    trade(state, reliance, BUY, 2, PRICE, product=CNC)
    trade(state, reliance, BUY, 3, PRICE + 1_000, product=MIS)
    cnc = state.position_for(reliance.instrument_id, CNC)
    assert cnc is not None
    paid = (cnc.buy_brokerage_paise, cnc.buy_taxes_paise)

    converted = _converted(execute(state, _convert(state, reliance, MIS, CNC, 3)))

    # CNC 2 @ 1542.80 (308,560) + 3 @ 1552.80 (465,840) = 5 costing 774,400, all blocked.
    assert converted.target_position_id == cnc.position_id
    assert (cnc.quantity, cnc.cost_paise, cnc.margin_paise) == (5, 774_400, 774_400)
    # The MIS buys paid intraday charges, tracked by none: the CNC buys' stay as they were.
    assert (cnc.buy_brokerage_paise, cnc.buy_taxes_paise) == paid
    assert state.position_for(reliance.instrument_id, MIS) is None


def test_convert_cnc_to_mis_when_part_then_todays_buy_charges_stay_with_the_cnc_shares(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    reliance: Instrument,
) -> None:
    state = funded_account()
    trade(state, reliance, BUY, 10, PRICE, product=CNC)
    cnc = state.position_for(reliance.instrument_id, CNC)
    assert cnc is not None
    brokerage, taxes = cnc.buy_brokerage_paise, cnc.buy_taxes_paise
    assert taxes > 0

    converted = _converted(execute(state, _convert(state, reliance, CNC, MIS, 4)))

    # 6 of 10 stay CNC with 6/10 of what they paid (floored); MIS tracks none.
    assert converted.position_buy_brokerage_paise == brokerage - brokerage * 4 // 10
    assert converted.position_buy_taxes_paise == taxes - taxes * 4 // 10
    assert (converted.target_buy_brokerage_paise, converted.target_buy_taxes_paise) == (0, 0)
    # MIS blocks 20 % of the 617,120 moved.
    assert converted.target_margin_paise == 123_424
    assert (cnc.buy_brokerage_paise, cnc.buy_taxes_paise) == (
        converted.position_buy_brokerage_paise,
        converted.position_buy_taxes_paise,
    )


# --------------------------------------------------------------------------------------------
# derivatives: MIS and NRML


def test_convert_future_mis_to_nrml_then_portfolio_margin_is_the_same_over_the_moved_legs(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    nifty_fut: Instrument,
) -> None:
    state = funded_account()
    lot = nifty_fut.lot_size
    price = nifty_fut.reference_price_paise
    trade(state, nifty_fut, BUY, 2 * lot, price, product=MIS)
    (portfolio_before,) = state.portfolio_margin.values()
    balance, blocked = state.balance_paise, state.blocked_paise

    converted = _converted(execute(state, _convert(state, nifty_fut, MIS, NRML, lot)))

    # Futures are margined by portfolio, whatever their product: the same margin, now over an
    # MIS lot and an NRML lot.
    assert converted.portfolio is not None
    assert converted.portfolio.margin_paise == portfolio_before
    mis = state.position_for(nifty_fut.instrument_id, MIS)
    nrml = state.position_for(nifty_fut.instrument_id, NRML)
    assert mis is not None and nrml is not None
    assert (mis.quantity, nrml.quantity) == (lot, lot)
    assert mis.cost_paise + nrml.cost_paise == 2 * lot * price
    assert converted.portfolio.position_ids == tuple(sorted((mis.position_id, nrml.position_id)))
    assert (state.balance_paise, state.blocked_paise) == (balance, blocked)


def test_convert_short_option_nrml_to_mis_then_short_moves(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    nifty_call: Instrument,
) -> None:
    state = funded_account()
    lot = nifty_call.lot_size
    price = nifty_call.reference_price_paise
    trade(state, nifty_call, SELL, lot, price, product=NRML)

    converted = _converted(execute(state, _convert(state, nifty_call, NRML, MIS, lot)))

    mis = state.position_for(nifty_call.instrument_id, MIS)
    assert mis is not None
    assert (mis.quantity, mis.cost_paise) == (-lot, -lot * price)
    assert converted.portfolio is not None
    assert converted.portfolio.position_ids == (mis.position_id,)


# --------------------------------------------------------------------------------------------
# refusals, in precedence order


def test_convert_when_position_is_not_open_then_position_closed(
    funded_account: Callable[..., AccountState], rules: AccountRules, reliance: Instrument
) -> None:
    command = cmd.ConvertPosition(
        now_ms=NOW_MS, position_id="gone", product=CNC, quantity=1, instrument=reliance
    )
    assert _refused(funded_account(), command, rules) is Rejection.POSITION_CLOSED


@pytest.mark.parametrize(
    ("side", "held", "to"),
    [
        pytest.param(BUY, MIS, MIS, id="same-product"),
        pytest.param(BUY, MIS, NRML, id="equity-to-nrml"),
        pytest.param(SELL, MIS, CNC, id="short-to-cnc"),
    ],
)
def test_convert_when_product_is_not_convertible_then_product_not_allowed(
    side: Side,
    held: Product,
    to: Product,
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    trade: Trade,
    reliance: Instrument,
) -> None:
    state = funded_account()
    trade(state, reliance, side, 5, PRICE, product=held)
    command = _convert(state, reliance, held, to, 5)
    assert _refused(state, command, rules) is Rejection.PRODUCT_NOT_ALLOWED


def test_convert_future_to_cnc_then_product_not_allowed(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    trade: Trade,
    nifty_fut: Instrument,
) -> None:
    state = funded_account()
    trade(state, nifty_fut, BUY, nifty_fut.lot_size, nifty_fut.reference_price_paise)
    command = _convert(state, nifty_fut, MIS, CNC, nifty_fut.lot_size)
    assert _refused(state, command, rules) is Rejection.PRODUCT_NOT_ALLOWED


@pytest.mark.parametrize("quantity", [0, -1, 11])
def test_convert_when_quantity_is_not_held_then_invalid_quantity(
    quantity: int,
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    trade: Trade,
    reliance: Instrument,
) -> None:
    state = funded_account()
    trade(state, reliance, BUY, 10, PRICE, product=MIS)
    command = _convert(state, reliance, MIS, CNC, quantity)
    assert _refused(state, command, rules) is Rejection.INVALID_QUANTITY


def test_convert_future_when_not_whole_lots_then_invalid_quantity(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    trade: Trade,
    nifty_fut: Instrument,
) -> None:
    state = funded_account()
    lot = nifty_fut.lot_size
    trade(state, nifty_fut, BUY, 2 * lot, nifty_fut.reference_price_paise)
    command = _convert(state, nifty_fut, MIS, NRML, lot + 1)
    assert _refused(state, command, rules) is Rejection.INVALID_QUANTITY


def test_convert_when_working_orders_will_close_units_then_only_the_rest_converts(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    execute: Execute,
    trade: Trade,
    quote_for: QuoteFor,
    reliance: Instrument,
) -> None:
    state = funded_account()
    trade(state, reliance, BUY, 10, PRICE, product=MIS)
    sell = place(
        reliance,
        order_id="exit",
        side=SELL,
        order_type=OrderType.LIMIT,
        quantity=4,
        price_paise=PRICE + 5_000,
        quote=quote_for(reliance, PRICE),
    )
    assert execute(state, sell).rejection is None
    # 4 of the 10 are spoken for by the working sell: 6 can move, 7 cannot.
    assert _refused(state, _convert(state, reliance, MIS, CNC, 7), rules) is (
        Rejection.INVALID_QUANTITY
    )
    assert _converted(execute(state, _convert(state, reliance, MIS, CNC, 6))).quantity == 6


def test_convert_when_target_position_is_on_the_other_side_then_opposite_position(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    trade: Trade,
    nifty_fut: Instrument,
) -> None:
    state = funded_account()
    lot, price = nifty_fut.lot_size, nifty_fut.reference_price_paise
    trade(state, nifty_fut, BUY, lot, price, product=MIS)
    trade(state, nifty_fut, SELL, lot, price, product=NRML)
    command = _convert(state, nifty_fut, MIS, NRML, lot)
    assert _refused(state, command, rules) is Rejection.OPPOSITE_POSITION


def test_convert_when_funds_do_not_cover_the_added_margin_then_insufficient_funds(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    execute: Execute,
    trade: Trade,
    reliance: Instrument,
) -> None:
    # ₹5,000 buys 10 MIS (margin 308,560 plus charges); CNC would need the whole 1,542,800.
    state = funded_account(500_000)
    trade(state, reliance, BUY, 10, PRICE, product=MIS)
    assert _refused(state, _convert(state, reliance, MIS, CNC, 10), rules) is (
        Rejection.INSUFFICIENT_FUNDS
    )
    # One share adds 154,280 - 30,856 = 123,424, which the funds cover.
    assert state.available_paise >= 123_424
    assert _converted(execute(state, _convert(state, reliance, MIS, CNC, 1))).quantity == 1


@pytest.mark.parametrize(
    ("held", "to", "at", "expected"),
    [
        pytest.param(MIS, CNC, _ist(23, 15, 19), None, id="mis-to-cnc-before-square-off"),
        pytest.param(MIS, CNC, _ist(23, 15, 20), Rejection.MARKET_CLOSED, id="mis-at-square-off"),
        pytest.param(CNC, MIS, _ist(23, 15, 20), Rejection.MARKET_CLOSED, id="into-mis-late"),
        pytest.param(CNC, MIS, _ist(23, 9, 14), Rejection.MARKET_CLOSED, id="before-open"),
        pytest.param(CNC, MIS, _ist(23, 9, 15), None, id="at-open"),
    ],
)
def test_convert_when_session_is_closed_for_an_intraday_side_then_market_closed(
    held: Product,
    to: Product,
    at: int,
    expected: Rejection | None,
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    hours_rules: AccountRules,
    trade: Trade,
    reliance: Instrument,
) -> None:
    state = funded_account()
    trade(state, reliance, BUY, 5, PRICE, product=held)
    command = _convert(state, reliance, held, to, 5, now_ms=at)
    if expected is None:
        assert _converted(run_command(state, command, hours_rules)).quantity == 5
    else:
        assert _refused(state, command, hours_rules) is expected


def test_position_converted_when_journaled_then_replay_rebuilds_the_same_state(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    reliance: Instrument,
) -> None:
    state = funded_account()
    events: list[Any] = []
    for decision in trade(state, reliance, BUY, 10, PRICE, product=MIS):
        events.extend(decision.events)
    events.extend(execute(state, _convert(state, reliance, MIS, CNC, 4)).events)

    replayed = funded_account()
    apply_all(replayed, [ev.decode_event(ev.encode_event(e)) for e in events])
    assert state_fingerprint(replayed) == state_fingerprint(state)


def test_convert_one_unit_onto_one_unit_then_merged_and_cnc_blocks_both(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    reliance: Instrument,
) -> None:
    state = funded_account()
    trade(state, reliance, BUY, 1, PRICE, product=CNC)
    trade(state, reliance, BUY, 1, PRICE, product=MIS)
    converted = _converted(execute(state, _convert(state, reliance, MIS, CNC, 1)))
    # A long of one onto a long of one: 2 CNC shares, blocking their whole value.
    assert (converted.target_quantity, converted.target_cost_paise) == (2, 2 * PRICE)
    assert converted.target_margin_paise == 2 * PRICE


def test_convert_short_when_working_buys_will_close_units_then_only_the_rest_converts(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    execute: Execute,
    trade: Trade,
    quote_for: QuoteFor,
    nifty_fut: Instrument,
) -> None:
    state = funded_account()
    lot, price = nifty_fut.lot_size, nifty_fut.reference_price_paise
    trade(state, nifty_fut, SELL, 2 * lot, price, product=MIS)
    cover = place(
        nifty_fut,
        order_id="cover",
        side=BUY,
        quantity=lot,
        price_paise=price - 1_000,
        quote=quote_for(nifty_fut, price),
    )
    assert execute(state, cover).rejection is None
    command = _convert(state, nifty_fut, MIS, NRML, 2 * lot)
    assert _refused(state, command, rules) is Rejection.INVALID_QUANTITY
    assert _converted(execute(state, _convert(state, nifty_fut, MIS, NRML, lot))).quantity == lot


def test_convert_commodity_future_in_the_evening_then_taken_in_its_own_session(
    funded_account: Callable[..., AccountState],
    hours_rules: AccountRules,
    trade: Trade,
    crude_fut: Instrument,
) -> None:
    state = funded_account()
    lot, price = crude_fut.lot_size, crude_fut.reference_price_paise
    trade(state, crude_fut, BUY, lot, price, product=MIS)
    # 20:00 IST: the equity session has closed, MCX's runs till 23:30.
    command = _convert(state, crude_fut, MIS, NRML, lot, now_ms=_ist(23, 20, 0))
    assert _converted(run_command(state, command, hours_rules)).target_quantity == lot


def test_convert_derivative_when_its_market_is_not_stamped_then_price_unavailable(
    funded_account: Callable[..., AccountState],
    rules: AccountRules,
    trade: Trade,
    nifty_fut: Instrument,
    nifty_call: Instrument,
) -> None:
    state = funded_account()
    trade(state, nifty_fut, BUY, nifty_fut.lot_size, nifty_fut.reference_price_paise)
    command = _convert(state, nifty_fut, MIS, NRML, nifty_fut.lot_size)
    elsewhere = market_of(rules, [nifty_call], now_ms=NOW_MS)  # a market without the future
    for market in (None, elsewhere):
        stamped = msgspec.structs.replace(command, market=market)
        assert decide(state, stamped, rules) == Decision((), Rejection.PRICE_UNAVAILABLE)


def test_convert_derivative_when_nothing_is_available_then_taken_as_it_adds_no_margin(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    nifty_fut: Instrument,
    nifty_call: Instrument,
) -> None:
    state = funded_account()
    lot = nifty_fut.lot_size
    trade(state, nifty_fut, BUY, lot, nifty_fut.reference_price_paise, product=MIS)
    trade(state, nifty_call, BUY, lot, nifty_call.reference_price_paise, product=NRML)
    _spend_all_but(state, execute, 0)
    (portfolio_before,) = state.portfolio_margin.values()

    converted = _converted(execute(state, _convert(state, nifty_fut, MIS, NRML, lot)))

    assert converted.portfolio is not None
    assert converted.portfolio.margin_paise == portfolio_before
    # Every open position on NIFTY stays in its portfolio, the call's too.
    call = state.position_for(nifty_call.instrument_id, NRML)
    assert call is not None
    assert call.position_id in converted.portfolio.position_ids
    assert converted.target_position_id in converted.portfolio.position_ids
    assert state.available_paise == 0


def test_convert_equity_when_available_is_exactly_the_margin_added_then_taken(
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
    reliance: Instrument,
) -> None:
    state = funded_account()
    trade(state, reliance, BUY, 10, PRICE, product=MIS)
    # One share adds its value 154,280 less its MIS margin share 30,856.
    _spend_all_but(state, execute, 123_424)
    assert _converted(execute(state, _convert(state, reliance, MIS, CNC, 1))).quantity == 1
    assert state.available_paise == 0


def _spend_all_but(state: AccountState, execute: Execute, left_paise: int) -> None:
    """Debit the account's funds down to ``left_paise`` available."""
    debit = cmd.DebitFunds(
        now_ms=NOW_MS,
        amount_paise=state.available_paise - left_paise,
        kind=FundKind.ADJUSTMENT,
        reference="spent",
    )
    assert execute(state, debit).rejection is None
    assert state.available_paise == left_paise
