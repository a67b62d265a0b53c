"""``apply(state, event)``: book one event into an account's state. The only code that changes an
``AccountState``; the journal's replay runs it too, so the state rebuilt from events is the state
the actor held."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from engine.domain import events as ev
from engine.domain.account.state import AccountState, FundOperation, position_key
from engine.domain.enums import (
    OrderStatus,
    Product,
)
from engine.domain.gtt import Gtt, GttStatus
from engine.domain.gtt import transition as gtt_transition
from engine.domain.invariants import InvariantError
from engine.domain.orders import Order, transition
from engine.domain.positions import Holding, Position

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


def order_from_terms(
    terms: ev.OrderAccepted | ev.OrderRejected, status: OrderStatus, margin_blocked_paise: int
) -> Order:
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
        tag=terms.tag,
        after_market=terms.after_market,
        iceberg=terms.iceberg,
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
        if order.margin_blocked_paise:
            raise InvariantError(f"executed order {order.order_id} keeps a block")
        del state.orders[e.order_id]

    position = state.positions.get(e.position_id)  # none for a sell from holdings alone
    if position is not None:
        position.realized_pnl_paise += e.realized_pnl_paise
    _book_position(
        state,
        e.position_id,
        e.instrument_id,
        e.product,
        at_ms=e.at_ms,
        quantity=e.position_quantity,
        cost_paise=e.position_cost_paise,
        margin_paise=e.position_margin_paise,
        buy_brokerage_paise=e.position_buy_brokerage_paise,
        buy_taxes_paise=e.position_buy_taxes_paise,
    )

    _book_cash_and_holding(state, e)
    if e.portfolio is not None:
        _set_portfolio(state, e.portfolio)


def _set_portfolio(state: AccountState, block: ev.PortfolioBlock) -> None:
    """Block an underlying's portfolio margin in place of what it blocked before, and of any
    margin its positions carried on their own (journaled before portfolio margin)."""
    for position_id in block.position_ids:
        position = state.positions[position_id]
        state.blocked_paise -= position.margin_paise
        position.margin_paise = 0
    state.blocked_paise -= state.portfolio_margin.pop(block.underlying, 0)
    if block.margin_paise:
        state.portfolio_margin[block.underlying] = block.margin_paise
        state.blocked_paise += block.margin_paise


def _apply_revalued(state: AccountState, e: ev.PortfolioMarginRevalued) -> None:
    for block in e.blocks:
        _set_portfolio(state, block)


def _apply_margin_called(state: AccountState, e: ev.MarginCalled) -> None:
    state.margin_called = True


def _apply_margin_met(state: AccountState, e: ev.MarginCallMet) -> None:
    state.margin_called = False


def _apply_futures_settled(state: AccountState, e: ev.FuturesSettled) -> None:
    for settlement in e.settlements:
        position = state.positions[settlement.position_id]
        position.cost_paise = position.quantity * settlement.price_paise
        position.realized_pnl_paise += settlement.realized_pnl_paise
        state.balance_paise += settlement.realized_pnl_paise
        state.realized_pnl_paise += settlement.realized_pnl_paise
    state.futures_settled_day = e.trade_day


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


def _book_position(
    state: AccountState,
    position_id: str,
    instrument_id: str,
    product: Product,
    *,
    at_ms: int,
    quantity: int,
    cost_paise: int,
    margin_paise: int,
    buy_brokerage_paise: int,
    buy_taxes_paise: int,
) -> None:
    """Leave a position at the figures an event gives, its margin blocked in place of what it
    blocked before: opened if new, removed at quantity 0."""
    position = state.positions.get(position_id)
    if position is not None:
        state.blocked_paise -= position.margin_paise
        if quantity == 0:
            del state.positions[position_id]
            del state.position_ids[position_key(instrument_id, product)]
            return
        position.quantity = quantity
        position.cost_paise = cost_paise
        position.margin_paise = margin_paise
        position.buy_brokerage_paise = buy_brokerage_paise
        position.buy_taxes_paise = buy_taxes_paise
    elif quantity:
        state.positions[position_id] = Position(
            position_id=position_id,
            instrument_id=instrument_id,
            product=product,
            quantity=quantity,
            cost_paise=cost_paise,
            margin_paise=margin_paise,
            realized_pnl_paise=0,
            opened_ms=at_ms,
            buy_brokerage_paise=buy_brokerage_paise,
            buy_taxes_paise=buy_taxes_paise,
        )
        state.position_ids[position_key(instrument_id, product)] = position_id
    else:
        return
    state.blocked_paise += margin_paise


def _apply_converted(state: AccountState, e: ev.PositionConverted) -> None:
    _book_position(
        state,
        e.position_id,
        e.instrument_id,
        e.product,
        at_ms=e.at_ms,
        quantity=e.position_quantity,
        cost_paise=e.position_cost_paise,
        margin_paise=e.position_margin_paise,
        buy_brokerage_paise=e.position_buy_brokerage_paise,
        buy_taxes_paise=e.position_buy_taxes_paise,
    )
    _book_position(
        state,
        e.target_position_id,
        e.instrument_id,
        e.target_product,
        at_ms=e.at_ms,
        quantity=e.target_quantity,
        cost_paise=e.target_cost_paise,
        margin_paise=e.target_margin_paise,
        buy_brokerage_paise=e.target_buy_brokerage_paise,
        buy_taxes_paise=e.target_buy_taxes_paise,
    )
    if e.portfolio is not None:
        _set_portfolio(state, e.portfolio)


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


def _apply_expiry_margin(state: AccountState, e: ev.ExpiryMarginBlocked) -> None:
    # The extra joins the position's margin: a reduction releases it pro rata with the rest.
    for block in e.blocks:
        state.positions[block.position_id].margin_paise += block.amount_paise
        state.blocked_paise += block.amount_paise
    state.expiry_margin_day = e.trade_day


def _book_cash_and_holding(state: AccountState, e: ev.OrderFilled | ev.SharesDelivered) -> None:
    """What a fill or a delivery leaves in the holding, the cash and the P&L and charges."""
    _set_holding(state, e.instrument_id, e.holding_quantity, e.holding_cost_paise)
    if e.dp_day:
        state.dp_charged_day[e.instrument_id] = e.dp_day
    state.balance_paise += e.realized_pnl_paise - e.charges_paise
    state.realized_pnl_paise += e.realized_pnl_paise
    state.charges_paise += e.charges_paise


def _apply_gtt_placed(state: AccountState, e: ev.GttPlaced) -> None:
    state.gtts[e.gtt_id] = Gtt(
        gtt_id=e.gtt_id,
        instrument_id=e.instrument_id,
        gtt_type=e.gtt_type,
        last_price_paise=e.last_price_paise,
        legs=e.legs,
        status=gtt_transition(None, GttStatus.ACTIVE),
        created_ms=e.at_ms,
        updated_ms=e.at_ms,
        expires_ms=e.expires_ms,
    )


def _apply_gtt_modified(state: AccountState, e: ev.GttModified) -> None:
    gtt = state.gtts[e.gtt_id]
    gtt.status = gtt_transition(gtt.status, GttStatus.ACTIVE)
    gtt.gtt_type = e.gtt_type
    gtt.last_price_paise = e.last_price_paise
    gtt.legs = e.legs
    gtt.updated_ms = e.at_ms
    gtt.version += 1


def _end_gtt(state: AccountState, gtt_id: str, status: GttStatus) -> None:
    """An active GTT ends: it leaves the state (its row keeps how it ended)."""
    gtt = state.gtts.pop(gtt_id)
    gtt_transition(gtt.status, status)


def _apply_gtt_deleted(state: AccountState, e: ev.GttDeleted) -> None:
    _end_gtt(state, e.gtt_id, GttStatus.CANCELLED)


def _apply_gtt_triggered(state: AccountState, e: ev.GttTriggered) -> None:
    _end_gtt(state, e.gtt_id, GttStatus.REJECTED if e.rejection else GttStatus.TRIGGERED)


def _apply_gtt_expired(state: AccountState, e: ev.GttExpired) -> None:
    _end_gtt(state, e.gtt_id, GttStatus(e.status))


_APPLIERS: dict[type, Callable[[AccountState, Any], None]] = {
    ev.OrderAccepted: _apply_accepted,
    ev.OrderRejected: _apply_rejected,
    ev.OrderModified: _apply_modified,
    ev.OrderTriggered: _apply_triggered,
    ev.OrderCancelled: _apply_cancelled,
    ev.OrderFilled: _apply_filled,
    ev.PositionRiskSet: _apply_risk_set,
    ev.PositionConverted: _apply_converted,
    ev.FundsCredited: _apply_credited,
    ev.FundsDebited: _apply_debited,
    ev.FundsBlocked: _apply_blocked,
    ev.FundsReleased: _apply_released,
    ev.HoldingsSettled: _apply_settled,
    ev.SharesDelivered: _book_cash_and_holding,
    ev.DepositRequested: _apply_deposit_requested,
    ev.DepositDecided: _apply_deposit_decided,
    ev.WithdrawalRequested: _apply_withdrawal_requested,
    ev.WithdrawalDecided: _apply_withdrawal_decided,
    ev.WithdrawalCancelled: _apply_withdrawal_cancelled,
    ev.AccountReset: _apply_reset,
    ev.ExpiryMarginBlocked: _apply_expiry_margin,
    ev.PortfolioMarginRevalued: _apply_revalued,
    ev.MarginCalled: _apply_margin_called,
    ev.MarginCallMet: _apply_margin_met,
    ev.FuturesSettled: _apply_futures_settled,
    ev.GttPlaced: _apply_gtt_placed,
    ev.GttModified: _apply_gtt_modified,
    ev.GttDeleted: _apply_gtt_deleted,
    ev.GttTriggered: _apply_gtt_triggered,
    ev.GttExpired: _apply_gtt_expired,
}
