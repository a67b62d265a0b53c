"""Closing positions: the exit's side and size for any position, and the square-off fee.

Proves that ``ClosePosition`` exits a position of a single unit as well as a larger one (a
long of 1 sells 1, a short of 1 buys 1, neither is taken for closed); that an automatic
square-off (reason ``SQUARE_OFF``) adds the schedule's fee on top of the exit's normal charges,
its ₹50 to brokerage and its 18 % GST to taxes (docs/DOMAIN.md §6), rounded half-up when the fee is
not a whole multiple of 1.18, while a user, stop-loss or target close pays no fee; and that a
close priced by a fallback tier records that tier on its fill.

Amounts are paise; each hand computation sits in a comment next to its case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState, Decision
from engine.domain.enums import (
    CloseReason,
    OrderStatus,
    OrderType,
    PriceSource,
    Product,
    Rejection,
    Side,
    Validity,
)
from engine.domain.instruments import Instrument
from engine.domain.parameters import ChargesConfig
from engine.domain.rules import AccountRules
from tests.conftest import NOW_MS, Execute, run_command

CRORE_PAISE = 1_000_000_000
BUY, SELL = Side.BUY, Side.SELL
Trade = Callable[..., tuple[Any, Any]]


def _close(position_id: str, instrument: Instrument, price_paise: int, **kwargs: Any) -> Any:
    return cmd.ClosePosition(
        now_ms=NOW_MS,
        position_id=position_id,
        exit_order_id="x1",
        instrument=instrument,
        price_paise=price_paise,
        **kwargs,
    )


def _position_id(state: AccountState) -> str:
    (position,) = state.positions.values()
    return position.position_id


def _exit_fill(decision: Any) -> ev.OrderFilled:
    _, filled = decision.events
    assert isinstance(filled, ev.OrderFilled)
    return filled


def _with_squareoff_charge(rules: AccountRules, fee_paise: int) -> AccountRules:
    schedules = tuple(
        replace(schedule, squareoff_charge_paise=fee_paise) for schedule in rules.charges.schedules
    )
    return replace(rules, charges=ChargesConfig(schedules))


# --------------------------------------------------------------------------------------------
# one-unit positions


@pytest.mark.parametrize(
    ("side", "exit_side", "close_price", "realized"),
    [
        # long 1 @ 1542.90 sold @ 1547.90: +5.00
        pytest.param(BUY, SELL, 154790, 500, id="long-of-one"),
        # short 1 @ 1542.90 bought back @ 1537.90: +5.00
        pytest.param(SELL, BUY, 153790, 500, id="short-of-one"),
        # long 1 sold lower @ 1540.90: -2.00
        pytest.param(BUY, SELL, 154090, -200, id="long-of-one-at-loss"),
    ],
)
def test_close_position_when_one_unit_then_exits_that_unit_on_the_opposite_side(
    side: Side,
    exit_side: Side,
    close_price: int,
    realized: int,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, side, 1, 154290)
    assert next(iter(state.positions.values())).quantity == side.sign

    decision = execute(state, _close(_position_id(state), reliance, close_price))

    assert decision.rejection is None
    accepted, filled = decision.events
    assert isinstance(accepted, ev.OrderAccepted)
    assert (accepted.side, accepted.quantity, accepted.order_type) == (
        exit_side,
        1,
        OrderType.MARKET,
    )
    assert isinstance(filled, ev.OrderFilled)
    assert (filled.side, filled.quantity, filled.price_paise) == (exit_side, 1, close_price)
    assert filled.status_after is OrderStatus.EXECUTED
    assert (filled.position_quantity, filled.position_cost_paise) == (0, 0)
    assert filled.realized_pnl_paise == realized
    assert state.positions == {}
    assert state.position_ids == {}
    assert state.orders == {}
    assert state.blocked_paise == 0
    assert state.realized_pnl_paise == realized


def test_close_position_when_one_unit_closed_twice_then_second_is_position_closed(
    wipro: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, wipro, BUY, 1, 24487)
    position_id = _position_id(state)
    assert execute(state, _close(position_id, wipro, 24490)).rejection is None

    again = execute(state, _close(position_id, wipro, 24490))

    assert again == Decision((), Rejection.POSITION_CLOSED)


def test_close_position_when_position_holds_zero_units_then_position_closed(
    rules: AccountRules,
    wipro: Instrument,
    funded_account: Callable[..., AccountState],
    trade: Trade,
) -> None:
    # No event leaves a zero-unit position behind; a state that holds one (a bug elsewhere,
    # or an old journal) is still refused as closed rather than sent an empty exit order.
    state = funded_account(CRORE_PAISE)
    trade(state, wipro, BUY, 1, 24487)
    position = next(iter(state.positions.values()))
    position.quantity = 0

    decision = run_command(state, _close(position.position_id, wipro, 24490), rules)

    assert decision == Decision((), Rejection.POSITION_CLOSED)


# --------------------------------------------------------------------------------------------
# square-off fee


@pytest.mark.parametrize(
    ("reason", "charges", "brokerage"),
    [
        # normal MIS sell charges on ₹15 479: 9.94 of which brokerage 4.64, taxes 5.30;
        # the ₹59 fee adds 50.00 brokerage and 9.00 GST: 68.94, brokerage 54.64, taxes 14.30
        pytest.param(CloseReason.SQUARE_OFF, 994 + 5_900, 464 + 5_000, id="square-off"),
        pytest.param(CloseReason.USER, 994, 464, id="user"),
        pytest.param(CloseReason.STOP_LOSS, 994, 464, id="stop-loss"),
        pytest.param(CloseReason.TARGET, 994, 464, id="target"),
    ],
)
def test_close_position_when_squared_off_then_fee_added_split_into_brokerage_and_gst(
    reason: CloseReason,
    charges: int,
    brokerage: int,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154290)  # MIS buy charges 6.50
    assert state.charges_paise == 650

    decision = execute(state, _close(_position_id(state), reliance, 154790, reason=reason))

    filled = _exit_fill(decision)
    assert filled.charges_paise == charges
    assert filled.brokerage_paise == brokerage
    assert filled.taxes_paise == charges - brokerage
    assert filled.realized_pnl_paise == 5_000
    assert state.charges_paise == 650 + charges
    assert state.balance_paise == CRORE_PAISE + 5_000 - 650 - charges
    assert state.positions == {}
    assert state.blocked_paise == 0


@pytest.mark.parametrize(
    ("fee", "fee_brokerage"),
    [
        # 6000 × 100 / 118 = 5084.75 -> 5085 (half-up; floor would give 5084); GST 915
        pytest.param(6_000, 5_085, id="rounds-up"),
        # 5901 × 100 / 118 = 5000.85 -> 5001; GST 900
        pytest.param(5_901, 5_001, id="just-above-59"),
        # 5960 × 100 / 118 = 5050.85 -> 5051; GST 909
        pytest.param(5_960, 5_051, id="rounds-up-again"),
        # 5920 × 100 / 118 = 5016.95 -> 5017
        pytest.param(5_920, 5_017, id="near-whole"),
        # 5930 × 100 / 118 = 5025.42 -> 5025 (down)
        pytest.param(5_930, 5_025, id="rounds-down"),
        pytest.param(0, 0, id="no-fee"),
    ],
)
def test_squareoff_fee_when_not_whole_after_gst_then_split_half_up(
    fee: int,
    fee_brokerage: int,
    rules: AccountRules,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    trade: Trade,
) -> None:
    priced = _with_squareoff_charge(rules, fee)
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154290)

    decision = run_command(
        state, _close(_position_id(state), reliance, 154790, reason=CloseReason.SQUARE_OFF), priced
    )

    filled = _exit_fill(decision)
    assert filled.charges_paise == 994 + fee
    assert filled.brokerage_paise == 464 + fee_brokerage
    assert filled.taxes_paise == 530 + fee - fee_brokerage
    assert state.charges_paise == 650 + 994 + fee


def test_squareoff_when_short_future_then_fee_on_top_of_exit_charges(
    nifty_fut: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    # short 65 NIFTY Dec @ 26138.60, squared off @ 26138.60: a future buy on ₹16 99 009 pays
    # brokerage 20 (cap), exchange 31.09, SEBI 1.70, GST 9.50, stamp 33.98 = 96.27
    state = funded_account(CRORE_PAISE)
    trade(state, nifty_fut, SELL, 65, 2613860, product=Product.MIS)

    decision = execute(
        state, _close(_position_id(state), nifty_fut, 2613860, reason=CloseReason.SQUARE_OFF)
    )

    filled = _exit_fill(decision)
    assert filled.side is BUY
    assert filled.charges_paise == 9_627 + 5_900
    assert filled.brokerage_paise == 2_000 + 5_000
    assert filled.taxes_paise == 7_627 + 900
    assert filled.realized_pnl_paise == 0


# --------------------------------------------------------------------------------------------
# the exit order and its price source


@pytest.mark.parametrize(
    ("source", "recorded"),
    [
        pytest.param(PriceSource.STORED, "STORED", id="stored"),
        pytest.param(PriceSource.POSITION_AVERAGE, "POSITION_AVERAGE", id="position-average"),
        pytest.param(None, "", id="none"),
    ],
)
def test_close_position_when_price_source_given_then_recorded_on_exit_fill(
    source: PriceSource | None,
    recorded: str,
    reliance: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    state = funded_account(CRORE_PAISE)
    trade(state, reliance, BUY, 10, 154290)

    decision = execute(state, _close(_position_id(state), reliance, 154790, price_source=source))

    accepted, filled = decision.events
    assert isinstance(filled, ev.OrderFilled)
    assert filled.price_source == recorded
    assert accepted == ev.OrderAccepted(
        at_ms=NOW_MS,
        order_id="x1",
        client_order_id=None,
        instrument_id=reliance.instrument_id,
        side=SELL,
        product=Product.MIS,
        order_type=OrderType.MARKET,
        validity=Validity.DAY,
        quantity=10,
        price_paise=0,
        trigger_paise=0,
        margin_blocked_paise=0,
    )
    assert filled.block_released_paise == 0
    assert filled.order_id == "x1"
    assert filled.at_ms == NOW_MS


def test_close_position_when_price_is_one_paisa_on_a_one_paisa_tick_then_accepted(
    wipro: Instrument,
    funded_account: Callable[..., AccountState],
    execute: Execute,
    trade: Trade,
) -> None:
    # WIPRO's tick is 1 paisa, so 0.01 is a valid (if ruinous) exit price: 1 − 244.87
    state = funded_account(CRORE_PAISE)
    trade(state, wipro, BUY, 1, 24487)

    decision = execute(state, _close(_position_id(state), wipro, 1))

    assert decision.rejection is None
    assert _exit_fill(decision).realized_pnl_paise == 1 - 24487
    assert state.positions == {}
