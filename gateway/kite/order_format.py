"""paperdesk's orders and trades as Kite writes them (``GET /orders``, order history, trades and
the ticker's order updates): Kite's field names and statuses, prices in rupees, IST times. Each
leg of an iceberg is an order of its own, variety ``iceberg``, its place in the iceberg in
``meta.iceberg``."""

from __future__ import annotations

from typing import Any

from engine.domain.enums import Rejection
from engine.domain.iceberg import Iceberg
from engine.domain.money import paise_to_rupees
from engine.domain.sessions import SessionRules, waits_for_open
from gateway.errors import REJECTION_MESSAGES
from gateway.kite.tokens import KiteTokens
from gateway.kite.wire import ist_text
from persistence.iceberg_rows import iceberg_of_row

VARIETY = "regular"
AMO_VARIETY = "amo"
ICEBERG_VARIETY = "iceberg"
# An after-market order waiting for its session's open, as Kite's order book shows it.
AMO_REQ_RECEIVED = "AMO REQ RECEIVED"
# paperdesk's stored order statuses, and its history's, as Kite's.
KITE_STATUS = {
    "PENDING": "OPEN",
    "MODIFIED": "OPEN",
    "TRIGGERED": "OPEN",
    "PARTIALLY_FILLED": "OPEN",
    "EXECUTED": "COMPLETE",
    "CANCELLED": "CANCELLED",
    "REJECTED": "REJECTED",
}
TRIGGER_PENDING = "TRIGGER PENDING"
STOP_TYPES = frozenset({"SL", "SL-M"})


def kite_status(status: str, order_type: str, triggered: bool) -> str:
    """Kite's status: an untriggered stop order waiting is ``TRIGGER PENDING``."""
    if status in ("PENDING", "MODIFIED") and order_type in STOP_TYPES and not triggered:
        return TRIGGER_PENDING
    return KITE_STATUS[status]


def amo_waits(
    row: Any, tokens: KiteTokens, sessions: SessionRules | None, placed_ms: int, now_ms: int
) -> bool:
    """Whether ``row``'s order is an after-market order placed at ``placed_ms`` still waiting,
    at ``now_ms``, for its session's open (Kite's ``AMO REQ RECEIVED``)."""
    if not row["after_market"]:
        return False
    instrument = tokens.master.get(row["instrument_id"])
    return instrument is not None and waits_for_open(sessions, instrument, placed_ms, now_ms)


def reason_text(reason: str | None) -> str | None:
    """A stored rejection code as its message for a person to read; other reasons as stored."""
    if reason is None:
        return None
    try:
        rejection = Rejection(reason)
    except ValueError:
        return reason
    return REJECTION_MESSAGES.get(rejection, reason)


def status_message(row: Any) -> str | None:
    """Why the order was rejected or cancelled."""
    if row["rejection_reason"] is not None:
        return reason_text(row["rejection_reason"])
    return reason_text(row["cancel_reason"])


def instrument_fields(tokens: KiteTokens, instrument_id: str) -> dict[str, Any]:
    instrument = tokens.master.get(instrument_id)
    if instrument is None:  # delisted since: still shown, without Kite's numbers
        return {"exchange": "", "tradingsymbol": instrument_id, "instrument_token": 0}
    return {
        "exchange": instrument.exchange.value,
        "tradingsymbol": instrument.symbol,
        "instrument_token": tokens.token_of(instrument),
    }


def variety_of(row: Any, iceberg: Iceberg | None) -> str:
    if iceberg is not None:
        return ICEBERG_VARIETY
    return AMO_VARIETY if row["after_market"] else VARIETY


def parent_order_id(iceberg: Iceberg | None) -> str | None:
    """Kite's ``parent_order_id``: the first leg's order id on an iceberg's later legs; null on
    the first leg and on any other order."""
    return None if iceberg is None or iceberg.leg == 1 else iceberg.parent_order_id


def meta_of(iceberg: Iceberg | None) -> dict[str, Any]:
    """Kite's ``meta``: an iceberg leg's place in its iceberg, else empty."""
    if iceberg is None:
        return {}
    return {
        "iceberg": {
            "leg": iceberg.leg,
            "legs": iceberg.legs,
            "leg_quantity": iceberg.leg_quantity,
            "total_quantity": iceberg.total_quantity,
            "remaining_quantity": iceberg.remaining_quantity,
        }
    }


def order_view(
    row: Any, tokens: KiteTokens, placed_by: str, *, waiting: bool = False
) -> dict[str, Any]:
    """A stored order (an ``orders`` row) as Kite's order; ``waiting``: an after-market order
    not yet at its session's open (``amo_waits``), shown ``AMO REQ RECEIVED`` while working."""
    status = kite_status(row["status"], row["order_type"], row["triggered"])
    if waiting and status in ("OPEN", TRIGGER_PENDING):
        status = AMO_REQ_RECEIVED
    quantity, filled = row["quantity"], row["filled_quantity"]
    finished = status in ("COMPLETE", "CANCELLED", "REJECTED")
    rejected = status == "REJECTED"
    message = status_message(row)
    iceberg = iceberg_of_row(row)
    return {
        "placed_by": placed_by,
        "order_id": row["id"],
        "exchange_order_id": None if rejected else row["id"],
        "parent_order_id": parent_order_id(iceberg),
        "status": status,
        "status_message": message,
        "status_message_raw": message,
        "order_timestamp": ist_text(row["updated_at"]),
        "exchange_update_timestamp": None if rejected else ist_text(row["updated_at"]),
        "exchange_timestamp": None if rejected else ist_text(row["created_at"]),
        "variety": variety_of(row, iceberg),
        "modified": row["version"] > 0,
        **instrument_fields(tokens, row["instrument_id"]),
        "order_type": row["order_type"],
        "transaction_type": row["side"],
        "validity": row["validity"],
        "validity_ttl": 0,
        "product": row["product"],
        "quantity": quantity,
        "disclosed_quantity": 0,
        "price": paise_to_rupees(row["price_paise"]),
        "trigger_price": paise_to_rupees(row["trigger_paise"]),
        "average_price": paise_to_rupees(row["average_price_paise"]),
        "filled_quantity": filled,
        "pending_quantity": 0 if finished else quantity - filled,
        "cancelled_quantity": quantity - filled if status == "CANCELLED" else 0,
        "market_protection": 0,
        "meta": meta_of(iceberg),
        "tag": row["tag"],
        "guid": row["id"],
    }


def history_view(
    order: Any, change: Any, tokens: KiteTokens, placed_by: str, *, waiting: bool = False
) -> dict[str, Any]:
    """One state of an order's history (an ``order_history`` row over its ``orders`` row);
    ``waiting``: an after-market order not yet at its session's open at that change."""
    status = kite_status(
        change["status"], order["order_type"], change["status"] != "PENDING" or order["triggered"]
    )
    if waiting and status in ("OPEN", TRIGGER_PENDING):
        status = AMO_REQ_RECEIVED
    view = order_view(order, tokens, placed_by)
    finished = status in ("COMPLETE", "CANCELLED", "REJECTED")
    quantity, filled = change["quantity"], change["filled_quantity"]
    return view | {
        "status": status,
        "status_message": reason_text(change["reason"]) if finished else None,
        "order_timestamp": ist_text(change["occurred_at"]),
        "exchange_update_timestamp": ist_text(change["occurred_at"]),
        "quantity": quantity,
        "price": paise_to_rupees(change["price_paise"]),
        "trigger_price": paise_to_rupees(change["trigger_paise"]),
        "filled_quantity": filled,
        "pending_quantity": 0 if finished else quantity - filled,
        "cancelled_quantity": quantity - filled if status == "CANCELLED" else 0,
    }


def trade_view(row: Any, tokens: KiteTokens) -> dict[str, Any]:
    """A stored trade (one fill) as Kite's trade."""
    executed = ist_text(row["executed_at"])
    return {
        "trade_id": row["id"],
        "order_id": row["order_id"],
        "exchange_order_id": row["order_id"],
        **instrument_fields(tokens, row["instrument_id"]),
        "product": row["product"],
        "average_price": paise_to_rupees(row["price_paise"]),
        "quantity": row["quantity"],
        "transaction_type": row["side"],
        "fill_timestamp": executed,
        "order_timestamp": executed,
        "exchange_timestamp": executed,
    }
