"""What one fill changes: the position, the holding, realized P&L and the charges (docs/DOMAIN.md
§1), computed as one ``OrderFilled`` event; and the market exits that close a position or sell a
holding whole at one price."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

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
    CloseReason,
    OrderStatus,
    OrderType,
    PriceSource,
    Product,
    Side,
    Validity,
)
from engine.domain.instruments import Instrument
from engine.domain.margin import equity_margin, pro_rata
from engine.domain.money import div_half_up
from engine.domain.parameters import ChargeSchedule
from engine.domain.portfolio import (
    MarginLeg,
    UnderlyingMarket,
    is_derivative,
    position_legs,
)
from engine.domain.positions import Position, fill_against, opening_quantity
from engine.domain.rules import (
    AccountRules,
)


class _Fill(NamedTuple):
    """One fill as the account sees it: what, where, at what price, on which day."""

    instrument: Instrument
    product: Product
    side: Side
    price_paise: int
    trade_date: date
    trade_day: int
    schedule: ChargeSchedule


class _PositionLeg(NamedTuple):
    """The position after the part of a fill it takes, and what that part realized and cost."""

    quantity: int
    cost_paise: int
    margin_paise: int
    realized_pnl_paise: int
    charges: ChargeBreakdown
    so_far: OrderSoFar  # the order's traded value and brokerage, this part included
    buy_paid: tuple[int, int]  # what today's CNC buys still held paid: (brokerage, taxes)
    rerated: tuple[int, int]  # a same-day CNC round trip's buy side, re-rated: (brokerage, taxes)


class _HoldingLeg(NamedTuple):
    """The holding after the part of a delivery sell it takes, and what that part realized and
    cost."""

    quantity: int
    cost_paise: int
    realized_pnl_paise: int
    charges: ChargeBreakdown
    dp_day: int  # the trade day its DP charge was taken (0: none taken)


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
    market: UnderlyingMarket | None,
    now_ms: int,
    block_released: int,
    status_after: OrderStatus,
    filled_before: int,
    so_far: OrderSoFar = FIRST_FILL,
) -> ev.OrderFilled:
    """Compute everything a fill changes: position, holding, realized P&L, charges and, for a
    derivative, its underlying's portfolio margin (at ``market``: without one the portfolio's
    block is left as it was, for a later revaluation).

    A delivery sell takes first from today's CNC position, then from holdings; anything else
    is all position. ``so_far`` is what the order's earlier fills traded and paid in brokerage
    (per order)."""
    trade_date = rules.trade_date(now_ms)
    fill = _Fill(
        instrument,
        product,
        side,
        price_paise,
        trade_date,
        rules.trade_day(now_ms),
        rules.charges.on(trade_date),
    )
    position = state.position_for(instrument.instrument_id, product)
    from_position = quantity
    if product is Product.CNC and side is Side.SELL:
        from_position = min(quantity, max(position.quantity if position else 0, 0))
    taken = _position_leg(position, fill, rules, from_position, so_far)
    sold = _holding_leg(state, fill, quantity - from_position, taken.so_far)
    if position is not None:
        position_id = position.position_id
    else:
        position_id = new_position_id(order_id, filled_before) if from_position else ""
    portfolio = None
    if market is not None and is_derivative(instrument):
        portfolio = _portfolio_after(
            state, rules, market, fill, position_id, taken.quantity, taken.cost_paise
        )
    charges = taken.charges + sold.charges
    brokerage = charges.brokerage_paise + taken.rerated[0]
    total = charges.total_paise + taken.rerated[0] + taken.rerated[1]
    return ev.OrderFilled(
        at_ms=now_ms,
        order_id=order_id,
        instrument_id=instrument.instrument_id,
        product=product,
        side=side,
        quantity=quantity,
        price_paise=price_paise,
        status_after=status_after,
        block_released_paise=block_released,
        charges_paise=total,
        brokerage_paise=brokerage,
        taxes_paise=total - brokerage,
        realized_pnl_paise=taken.realized_pnl_paise + sold.realized_pnl_paise,
        position_id=position_id,
        position_quantity=taken.quantity,
        position_cost_paise=taken.cost_paise,
        position_margin_paise=taken.margin_paise,
        holding_quantity=sold.quantity,
        holding_cost_paise=sold.cost_paise,
        dp_day=sold.dp_day,
        position_buy_brokerage_paise=taken.buy_paid[0],  # all refunded once nothing is held
        position_buy_taxes_paise=taken.buy_paid[1],
        order_brokerage_paise=charges.brokerage_paise,
        portfolio=portfolio,
    )


def _portfolio_after(  # noqa: PLR0917 (the fill and the position it leaves)
    state: AccountState,
    rules: AccountRules,
    market: UnderlyingMarket,
    fill: _Fill,
    position_id: str,
    quantity: int,
    cost_paise: int,
) -> ev.PortfolioBlock | None:
    """The underlying's portfolio margin once the filled position is ``quantity`` at
    ``cost_paise`` (None when ``market`` does not carry the filled contract)."""
    instrument = fill.instrument
    leg_market = market.leg(instrument.instrument_id)
    if leg_market is None:
        return None
    legs = position_legs(state.positions.values(), market)
    key = (instrument.instrument_id, fill.product.value)
    legs.pop(key, None)
    if quantity:
        legs[key] = MarginLeg(leg_market, quantity, cost_paise)
    margin = rules.portfolio.margin(tuple(legs.values()), market, fill.trade_date)
    members = [
        held.position_id
        for held in state.positions.values()
        if held.position_id != position_id and market.leg(held.instrument_id) is not None
    ]
    if quantity:
        members.append(position_id)
    return ev.PortfolioBlock(
        underlying=market.name,
        margin_paise=margin.blocked_paise,
        position_ids=tuple(sorted(members)),
    )


def _position_leg(
    position: Position | None, fill: _Fill, rules: AccountRules, quantity: int, so_far: OrderSoFar
) -> _PositionLeg:
    """The position after ``quantity`` of ``fill`` (0: untouched): the units it opens take fresh
    margin at the fill price, the units it closes realize against the exact cost and release
    their margin pro rata; charged at the category's rates, a delivery sell at intraday rates."""
    if position is None:
        held, cost, margin, paid = 0, 0, 0, (0, 0)
    else:
        held, cost, margin = position.quantity, position.cost_paise, position.margin_paise
        paid = (position.buy_brokerage_paise, position.buy_taxes_paise)
    if not quantity:
        return _PositionLeg(held, cost, margin, 0, ChargeBreakdown(), so_far, paid, (0, 0))
    instrument, side = fill.instrument, fill.side
    signed = side.sign * quantity
    opened = opening_quantity(held, signed)
    opening_margin = 0
    if opened and instrument.is_equity:  # a derivative's margin is its portfolio's
        opening_margin = equity_margin(
            rules.margin, instrument, fill.product, side, opened, fill.price_paise
        )
    result = fill_against(
        held,
        cost,
        margin,
        signed,
        price_paise=fill.price_paise,
        opening_margin_paise=opening_margin,
    )
    category = charge_category(instrument.segment, fill.product)
    # A CNC sell against today's CNC buy is an intraday trade (docs/DOMAIN.md §1).
    charged_as = (
        ChargeCategory.MIS if category is ChargeCategory.CNC and side is Side.SELL else category
    )
    exchange = instrument.exchange.value
    value = quantity * fill.price_paise
    charges = order_charges(fill.schedule, charged_as, exchange, side, value, so_far=so_far)
    rerated = (0, 0)
    if category is ChargeCategory.CNC:
        paid, rerated = _track_cnc_buys(
            fill.schedule, exchange, side, charges, paid, closed=quantity, held=held, cost=cost
        )
    return _PositionLeg(
        result.quantity,
        result.cost_paise,
        result.margin_paise,
        result.realized_pnl_paise,
        charges,
        OrderSoFar(so_far.value_paise + value, so_far.brokerage_paise + charges.brokerage_paise),
        paid,
        rerated,
    )


def _holding_leg(
    state: AccountState, fill: _Fill, quantity: int, so_far: OrderSoFar
) -> _HoldingLeg:
    """The holding after a delivery sell of ``quantity`` of it (0: untouched): the shares sold
    realize against their pro-rata cost, and the DP charge is taken once per scrip per day."""
    instrument_id = fill.instrument.instrument_id
    holding = state.holdings.get(instrument_id)
    held, cost = (0, 0) if holding is None else (holding.quantity, holding.cost_paise)
    if not quantity:
        return _HoldingLeg(held, cost, 0, ChargeBreakdown(), 0)
    cost_share = pro_rata(cost, quantity, held)
    dp_applies = state.dp_charged_day.get(instrument_id) != fill.trade_day
    charges = order_charges(
        fill.schedule,
        charge_category(fill.instrument.segment, fill.product),
        fill.instrument.exchange.value,
        fill.side,
        quantity * fill.price_paise,
        dp_applies=dp_applies,
        so_far=so_far,
    )
    return _HoldingLeg(
        held - quantity,
        cost - cost_share,
        quantity * fill.price_paise - cost_share,
        charges,
        fill.trade_day if dp_applies else 0,
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
        paid_now = (brokerage + leg.brokerage_paise, taxes + leg.taxes_paise)
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
        intraday.taxes_paise - refund_taxes,
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
    market: UnderlyingMarket | None,
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
        market=market,
        now_ms=now_ms,
        block_released=0,
        status_after=OrderStatus.EXECUTED,
        filled_before=0,
    )
    if price_source is not None:
        filled = msgspec.structs.replace(filled, price_source=price_source.value)
    return accepted, filled


def with_exercise_charges(filled: ev.OrderFilled, stt_paise: int) -> ev.OrderFilled:
    """A settlement at expiry is no trade: no brokerage, exchange or stamp charges; its only
    charge is the STT on an exercised long option settled in cash (``stt_paise``, 0
    otherwise), booked as tax. The position it closes says it ``EXPIRED``."""
    return msgspec.structs.replace(
        filled,
        charges_paise=stt_paise,
        brokerage_paise=0,
        taxes_paise=stt_paise,
        order_brokerage_paise=0,
        close_reason=CloseReason.EXPIRED.value,
    )


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
