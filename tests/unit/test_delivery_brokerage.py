"""Delivery (CNC) fills when the schedule charges brokerage on delivery, exact to the paisa.

The shipped schedule charges no delivery brokerage, which hides every rule that moves delivery
brokerage around; a broker that charges it (a rate with a per-order cap, like intraday) is one
edit of ``[charges.schedule.cnc]``. With delivery at 0.05 % (cap ₹20) and intraday at the
shipped 0.03 % (cap ₹20), this proves that a CNC position remembers exactly what today's buys
paid (brokerage and taxes, split as the ledger books them), that a same-day sell re-rates the
buys it closes from delivery to intraday (their share of what they paid comes back, their
intraday charges are taken) and keeps the rest for the shares still held, and that one sell
order drawing on today's buy and on older holdings pays brokerage once on its whole value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from engine.config import load_config
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState
from engine.domain.charges import ChargeBreakdown, ChargeCategory, order_charges
from engine.domain.enums import Product, Side
from engine.domain.instruments import Instrument
from engine.domain.money import Rate
from engine.domain.rules import AccountRules
from tests.conftest import DAY_MS, NOW_MS, make_quote, place, run_command

CNC, BUY, SELL = Product.CNC, Side.BUY, Side.SELL
PRICE = 316_000  # TCS at ₹3,160.00
CONFIG = load_config()


@pytest.fixture(scope="module")
def delivery_rules(rules: AccountRules) -> AccountRules:
    """The shipped rules with delivery brokerage at 0.05 %, capped at ₹20 per order."""
    schedules = tuple(
        dataclasses.replace(
            schedule,
            cnc=dataclasses.replace(
                schedule.cnc, brokerage=Rate.percent("0.05"), brokerage_max_paise=2_000
            ),
        )
        for schedule in rules.charges.schedules
    )
    charges = dataclasses.replace(rules.charges, schedules=schedules)
    return dataclasses.replace(rules, charges=charges)


@pytest.fixture
def account(delivery_rules: AccountRules) -> AccountState:
    state = AccountState("acc-1")
    credit = cmd.CreditFunds(now_ms=NOW_MS, amount_paise=10**9, kind="DEPOSIT", reference="d")
    run_command(state, credit, delivery_rules)
    return state


Trade = Callable[..., ev.OrderFilled]


@pytest.fixture
def trade(delivery_rules: AccountRules) -> Trade:
    """``trade(state, instrument, side, quantity, now_ms=NOW_MS)``: a CNC LIMIT at ``PRICE``
    placed and filled whole; returns its fill."""
    numbers = iter(range(1, 1_000))

    def run(
        state: AccountState, instrument: Instrument, side: Side, quantity: int, now_ms: int = NOW_MS
    ) -> ev.OrderFilled:
        order_id = f"d{next(numbers)}"
        terms = place(
            instrument,
            order_id=order_id,
            side=side,
            product=CNC,
            quantity=quantity,
            price_paise=PRICE,
            quote=make_quote(CONFIG, instrument, PRICE),
            now_ms=now_ms,
        )
        assert run_command(state, terms, delivery_rules).rejection is None
        decision = run_command(
            state,
            cmd.FillOrder(order_id, instrument, quantity, PRICE, now_ms=now_ms),
            delivery_rules,
        )
        assert decision.rejection is None
        (filled,) = decision.events
        assert isinstance(filled, ev.OrderFilled)
        return filled

    return run


def _charges(
    rules: AccountRules, category: ChargeCategory, side: Side, quantity: int
) -> ChargeBreakdown:
    schedule = rules.charges.on(rules.trade_date(NOW_MS))
    return order_charges(schedule, category, "NSE", side, quantity * PRICE)


def test_cnc_buy_when_delivery_brokerage_charged_then_position_remembers_what_it_paid(
    account: AccountState, trade: Trade, tcs: Instrument
) -> None:
    filled = trade(account, tcs, BUY, 3)

    # 0.05 % of ₹9,480.00 = ₹4.74; the taxes are everything else the fill was charged
    assert filled.brokerage_paise == 474
    assert filled.taxes_paise == filled.charges_paise - 474
    assert (filled.position_buy_brokerage_paise, filled.position_buy_taxes_paise) == (
        474,
        filled.taxes_paise,
    )
    (position,) = account.positions.values()
    assert (position.buy_brokerage_paise, position.buy_taxes_paise) == (474, filled.taxes_paise)


def test_cnc_buys_when_two_then_position_sums_what_both_paid(
    account: AccountState, trade: Trade, tcs: Instrument
) -> None:
    first = trade(account, tcs, BUY, 1)
    second = trade(account, tcs, BUY, 2)

    (position,) = account.positions.values()
    # ₹3,160 × 0.05 % = 158 paise; ₹6,320 × 0.05 % = 316 paise
    assert (first.brokerage_paise, second.brokerage_paise) == (158, 316)
    assert position.buy_brokerage_paise == 158 + 316
    assert position.buy_taxes_paise == first.taxes_paise + second.taxes_paise


def test_cnc_sell_when_part_of_todays_buy_then_rerated_to_intraday_and_rest_kept(
    account: AccountState, trade: Trade, tcs: Instrument, delivery_rules: AccountRules
) -> None:
    bought = trade(account, tcs, BUY, 3)

    sold = trade(account, tcs, SELL, 1)

    # The sell itself is intraday (0.03 % of ₹3,160 = 94.8 -> 95 paise). The share it closes
    # paid a third of the buy's 474 paise brokerage (158) as delivery; at intraday it owes 95:
    # 63 comes back. Its taxes are re-rated the same way.
    intraday_buy = _charges(delivery_rules, ChargeCategory.MIS, BUY, 1)
    intraday_sell = _charges(delivery_rules, ChargeCategory.MIS, SELL, 1)
    assert sold.order_brokerage_paise == 95
    assert sold.brokerage_paise == 95 + 95 - 158
    refund_taxes = bought.taxes_paise // 3
    expected_taxes = (
        intraday_sell.total_paise
        - intraday_sell.brokerage_paise
        + intraday_buy.total_paise
        - intraday_buy.brokerage_paise
        - refund_taxes
    )
    assert sold.taxes_paise == expected_taxes
    # Two shares still held keep what they paid: 474 - 158 and the taxes less their share.
    (position,) = account.positions.values()
    assert position.quantity == 2
    assert (position.buy_brokerage_paise, position.buy_taxes_paise) == (
        474 - 158,
        bought.taxes_paise - refund_taxes,
    )
    assert (sold.position_buy_brokerage_paise, sold.position_buy_taxes_paise) == (
        474 - 158,
        bought.taxes_paise - refund_taxes,
    )


def test_cnc_sell_when_whole_of_todays_buy_then_nothing_left_tracked(
    account: AccountState, trade: Trade, tcs: Instrument
) -> None:
    trade(account, tcs, BUY, 2)

    sold = trade(account, tcs, SELL, 2)

    assert sold.position_quantity == 0
    assert (sold.position_buy_brokerage_paise, sold.position_buy_taxes_paise) == (0, 0)
    assert account.positions == {}


def test_cnc_sell_when_todays_buy_and_older_holding_then_brokerage_once_on_whole_order(
    account: AccountState, trade: Trade, tcs: Instrument, delivery_rules: AccountRules
) -> None:
    trade(account, tcs, BUY, 2, now_ms=NOW_MS - DAY_MS)
    assert run_command(account, cmd.SettleHoldings(now_ms=NOW_MS - DAY_MS), delivery_rules).events
    trade(account, tcs, BUY, 1)

    sold = trade(account, tcs, SELL, 3)

    # One order of ₹9,480: the share bought today first (intraday, 0.03 % -> 95 paise), then
    # the two held, charged so that the order's brokerage is delivery's on its whole value:
    # 0.05 % of ₹9,480 = 474 paise in all, not 95 + 316 for two separate orders.
    assert sold.order_brokerage_paise == 474
    assert sold.holding_quantity == 0
    assert sold.position_quantity == 0


def test_cnc_sell_when_position_journaled_before_buys_were_tracked_then_not_rerated(
    account: AccountState, trade: Trade, tcs: Instrument, delivery_rules: AccountRules
) -> None:
    trade(account, tcs, BUY, 2)
    (position,) = account.positions.values()
    position.buy_brokerage_paise = position.buy_taxes_paise = 0  # as replayed from an old journal

    sold = trade(account, tcs, SELL, 1)

    intraday_sell = _charges(delivery_rules, ChargeCategory.MIS, SELL, 1)
    assert sold.brokerage_paise == 95
    assert sold.charges_paise == intraday_sell.total_paise
    assert (position.buy_brokerage_paise, position.buy_taxes_paise) == (0, 0)
