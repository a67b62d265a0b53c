"""JSON views of engine objects, in the shapes docs/API.md documents (rupees, camelCase, ISO
times)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from engine.domain import events as ev
from engine.domain.account.margin_call import counted, marked_to_market, required_paise
from engine.domain.account.state import AccountState
from engine.domain.iceberg import Iceberg
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.domain.money import paise_to_rupees
from engine.domain.orders import Order
from engine.domain.parameters import RiskConfig
from engine.domain.positions import Position
from engine.market.market_data import MarketData
from persistence.iceberg_rows import iceberg_of_row
from persistence.projection import ms_of


def iso_ms(epoch_ms: int | None) -> str | None:
    """Milliseconds since the epoch as ISO 8601 UTC with milliseconds, e.g. ``..T05:00:00.250Z``."""
    if epoch_ms is None:
        return None
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{_iso_second(seconds)}.{millis:03d}Z"


def iso_moment(moment: datetime | None) -> str | None:
    """A stored timestamp (an aware datetime) as :func:`iso_ms` text, exact to the millisecond."""
    return None if moment is None else iso_ms(ms_of(moment))


@lru_cache(maxsize=4096)
def _iso_second(epoch_s: int) -> str:
    # Views format the same few seconds over and over (an order's times, a tick's quotes).
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def rupees_or_none(paise: int | None) -> float | None:
    return None if not paise else paise_to_rupees(paise)


def instrument_fields(instrument: Instrument | None, *, segment: bool = True) -> dict[str, Any]:
    """The instrument columns every order and position view repeats."""
    fields: dict[str, Any] = {
        "symbol": instrument.symbol if instrument else None,
        "exchange": instrument.exchange.value if instrument else None,
    }
    if segment:
        fields["segment"] = instrument.segment.value if instrument else None
    return fields


def unfilled_quantities(status: str, quantity: int, filled_quantity: int) -> dict[str, int]:
    """An order's ``pendingQuantity`` (what a working order still has to fill) and
    ``cancelledQuantity`` (what a cancelled one left unfilled); 0 for every other status."""
    unfilled = quantity - filled_quantity
    return {
        "pendingQuantity": unfilled if status == "PENDING" else 0,
        "cancelledQuantity": unfilled if status == "CANCELLED" else 0,
    }


def iceberg_view(iceberg: Iceberg | None) -> dict[str, Any] | None:
    """An order's ``iceberg`` (docs/API.md): where the leg stands in its iceberg; null for an
    order of none."""
    if iceberg is None:
        return None
    return {
        "parentOrderId": iceberg.parent_order_id,
        "leg": iceberg.leg,
        "legs": iceberg.legs,
        "legQuantity": iceberg.leg_quantity,
        "totalQuantity": iceberg.total_quantity,
        "remainingQuantity": iceberg.remaining_quantity,
    }


def order_view(order: Order, account_id: str, master: InstrumentMaster) -> dict[str, Any]:
    """A working order held by the engine (status PENDING)."""
    instrument = master.get(order.instrument_id)
    return {
        "id": order.order_id,
        "clientOrderId": order.client_order_id,
        "tag": order.tag,
        "afterMarket": order.after_market,
        "iceberg": iceberg_view(order.iceberg),
        "tradingAccountId": account_id,
        "instrumentId": order.instrument_id,
        **instrument_fields(instrument),
        "productType": order.product.value,
        "orderType": order.order_type.value,
        "orderSide": order.side.value,
        "validity": order.validity.value,
        "quantity": order.quantity,
        "filledQuantity": order.filled_quantity,
        **unfilled_quantities(order.status.value, order.quantity, order.filled_quantity),
        "price": rupees_or_none(order.price_paise),
        "triggerPrice": rupees_or_none(order.trigger_paise),
        "averagePrice": rupees_or_none(order.average_price_paise()),
        "status": order.status.value,
        "rejectionReason": None,
        "cancelReason": None,
        "marginBlocked": paise_to_rupees(order.margin_blocked_paise),
        "charges": paise_to_rupees(order.charges_paise),
        "createdAt": iso_ms(order.created_ms),
        "updatedAt": iso_ms(order.updated_ms),
        "executedAt": None,
    }


def position_view(
    position: Position, account_id: str, master: InstrumentMaster, market: MarketData
) -> dict[str, Any]:
    """An open position marked at the current LTP."""
    instrument = master.get(position.instrument_id)
    index = master.index_of(position.instrument_id)
    ltp = int(market.snapshot.ltp[index]) if index is not None else 0
    return {
        "id": position.position_id,
        "tradingAccountId": account_id,
        "instrumentId": position.instrument_id,
        **instrument_fields(instrument, segment=False),
        "productType": position.product.value,
        "quantity": position.quantity,
        "averagePrice": paise_to_rupees(position.average_price_paise()),
        "ltp": rupees_or_none(ltp),
        "unrealizedPnl": paise_to_rupees(position.unrealized_pnl_paise(ltp)) if ltp else 0.0,
        "realizedPnl": paise_to_rupees(position.realized_pnl_paise),
        "marginBlocked": paise_to_rupees(position.margin_paise),
        "stopLoss": rupees_or_none(position.stop_loss_paise),
        "target": rupees_or_none(position.target_paise),
        "status": "OPEN",
        "closeReason": None,
        "openedAt": iso_ms(position.opened_ms),
        "closedAt": None,
    }


class Marks(NamedTuple):
    """An account's open positions marked at the last prices: all of their unrealized P&L,
    and what of it counts in available funds (docs/DOMAIN.md §2: futures' and intraday
    equity's, losses only unless configured)."""

    unrealized_paise: int
    counted_paise: int


def marks_of(
    state: AccountState, master: InstrumentMaster, market: MarketData, risk: RiskConfig
) -> Marks:
    ltp = market.snapshot.ltp
    total = marked = 0
    for position in state.positions.values():
        index = master.index_of(position.instrument_id)
        instrument = master.get(position.instrument_id)
        if index is None or instrument is None or ltp[index] <= 0:
            continue
        unrealized = position.unrealized_pnl_paise(int(ltp[index]))
        total += unrealized
        if marked_to_market(instrument, position.product):
            marked += unrealized
    return Marks(total, counted(marked, risk))


def funds_view(state: AccountState, marks: Marks) -> dict[str, Any]:
    """docs/API.md funds: availableMargin is marked to market; usedMargin is the margin
    positions block (their own and their portfolios') and holdings' cost; blockedMargin is
    every block."""
    required = required_paise(state)
    used = required + sum(h.cost_paise for h in state.holdings.values())
    return {
        "balance": paise_to_rupees(state.balance_paise),
        "availableMargin": paise_to_rupees(state.available_paise + marks.counted_paise),
        "usedMargin": paise_to_rupees(used),
        "requiredMargin": paise_to_rupees(required),
        "blockedMargin": paise_to_rupees(state.blocked_paise),
        "realizedPnl": paise_to_rupees(state.realized_pnl_paise),
        "unrealizedPnl": paise_to_rupees(marks.unrealized_paise),
        "markToMarket": paise_to_rupees(marks.counted_paise),
        "marginCall": state.margin_called,
        "totalCharges": paise_to_rupees(state.charges_paise),
    }


def margin_call_view(
    event: ev.MarginCalled | ev.MarginCallMet, state: AccountState
) -> dict[str, Any]:
    """A margin call made or met, for the websocket and the dashboard's banner."""
    return {
        "tradingAccountId": state.account_id,
        "status": "CALLED" if isinstance(event, ev.MarginCalled) else "MET",
        "equity": paise_to_rupees(event.equity_paise),
        "requiredMargin": paise_to_rupees(event.required_paise),
        "at": iso_ms(event.at_ms),
    }


ORDER_EVENTS = (
    ev.OrderAccepted,
    ev.OrderRejected,
    ev.OrderModified,
    ev.OrderTriggered,
    ev.OrderCancelled,
    ev.OrderFilled,
)


def order_change(
    event: ev.AccountEvent, state: AccountState, master: InstrumentMaster
) -> dict[str, Any] | None:
    """What an order event tells a watching client: the order if still working, else its end."""
    if not isinstance(event, ORDER_EVENTS):
        return None
    order = state.orders.get(event.order_id)
    if order is not None:
        return order_view(order, state.account_id, master)
    change: dict[str, Any] = {"id": event.order_id, "tradingAccountId": state.account_id}
    if isinstance(event, ev.OrderFilled):
        change |= {
            "status": event.status_after.value,
            "lastFillQuantity": event.quantity,
            "lastFillPrice": paise_to_rupees(event.price_paise),
            "executedAt": iso_ms(event.at_ms),
        }
    elif isinstance(event, ev.OrderCancelled):
        change |= {"status": "CANCELLED", "cancelReason": event.reason}
    elif isinstance(event, ev.OrderRejected):
        change |= {"status": "REJECTED", "rejectionReason": event.reason.value}
    return change


def order_row_view(row: Any, master: InstrumentMaster) -> dict[str, Any]:
    """An order as the ``orders`` projection holds it (any status)."""
    instrument = master.get(row["instrument_id"])
    return {
        "id": row["id"],
        "clientOrderId": row["client_order_id"],
        "tag": row["tag"],
        "afterMarket": row["after_market"],
        "iceberg": iceberg_view(iceberg_of_row(row)),
        "tradingAccountId": row["trading_account_id"],
        "instrumentId": row["instrument_id"],
        **instrument_fields(instrument),
        "productType": row["product"],
        "orderType": row["order_type"],
        "orderSide": row["side"],
        "validity": row["validity"],
        "quantity": row["quantity"],
        "filledQuantity": row["filled_quantity"],
        **unfilled_quantities(row["status"], row["quantity"], row["filled_quantity"]),
        "price": rupees_or_none(row["price_paise"]),
        "triggerPrice": rupees_or_none(row["trigger_paise"]),
        "averagePrice": rupees_or_none(row["average_price_paise"]),
        "status": row["status"],
        "rejectionReason": row["rejection_reason"],
        "cancelReason": row["cancel_reason"],
        "marginBlocked": paise_to_rupees(row["margin_blocked_paise"]),
        "charges": paise_to_rupees(row["charges_paise"]),
        "createdAt": iso_moment(row["created_at"]),
        "updatedAt": iso_moment(row["updated_at"]),
        "executedAt": iso_moment(row["executed_at"]),
    }


def trade_row_view(row: Any, master: InstrumentMaster) -> dict[str, Any]:
    """A trade (one fill) as the ``trades`` projection holds it."""
    instrument = master.get(row["instrument_id"])
    return {
        "id": row["id"],
        "orderId": row["order_id"],
        "tradingAccountId": row["trading_account_id"],
        "instrumentId": row["instrument_id"],
        **instrument_fields(instrument, segment=False),
        "productType": row["product"],
        "orderSide": row["side"],
        "quantity": row["quantity"],
        "price": paise_to_rupees(row["price_paise"]),
        "charges": paise_to_rupees(row["charges_paise"]),
        "executedAt": iso_moment(row["executed_at"]),
    }


def order_change_view(row: Any) -> dict[str, Any]:
    """One change of an order as the ``order_history`` projection holds it."""
    return {
        "status": row["status"],
        "filledQuantity": row["filled_quantity"],
        "quantity": row["quantity"],
        "price": rupees_or_none(row["price_paise"]),
        "triggerPrice": rupees_or_none(row["trigger_paise"]),
        "reason": row["reason"],
        "at": iso_moment(row["occurred_at"]),
    }


def position_row_view(row: Any, master: InstrumentMaster) -> dict[str, Any]:
    """A position as the ``positions`` projection holds it (used for closed positions)."""
    instrument = master.get(row["instrument_id"])
    return {
        "id": row["id"],
        "tradingAccountId": row["trading_account_id"],
        "instrumentId": row["instrument_id"],
        **instrument_fields(instrument, segment=False),
        "productType": row["product"],
        "quantity": row["quantity"],
        "averagePrice": paise_to_rupees(row["average_price_paise"]),
        "ltp": None,
        "unrealizedPnl": 0.0,
        "realizedPnl": paise_to_rupees(row["realized_pnl_paise"]),
        "marginBlocked": paise_to_rupees(row["margin_paise"]),
        "stopLoss": rupees_or_none(row["stop_loss_paise"]),
        "target": rupees_or_none(row["target_paise"]),
        "status": row["status"],
        "closeReason": row["close_reason"],
        "openedAt": iso_moment(row["opened_at"]),
        "closedAt": iso_moment(row["closed_at"]),
    }


def accepted_order_view(
    event: ev.OrderAccepted | ev.OrderRejected, account_id: str, master: InstrumentMaster
) -> dict[str, Any]:
    """The order a place request created, straight from its event."""
    instrument = master.get(event.instrument_id)
    status = "REJECTED" if isinstance(event, ev.OrderRejected) else "PENDING"
    return {
        "id": event.order_id,
        "clientOrderId": event.client_order_id,
        "tag": event.tag,
        "afterMarket": event.after_market,
        "iceberg": iceberg_view(event.iceberg),
        "tradingAccountId": account_id,
        "instrumentId": event.instrument_id,
        **instrument_fields(instrument),
        "productType": event.product.value,
        "orderType": event.order_type.value,
        "orderSide": event.side.value,
        "validity": event.validity.value,
        "quantity": event.quantity,
        "filledQuantity": 0,
        **unfilled_quantities(status, event.quantity, 0),
        "price": rupees_or_none(event.price_paise),
        "triggerPrice": rupees_or_none(event.trigger_paise),
        "averagePrice": None,
        "status": status,
        "rejectionReason": event.reason.value if isinstance(event, ev.OrderRejected) else None,
        "cancelReason": None,
        "marginBlocked": paise_to_rupees(event.margin_blocked_paise)
        if isinstance(event, ev.OrderAccepted)
        else 0.0,
        "charges": 0.0,
        "createdAt": iso_ms(event.at_ms),
        "updatedAt": iso_ms(event.at_ms),
        "executedAt": None,
    }
