"""What one fill changes: the position, the holding, realized P&L and the charges (docs/DOMAIN.md
§1), computed as one ``OrderFilled`` event; and the market exits that close a position or sell a
holding whole at one price."""

from __future__ import annotations

import msgspec

from engine.domain import events as ev
from engine.domain.account.state import AccountState, new_position_id
from engine.domain.charges import (
    FIRST_FILL,
    ChargeBreakdown,
    ChargeCategory,
    OrderSoFar,
    charge_category,
    order_charges,
)
from engine.domain.enums import (
    OrderStatus,
    OrderType,
    PriceSource,
    Product,
    Side,
    Validity,
)
from engine.domain.instruments import Instrument
from engine.domain.margin import order_margin, pro_rata
from engine.domain.money import div_half_up
from engine.domain.parameters import ChargeSchedule
from engine.domain.positions import fill_against, opening_quantity
from engine.domain.rules import (
    AccountRules,
)


def fill_event(
    state: AccountState,
    rules: AccountRules,
    *,
    instrument: Instrument,
    order_id: str,
    product: Product,
    side: Side,
    quantity: int,
    price_paise: int,
    underlying_price_paise: int,
    now_ms: int,
    block_released: int,
    status_after: OrderStatus,
    filled_before: int,
    so_far: OrderSoFar = FIRST_FILL,
) -> ev.OrderFilled:
    """Compute everything a fill changes: position, holding, realized P&L and charges.

    ``so_far`` is what the order's earlier fills traded and paid in brokerage (per order)."""
    instrument_id = instrument.instrument_id
    trade_date = rules.trade_date(now_ms)
    trade_day = rules.trade_day(now_ms)
    schedule = rules.charges.on(trade_date)
    exchange = instrument.exchange.value
    position = state.position_for(instrument_id, product)
    held, cost, margin, buy_brokerage, buy_taxes = (
        (0, 0, 0, 0, 0)
        if position is None
        else (
            position.quantity,
            position.cost_paise,
            position.margin_paise,
            position.buy_brokerage_paise,
            position.buy_taxes_paise,
        )
    )
    holding = state.holdings.get(instrument_id)
    holding_quantity, holding_cost = (
        (0, 0)
        if holding is None
        else (
            holding.quantity,
            holding.cost_paise,
        )
    )
    from_position = quantity
    if product is Product.CNC and side is Side.SELL:
        from_position = min(quantity, max(held, 0))
    from_holding = quantity - from_position

    realized = 0
    charges = ChargeBreakdown()
    rerated = (0, 0)  # a same-day CNC round trip's buy side, re-rated: (brokerage, taxes)
    category = charge_category(instrument.segment, product)
    if from_position:
        held_before, cost_before = held, cost
        signed = side.sign * from_position
        opened = opening_quantity(held, signed)
        opening_margin = 0
        if opened:
            opening_margin = order_margin(
                rules.margin,
                instrument,
                product,
                side,
                opened,
                price_paise,
                underlying_price_paise=underlying_price_paise,
                expiry_day=instrument.expiry == trade_date,
            )
        result = fill_against(
            held, cost, margin, signed, price_paise=price_paise, opening_margin_paise=opening_margin
        )
        held, cost, margin = result.quantity, result.cost_paise, result.margin_paise
        realized += result.realized_pnl_paise
        # A CNC sell against today's CNC buy is an intraday trade (docs/DOMAIN.md §1).
        position_category = (
            ChargeCategory.MIS if category is ChargeCategory.CNC and side is Side.SELL else category
        )
        leg = order_charges(
            schedule, position_category, exchange, side, from_position * price_paise, so_far=so_far
        )
        so_far = OrderSoFar(
            so_far.value_paise + from_position * price_paise,
            so_far.brokerage_paise + leg.brokerage_paise,
        )
        charges = charges + leg
        if category is ChargeCategory.CNC:
            (buy_brokerage, buy_taxes), rerated = _track_cnc_buys(
                schedule,
                exchange,
                side,
                leg,
                (buy_brokerage, buy_taxes),
                closed=from_position,
                held=held_before,
                cost=cost_before,
            )
    dp_day = 0
    if from_holding:
        cost_share = pro_rata(holding_cost, from_holding, holding_quantity)
        realized += from_holding * price_paise - cost_share
        holding_quantity -= from_holding
        holding_cost -= cost_share
        dp_applies = state.dp_charged_day.get(instrument_id) != trade_day
        dp_day = trade_day if dp_applies else 0
        charges = charges + order_charges(
            schedule,
            category,
            exchange,
            side,
            from_holding * price_paise,
            dp_applies=dp_applies,
            so_far=so_far,
        )
    if position is not None:
        position_id = position.position_id
    else:
        position_id = new_position_id(order_id, filled_before) if from_position else ""
    brokerage = charges.brokerage_paise + rerated[0]
    total = charges.total_paise + rerated[0] + rerated[1]
    return ev.OrderFilled(
        at_ms=now_ms,
        order_id=order_id,
        instrument_id=instrument_id,
        product=product,
        side=side,
        quantity=quantity,
        price_paise=price_paise,
        status_after=status_after,
        block_released_paise=block_released,
        charges_paise=total,
        brokerage_paise=brokerage,
        taxes_paise=total - brokerage,
        realized_pnl_paise=realized,
        position_id=position_id,
        position_quantity=held,
        position_cost_paise=cost,
        position_margin_paise=margin,
        holding_quantity=holding_quantity,
        holding_cost_paise=holding_cost,
        dp_day=dp_day,
        position_buy_brokerage_paise=buy_brokerage,  # all refunded once nothing is held
        position_buy_taxes_paise=buy_taxes,
        order_brokerage_paise=charges.brokerage_paise,
    )


def _track_cnc_buys(
    schedule: ChargeSchedule,
    exchange: str,
    side: Side,
    leg: ChargeBreakdown,
    paid: tuple[int, int],
    *,
    closed: int,
    held: int,
    cost: int,
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Today's CNC buys in a position after a fill of ``leg``: what they paid as (brokerage,
    taxes), and what a same-day sell of ``closed`` of the ``held`` shares (bought for ``cost``)
    changes to re-rate the buys it closes from delivery to intraday (docs/DOMAIN.md §1): their
    share of what they paid comes back and their intraday charges are taken instead."""
    brokerage, taxes = paid
    if side is Side.BUY:
        paid_now = (brokerage + leg.brokerage_paise, taxes + leg.total_paise - leg.brokerage_paise)
        return paid_now, (0, 0)
    if brokerage == 0 and taxes == 0:  # nothing tracked: journaled before this was tracked
        return paid, (0, 0)
    refund_brokerage = pro_rata(brokerage, closed, held)
    refund_taxes = pro_rata(taxes, closed, held)
    intraday = order_charges(
        schedule, ChargeCategory.MIS, exchange, Side.BUY, pro_rata(cost, closed, held)
    )
    return (brokerage - refund_brokerage, taxes - refund_taxes), (
        intraday.brokerage_paise - refund_brokerage,
        intraday.total_paise - intraday.brokerage_paise - refund_taxes,
    )


def market_exit(
    state: AccountState,
    rules: AccountRules,
    *,
    order_id: str,
    instrument: Instrument,
    product: Product,
    side: Side,
    quantity: int,
    price_paise: int,
    now_ms: int,
    price_source: PriceSource | None,
) -> tuple[ev.OrderAccepted, ev.OrderFilled]:
    """A MARKET exit order accepted and filled whole at ``price_paise`` in one decision."""
    accepted = ev.OrderAccepted(
        at_ms=now_ms,
        order_id=order_id,
        client_order_id=None,
        instrument_id=instrument.instrument_id,
        side=side,
        product=product,
        order_type=OrderType.MARKET,
        validity=Validity.DAY,
        quantity=quantity,
        price_paise=0,
        trigger_paise=0,
        margin_blocked_paise=0,
    )
    filled = fill_event(
        state,
        rules,
        instrument=instrument,
        order_id=order_id,
        product=product,
        side=side,
        quantity=quantity,
        price_paise=price_paise,
        underlying_price_paise=0,
        now_ms=now_ms,
        block_released=0,
        status_after=OrderStatus.EXECUTED,
        filled_before=0,
    )
    if price_source is not None:
        filled = msgspec.structs.replace(filled, price_source=price_source.value)
    return accepted, filled


SQUARE_OFF = "SQUARE_OFF"
GST_PERCENT = 18  # the square-off fee is ₹50 + 18 % GST


def with_squareoff_fee(filled: ev.OrderFilled, schedule: ChargeSchedule) -> ev.OrderFilled:
    """The broker's fee per auto squared-off order, on top of its normal charges (docs/DOMAIN.md
    §6): the fee to brokerage, its GST to taxes, as the ledger books them."""
    fee = schedule.squareoff_charge_paise
    fee_brokerage = div_half_up(fee * 100, 100 + GST_PERCENT)
    return msgspec.structs.replace(
        filled,
        charges_paise=filled.charges_paise + fee,
        brokerage_paise=filled.brokerage_paise + fee_brokerage,
        taxes_paise=filled.taxes_paise + fee - fee_brokerage,
    )
