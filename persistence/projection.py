"""Turn journaled events into projection rows: orders (with their trades and history),
positions, holdings, fund blocks, trading accounts, ledger legs and trading logs.

Pure Python, no I/O: the persistence actor keeps a mirror of every account's state, applies each new
event to it with ``engine.domain.account.apply`` and reads the rows off the state before and after.
Rows for orders, positions, holdings, fund blocks and accounts carry absolute values, so writing
them twice is harmless; ledger legs, logs, trades and order history are keyed by the event that
caused them and are written only for events the journal insert really added.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import msgspec
import orjson

from engine.actors.sink import EventBatch
from engine.domain import events as ev
from engine.domain.account.apply import apply, order_from_terms
from engine.domain.account.state import AccountState
from engine.domain.enums import OrderStatus, Side
from engine.domain.invariants import InvariantError
from engine.domain.orders import Order
from engine.domain.positions import Position
from persistence.gtt_rows import project_gtt
from persistence.iceberg_rows import iceberg_columns
from persistence.order_event_rows import project_order_event
from persistence.request_rows import project_request
from persistence.rows import Rows

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# ``at`` runs ~6 times per projected event, mostly on the event's own instant: a small cache
# of recent instants saves most of the datetime arithmetic (datetimes are immutable).
AT_CACHE_MAX = 4096

# Ledger books (see the transactions table in 0001_initial.sql).
CASH = "CASH"
BLOCKED = "BLOCKED"
EXTERNAL = "EXTERNAL"
MARKET = "MARKET"
BROKERAGE = "BROKERAGE"
TAXES = "TAXES"
PENALTIES = "PENALTIES"  # a short delivery's close-out penalty (docs/DOMAIN.md §6)
BLOCK_CONTRA = "BLOCK_CONTRA"


class JournalGapError(Exception):
    """A batch skips account sequence numbers: an earlier batch never arrived (a bug)."""


@lru_cache(maxsize=AT_CACHE_MAX)
def at(ms: int) -> datetime:
    """Milliseconds since the epoch as an exact UTC datetime."""
    return EPOCH + timedelta(milliseconds=ms)


def ms_of(moment: datetime) -> int:
    """An exact UTC datetime back to milliseconds since the epoch."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def new_events(state: AccountState, batch: EventBatch) -> list[tuple[int, ev.AccountEvent]]:
    """The (account_seq, event) pairs of ``batch`` that ``state`` has not applied yet."""
    if batch.first_seq > state.seq + 1:
        raise JournalGapError(
            f"account {batch.account_id}: batch starts at {batch.first_seq}, "
            f"journal is at {state.seq}"
        )
    return [
        (batch.first_seq + i, event)
        for i, event in enumerate(batch.events)
        if batch.first_seq + i > state.seq
    ]


def project(state: AccountState, account_seq: int, event: ev.AccountEvent, rows: Rows) -> None:
    """Apply ``event`` to ``state`` (the writer's mirror); add the rows it changes to ``rows``."""
    account_id = state.account_id
    if account_seq != state.seq + 1:
        raise InvariantError(
            f"account {account_id}: event {account_seq} projected after {state.seq}"
            " (events are projected in sequence)"
        )
    balance_before, blocked_before = state.balance_paise, state.blocked_paise
    order_before = _order_of(state, event)
    position_before = _position_of(state, event)
    held_before = _held_instruments(state, event, position_before)
    gtt_id = getattr(event, "gtt_id", None)
    gtt_before = None if gtt_id is None else state.gtts.get(gtt_id)
    apply(state, event)
    when = at(event.at_ms)
    payload = orjson.Fragment(ev.encode_event(event))  # raw JSON, embedded as it is
    rows.events.append((account_id, account_seq, type(event).__name__, payload, when))
    order_after = _order_rows(state, event, order_before, rows)
    if order_after is not None:
        project_order_event(
            account_id, account_seq, event, order_after=order_after, when=when, rows=rows
        )
    _position_rows(state, event, position_before, rows)
    _holding_and_block_rows(state, event, held_before, rows)
    _ledger_rows(
        state,
        account_seq,
        event,
        balance_before=balance_before,
        blocked_before=blocked_before,
        rows=rows,
    )
    _log_rows(state, account_seq, event, payload, rows)
    project_request(state, account_seq, event, when, rows)
    project_gtt(state, event, gtt_before, at, rows.gtts)
    rows.accounts[account_id] = (
        account_id,
        state.seq,
        state.balance_paise,
        state.blocked_paise,
        state.deposits_paise,
        state.withdrawals_paise,
        state.realized_pnl_paise,
        state.charges_paise,
        orjson.Fragment(msgspec.json.encode(state.dp_charged_day)),
        when,
        state.expiry_margin_day,
        orjson.Fragment(msgspec.json.encode(state.portfolio_margin)),
        state.margin_called,
        state.futures_settled_day,
    )


# -- orders -----------------------------------------------------------------------------------


def _order_of(state: AccountState, event: ev.AccountEvent) -> Order | None:
    order_id = getattr(event, "order_id", None)
    return None if order_id is None else state.orders.get(order_id)


def order_row(
    account_id: str,
    order: Order,
    *,
    status: OrderStatus,
    margin_blocked_paise: int,
    rejection_reason: str | None = None,
    cancel_reason: str | None = None,
    executed_ms: int | None = None,
) -> tuple[Any, ...]:
    """One ``orders`` row, in the column order of ``writer.UPSERT_ORDERS``."""
    return (
        order.order_id,
        account_id,
        order.client_order_id,
        order.instrument_id,
        order.side.value,
        order.product.value,
        order.order_type.value,
        order.validity.value,
        order.quantity,
        order.filled_quantity,
        order.price_paise,
        order.trigger_paise,
        order.fill_value_paise,
        order.average_price_paise(),
        margin_blocked_paise,
        order.charges_paise,
        order.triggered,
        status.value,
        rejection_reason,
        cancel_reason,
        at(order.created_ms),
        at(order.updated_ms),
        None if executed_ms is None else at(executed_ms),
        order.version,
        order.brokerage_paise,
        order.tag,
        order.after_market,
        *iceberg_columns(order.iceberg),
    )


def _order_rows(
    state: AccountState, event: ev.AccountEvent, before: Order | None, rows: Rows
) -> Order | None:
    """Add the ``orders`` row an order event changes; return the order as the event left it
    (None for an event of no order)."""
    account_id = state.account_id
    if isinstance(event, ev.OrderRejected):
        rejected = order_from_terms(event, OrderStatus.REJECTED, 0)
        rows.orders[event.order_id] = order_row(
            account_id,
            rejected,
            status=OrderStatus.REJECTED,
            margin_blocked_paise=0,
            rejection_reason=event.reason.value,
        )
        return rejected
    order_id = getattr(event, "order_id", None)
    if order_id is None:
        return None
    working = state.orders.get(order_id)
    if working is not None:
        rows.orders[order_id] = order_row(
            account_id,
            working,
            status=working.status,
            margin_blocked_paise=working.margin_blocked_paise,
        )
        return working
    # The order left the state: ``before`` is the same object, updated in place by apply.
    if before is None:
        raise InvariantError(f"account {account_id}: order {order_id} left no row to write")
    if isinstance(event, ev.OrderCancelled):
        before.updated_ms = event.at_ms
        rows.orders[order_id] = order_row(
            account_id,
            before,
            status=OrderStatus.CANCELLED,
            margin_blocked_paise=0,
            cancel_reason=event.reason,
        )
    elif isinstance(event, ev.OrderFilled):
        rows.orders[order_id] = order_row(
            account_id,
            before,
            status=OrderStatus.EXECUTED,
            margin_blocked_paise=0,
            executed_ms=event.at_ms,
        )
    return before


# -- positions, holdings, fund blocks -----------------------------------------------------------


def _position_of(state: AccountState, event: ev.AccountEvent) -> dict[str, Position]:
    if isinstance(event, ev.OrderFilled | ev.PositionRiskSet) and event.position_id:
        position = state.positions.get(event.position_id)
        return {} if position is None else {event.position_id: position}
    if isinstance(event, ev.HoldingsSettled):
        return {pid: state.positions[pid] for pid in event.position_ids}
    if isinstance(event, ev.PositionConverted):
        members = () if event.portfolio is None else event.portfolio.position_ids
        return {
            pid: state.positions[pid]
            for pid in (event.position_id, event.target_position_id, *members)
            if pid in state.positions
        }
    if isinstance(event, ev.ExpiryMarginBlocked):
        return {b.position_id: state.positions[b.position_id] for b in event.blocks}
    if isinstance(event, ev.PortfolioMarginRevalued):
        return {pid: state.positions[pid] for b in event.blocks for pid in b.position_ids}
    if isinstance(event, ev.FuturesSettled):
        return {s.position_id: state.positions[s.position_id] for s in event.settlements}
    return {}


def position_row(
    account_id: str,
    position: Position,
    *,
    updated_ms: int,
    closed: str | None = None,
) -> tuple[Any, ...]:
    """One ``positions`` row, in the column order of ``writer.UPSERT_POSITIONS``."""
    flat = closed is not None
    return (
        position.position_id,
        account_id,
        position.instrument_id,
        position.product.value,
        0 if flat else position.quantity,
        0 if flat else position.cost_paise,
        0 if flat else position.average_price_paise(),
        0 if flat else position.margin_paise,
        position.realized_pnl_paise,
        position.stop_loss_paise,
        position.target_paise,
        "CLOSED" if flat else "OPEN",
        closed,
        at(position.opened_ms),
        at(updated_ms),
        at(updated_ms) if flat else None,
        0 if flat else position.buy_brokerage_paise,
        0 if flat else position.buy_taxes_paise,
    )


def _position_rows(
    state: AccountState, event: ev.AccountEvent, before: dict[str, Position], rows: Rows
) -> None:
    account_id = state.account_id
    position_ids: tuple[str, ...] = ()
    if isinstance(event, ev.OrderFilled | ev.PositionRiskSet) and event.position_id:
        position_ids = (event.position_id,)
    elif isinstance(event, ev.HoldingsSettled):
        position_ids = event.position_ids
    elif isinstance(event, ev.PositionConverted):
        position_ids = (event.position_id, event.target_position_id)
    elif isinstance(event, ev.ExpiryMarginBlocked):
        position_ids = tuple(block.position_id for block in event.blocks)
    elif isinstance(event, ev.PortfolioMarginRevalued):
        position_ids = tuple(pid for block in event.blocks for pid in block.position_ids)
    elif isinstance(event, ev.FuturesSettled):
        position_ids = tuple(settlement.position_id for settlement in event.settlements)
    if isinstance(event, ev.OrderFilled | ev.PositionConverted) and event.portfolio is not None:
        # A portfolio's members give up any margin they carried on their own.
        position_ids = tuple(dict.fromkeys((*position_ids, *event.portfolio.position_ids)))
    reason = "CLOSED"
    if isinstance(event, ev.HoldingsSettled):
        reason = "SETTLED"
    elif isinstance(event, ev.OrderFilled) and event.close_reason:
        reason = event.close_reason  # EXPIRED
    elif isinstance(event, ev.PositionConverted):
        reason = "CONVERTED"  # all its units moved to another product
    for position_id in position_ids:
        position = state.positions.get(position_id)
        if position is not None:
            rows.positions[position_id] = position_row(account_id, position, updated_ms=event.at_ms)
        else:
            rows.positions[position_id] = position_row(
                account_id, before[position_id], updated_ms=event.at_ms, closed=reason
            )


def _held_instruments(
    state: AccountState, event: ev.AccountEvent, positions_before: dict[str, Position]
) -> dict[str, bool]:
    """The instruments whose holding ``event`` may change, and whether each is held now."""
    if isinstance(event, ev.OrderFilled | ev.SharesDelivered):
        return {event.instrument_id: event.instrument_id in state.holdings}
    if isinstance(event, ev.HoldingsSettled):
        return {
            p.instrument_id: p.instrument_id in state.holdings for p in positions_before.values()
        }
    return {}


def _holding_and_block_rows(
    state: AccountState, event: ev.AccountEvent, held_before: dict[str, bool], rows: Rows
) -> None:
    account_id = state.account_id
    when = at(event.at_ms)
    for instrument_id, held in held_before.items():
        holding = state.holdings.get(instrument_id)
        if holding is None and not held:
            # Not held before or after (every MIS fill): the stored row, if any, already
            # says zero, so there is nothing to write.
            continue
        quantity, cost = (0, 0) if holding is None else (holding.quantity, holding.cost_paise)
        rows.holdings[(account_id, instrument_id)] = (
            account_id,
            instrument_id,
            quantity,
            cost,
            when,
        )
    if isinstance(event, ev.FundsBlocked | ev.WithdrawalRequested):
        block_id, kind = (
            (event.block_id, event.kind)
            if isinstance(event, ev.FundsBlocked)
            else (event.withdrawal_id, "WITHDRAWAL")
        )
        rows.fund_blocks[(account_id, block_id)] = (
            account_id,
            block_id,
            event.amount_paise,
            kind,
            "BLOCKED",
            when,
            None,
        )
    elif isinstance(event, ev.FundsReleased | ev.WithdrawalDecided | ev.WithdrawalCancelled):
        block_id = event.block_id if isinstance(event, ev.FundsReleased) else event.withdrawal_id
        key = (account_id, block_id)
        earlier = rows.fund_blocks.get(key)
        kind, created = ("", when) if earlier is None else (earlier[3], earlier[5])
        rows.fund_blocks[key] = (
            account_id,
            block_id,
            event.amount_paise,
            kind,
            "RELEASED",
            created,
            when,
        )


# -- ledger -----------------------------------------------------------------------------------


def _cash_legs(event: ev.AccountEvent) -> list[tuple[str, str, int, str]]:
    """(counterparty book, kind, signed amount to CASH, reference) for each cash movement."""
    if isinstance(event, ev.FundsCredited):
        return [(EXTERNAL, event.kind, event.amount_paise, event.reference)]
    if isinstance(event, ev.FundsDebited):
        return [(EXTERNAL, event.kind, -event.amount_paise, event.reference)]
    if isinstance(event, ev.DepositDecided) and event.approved:
        return [(EXTERNAL, "DEPOSIT", event.amount_paise, event.deposit_id)]
    if isinstance(event, ev.WithdrawalDecided) and event.approved:
        return [(EXTERNAL, "WITHDRAWAL", -event.amount_paise, event.withdrawal_id)]
    if isinstance(event, ev.OrderFilled):
        legs = [
            (MARKET, "PNL", event.realized_pnl_paise, event.order_id),
            (BROKERAGE, "BROKERAGE", -event.brokerage_paise, event.order_id),
            (TAXES, "TAXES", -event.taxes_paise, event.order_id),
        ]
        return [leg for leg in legs if leg[2]]
    if isinstance(event, ev.SharesDelivered):
        legs = [
            (MARKET, "PNL", event.realized_pnl_paise, event.exit_order_id),
            (BROKERAGE, "BROKERAGE", -event.brokerage_paise, event.exit_order_id),
            (TAXES, "TAXES", -event.taxes_paise, event.exit_order_id),
            (PENALTIES, "CLOSE_OUT", -event.penalty_paise, event.exit_order_id),
        ]
        return [leg for leg in legs if leg[2]]
    if isinstance(event, ev.FuturesSettled):
        return [
            (MARKET, "PNL", s.realized_pnl_paise, s.position_id)
            for s in event.settlements
            if s.realized_pnl_paise
        ]
    return []


def _block_kind(event: ev.AccountEvent, delta: int) -> str:
    if isinstance(
        event,
        ev.FundsBlocked
        | ev.FundsReleased
        | ev.WithdrawalRequested
        | ev.WithdrawalDecided
        | ev.WithdrawalCancelled,
    ):
        return "FUNDS_BLOCK" if delta > 0 else "FUNDS_RELEASE"
    return "MARGIN_BLOCK" if delta > 0 else "MARGIN_RELEASE"


def _ledger_rows(
    state: AccountState,
    account_seq: int,
    event: ev.AccountEvent,
    *,
    balance_before: int,
    blocked_before: int,
    rows: Rows,
) -> None:
    """Two legs per money movement: the account's book and its counterparty, summing to 0."""
    account_id, description, when = state.account_id, type(event).__name__, at(event.at_ms)

    def legs(
        leg: int, book: str, counterparty: str, *, kind: str, amount: int, after: int, ref: str
    ) -> None:
        """The book's leg (with its total after) and the counterparty's opposite leg."""
        rows.ledger.append(
            (
                account_id,
                account_seq,
                leg,
                book,
                counterparty,
                kind,
                amount,
                after,
                ref,
                description,
                when,
            )
        )
        rows.ledger.append(
            (
                account_id,
                account_seq,
                leg + 1,
                counterparty,
                book,
                kind,
                -amount,
                None,
                ref,
                description,
                when,
            )
        )

    leg = 0
    balance = balance_before
    for counterparty, kind, amount, reference in _cash_legs(event):
        balance += amount
        legs(leg, CASH, counterparty, kind=kind, amount=amount, after=balance, ref=reference)
        leg += 2
    if balance != state.balance_paise:
        raise InvariantError(
            f"account {account_id}: cash legs of {event!r} sum to a balance of {balance},"
            f" the event left {state.balance_paise}"
        )
    delta = state.blocked_paise - blocked_before
    if delta:
        reference = str(
            getattr(event, "order_id", "")
            or getattr(event, "exit_order_id", "")
            or getattr(event, "block_id", "")
            or getattr(event, "withdrawal_id", "")
            or getattr(event, "position_id", "")  # a conversion's
        )
        kind = _block_kind(event, delta)
        legs(
            leg,
            BLOCKED,
            BLOCK_CONTRA,
            kind=kind,
            amount=delta,
            after=state.blocked_paise,
            ref=reference,
        )


# -- trading logs -----------------------------------------------------------------------------


def _log_entry(event: ev.AccountEvent) -> tuple[str, str, str] | None:
    """(category, level, message) for the operations worth a trading log line."""
    if isinstance(event, ev.OrderAccepted):
        return "ORDER", "INFO", "order placed"
    if isinstance(event, ev.OrderRejected):
        return "ORDER", "WARN", f"order rejected: {event.reason.value}"
    if isinstance(event, ev.OrderModified):
        return "ORDER", "INFO", "order modified"
    if isinstance(event, ev.OrderCancelled):
        return "ORDER", "INFO", f"order cancelled: {event.reason}"
    if isinstance(event, ev.OrderFilled):
        if event.position_id and event.position_quantity == 0:
            return "POSITION", "INFO", "position closed"
        if event.status_after is OrderStatus.EXECUTED:
            return "ORDER", "INFO", "order executed"
        return "ORDER", "INFO", "order partially filled"
    if isinstance(event, ev.FundsCredited):
        return "FUNDS", "INFO", f"funds credited: {event.kind}"
    if isinstance(event, ev.FundsDebited):
        return "FUNDS", "INFO", f"funds debited: {event.kind}"
    if isinstance(event, ev.FundsBlocked):
        return "FUNDS", "INFO", f"funds blocked: {event.kind}"
    if isinstance(event, ev.FundsReleased):
        return "FUNDS", "INFO", "funds released"
    if isinstance(event, ev.HoldingsSettled):
        return "POSITION", "INFO", "positions settled to holdings"
    if isinstance(event, ev.PositionConverted):
        return (
            "POSITION",
            "INFO",
            f"position converted: {event.quantity} {event.product} to {event.target_product}",
        )
    if isinstance(event, ev.SharesDelivered):
        return "POSITION", "INFO", _delivery_message(event)
    if isinstance(event, ev.DepositRequested):
        return "FUNDS", "INFO", "deposit requested"
    if isinstance(event, ev.DepositDecided):
        return "FUNDS", "INFO", "deposit approved" if event.approved else "deposit rejected"
    if isinstance(event, ev.WithdrawalRequested):
        return "FUNDS", "INFO", "withdrawal requested"
    if isinstance(event, ev.WithdrawalDecided):
        return "FUNDS", "INFO", "withdrawal approved" if event.approved else "withdrawal rejected"
    if isinstance(event, ev.WithdrawalCancelled):
        return "FUNDS", "INFO", f"withdrawal cancelled: {event.reason}"
    if isinstance(event, ev.ExpiryMarginBlocked) and event.blocks:
        return "POSITION", "INFO", "expiry-day margin blocked"
    if isinstance(event, ev.MarginCalled):
        return "RISK", "WARN", "margin call: equity below the required margin"
    if isinstance(event, ev.MarginCallMet):
        return "RISK", "INFO", "margin call met"
    if isinstance(event, ev.FuturesSettled):
        return "POSITION", "INFO", f"futures settled to market: {len(event.settlements)}"
    if isinstance(event, ev.AccountReset):
        # The audit line: who reset the account (its details are the event, naming the user).
        return "ACCOUNT", "INFO", f"account reset by {event.by_role}"
    return None


def _delivery_message(event: ev.SharesDelivered) -> str:
    if event.side is Side.BUY:
        return f"shares received at expiry: {event.quantity}"
    message = f"shares delivered at expiry: {event.delivered_quantity}"
    short = event.quantity - event.delivered_quantity
    return f"{message}, {short} closed out" if short else message


def _log_rows(
    state: AccountState,
    account_seq: int,
    event: ev.AccountEvent,
    payload: orjson.Fragment,
    rows: Rows,
) -> None:
    entry = _log_entry(event)
    if entry is None:
        return
    category, level, message = entry
    rows.logs.append(
        (
            state.account_id,
            account_seq,
            category,
            level,
            message,
            payload,
            at(event.at_ms),
        )
    )
