"""``decide(state, command, rules)``: check a command against an account's state and return the
events it causes, or a rejection. Never mutates ``state``; the actor shell stamps the instrument,
quote and time into each command."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.apply import apply_all
from engine.domain.account.conversion import decide_convert
from engine.domain.account.delivery import delivery_of, physically_settled, shares_delivered
from engine.domain.account.fills import (
    fill_event,
    market_exit,
    with_exercise_charges,
    with_squareoff_fee,
)
from engine.domain.account.gtts import (
    decide_delete_gtt,
    decide_end_gtt,
    decide_modify_gtt,
    decide_place_gtt,
)
from engine.domain.account.margin_call import (
    counted,
    decide_revalue,
    decide_settle_futures,
    marked_to_market,
)
from engine.domain.account.state import AccountState, Decision, Shortfall, resets_on_day
from engine.domain.charges import (
    OrderSoFar,
    charge_category,
    order_charges,
)
from engine.domain.enums import (
    CancelReason,
    CloseReason,
    FundKind,
    OrderStatus,
    OrderType,
    Product,
    Rejection,
    Side,
)
from engine.domain.gtt import GttStatus, leg_fires
from engine.domain.iceberg import Iceberg, check_iceberg
from engine.domain.instruments import Instrument
from engine.domain.invariants import InvariantError
from engine.domain.margin import equity_margin, pro_rata
from engine.domain.orders import Order
from engine.domain.portfolio import (
    PortfolioMargin,
    UnderlyingMarket,
    is_derivative,
    position_legs,
    with_fill,
)
from engine.domain.quote import Quote
from engine.domain.rules import (
    AccountRules,
    check_order_terms,
    check_price,
    check_quantity,
    circuit_band,
    product_allowed,
)
from engine.domain.sessions import group_of

# --------------------------------------------------------------------------------------------
# decide


def decide(state: AccountState, command: cmd.AccountCommand, rules: AccountRules) -> Decision:
    """Check ``command`` against ``state``; return its events or a rejection. Never mutates."""
    handler = _DECIDERS[type(command)]
    return handler(state, command, rules)


def _rejected(reason: Rejection) -> Decision:
    return Decision((), reason)


def valuation_price(
    order_type: OrderType,
    price_paise: int,
    trigger_paise: int,
    quote: Quote | None,
    rules: AccountRules,
) -> int:
    """The price an order is valued at for margin: limit, trigger or protected ask."""
    protection = rules.execution.market_protection
    if order_type in (OrderType.LIMIT, OrderType.SL):
        return price_paise
    if order_type is OrderType.SL_M:
        return trigger_paise + protection.of(trigger_paise)
    if quote is None:
        return 0  # no price to value it at (the caller refuses PRICE_UNAVAILABLE)
    return quote.ask_paise + protection.of(quote.ask_paise)


def _band(instrument: Instrument, quote: Quote | None, rules: AccountRules) -> tuple[int, int]:
    if quote is not None:
        return quote.circuit_low_paise, quote.circuit_high_paise
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
    market: UnderlyingMarket | None,
    now_ms: int,
    exclude: str | None,
) -> tuple[int, int]:
    """Return (margin to block, estimated charges) for an order's terms (a derivative's on a
    market that carries it: ``_margin_market``)."""
    trade_date = rules.trade_date(now_ms)
    if is_derivative(instrument):
        margins = portfolio_with_order(
            state,
            rules,
            market,
            instrument=instrument,
            product=product,
            side=side,
            quantity=quantity,
            valuation_paise=valuation_paise,
            now_ms=now_ms,
            exclude=exclude,
        )
        before, after = margins
        block = max(0, after.blocked_paise - before.blocked_paise)
    else:
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
            block = equity_margin(rules.margin, instrument, product, side, opening, valuation_paise)
    category = charge_category(instrument.segment, product)
    charges = order_charges(
        rules.charges.on(trade_date),
        category,
        instrument.exchange.value,
        side,
        quantity * valuation_paise,
    )
    return block, charges.total_paise


def _margin_market(instrument: Instrument, market: UnderlyingMarket | None) -> bool:
    """Whether an order on ``instrument`` has what its margin is computed on: an equity always,
    a future or an option a market that carries it."""
    if not is_derivative(instrument):
        return True
    return market is not None and market.leg(instrument.instrument_id) is not None


def portfolio_with_order(
    state: AccountState,
    rules: AccountRules,
    market: UnderlyingMarket | None,
    *,
    instrument: Instrument,
    product: Product,
    side: Side,
    quantity: int,
    valuation_paise: int,
    now_ms: int,
    exclude: str | None,
) -> tuple[PortfolioMargin, PortfolioMargin]:
    """A derivative order's underlying portfolio margin without it and with it filled at its
    valuation price (docs/DOMAIN.md §2), over the open positions and the working orders on the
    same contract and side (which fill first); what it adds is the difference of the blocked
    amounts, 0 when it hedges or reduces. Only for an order whose market carries its contract
    (``_margin_market``: others are refused PRICE_UNAVAILABLE before they are margined)."""
    leg_market = None if market is None else market.leg(instrument.instrument_id)
    if market is None or leg_market is None:
        raise InvariantError(f"{instrument.instrument_id} margined without its market")
    trade_date = rules.trade_date(now_ms)
    legs = position_legs(state.positions.values(), market)
    key = (instrument.instrument_id, product.value)
    pending = _pending_same_side(state, instrument.instrument_id, product, side, exclude=exclude)
    if pending:
        legs = with_fill(legs, key, leg_market, side.sign * pending, valuation_paise)
    before = rules.portfolio.margin(tuple(legs.values()), market, trade_date)
    with_order = with_fill(legs, key, leg_market, side.sign * quantity, valuation_paise)
    after = rules.portfolio.margin(tuple(with_order.values()), market, trade_date)
    return before, after


def _decide_place(state: AccountState, c: cmd.PlaceOrder, rules: AccountRules) -> Decision:
    if c.client_order_id is not None and c.client_order_id in state.client_order_ids:
        original = state.client_order_ids[c.client_order_id]
        return Decision((), Rejection.DUPLICATE, original_order_id=original)
    if c.order_id in state.orders:
        # Accepting it would overwrite a working order.
        return Decision((), Rejection.DUPLICATE, original_order_id=c.order_id)
    reason, block, charges = preview_order(state, c, rules)
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
        "after_market": c.after_market,
        "iceberg": c.iceberg,
    }
    if reason is not None:
        shortfall = _shortfall(reason, block, charges, state.available_paise + c.mtm_paise)
        return Decision((ev.OrderRejected(reason=reason, tag=c.tag, **fields),), reason, shortfall)
    source = c.price_source.value if c.price_source is not None else ""
    accepted = ev.OrderAccepted(
        margin_blocked_paise=block, price_source=source, tag=c.tag, **fields
    )
    return Decision((accepted,))


def _shortfall(reason: Rejection, block: int, charges: int, available: int) -> Shortfall | None:
    if reason is not Rejection.INSUFFICIENT_FUNDS:
        return None
    return Shortfall(block, charges, available)


class Requirements(NamedTuple):
    """What an order would block and cost, and the first rule it breaks (if any)."""

    rejection: Rejection | None
    block_paise: int = 0
    charges_paise: int = 0


def preview_order(state: AccountState, c: cmd.PlaceOrder, rules: AccountRules) -> Requirements:
    """Run every check of a new order in precedence order, without changing anything.

    This is both the first half of placing an order and the margin preview route.
    """
    terms = _Terms(
        c.instrument,
        c.product,
        c.side,
        c.order_type,
        c.quantity,
        c.price_paise,
        c.trigger_paise,
        c.quote,
        c.market,
        c.mtm_paise,
        c.now_ms,
        c.after_market,
        c.iceberg,
    )
    return _check_order(state, rules, terms, None)


class _Terms(NamedTuple):
    """An order's terms as checked: a new order's, or a working order's after a modification."""

    instrument: Instrument
    product: Product
    side: Side
    order_type: OrderType
    quantity: int
    price_paise: int
    trigger_paise: int
    quote: Quote | None
    market: UnderlyingMarket | None  # a derivative's underlying
    mtm_paise: int  # the account's mark-to-market, as it counts in available funds
    now_ms: int
    after_market: bool  # an after-market order (docs/DOMAIN.md §3)
    iceberg: Iceberg | None  # a new order's place in its iceberg (a working order's is kept)


def _check_order(
    state: AccountState, rules: AccountRules, t: _Terms, working: Order | None
) -> Requirements:
    """The checks of an order's terms, in ``Rejection`` order: of a new order (``working`` is
    None), or of ``working`` on its modified terms, where what has filled stays filled, the
    order already counts among the open ones and what it blocks now is available to it."""
    instrument = t.instrument
    if instrument.is_index:
        return Requirements(Rejection.NOT_TRADABLE)
    if instrument.expiry is not None and t.now_ms >= rules.calendar.expiry_instant_ms(instrument):
        return Requirements(Rejection.INSTRUMENT_EXPIRED)
    if (rejection := _hours_check(rules, t, working)) is not None:
        return Requirements(rejection)
    if not product_allowed(instrument, t.product):
        return Requirements(Rejection.PRODUCT_NOT_ALLOWED)
    if (rejection := check_quantity(instrument, t.quantity)) is not None:
        return Requirements(rejection)
    if t.iceberg is not None and _breaks_iceberg(instrument, t, rules):
        return Requirements(Rejection.INVALID_QUANTITY)
    if working is not None and working.iceberg is not None and t.quantity != working.quantity:
        return Requirements(Rejection.INVALID_QUANTITY)  # a leg's quantity is its iceberg's
    filled = working.filled_quantity if working is not None else 0
    if t.quantity <= filled:
        return Requirements(Rejection.INVALID_QUANTITY)
    if not check_order_terms(t.order_type, t.price_paise, t.trigger_paise):
        return Requirements(Rejection.INVALID_PRICE)
    band = _band(instrument, t.quote, rules)
    for price in (t.price_paise, t.trigger_paise):
        if price and (rejection := check_price(instrument, price, band)) is not None:
            return Requirements(rejection)
    valuation = valuation_price(t.order_type, t.price_paise, t.trigger_paise, t.quote, rules)
    if valuation <= 0 or not _margin_market(instrument, t.market):
        return Requirements(Rejection.PRICE_UNAVAILABLE)
    if working is None and len(state.orders) >= rules.limits.open_orders_max:
        return Requirements(Rejection.OPEN_ORDERS_LIMIT)
    remaining = t.quantity - filled
    if remaining * valuation > rules.limits.order_value_max_paise:
        return Requirements(Rejection.ORDER_VALUE_LIMIT)
    exclude = working.order_id if working is not None else None
    selling_holdings = t.product is Product.CNC and t.side is Side.SELL
    if selling_holdings and remaining > _sellable_holdings(
        state, instrument.instrument_id, exclude
    ):
        return Requirements(Rejection.INSUFFICIENT_HOLDINGS)
    block, charges = _order_requirements(
        state,
        rules,
        instrument=instrument,
        product=t.product,
        side=t.side,
        quantity=remaining,
        valuation_paise=valuation,
        market=t.market,
        now_ms=t.now_ms,
        exclude=exclude,
    )
    freed = working.margin_blocked_paise if working is not None else 0
    # An order that adds no margin (it reduces a position, hedges a portfolio, or sells shares
    # held) is always taken, paying its charges even in debit: it is how an account in a
    # margin shortfall gets out of it (docs/DOMAIN.md §2). One that adds margin needs the
    # funds available marked to market.
    available = state.available_paise + freed + t.mtm_paise
    if block and block + charges > available:
        return Requirements(Rejection.INSUFFICIENT_FUNDS, block, charges)
    return Requirements(None, block, charges)


def _breaks_iceberg(instrument: Instrument, t: _Terms, rules: AccountRules) -> bool:
    """True when an iceberg's terms break a rule (``check_iceberg``) or the leg is not one of
    them: a leg number outside its legs, or a quantity other than that leg's."""
    iceberg = t.iceberg
    assert iceberg is not None
    if check_iceberg(instrument, iceberg, rules.limits) is not None:
        return True
    if not 1 <= iceberg.leg <= iceberg.legs:
        return True
    return t.quantity != iceberg.quantity_of_leg(iceberg.leg)


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


def _hours_check(rules: AccountRules, t: _Terms, working: Order | None) -> Rejection | None:
    """Market hours: a regular order needs its session open (MIS not yet squared off); a new
    after-market order needs it closed, and a working one, waiting for the open or live since,
    is modified at any time (docs/DOMAIN.md §3)."""
    closed = _market_closed(rules, t.instrument, t.product, t.now_ms)
    if not t.after_market:
        return Rejection.MARKET_CLOSED if closed else None
    if working is None and not closed:
        return Rejection.AMO_WHILE_OPEN
    return None


def _decide_modify(state: AccountState, c: cmd.ModifyOrder, rules: AccountRules) -> Decision:
    order = state.orders.get(c.order_id)
    if order is None:
        return _rejected(Rejection.ORDER_NOT_OPEN)
    order_type = c.order_type if c.order_type is not None else order.order_type
    quantity = c.quantity if c.quantity is not None else order.quantity
    price = c.price_paise if c.price_paise is not None else order.price_paise
    trigger = c.trigger_paise if c.trigger_paise is not None else order.trigger_paise
    if order_type in (OrderType.MARKET, OrderType.SL_M):
        price = 0
    if order_type in (OrderType.MARKET, OrderType.LIMIT):
        trigger = 0
    terms = _Terms(
        c.instrument,
        order.product,
        order.side,
        order_type,
        quantity,
        price,
        trigger,
        c.quote,
        c.market,
        c.mtm_paise,
        c.now_ms,
        order.after_market,
        None,
    )
    rejection, block, charges = _check_order(state, rules, terms, order)
    if rejection is not None:
        available = state.available_paise + order.margin_blocked_paise + c.mtm_paise
        return Decision((), rejection, _shortfall(rejection, block, charges, available))
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
    filled = fill_event(
        state,
        rules,
        instrument=instrument,
        order_id=order.order_id,
        product=order.product,
        side=order.side,
        quantity=c.quantity,
        price_paise=c.price_paise,
        market=c.market,
        now_ms=c.now_ms,
        block_released=pro_rata(order.margin_blocked_paise, c.quantity, order.remaining_quantity),
        status_after=status_after,
        filled_before=order.filled_quantity,
        so_far=OrderSoFar(order.fill_value_paise, order.brokerage_paise),
    )
    if remaining_after or c.next_leg_order_id is None:
        return Decision((filled,))
    return Decision((filled, *_next_iceberg_leg(state, order, filled, c, rules)))


def _next_iceberg_leg(
    state: AccountState, order: Order, filled: ev.OrderFilled, c: cmd.FillOrder, rules: AccountRules
) -> tuple[ev.AccountEvent, ...]:
    """The next leg of ``order``'s iceberg, placed now that ``order`` has filled: a new order
    decided, with every check of one, against the account as the fill leaves it. Refused, the
    leg is REJECTED and the iceberg ends there (docs/DOMAIN.md §3)."""
    assert c.next_leg_order_id is not None
    request = cmd.next_iceberg_leg(order, c.next_leg_order_id, c.instrument)
    if request is None:  # the last leg: nothing follows
        return ()
    after_fill = apply_all(copy.deepcopy(state), (filled,))
    leg = cmd.PlaceOrder(
        *msgspec.structs.astuple(request),
        now_ms=c.now_ms,
        quote=c.quote,
        market=c.market,
        mtm_paise=_mtm_after_fill(after_fill, order, c, rules),
        price_source=c.price_source,
    )
    return _decide_place(after_fill, leg, rules).events


def _mtm_after_fill(
    after_fill: AccountState, order: Order, c: cmd.FillOrder, rules: AccountRules
) -> int:
    """The account's mark-to-market as the fill leaves it, as it counts in available funds:
    the other positions' unrealised P&L stamped on the fill, and the booked position's at the
    quote (a part the fill closed is realised in the balance now, not marked again)."""
    unrealised = c.others_unrealised_paise
    booked = after_fill.position_for(order.instrument_id, order.product)
    ltp = c.quote.ltp_paise if c.quote is not None else 0
    if booked is not None and ltp > 0 and marked_to_market(c.instrument, order.product):
        unrealised += booked.unrealized_pnl_paise(ltp)
    return counted(unrealised, rules.risk)


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
    accepted, filled = market_exit(
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
        market=c.market,
    )
    if c.reason is CloseReason.SQUARE_OFF:
        filled = with_squareoff_fee(filled, rules.charges.on(rules.trade_date(c.now_ms)))
    return Decision((accepted, filled))


def _decide_expire(state: AccountState, c: cmd.ExpirePosition, rules: AccountRules) -> Decision:
    """Settle a position whose contract expired: closed whole through an exit order as any
    close (docs/DOMAIN.md §6). In cash, at its settlement value, charged only the STT on
    exercise when it is a long option settling in the money; by delivery (a stock future or
    option, ``c.deliverable`` stamped), closed at its settlement price (an option at 0: its
    intrinsic value is paid by the delivery at the strike) and its shares then delivered."""
    if c.exit_order_id in state.orders:
        return _rejected(Rejection.DUPLICATE)
    position = state.positions.get(c.position_id)
    if position is None:  # a closed position is gone from the state
        return _rejected(Rejection.POSITION_CLOSED)
    if c.settlement_paise < 0:
        return _rejected(Rejection.INVALID_PRICE)
    long = position.quantity > 0
    quantity = abs(position.quantity)
    shares = c.deliverable if physically_settled(c.instrument) else None
    close_price = c.settlement_paise
    if shares is not None and c.instrument.is_option:
        close_price = 0
    accepted, filled = market_exit(
        state,
        rules,
        order_id=c.exit_order_id,
        instrument=c.instrument,
        product=position.product,
        side=Side.SELL if long else Side.BUY,
        quantity=quantity,
        price_paise=close_price,
        now_ms=c.now_ms,
        price_source=None,
        market=c.market,
    )
    stt = 0
    if long and c.instrument.is_option and shares is None:  # exercised (zero pays zero)
        schedule = rules.charges.on(rules.trade_date(c.now_ms))
        stt = schedule.exercise_stt.of(c.settlement_paise * quantity)
    settled = with_exercise_charges(filled, stt)
    delivery = None
    if shares is not None:
        delivery = delivery_of(c.instrument, position.quantity, c.settlement_paise)
    if shares is None or delivery is None:  # settled in cash, or an option out of the money
        return Decision((accepted, settled))
    # Closing the contract changes neither the holding nor the CNC orders the delivery reads.
    delivered = shares_delivered(
        state,
        rules,
        exit_order_id=c.exit_order_id,
        position_id=position.position_id,
        contract=c.instrument,
        shares=shares,
        quantity=quantity,
        delivery=delivery,
        now_ms=c.now_ms,
    )
    return Decision((accepted, settled, delivered))


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
    # Every withdrawal blocks its amount under its own id, whether it was requested as an event
    # or (before requests were events) only blocked.
    amount = state.fund_blocks.get(c.withdrawal_id)
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


RESET_ORDER_NAMESPACE = uuid.UUID("0c5f2a8e-3b7d-4e61-a9f4-6d2e8b1c7a53")


def reset_exit_order_id(reset_id: str, n: int) -> str:
    """The id of a reset's ``n``-th exit order, derived so that ``decide`` stays pure."""
    return str(uuid.uuid5(RESET_ORDER_NAMESPACE, f"{reset_id}:{n}"))


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
        cancel = cmd.CancelOrder(now_ms=c.now_ms, order_id=order_id, reason=CancelReason.RESET)
        book(*_decide_cancel(work, cancel, rules).events)
    for gtt_id in sorted(work.gtts):  # a GTT would place orders on the account started over
        book(ev.GttDeleted(at_ms=c.now_ms, gtt_id=gtt_id))
    rejection = _close_and_sell_all(work, c, rules, book)
    if rejection is not None:
        return _rejected(rejection)
    if work.portfolio_margin:  # every position is closed: nothing is left to margin
        book(
            ev.PortfolioMarginRevalued(
                at_ms=c.now_ms,
                blocks=tuple(
                    ev.PortfolioBlock(underlying=name, margin_paise=0, position_ids=())
                    for name in sorted(work.portfolio_margin)
                ),
            )
        )
    for withdrawal_id in sorted(work.pending_withdrawals):
        amount = work.pending_withdrawals[withdrawal_id]
        book(
            ev.WithdrawalCancelled(
                at_ms=c.now_ms,
                withdrawal_id=withdrawal_id,
                amount_paise=amount,
                cancelled_by=c.by_user_id,
                reason=CancelReason.RESET,
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
                kind=FundKind.RESET,
                reference=c.reset_id,
                operator_id=c.by_user_id,
            )
        )
    if work.balance_paise != c.opening_balance_paise:
        raise InvariantError(
            f"reset {c.reset_id} left {work.balance_paise}, not the opening balance"
        )
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
            reason=CloseReason.RESET,
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
            *market_exit(
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
                market=None,
            )
        )
        exits += 1
    return None


def _decide_trigger_gtt(state: AccountState, c: cmd.TriggerGtt, rules: AccountRules) -> Decision:
    """A GTT's leg fired (docs/DOMAIN.md §7): its order is placed as any new order, with every
    check of one. Accepted, the GTT is TRIGGERED; refused, it is REJECTED with the order's
    reason (the order kept REJECTED too). Either way the GTT has ended, a two-leg GTT's other
    leg with it. A firing the GTT's current terms do not allow changes nothing."""
    gtt = state.gtts.get(c.gtt_id)
    if gtt is None:
        return _rejected(Rejection.GTT_NOT_ACTIVE)
    if c.gtt_version != gtt.version:
        return _rejected(Rejection.STALE_EXECUTION)  # reached a trigger it no longer has
    if not 0 <= c.leg < len(gtt.legs) or c.instrument.instrument_id != gtt.instrument_id:
        return _rejected(Rejection.OUTSIDE_ORDER_TERMS)
    leg = gtt.legs[c.leg]
    if not leg_fires(leg.trigger_paise, gtt.last_price_paise, c.ltp_paise):
        return _rejected(Rejection.OUTSIDE_ORDER_TERMS)
    if c.now_ms >= gtt.expires_ms:  # it expired before the market reported its firing
        expired = ev.GttExpired(at_ms=c.now_ms, gtt_id=gtt.gtt_id, status=GttStatus.EXPIRED.value)
        return Decision((expired,))
    request = cmd.gtt_order(leg, c.order_id, c.instrument)
    order = cmd.PlaceOrder(
        *msgspec.structs.astuple(request),
        now_ms=c.now_ms,
        quote=c.quote,
        market=c.market,
        mtm_paise=c.mtm_paise,
        price_source=c.price_source,
    )
    placed = _decide_place(state, order, rules)
    if not placed.events:  # its id is taken: nothing placed, the GTT waits on
        return placed
    triggered = ev.GttTriggered(
        at_ms=c.now_ms,
        gtt_id=gtt.gtt_id,
        leg=c.leg,
        ltp_paise=c.ltp_paise,
        placed_order_id=c.order_id,
        rejection="" if placed.rejection is None else placed.rejection.value,
    )
    return Decision((triggered, *placed.events), placed.rejection, placed.shortfall)


_DECIDERS: dict[type, Callable[[AccountState, Any, AccountRules], Decision]] = {
    cmd.PlaceOrder: _decide_place,
    cmd.ModifyOrder: _decide_modify,
    cmd.CancelOrder: _decide_cancel,
    cmd.TriggerOrder: _decide_trigger,
    cmd.FillOrder: _decide_fill,
    cmd.ClosePosition: _decide_close,
    cmd.ExpirePosition: _decide_expire,
    cmd.SetRiskLevels: _decide_set_risk,
    cmd.ConvertPosition: decide_convert,
    cmd.CreditFunds: _decide_credit,
    cmd.DebitFunds: _decide_debit,
    cmd.BlockFunds: _decide_block,
    cmd.ReleaseFunds: _decide_release,
    cmd.SettleHoldings: _decide_settle,
    cmd.RevalueMargin: decide_revalue,
    cmd.SettleFutures: decide_settle_futures,
    cmd.RequestDeposit: _decide_request_deposit,
    cmd.DecideDeposit: _decide_deposit,
    cmd.RequestWithdrawal: _decide_request_withdrawal,
    cmd.DecideWithdrawal: _decide_withdrawal,
    cmd.ResetAccount: _decide_reset,
    cmd.PlaceGtt: decide_place_gtt,
    cmd.ModifyGtt: decide_modify_gtt,
    cmd.DeleteGtt: decide_delete_gtt,
    cmd.TriggerGtt: _decide_trigger_gtt,
    cmd.EndGtt: decide_end_gtt,
}
