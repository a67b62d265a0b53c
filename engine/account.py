"""The trading account as a pure state machine.

``decide(state, command, rules)`` checks a command against the state and returns the events it
causes or a rejection; ``apply(state, event)`` books one event. No actors, clocks or I/O live
here: the actor shell supplies the instrument, quote and time inside each command.

Funds identity (docs/DOMAIN.md §2), true after every event:
``balance = deposits - withdrawals + realized P&L - charges`` and
``blocked = Σ open-order blocks + Σ position margin + Σ holding cost + Σ fund blocks``;
``available = balance - blocked``.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import msgspec

from engine import commands as cmd
from engine import events as ev
from engine.charges import (
    FIRST_FILL,
    ChargeBreakdown,
    ChargeCategory,
    OrderSoFar,
    charge_category,
    order_charges,
)
from engine.config import ChargeSchedule
from engine.enums import OrderStatus, OrderType, PriceSource, Product, Rejection, Side, Validity
from engine.instruments import Instrument
from engine.margin import order_margin, pro_rata
from engine.money import div_half_up
from engine.orders import Order, transition
from engine.positions import Holding, Position, fill_against, opening_quantity
from engine.rules import (
    AccountRules,
    check_order_terms,
    check_price,
    check_quantity,
    circuit_band,
    product_allowed,
)
from engine.sessions import group_of

POSITION_ID_NAMESPACE = uuid.UUID("6f1c3f3e-6a43-4c55-9a43-2d1f0c7d9e10")


class FundOperation(msgspec.Struct, frozen=True, gc=False):
    """An admin adjustment made with an idempotency key, as it was done (a retry with the
    same key answers this instead of moving money again)."""

    operation: str  # ADD or WITHDRAW
    amount_paise: int
    operator_id: str
    balance_after_paise: int
    account_seq: int
    at_ms: int


class AccountState(msgspec.Struct, gc=False):
    """Everything one trading account holds in memory."""

    account_id: str
    seq: int = 0
    balance_paise: int = 0
    deposits_paise: int = 0
    withdrawals_paise: int = 0
    realized_pnl_paise: int = 0
    charges_paise: int = 0
    blocked_paise: int = 0
    orders: dict[str, Order] = msgspec.field(default_factory=dict)
    positions: dict[str, Position] = msgspec.field(default_factory=dict)
    position_ids: dict[str, str] = msgspec.field(default_factory=dict)  # key -> position id
    holdings: dict[str, Holding] = msgspec.field(default_factory=dict)
    fund_blocks: dict[str, int] = msgspec.field(default_factory=dict)
    client_order_ids: dict[str, str] = msgspec.field(default_factory=dict)
    dp_charged_day: dict[str, int] = msgspec.field(default_factory=dict)
    pending_deposits: dict[str, int] = msgspec.field(default_factory=dict)  # id -> amount
    pending_withdrawals: dict[str, int] = msgspec.field(default_factory=dict)  # id -> amount
    fund_operations: dict[str, FundOperation] = msgspec.field(default_factory=dict)  # by key
    resets_total: int = 0
    last_reset_day: int = 0  # the trade day of the latest reset (0: never reset)
    resets_on_last_day: int = 0

    @property
    def available_paise(self) -> int:
        return self.balance_paise - self.blocked_paise

    def position_for(self, instrument_id: str, product: Product) -> Position | None:
        position_id = self.position_ids.get(position_key(instrument_id, product))
        return None if position_id is None else self.positions[position_id]


class Decision(NamedTuple):
    """The outcome of ``decide``: events to apply, and the rejection if the command failed.

    A rejected order still yields an ``OrderRejected`` event so it is journaled.
    """

    events: tuple[ev.AccountEvent, ...]
    rejection: Rejection | None = None


def position_key(instrument_id: str, product: Product) -> str:
    return f"{product.value}:{instrument_id}"


def new_position_id(order_id: str, filled_before: int) -> str:
    """Derive a position id from the fill that opens it, so replay reproduces it."""
    return str(uuid.uuid5(POSITION_ID_NAMESPACE, f"{order_id}:{filled_before}"))


# --------------------------------------------------------------------------------------------
# decide


def decide(state: AccountState, command: cmd.AccountCommand, rules: AccountRules) -> Decision:
    """Check ``command`` against ``state``; return its events or a rejection. Never mutates."""
    handler = _DECIDERS[type(command)]
    return handler(state, command, rules)


def _rejected(reason: Rejection) -> Decision:
    return Decision((), reason)


def _valuation_price(command: cmd.PlaceOrder, order_type: OrderType, rules: AccountRules) -> int:
    """The price an order is valued at for margin: limit, trigger or protected ask."""
    protection = rules.execution.market_protection
    if order_type in (OrderType.LIMIT, OrderType.SL):
        return command.price_paise
    if order_type is OrderType.SL_M:
        return command.trigger_paise + protection.of(command.trigger_paise)
    quote = command.quote
    if quote is None or quote.ask_paise <= 0:
        return 0
    return quote.ask_paise + protection.of(quote.ask_paise)


def _band(command: cmd.PlaceOrder | cmd.ModifyOrder, rules: AccountRules) -> tuple[int, int]:
    if command.quote is not None:
        return command.quote.circuit_low_paise, command.quote.circuit_high_paise
    instrument = command.instrument
    return circuit_band(rules.circuits, instrument, instrument.reference_price_paise)


def _pending_same_side(
    state: AccountState, instrument_id: str, product: Product, side: Side, *, exclude: str | None
) -> int:
    return sum(
        o.remaining_quantity
        for o in state.orders.values()
        if o.instrument_id == instrument_id
        and o.product is product
        and o.side is side
        and o.order_id != exclude
    )


def _opening_quantity_for_order(
    state: AccountState,
    *,
    instrument_id: str,
    product: Product,
    side: Side,
    quantity: int,
    exclude: str | None,
) -> int:
    """Units of a new order that would add exposure, after what it (and its peers) reduce."""
    position = state.position_for(instrument_id, product)
    held = 0 if position is None else position.quantity
    reducible = max(0, -side.sign * held)
    if reducible:
        reducible = max(
            0, reducible - _pending_same_side(state, instrument_id, product, side, exclude=exclude)
        )
    return max(0, quantity - reducible)


def _owned_for_delivery(state: AccountState, instrument_id: str) -> int:
    """Shares a CNC sell can deliver now: holdings plus today's CNC long position."""
    holding = state.holdings.get(instrument_id)
    position = state.position_for(instrument_id, Product.CNC)
    return (0 if holding is None else holding.quantity) + max(
        0, 0 if position is None else position.quantity
    )


def _sellable_holdings(state: AccountState, instrument_id: str, exclude: str | None) -> int:
    owned = _owned_for_delivery(state, instrument_id)
    return owned - _pending_same_side(state, instrument_id, Product.CNC, Side.SELL, exclude=exclude)


def _order_requirements(
    state: AccountState,
    rules: AccountRules,
    *,
    instrument: Instrument,
    product: Product,
    side: Side,
    quantity: int,
    valuation_paise: int,
    underlying_price_paise: int,
    now_ms: int,
    exclude: str | None,
) -> tuple[int, int]:
    """Return (margin to block, estimated charges) for an order's terms."""
    trade_date = rules.trade_date(now_ms)
    opening = _opening_quantity_for_order(
        state,
        instrument_id=instrument.instrument_id,
        product=product,
        side=side,
        quantity=quantity,
        exclude=exclude,
    )
    block = 0
    if opening and not (product is Product.CNC and side is Side.SELL):
        block = order_margin(
            rules.margin,
            instrument,
            product,
            side,
            opening,
            valuation_paise,
            underlying_price_paise=underlying_price_paise,
            expiry_day=instrument.expiry == trade_date,
        )
    category = charge_category(instrument.segment, product)
    charges = order_charges(
        rules.charges.on(trade_date),
        category,
        instrument.exchange.value,
        side,
        quantity * valuation_paise,
    )
    return block, charges.total_paise


def _decide_place(state: AccountState, c: cmd.PlaceOrder, rules: AccountRules) -> Decision:
    if c.client_order_id is not None and c.client_order_id in state.client_order_ids:
        return _rejected(Rejection.DUPLICATE)
    if c.order_id in state.orders:
        return _rejected(Rejection.DUPLICATE)  # accepting it would overwrite a working order
    reason, block, _ = preview_order(state, c, rules)
    fields: dict[str, Any] = {
        "at_ms": c.now_ms,
        "order_id": c.order_id,
        "client_order_id": c.client_order_id,
        "instrument_id": c.instrument.instrument_id,
        "side": c.side,
        "product": c.product,
        "order_type": c.order_type,
        "validity": c.validity,
        "quantity": c.quantity,
        "price_paise": c.price_paise,
        "trigger_paise": c.trigger_paise,
    }
    if reason is not None:
        return Decision((ev.OrderRejected(reason=reason, **fields),), reason)
    source = c.price_source.value if c.price_source is not None else ""
    return Decision((ev.OrderAccepted(margin_blocked_paise=block, price_source=source, **fields),))


class Requirements(NamedTuple):
    """What an order would block and cost, and the first rule it breaks (if any)."""

    rejection: Rejection | None
    block_paise: int = 0
    charges_paise: int = 0


def preview_order(state: AccountState, c: cmd.PlaceOrder, rules: AccountRules) -> Requirements:
    """Run every check of a new order in precedence order, without changing anything.

    This is both the first half of placing an order and the margin preview route.
    """
    instrument = c.instrument
    if _market_closed(rules, instrument, c.product, c.now_ms):
        return Requirements(Rejection.MARKET_CLOSED)
    if not product_allowed(instrument, c.product):
        return Requirements(Rejection.PRODUCT_NOT_ALLOWED)
    rejection = check_quantity(instrument, c.quantity)
    if rejection is not None:
        return Requirements(rejection)
    if not check_order_terms(c.order_type, c.price_paise, c.trigger_paise):
        return Requirements(Rejection.INVALID_PRICE)
    band = _band(c, rules)
    for price in (c.price_paise, c.trigger_paise):
        if price and (rejection := check_price(instrument, price, band)) is not None:
            return Requirements(rejection)
    valuation = _valuation_price(c, c.order_type, rules)
    if valuation <= 0:
        return Requirements(Rejection.PRICE_UNAVAILABLE)
    if len(state.orders) >= rules.limits.open_orders_max:
        return Requirements(Rejection.OPEN_ORDERS_LIMIT)
    if c.quantity * valuation > rules.limits.order_value_max_paise:
        return Requirements(Rejection.ORDER_VALUE_LIMIT)
    selling_holdings = c.product is Product.CNC and c.side is Side.SELL
    if selling_holdings and c.quantity > _sellable_holdings(state, instrument.instrument_id, None):
        return Requirements(Rejection.INSUFFICIENT_HOLDINGS)
    block, charges = _order_requirements(
        state,
        rules,
        instrument=instrument,
        product=c.product,
        side=c.side,
        quantity=c.quantity,
        valuation_paise=valuation,
        underlying_price_paise=c.underlying_price_paise,
        now_ms=c.now_ms,
        exclude=None,
    )
    if block + charges > state.available_paise:
        return Requirements(Rejection.INSUFFICIENT_FUNDS, block, charges)
    return Requirements(None, block, charges)


def _market_closed(
    rules: AccountRules, instrument: Instrument, product: Product, now_ms: int
) -> bool:
    """With hours enforced: the instrument's session is closed, or MIS is squared off."""
    sessions = rules.sessions
    if sessions is None:
        return False
    group = group_of(instrument)
    if product is Product.MIS:
        return not sessions.mis_open(group, now_ms)
    return not sessions.is_open(group, now_ms)


def _decide_modify(state: AccountState, c: cmd.ModifyOrder, rules: AccountRules) -> Decision:
    order = state.orders.get(c.order_id)
    if order is None:
        return _rejected(Rejection.ORDER_NOT_OPEN)
    instrument = c.instrument
    if _market_closed(rules, instrument, order.product, c.now_ms):
        return _rejected(Rejection.MARKET_CLOSED)
    order_type = c.order_type if c.order_type is not None else order.order_type
    quantity = c.quantity if c.quantity is not None else order.quantity
    price = c.price_paise if c.price_paise is not None else order.price_paise
    trigger = c.trigger_paise if c.trigger_paise is not None else order.trigger_paise
    if order_type in (OrderType.MARKET, OrderType.SL_M):
        price = 0
    if order_type in (OrderType.MARKET, OrderType.LIMIT):
        trigger = 0
    if (rejection := check_quantity(instrument, quantity)) is not None:
        return _rejected(rejection)
    if quantity <= order.filled_quantity:
        return _rejected(Rejection.INVALID_QUANTITY)
    if not check_order_terms(order_type, price, trigger):
        return _rejected(Rejection.INVALID_PRICE)
    band = _band(c, rules)
    for level in (price, trigger):
        if level and (rejection := check_price(instrument, level, band)) is not None:
            return _rejected(rejection)
    terms = cmd.PlaceOrder(
        now_ms=c.now_ms,
        order_id=order.order_id,
        client_order_id=None,
        instrument=instrument,
        side=order.side,
        product=order.product,
        order_type=order_type,
        validity=order.validity,
        quantity=quantity,
        price_paise=price,
        trigger_paise=trigger,
        quote=c.quote,
    )
    valuation = _valuation_price(terms, order_type, rules)
    if valuation <= 0:
        return _rejected(Rejection.PRICE_UNAVAILABLE)
    remaining = quantity - order.filled_quantity
    if remaining * valuation > rules.limits.order_value_max_paise:
        return _rejected(Rejection.ORDER_VALUE_LIMIT)
    selling_holdings = order.product is Product.CNC and order.side is Side.SELL
    if selling_holdings and remaining > _sellable_holdings(
        state, order.instrument_id, order.order_id
    ):
        return _rejected(Rejection.INSUFFICIENT_HOLDINGS)
    block, charges = _order_requirements(
        state,
        rules,
        instrument=instrument,
        product=order.product,
        side=order.side,
        quantity=remaining,
        valuation_paise=valuation,
        underlying_price_paise=c.underlying_price_paise,
        now_ms=c.now_ms,
        exclude=order.order_id,
    )
    if block + charges > state.available_paise + order.margin_blocked_paise:
        return _rejected(Rejection.INSUFFICIENT_FUNDS)
    return Decision(
        (
            ev.OrderModified(
                at_ms=c.now_ms,
                order_id=order.order_id,
                order_type=order_type,
                quantity=quantity,
                price_paise=price,
                trigger_paise=trigger,
                margin_blocked_paise=block,
            ),
        )
    )


def _decide_cancel(state: AccountState, c: cmd.CancelOrder, rules: AccountRules) -> Decision:
    order = state.orders.get(c.order_id)
    if order is None:
        return _rejected(Rejection.ORDER_NOT_OPEN)
    return Decision(
        (
            ev.OrderCancelled(
                at_ms=c.now_ms,
                order_id=order.order_id,
                margin_released_paise=order.margin_blocked_paise,
                reason=c.reason,
            ),
        )
    )


def _decide_trigger(state: AccountState, c: cmd.TriggerOrder, rules: AccountRules) -> Decision:
    order = state.orders.get(c.order_id)
    if order is None or not order.waits_for_trigger:
        return _rejected(Rejection.ORDER_NOT_OPEN)
    if c.order_version != order.version:
        return _rejected(Rejection.STALE_EXECUTION)  # crossed a trigger the order no longer has
    return Decision((ev.OrderTriggered(at_ms=c.now_ms, order_id=order.order_id),))


def _breaks_terms(order: Order, c: cmd.FillOrder) -> bool:
    """True when a fill is not one the order's current terms allow: a market fill of an order
    that does not execute at market now, a limit fill of one that does not rest at its limit,
    or a price through its limit (a BUY above it, a SELL below it)."""
    at_market_now = order.order_type is OrderType.MARKET or (
        order.order_type is OrderType.SL_M and order.triggered
    )
    if c.at_market:
        return not at_market_now
    if not order.rests_at_limit:
        return True
    if order.side is Side.BUY:
        return c.price_paise > order.price_paise
    return c.price_paise < order.price_paise


def _decide_fill(state: AccountState, c: cmd.FillOrder, rules: AccountRules) -> Decision:
    order = state.orders.get(c.order_id)
    if order is None or order.waits_for_trigger:
        return _rejected(Rejection.ORDER_NOT_OPEN)
    if c.order_version != order.version:
        return _rejected(Rejection.STALE_EXECUTION)
    if _breaks_terms(order, c):
        return _rejected(Rejection.OUTSIDE_ORDER_TERMS)
    instrument = c.instrument
    if c.quantity <= 0 or c.quantity > order.remaining_quantity:
        return _rejected(Rejection.INVALID_QUANTITY)
    if c.quantity % instrument.lot_size != 0:
        return _rejected(Rejection.INVALID_QUANTITY)
    if c.price_paise <= 0 or c.price_paise % instrument.tick_paise != 0:
        return _rejected(Rejection.INVALID_PRICE)
    # A CNC sell's shares, counted at acceptance, may have gone since (ClosePosition sold them).
    delivers = order.product is Product.CNC and order.side is Side.SELL
    if delivers and c.quantity > _owned_for_delivery(state, order.instrument_id):
        return _rejected(Rejection.INSUFFICIENT_HOLDINGS)
    remaining_after = order.remaining_quantity - c.quantity
    status_after = OrderStatus.PENDING if remaining_after else OrderStatus.EXECUTED
    filled = _fill_event(
        state,
        rules,
        instrument=instrument,
        order_id=order.order_id,
        product=order.product,
        side=order.side,
        quantity=c.quantity,
        price_paise=c.price_paise,
        underlying_price_paise=c.underlying_price_paise,
        now_ms=c.now_ms,
        block_released=pro_rata(order.margin_blocked_paise, c.quantity, order.remaining_quantity),
        status_after=status_after,
        filled_before=order.filled_quantity,
        so_far=OrderSoFar(order.fill_value_paise, order.brokerage_paise),
    )
    return Decision((filled,))


def _fill_event(
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
        position_buy_brokerage_paise=buy_brokerage if held else 0,
        position_buy_taxes_paise=buy_taxes if held else 0,
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
    if not brokerage + taxes:  # nothing tracked: a position journaled before this existed
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


def _decide_close(state: AccountState, c: cmd.ClosePosition, rules: AccountRules) -> Decision:
    if c.exit_order_id in state.orders:
        return _rejected(Rejection.DUPLICATE)  # the exit order would overwrite a working order
    position = state.positions.get(c.position_id)
    if position is None or position.quantity == 0:
        return _rejected(Rejection.POSITION_CLOSED)
    if c.trigger_level_paise is not None and c.trigger_level_paise not in (
        position.stop_loss_paise,
        position.target_paise,
    ):
        return _rejected(Rejection.POSITION_CLOSED)  # the level changed since it fired
    instrument = c.instrument
    if c.price_paise <= 0 or c.price_paise % instrument.tick_paise != 0:
        return _rejected(Rejection.PRICE_UNAVAILABLE)
    accepted, filled = _market_exit(
        state,
        rules,
        order_id=c.exit_order_id,
        instrument=instrument,
        product=position.product,
        side=Side.SELL if position.quantity > 0 else Side.BUY,
        quantity=abs(position.quantity),
        price_paise=c.price_paise,
        now_ms=c.now_ms,
        price_source=c.price_source,
    )
    if c.reason == SQUARE_OFF:
        filled = _with_squareoff_fee(filled, rules.charges.on(rules.trade_date(c.now_ms)))
    return Decision((accepted, filled))


def _market_exit(
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
    filled = _fill_event(
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


def _with_squareoff_fee(filled: ev.OrderFilled, schedule: ChargeSchedule) -> ev.OrderFilled:
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


def _decide_set_risk(state: AccountState, c: cmd.SetRiskLevels, rules: AccountRules) -> Decision:
    position = state.positions.get(c.position_id)
    if position is None:
        return _rejected(Rejection.POSITION_CLOSED)
    for level in (c.stop_loss_paise, c.target_paise):
        if level is not None and (level <= 0 or level % c.tick_paise != 0):
            return _rejected(Rejection.INVALID_PRICE)
    return Decision(
        (
            ev.PositionRiskSet(
                at_ms=c.now_ms,
                position_id=position.position_id,
                stop_loss_paise=c.stop_loss_paise,
                target_paise=c.target_paise,
            ),
        )
    )


def _decide_credit(state: AccountState, c: cmd.CreditFunds, rules: AccountRules) -> Decision:
    if c.operation_key and c.operation_key in state.fund_operations:
        return _rejected(Rejection.DUPLICATE)  # done already: the caller answers the record
    if c.amount_paise <= 0:
        return _rejected(Rejection.INVALID_AMOUNT)
    credited = ev.FundsCredited(
        at_ms=c.now_ms,
        amount_paise=c.amount_paise,
        kind=c.kind,
        reference=c.reference,
        operation_key=c.operation_key,
        operator_id=c.operator_id,
    )
    return Decision((credited,))


def _decide_debit(state: AccountState, c: cmd.DebitFunds, rules: AccountRules) -> Decision:
    if c.operation_key and c.operation_key in state.fund_operations:
        return _rejected(Rejection.DUPLICATE)
    if c.amount_paise <= 0:
        return _rejected(Rejection.INVALID_AMOUNT)
    if c.amount_paise > state.available_paise:
        return _rejected(Rejection.INSUFFICIENT_FUNDS)
    debited = ev.FundsDebited(
        at_ms=c.now_ms,
        amount_paise=c.amount_paise,
        kind=c.kind,
        reference=c.reference,
        operation_key=c.operation_key,
        operator_id=c.operator_id,
    )
    return Decision((debited,))


def _decide_request_deposit(
    state: AccountState, c: cmd.RequestDeposit, rules: AccountRules
) -> Decision:
    if c.amount_paise <= 0:
        return _rejected(Rejection.INVALID_AMOUNT)
    if c.deposit_id in state.pending_deposits:
        return _rejected(Rejection.DUPLICATE)
    requested = ev.DepositRequested(
        at_ms=c.now_ms,
        deposit_id=c.deposit_id,
        amount_paise=c.amount_paise,
        bank_account_id=c.bank_account_id,
        reference=c.reference,
    )
    return Decision((requested,))


def _decide_deposit(state: AccountState, c: cmd.DecideDeposit, rules: AccountRules) -> Decision:
    amount = state.pending_deposits.get(c.deposit_id)
    if amount is None:
        return _rejected(Rejection.DUPLICATE)  # decided already (or never requested here)
    decided = ev.DepositDecided(
        at_ms=c.now_ms,
        deposit_id=c.deposit_id,
        approved=c.approve,
        amount_paise=amount,
        decided_by=c.admin_user_id,
        remarks=c.remarks,
    )
    return Decision((decided,))


def _decide_request_withdrawal(
    state: AccountState, c: cmd.RequestWithdrawal, rules: AccountRules
) -> Decision:
    if c.amount_paise <= 0:
        return _rejected(Rejection.INVALID_AMOUNT)
    if c.withdrawal_id in state.fund_blocks:
        return _rejected(Rejection.DUPLICATE)
    if c.amount_paise > state.available_paise:
        return _rejected(Rejection.INSUFFICIENT_FUNDS)
    requested = ev.WithdrawalRequested(
        at_ms=c.now_ms,
        withdrawal_id=c.withdrawal_id,
        amount_paise=c.amount_paise,
        bank_account_id=c.bank_account_id,
    )
    return Decision((requested,))


def _decide_withdrawal(
    state: AccountState, c: cmd.DecideWithdrawal, rules: AccountRules
) -> Decision:
    # A withdrawal requested before requests were events has only its block (same id).
    amount = state.pending_withdrawals.get(c.withdrawal_id, state.fund_blocks.get(c.withdrawal_id))
    if amount is None:
        return _rejected(Rejection.DUPLICATE)  # decided already (or never requested here)
    decided = ev.WithdrawalDecided(
        at_ms=c.now_ms,
        withdrawal_id=c.withdrawal_id,
        approved=c.approve,
        amount_paise=amount,
        decided_by=c.admin_user_id,
        remarks=c.remarks,
    )
    return Decision((decided,))


def _decide_block(state: AccountState, c: cmd.BlockFunds, rules: AccountRules) -> Decision:
    if c.amount_paise <= 0:
        return _rejected(Rejection.INVALID_AMOUNT)
    if c.block_id in state.fund_blocks:  # a pending withdrawal's block among them (same id)
        return _rejected(Rejection.DUPLICATE)
    if c.amount_paise > state.available_paise:
        return _rejected(Rejection.INSUFFICIENT_FUNDS)
    return Decision(
        (
            ev.FundsBlocked(
                at_ms=c.now_ms, block_id=c.block_id, amount_paise=c.amount_paise, kind=c.kind
            ),
        )
    )


def _decide_release(state: AccountState, c: cmd.ReleaseFunds, rules: AccountRules) -> Decision:
    amount = state.fund_blocks.get(c.block_id)
    if amount is None:
        return _rejected(Rejection.NOT_FOUND)
    if c.block_id in state.pending_withdrawals:
        return _rejected(Rejection.BLOCK_OWNED_BY_WITHDRAWAL)  # only its decision releases it
    if c.amount_paise is not None and c.amount_paise != amount:
        return _rejected(Rejection.INVALID_AMOUNT)
    return Decision((ev.FundsReleased(at_ms=c.now_ms, block_id=c.block_id, amount_paise=amount),))


def _decide_settle(state: AccountState, c: cmd.SettleHoldings, rules: AccountRules) -> Decision:
    position_ids = tuple(
        p.position_id
        for p in state.positions.values()
        if p.product is Product.CNC and p.quantity > 0
    )
    if not position_ids:
        return Decision(())
    return Decision((ev.HoldingsSettled(at_ms=c.now_ms, position_ids=position_ids),))


RESET = "RESET"  # the reason on what a reset cancels, and the kind of its ledger entry
RESET_ORDER_NAMESPACE = uuid.UUID("0c5f2a8e-3b7d-4e61-a9f4-6d2e8b1c7a53")


def reset_exit_order_id(reset_id: str, n: int) -> str:
    """The id of a reset's ``n``-th exit order, derived so that ``decide`` stays pure."""
    return str(uuid.uuid5(RESET_ORDER_NAMESPACE, f"{reset_id}:{n}"))


def resets_on_day(state: AccountState, trade_day: int) -> int:
    """How many times the account was reset on ``trade_day``."""
    return state.resets_on_last_day if state.last_reset_day == trade_day else 0


def _decide_reset(state: AccountState, c: cmd.ResetAccount, rules: AccountRules) -> Decision:
    """Start the account over in one decision: every step is an ordinary event, decided
    against a copy of the state with the steps before it applied, so the events replay to
    exactly what was decided and ``state`` itself is never touched.

    No square-off can be half done here: the session square-off runs inside one turn of the
    account's actor, as does this decision, so the actor orders them whole.
    """
    trade_day = rules.trade_day(c.now_ms)
    if resets_on_day(state, trade_day) >= rules.limits.account_resets_per_day_max:
        return _rejected(Rejection.RESET_LIMIT_REACHED)
    if c.opening_balance_paise < 0:
        return _rejected(Rejection.INVALID_AMOUNT)
    work = copy.deepcopy(state)
    events: list[ev.AccountEvent] = []

    def book(*decided: ev.AccountEvent) -> None:
        apply_all(work, decided)
        events.extend(decided)

    for order_id in sorted(work.orders):
        cancel = cmd.CancelOrder(now_ms=c.now_ms, order_id=order_id, reason=RESET)
        book(*_decide_cancel(work, cancel, rules).events)
    rejection = _close_and_sell_all(work, c, rules, book)
    if rejection is not None:
        return _rejected(rejection)
    for withdrawal_id in sorted(work.pending_withdrawals):
        amount = work.pending_withdrawals[withdrawal_id]
        book(
            ev.WithdrawalCancelled(
                at_ms=c.now_ms,
                withdrawal_id=withdrawal_id,
                amount_paise=amount,
                cancelled_by=c.by_user_id,
                reason=RESET,
            )
        )
    adjustment = c.opening_balance_paise - work.balance_paise
    book(
        ev.AccountReset(
            at_ms=c.now_ms,
            reset_id=c.reset_id,
            by_user_id=c.by_user_id,
            by_role=c.by_role,
            trade_day=trade_day,
            opening_balance_paise=c.opening_balance_paise,
            adjustment_paise=adjustment,
        )
    )
    if adjustment:
        moved = ev.FundsCredited if adjustment > 0 else ev.FundsDebited
        book(
            moved(
                at_ms=c.now_ms,
                amount_paise=abs(adjustment),
                kind=RESET,
                reference=c.reset_id,
                operator_id=c.by_user_id,
            )
        )
    assert work.balance_paise == c.opening_balance_paise
    return Decision(tuple(events))


def _close_and_sell_all(
    work: AccountState,
    c: cmd.ResetAccount,
    rules: AccountRules,
    book: Callable[..., None],
) -> Rejection | None:
    """Close every open position, then sell every holding, at the prices ``c`` carries,
    booking each exit into ``work``; the first refusal, if any, refuses the whole reset."""
    prices = {exit.position_id: exit for exit in c.exits if exit.position_id}
    holding_prices = {e.instrument.instrument_id: e for e in c.exits if not e.position_id}
    exits = 0
    for position_id in sorted(work.positions):
        stamped = prices.get(position_id)
        if stamped is None:
            return Rejection.PRICE_UNAVAILABLE
        close = cmd.ClosePosition(
            now_ms=c.now_ms,
            position_id=position_id,
            exit_order_id=reset_exit_order_id(c.reset_id, exits),
            instrument=stamped.instrument,
            price_paise=stamped.price_paise,
            reason=RESET,
            price_source=stamped.price_source,
        )
        decision = _decide_close(work, close, rules)
        if decision.rejection is not None:
            return decision.rejection
        book(*decision.events)
        exits += 1
    for instrument_id in sorted(work.holdings):
        holding = work.holdings[instrument_id]
        stamped = holding_prices.get(instrument_id)
        if stamped is None:
            return Rejection.PRICE_UNAVAILABLE
        instrument = stamped.instrument
        if stamped.price_paise <= 0 or stamped.price_paise % instrument.tick_paise != 0:
            return Rejection.PRICE_UNAVAILABLE
        book(
            *_market_exit(
                work,
                rules,
                order_id=reset_exit_order_id(c.reset_id, exits),
                instrument=instrument,
                product=Product.CNC,
                side=Side.SELL,
                quantity=holding.quantity,
                price_paise=stamped.price_paise,
                now_ms=c.now_ms,
                price_source=stamped.price_source,
            )
        )
        exits += 1
    return None


_DECIDERS: dict[type, Callable[[AccountState, Any, AccountRules], Decision]] = {
    cmd.PlaceOrder: _decide_place,
    cmd.ModifyOrder: _decide_modify,
    cmd.CancelOrder: _decide_cancel,
    cmd.TriggerOrder: _decide_trigger,
    cmd.FillOrder: _decide_fill,
    cmd.ClosePosition: _decide_close,
    cmd.SetRiskLevels: _decide_set_risk,
    cmd.CreditFunds: _decide_credit,
    cmd.DebitFunds: _decide_debit,
    cmd.BlockFunds: _decide_block,
    cmd.ReleaseFunds: _decide_release,
    cmd.SettleHoldings: _decide_settle,
    cmd.RequestDeposit: _decide_request_deposit,
    cmd.DecideDeposit: _decide_deposit,
    cmd.RequestWithdrawal: _decide_request_withdrawal,
    cmd.DecideWithdrawal: _decide_withdrawal,
    cmd.ResetAccount: _decide_reset,
}


# --------------------------------------------------------------------------------------------
# apply


def apply(state: AccountState, event: ev.AccountEvent) -> AccountState:
    """Book one event into ``state`` (in place) and return it."""
    _APPLIERS[type(event)](state, event)
    state.seq += 1
    return state


def apply_all(state: AccountState, events: Iterable[ev.AccountEvent]) -> AccountState:
    for event in events:
        apply(state, event)
    return state


def order_from_terms(terms: ev.OrderTerms, status: OrderStatus, margin_blocked_paise: int) -> Order:
    """The order an acceptance or a rejection describes, as of that event."""
    return Order(
        order_id=terms.order_id,
        client_order_id=terms.client_order_id,
        instrument_id=terms.instrument_id,
        side=terms.side,
        product=terms.product,
        order_type=terms.order_type,
        validity=terms.validity,
        quantity=terms.quantity,
        price_paise=terms.price_paise,
        trigger_paise=terms.trigger_paise,
        status=status,
        margin_blocked_paise=margin_blocked_paise,
        created_ms=terms.at_ms,
        updated_ms=terms.at_ms,
    )


def _apply_accepted(state: AccountState, e: ev.OrderAccepted) -> None:
    state.orders[e.order_id] = order_from_terms(
        e, transition(None, OrderStatus.PENDING), e.margin_blocked_paise
    )
    state.blocked_paise += e.margin_blocked_paise
    if e.client_order_id is not None:
        state.client_order_ids[e.client_order_id] = e.order_id


def _apply_rejected(state: AccountState, e: ev.OrderRejected) -> None:
    transition(None, OrderStatus.REJECTED)
    if e.client_order_id is not None:
        state.client_order_ids[e.client_order_id] = e.order_id


def _apply_modified(state: AccountState, e: ev.OrderModified) -> None:
    order = state.orders[e.order_id]
    order.status = transition(order.status, OrderStatus.PENDING)
    state.blocked_paise += e.margin_blocked_paise - order.margin_blocked_paise
    order.margin_blocked_paise = e.margin_blocked_paise
    order.order_type = e.order_type
    order.quantity = e.quantity
    order.price_paise = e.price_paise
    order.trigger_paise = e.trigger_paise
    order.updated_ms = e.at_ms
    order.version += 1


def _apply_triggered(state: AccountState, e: ev.OrderTriggered) -> None:
    order = state.orders[e.order_id]
    order.status = transition(order.status, OrderStatus.PENDING)
    order.triggered = True
    order.updated_ms = e.at_ms


def _apply_cancelled(state: AccountState, e: ev.OrderCancelled) -> None:
    order = state.orders.pop(e.order_id)
    transition(order.status, OrderStatus.CANCELLED)
    state.blocked_paise -= e.margin_released_paise


def _apply_filled(state: AccountState, e: ev.OrderFilled) -> None:
    order = state.orders[e.order_id]
    order.status = transition(order.status, e.status_after)
    order.filled_quantity += e.quantity
    order.fill_value_paise += e.quantity * e.price_paise
    order.charges_paise += e.charges_paise
    order.brokerage_paise += e.order_brokerage_paise
    order.margin_blocked_paise -= e.block_released_paise
    order.updated_ms = e.at_ms
    state.blocked_paise -= e.block_released_paise
    if e.status_after is OrderStatus.EXECUTED:
        assert order.margin_blocked_paise == 0, "an executed order keeps no block"
        del state.orders[e.order_id]

    key = position_key(e.instrument_id, e.product)
    position = state.positions.get(e.position_id) if e.position_id else None
    if position is not None:
        state.blocked_paise -= position.margin_paise
        position.realized_pnl_paise += e.realized_pnl_paise
        if e.position_quantity == 0:
            del state.positions[e.position_id]
            del state.position_ids[key]
        else:
            position.quantity = e.position_quantity
            position.cost_paise = e.position_cost_paise
            position.margin_paise = e.position_margin_paise
            position.buy_brokerage_paise = e.position_buy_brokerage_paise
            position.buy_taxes_paise = e.position_buy_taxes_paise
            state.blocked_paise += e.position_margin_paise
    elif e.position_quantity != 0:
        state.positions[e.position_id] = Position(
            position_id=e.position_id,
            instrument_id=e.instrument_id,
            product=e.product,
            quantity=e.position_quantity,
            cost_paise=e.position_cost_paise,
            margin_paise=e.position_margin_paise,
            realized_pnl_paise=0,
            opened_ms=e.at_ms,
            buy_brokerage_paise=e.position_buy_brokerage_paise,
            buy_taxes_paise=e.position_buy_taxes_paise,
        )
        state.position_ids[key] = e.position_id
        state.blocked_paise += e.position_margin_paise

    _set_holding(state, e.instrument_id, e.holding_quantity, e.holding_cost_paise)
    if e.dp_day:
        state.dp_charged_day[e.instrument_id] = e.dp_day
    state.balance_paise += e.realized_pnl_paise - e.charges_paise
    state.realized_pnl_paise += e.realized_pnl_paise
    state.charges_paise += e.charges_paise


def _set_holding(state: AccountState, instrument_id: str, quantity: int, cost_paise: int) -> None:
    """Replace a holding; its cost counts as blocked (delivery shares are paid for)."""
    holding = state.holdings.get(instrument_id)
    if holding is not None:
        state.blocked_paise -= holding.cost_paise
    if quantity:
        state.holdings[instrument_id] = Holding(instrument_id, quantity, cost_paise)
        state.blocked_paise += cost_paise
    elif holding is not None:
        del state.holdings[instrument_id]


def _apply_risk_set(state: AccountState, e: ev.PositionRiskSet) -> None:
    position = state.positions[e.position_id]
    position.stop_loss_paise = e.stop_loss_paise
    position.target_paise = e.target_paise


def _apply_credited(state: AccountState, e: ev.FundsCredited) -> None:
    state.balance_paise += e.amount_paise
    state.deposits_paise += e.amount_paise
    if e.operation_key:
        _record_operation(state, e.operation_key, "ADD", e)


def _apply_debited(state: AccountState, e: ev.FundsDebited) -> None:
    state.balance_paise -= e.amount_paise
    state.withdrawals_paise += e.amount_paise
    if e.operation_key:
        _record_operation(state, e.operation_key, "WITHDRAW", e)


def _record_operation(
    state: AccountState, key: str, operation: str, e: ev.FundsCredited | ev.FundsDebited
) -> None:
    state.fund_operations[key] = FundOperation(
        operation=operation,
        amount_paise=e.amount_paise,
        operator_id=e.operator_id,
        balance_after_paise=state.balance_paise,
        account_seq=state.seq + 1,  # this event's (``apply`` counts it after)
        at_ms=e.at_ms,
    )


def _apply_deposit_requested(state: AccountState, e: ev.DepositRequested) -> None:
    state.pending_deposits[e.deposit_id] = e.amount_paise


def _apply_deposit_decided(state: AccountState, e: ev.DepositDecided) -> None:
    state.pending_deposits.pop(e.deposit_id, None)
    if e.approved:
        state.balance_paise += e.amount_paise
        state.deposits_paise += e.amount_paise


def _apply_withdrawal_requested(state: AccountState, e: ev.WithdrawalRequested) -> None:
    state.pending_withdrawals[e.withdrawal_id] = e.amount_paise
    state.fund_blocks[e.withdrawal_id] = e.amount_paise
    state.blocked_paise += e.amount_paise


def _apply_withdrawal_decided(state: AccountState, e: ev.WithdrawalDecided) -> None:
    state.pending_withdrawals.pop(e.withdrawal_id, None)
    state.blocked_paise -= state.fund_blocks.pop(e.withdrawal_id)
    if e.approved:
        state.balance_paise -= e.amount_paise
        state.withdrawals_paise += e.amount_paise


def _apply_blocked(state: AccountState, e: ev.FundsBlocked) -> None:
    state.fund_blocks[e.block_id] = e.amount_paise
    state.blocked_paise += e.amount_paise


def _apply_released(state: AccountState, e: ev.FundsReleased) -> None:
    state.blocked_paise -= state.fund_blocks.pop(e.block_id)


def _apply_withdrawal_cancelled(state: AccountState, e: ev.WithdrawalCancelled) -> None:
    del state.pending_withdrawals[e.withdrawal_id]
    state.blocked_paise -= state.fund_blocks.pop(e.withdrawal_id)


def _apply_reset(state: AccountState, e: ev.AccountReset) -> None:
    if state.last_reset_day != e.trade_day:
        state.last_reset_day, state.resets_on_last_day = e.trade_day, 0
    state.resets_on_last_day += 1
    state.resets_total += 1


def _apply_settled(state: AccountState, e: ev.HoldingsSettled) -> None:
    for position_id in e.position_ids:
        position = state.positions.pop(position_id)
        del state.position_ids[position_key(position.instrument_id, position.product)]
        state.blocked_paise -= position.margin_paise
        holding = state.holdings.get(position.instrument_id)
        quantity = position.quantity + (0 if holding is None else holding.quantity)
        cost = position.cost_paise + (0 if holding is None else holding.cost_paise)
        _set_holding(state, position.instrument_id, quantity, cost)


_APPLIERS: dict[type, Callable[[AccountState, Any], None]] = {
    ev.OrderAccepted: _apply_accepted,
    ev.OrderRejected: _apply_rejected,
    ev.OrderModified: _apply_modified,
    ev.OrderTriggered: _apply_triggered,
    ev.OrderCancelled: _apply_cancelled,
    ev.OrderFilled: _apply_filled,
    ev.PositionRiskSet: _apply_risk_set,
    ev.FundsCredited: _apply_credited,
    ev.FundsDebited: _apply_debited,
    ev.FundsBlocked: _apply_blocked,
    ev.FundsReleased: _apply_released,
    ev.HoldingsSettled: _apply_settled,
    ev.DepositRequested: _apply_deposit_requested,
    ev.DepositDecided: _apply_deposit_decided,
    ev.WithdrawalRequested: _apply_withdrawal_requested,
    ev.WithdrawalDecided: _apply_withdrawal_decided,
    ev.WithdrawalCancelled: _apply_withdrawal_cancelled,
    ev.AccountReset: _apply_reset,
}


# --------------------------------------------------------------------------------------------
# invariants and fingerprints


def blocked_from_parts(state: AccountState) -> int:
    """Recompute the blocked total from its parts (for invariant checks)."""
    return (
        sum(o.margin_blocked_paise for o in state.orders.values())
        + sum(p.margin_paise for p in state.positions.values())
        + sum(h.cost_paise for h in state.holdings.values())
        + sum(state.fund_blocks.values())
    )


def funds_identity_holds(state: AccountState) -> bool:
    """docs/DOMAIN.md §2: the balance and the blocked total agree with their parts."""
    return (
        state.balance_paise
        == state.deposits_paise
        - state.withdrawals_paise
        + state.realized_pnl_paise
        - state.charges_paise
        and state.blocked_paise == blocked_from_parts(state)
    )


def state_fingerprint(state: AccountState) -> str:
    """A stable hash of the whole state, to compare projections with journal replay."""
    return hashlib.sha256(msgspec.json.encode(state, order="sorted")).hexdigest()
