"""Projection rows of an order's events: its trades (one per fill) and its history (one row per
change), in ``trades`` and ``order_history`` (migration 0014).

A trade's id is ``<order id>-<account seq>``, the sequence number of its OrderFilled event:
order ids are unique across the server and sequence numbers unique within an account, so the id
is unique, and it depends on the journal alone, so a replay, a re-projection and the migration's
backfill all give the same one. Both tables are written only for events the writer's statement
really journaled (``persistence.writer``), so a batch written twice lands once.
"""

from __future__ import annotations

from datetime import datetime

from engine.domain import events as ev
from engine.domain.enums import OrderStatus
from engine.domain.orders import Order
from persistence.rows import Rows

# What an order became by each kind of change (order_history.status); a fill is
# PARTIALLY_FILLED or EXECUTED by what it leaves.
HISTORY_STATUS: dict[type[ev.AccountEvent], str] = {
    ev.OrderAccepted: "PENDING",
    ev.OrderRejected: "REJECTED",
    ev.OrderModified: "MODIFIED",
    ev.OrderTriggered: "TRIGGERED",
    ev.OrderCancelled: "CANCELLED",
}


def trade_id(order_id: str, account_seq: int) -> str:
    """The id of the trade the OrderFilled event ``account_seq`` of ``order_id`` made."""
    return f"{order_id}-{account_seq}"


def _history_status(event: ev.AccountEvent) -> str:
    if isinstance(event, ev.OrderFilled):
        executed = event.status_after is OrderStatus.EXECUTED
        return "EXECUTED" if executed else "PARTIALLY_FILLED"
    return HISTORY_STATUS[type(event)]


def _reason(event: ev.AccountEvent) -> str | None:
    if isinstance(event, ev.OrderCancelled):
        return event.reason
    if isinstance(event, ev.OrderRejected):
        return event.reason.value
    return None


def project_order_event(
    account_id: str,
    account_seq: int,
    event: ev.AccountEvent,
    *,
    order_after: Order,
    when: datetime,
    rows: Rows,
) -> None:
    """Add the history row of the order event ``event``, and its trade if it is a fill;
    ``order_after`` is the order as the event left it."""
    if isinstance(event, ev.OrderFilled):
        rows.trades.append(
            (
                trade_id(event.order_id, account_seq),
                account_id,
                account_seq,
                event.order_id,
                event.instrument_id,
                event.side.value,
                event.product.value,
                event.quantity,
                event.price_paise,
                event.charges_paise,
                when,
            )
        )
    rows.order_history.append(
        (
            account_id,
            account_seq,
            order_after.order_id,
            _history_status(event),
            order_after.filled_quantity,
            order_after.quantity,
            order_after.price_paise,
            order_after.trigger_paise,
            _reason(event),
            when,
        )
    )
