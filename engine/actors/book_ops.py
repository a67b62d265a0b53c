"""What the market actor must hold for an account: where each working order rests, which
position levels it watches and where its GTTs' triggers wait. Used after each decision and
when an account is recovered."""

from __future__ import annotations

from engine.domain.account.state import AccountState
from engine.domain.enums import OrderType, Side, Validity
from engine.domain.gtt import Gtt, rises_to
from engine.domain.instruments import InstrumentMaster
from engine.domain.orders import Order
from engine.domain.positions import Position
from engine.market.messages import (
    BookOp,
    ExecuteMarket,
    MirrorPosition,
    RestGtt,
    RestOrder,
    SetExits,
)


def working_op(
    account_id: str, order: Order, index: int, at_ms: int, market_fill_delay_ms: int
) -> BookOp:
    """Where a working order now lives: a limit/stop book, or the market queue (an
    after-market order the market holds until its session opens, then takes as placed)."""
    side = 1 if order.side is Side.BUY else -1
    quantity = order.remaining_quantity
    market_now = order.order_type is OrderType.MARKET or (
        order.order_type is OrderType.SL_M and order.triggered
    )
    if market_now:
        delay = market_fill_delay_ms if order.order_type is OrderType.MARKET else 0
        return ExecuteMarket(
            account_id,
            order.order_id,
            index,
            side,
            quantity,
            at_ms + delay,
            order.version,
            ioc=order.validity is Validity.IOC,
            after_market=order.after_market,
            placed_ms=order.created_ms,
        )
    return RestOrder(
        account_id=account_id,
        order_id=order.order_id,
        index=index,
        side=side,
        quantity=quantity,
        limit_paise=order.price_paise,
        trigger_paise=order.trigger_paise,
        triggered=order.triggered,
        ioc=order.validity is Validity.IOC,
        version=order.version,
        after_market=order.after_market,
        placed_ms=order.created_ms,
    )


def exit_op(account_id: str, position: Position, index: int) -> SetExits:
    return SetExits(
        account_id,
        position.position_id,
        index,
        position.quantity,
        position.stop_loss_paise,
        position.target_paise,
    )


def gtt_op(account_id: str, gtt: Gtt, index: int) -> RestGtt:
    """Where an active GTT's legs rest: each in the book of the way the price must move to
    reach it from where it was when the GTT was placed (or modified)."""
    rising: tuple[int, int] | None = None
    falling: tuple[int, int] | None = None
    for leg, terms in enumerate(gtt.legs):
        if rises_to(gtt, leg):
            rising = (leg, terms.trigger_paise)
        else:
            falling = (leg, terms.trigger_paise)
    return RestGtt(account_id, gtt.gtt_id, index, gtt.version, rising, falling, gtt.expires_ms)


def resume_ops(
    state: AccountState, master: InstrumentMaster, market_fill_delay_ms: int
) -> tuple[BookOp, ...]:
    """Everything a recovered account needs the market to hold again."""
    ops: list[BookOp] = []
    account_id = state.account_id
    for order in state.orders.values():
        index = master.index_of(order.instrument_id)
        if index is not None:
            ops.append(working_op(account_id, order, index, order.created_ms, market_fill_delay_ms))
    for position in state.positions.values():
        index = master.index_of(position.instrument_id)
        if index is not None:
            ops.append(
                MirrorPosition(
                    account_id, position.position_id, index, position.quantity, position.cost_paise
                )
            )
            ops.append(exit_op(account_id, position, index))
    for gtt in state.gtts.values():
        index = master.index_of(gtt.instrument_id)
        if index is not None:
            ops.append(gtt_op(account_id, gtt, index))
    return tuple(ops)
