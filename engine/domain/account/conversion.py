"""Position conversion (docs/DOMAIN.md §1, "Converting a position"): moving units of an open
position to another product at their cost, as a broker's "convert" does. Intraday and delivery
equity (MIS and CNC) convert into each other, intraday and carry-forward derivatives (MIS and
NRML) too. Nothing trades, so nothing is charged and nothing is realized: the charges stay as
each trade booked them.

The checks, first failure wins: the position (open), the target product (another one the
instrument takes; a short never becomes CNC), the session (before its MIS square-off: MIS is
one side of every conversion), the quantity (whole lots, no more than the position holds
beyond what its working orders on the other side will close), a target position on the other
side (the two would net: close one instead), then the funds for any margin the move adds.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import POSITION_ID_NAMESPACE, AccountState, Decision
from engine.domain.enums import Product, Rejection, Side
from engine.domain.margin import equity_margin_of_value, pro_rata
from engine.domain.portfolio import MarginLeg, is_derivative, position_legs
from engine.domain.positions import Position, reduce_signed
from engine.domain.rules import AccountRules, product_allowed
from engine.domain.sessions import group_of

# The conversions a broker offers: intraday to carry and back.
CONVERTIBLE = frozenset(
    {
        (Product.MIS, Product.CNC),
        (Product.CNC, Product.MIS),
        (Product.MIS, Product.NRML),
        (Product.NRML, Product.MIS),
    }
)


class _Side(NamedTuple):
    """One position as the move leaves it."""

    position_id: str
    quantity: int
    cost_paise: int


class _Before(NamedTuple):
    """The target position before the move (all 0: the move opens it)."""

    quantity: int = 0
    cost_paise: int = 0
    margin_paise: int = 0
    buy_brokerage_paise: int = 0
    buy_taxes_paise: int = 0


def converted_position_id(position_id: str, seq: int) -> str:
    """The id of a position a conversion opens, derived so that replay reproduces it."""
    return str(uuid.uuid5(POSITION_ID_NAMESPACE, f"{position_id}:converted:{seq}"))


def _closing_orders(state: AccountState, position: Position) -> int:
    """Units the position's working orders on the other side (same product) will close."""
    closing_side = Side.SELL if position.quantity > 0 else Side.BUY
    return sum(
        order.remaining_quantity
        for order in state.orders.values()
        if order.instrument_id == position.instrument_id
        and order.product is position.product
        and order.side is closing_side
    )


def check_conversion(
    state: AccountState, c: cmd.ConvertPosition, rules: AccountRules
) -> Rejection | None:
    """The first rule the conversion breaks, the funds aside (they need the margins)."""
    position = state.positions.get(c.position_id)
    if position is None:
        return Rejection.POSITION_CLOSED
    instrument = c.instrument
    if (
        (position.product, c.product) not in CONVERTIBLE
        or not product_allowed(instrument, c.product)
        or (c.product is Product.CNC and position.quantity < 0)
    ):
        return Rejection.PRODUCT_NOT_ALLOWED
    # MIS is one side of every conversion: it takes one only while MIS trades.
    sessions = rules.sessions
    if sessions is not None and not sessions.mis_open(group_of(instrument), c.now_ms):
        return Rejection.MARKET_CLOSED
    convertible = abs(position.quantity) - _closing_orders(state, position)
    if c.quantity <= 0 or c.quantity % instrument.lot_size or c.quantity > convertible:
        return Rejection.INVALID_QUANTITY
    target = state.position_for(position.instrument_id, c.product)
    if target is not None and (target.quantity > 0) != (position.quantity > 0):
        return Rejection.OPPOSITE_POSITION
    return None


def decide_convert(state: AccountState, c: cmd.ConvertPosition, rules: AccountRules) -> Decision:
    """Move the units with their share of the cost; the margin is taken again for the target
    product: an equity's on the cost moved, a derivative's portfolio margin with the units
    under their new product."""
    refusal = check_conversion(state, c, rules)
    if refusal is not None:
        return Decision((), refusal)
    position = state.positions[c.position_id]
    target = state.position_for(position.instrument_id, c.product)
    held = abs(position.quantity)
    moved = c.quantity if position.quantity > 0 else -c.quantity
    cost_moved = reduce_signed(position.cost_paise, c.quantity, held)
    margin_released = pro_rata(position.margin_paise, c.quantity, held)
    brokerage_dropped = pro_rata(position.buy_brokerage_paise, c.quantity, held)
    taxes_dropped = pro_rata(position.buy_taxes_paise, c.quantity, held)
    # Only CNC tracks what today's buys paid (docs/DOMAIN.md §1): the units a move takes out
    # of CNC drop their share of it, and units from MIS bring none.
    before = (
        _Before()
        if target is None
        else _Before(
            target.quantity,
            target.cost_paise,
            target.margin_paise,
            target.buy_brokerage_paise,
            target.buy_taxes_paise,
        )
    )
    source_after = _Side(
        position.position_id, position.quantity - moved, position.cost_paise - cost_moved
    )
    target_after = _Side(
        converted_position_id(position.position_id, state.seq)
        if target is None
        else target.position_id,
        before.quantity + moved,
        before.cost_paise + cost_moved,
    )
    target_margin = before.margin_paise
    portfolio = None
    if is_derivative(c.instrument):
        portfolio = _portfolio_after(state, rules, c, position, source_after, target_after)
        if portfolio is None:
            return Decision((), Rejection.PRICE_UNAVAILABLE)
        adds = portfolio.margin_paise - state.portfolio_margin.get(portfolio.underlying, 0)
    else:
        side = Side.BUY if moved > 0 else Side.SELL
        taken = equity_margin_of_value(rules.margin, c.instrument, c.product, side, abs(cost_moved))
        target_margin += taken
        adds = taken - margin_released
    if adds > state.available_paise:
        return Decision((), Rejection.INSUFFICIENT_FUNDS)
    return Decision(
        (
            ev.PositionConverted(
                at_ms=c.now_ms,
                position_id=position.position_id,
                instrument_id=position.instrument_id,
                product=position.product,
                quantity=c.quantity,
                target_position_id=target_after.position_id,
                target_product=c.product,
                position_quantity=source_after.quantity,
                position_cost_paise=source_after.cost_paise,
                position_margin_paise=position.margin_paise - margin_released,
                position_buy_brokerage_paise=position.buy_brokerage_paise - brokerage_dropped,
                position_buy_taxes_paise=position.buy_taxes_paise - taxes_dropped,
                target_quantity=target_after.quantity,
                target_cost_paise=target_after.cost_paise,
                target_margin_paise=target_margin,
                target_buy_brokerage_paise=before.buy_brokerage_paise,
                target_buy_taxes_paise=before.buy_taxes_paise,
                portfolio=portfolio,
            ),
        )
    )


def _portfolio_after(  # noqa: PLR0917 (the move and the two positions it leaves)
    state: AccountState,
    rules: AccountRules,
    c: cmd.ConvertPosition,
    position: Position,
    source: _Side,
    target: _Side,
) -> ev.PortfolioBlock | None:
    """The underlying's portfolio margin once the source and target positions are as the
    move leaves them (None when the stamped market does not carry the contract)."""
    market = c.market
    leg_market = None if market is None else market.leg(position.instrument_id)
    if market is None or leg_market is None:
        return None
    legs = position_legs(state.positions.values(), market)
    members = {
        held.position_id
        for held in state.positions.values()
        if market.leg(held.instrument_id) is not None
    }
    for product, side in ((position.product, source), (c.product, target)):
        key = (position.instrument_id, product.value)
        legs.pop(key, None)
        members.discard(side.position_id)
        if side.quantity:
            legs[key] = MarginLeg(leg_market, side.quantity, side.cost_paise)
            members.add(side.position_id)
    margin = rules.portfolio.margin(tuple(legs.values()), market, rules.trade_date(c.now_ms))
    return ev.PortfolioBlock(
        underlying=market.name,
        margin_paise=margin.blocked_paise,
        position_ids=tuple(sorted(members)),
    )
