"""Kite's order updates on the ticker: ``{"type": "order", "data": <Kite order>}`` for every
change of an order of an account a KiteTicker connection watches.

Built inside the account actor's turn from the events and the state after them (as
``gateway.ws_hub`` builds its messages), delivered once the events are durable. A working order
is read from the state; one that finished leaves the state, so its last view is kept while it
works and its end (a fill, a cancellation) is applied to that. An order placed and finished in
one turn (a MARKET order filled at once, a rejection) is built from its terms event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from engine.domain import events as ev
from engine.domain.account.state import AccountState
from engine.domain.money import paise_to_rupees
from engine.domain.orders import Order
from engine.domain.sessions import SessionRules
from gateway.kite.order_format import (
    amo_waits,
    instrument_fields,
    kite_status,
    order_view,
    reason_text,
)
from gateway.kite.ticker import TickerHub
from gateway.kite.tokens import KiteTokens
from gateway.kite.wire import ist_of_ms
from gateway.views import ORDER_EVENTS
from persistence.iceberg_rows import iceberg_row

# Views of orders still working, kept for their end; bounded like every cache here.
KEPT_MAX = 100_000


def at(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def working_view(order: Order, tokens: KiteTokens, *, waiting: bool = False) -> dict[str, Any]:
    """A working order (from the account's state) as Kite's order (``waiting``: an
    after-market order not yet at its session's open)."""
    filled = order.filled_quantity
    row = {
        "id": order.order_id,
        "status": order.status.value,
        "order_type": order.order_type.value,
        "triggered": order.triggered,
        "quantity": order.quantity,
        "filled_quantity": filled,
        "rejection_reason": None,
        "cancel_reason": None,
        "created_at": at(order.created_ms),
        "updated_at": at(order.updated_ms),
        "version": order.version,
        "instrument_id": order.instrument_id,
        "side": order.side.value,
        "validity": order.validity.value,
        "product": order.product.value,
        "price_paise": order.price_paise,
        "trigger_paise": order.trigger_paise,
        "average_price_paise": order.fill_value_paise // filled if filled else 0,
        "tag": order.tag,
        "after_market": order.after_market,
        **iceberg_row(order.iceberg),
    }
    return order_view(row, tokens, placed_by="", waiting=waiting)


def terms_view(event: ev.OrderAccepted | ev.OrderRejected, tokens: KiteTokens) -> dict[str, Any]:
    """An order from the event that placed it (accepted or rejected)."""
    rejected = isinstance(event, ev.OrderRejected)
    row = {
        "id": event.order_id,
        "status": "REJECTED" if rejected else "PENDING",
        "order_type": event.order_type.value,
        "triggered": False,
        "quantity": event.quantity,
        "filled_quantity": 0,
        "rejection_reason": event.reason.value if isinstance(event, ev.OrderRejected) else None,
        "cancel_reason": None,
        "created_at": at(event.at_ms),
        "updated_at": at(event.at_ms),
        "version": 0,
        "instrument_id": event.instrument_id,
        "side": event.side.value,
        "validity": event.validity.value,
        "product": event.product.value,
        "price_paise": event.price_paise,
        "trigger_paise": event.trigger_paise,
        "average_price_paise": 0,
        "tag": event.tag,
        "after_market": event.after_market,
        **iceberg_row(event.iceberg),
    }
    # An after-market order is accepted only while its session is closed: it waits.
    return order_view(row, tokens, placed_by="", waiting=event.after_market and not rejected)


def after_fill(view: dict[str, Any], fill: ev.OrderFilled) -> dict[str, Any]:
    """``view`` after ``fill``: its filled quantity, average price and status."""
    filled_before = view["filled_quantity"]
    filled = filled_before + fill.quantity
    value = (
        view["average_price"] * filled_before + paise_to_rupees(fill.price_paise) * fill.quantity
    )
    status = kite_status(fill.status_after.value, view["order_type"], True)
    return view | {
        "status": status,
        "filled_quantity": filled,
        "pending_quantity": 0 if status == "COMPLETE" else view["quantity"] - filled,
        "average_price": round(value / filled, 2),
        "order_timestamp": ist_of_ms(fill.at_ms),
        "exchange_update_timestamp": ist_of_ms(fill.at_ms),
    }


def after_cancel(view: dict[str, Any], cancel: ev.OrderCancelled) -> dict[str, Any]:
    return view | {
        "status": "CANCELLED",
        "status_message": reason_text(cancel.reason),
        "status_message_raw": cancel.reason,
        "pending_quantity": 0,
        "cancelled_quantity": view["quantity"] - view["filled_quantity"],
        "order_timestamp": ist_of_ms(cancel.at_ms),
        "exchange_update_timestamp": ist_of_ms(cancel.at_ms),
    }


class KiteOrderUpdates:
    """Builds the ticker's order updates of the accounts it watches."""

    def __init__(
        self, ticker: TickerHub, tokens: KiteTokens, sessions: SessionRules | None = None
    ) -> None:
        self.ticker = ticker
        self.tokens = tokens
        self.sessions = sessions  # when after-market orders go live (hours enforced)
        self._working: dict[str, dict[str, Any]] = {}  # order id -> its last view

    def on_account_events(
        self, account_id: str, events: tuple[ev.AccountEvent, ...], state: AccountState
    ) -> Callable[[], None] | None:
        """Called inside the account's actor turn; the delivery to run once the events are
        durable (None when no ticker connection watches the account)."""
        placed_by = self.ticker.user_of(account_id)
        if placed_by is None:  # no ticker connection watches the account
            return None
        updates = [update | {"placed_by": placed_by} for update in self.updates(events, state)]
        if not updates:
            return None

        def deliver() -> None:
            for update in updates:
                self.ticker.on_order(account_id, update)

        return deliver

    def updates(
        self, events: tuple[ev.AccountEvent, ...], state: AccountState
    ) -> list[dict[str, Any]]:
        updates: list[dict[str, Any]] = []
        for event in events:
            if not isinstance(event, ORDER_EVENTS):
                continue
            view = self.view_after(event, state)
            if view is None:
                continue
            if view["status"] in ("COMPLETE", "CANCELLED", "REJECTED"):
                self._working.pop(event.order_id, None)
            elif event.order_id in self._working or len(self._working) < KEPT_MAX:
                self._working[event.order_id] = view
            updates.append(view)
        return updates

    def view_after(self, event: ev.Event, state: AccountState) -> dict[str, Any] | None:
        order_id: str = event.order_id  # type: ignore[attr-defined]
        known = self._working.get(order_id)
        if isinstance(event, ev.OrderAccepted | ev.OrderRejected):
            known = terms_view(event, self.tokens)
        if isinstance(event, ev.OrderFilled) and known is not None:
            return after_fill(known, event)
        if isinstance(event, ev.OrderCancelled) and known is not None:
            return after_cancel(known, event)
        order = state.orders.get(order_id)
        if order is not None and not isinstance(event, ev.OrderAccepted | ev.OrderRejected):
            row = {"after_market": order.after_market, "instrument_id": order.instrument_id}
            waiting = amo_waits(row, self.tokens, self.sessions, order.created_ms, event.at_ms)
            return working_view(order, self.tokens, waiting=waiting)
        if known is None and isinstance(event, ev.OrderFilled | ev.OrderCancelled):
            # Placed before the connection opened and finished now: what the event says.
            return self.end_only(event)
        return known

    def end_only(self, event: ev.OrderFilled | ev.OrderCancelled) -> dict[str, Any]:
        if isinstance(event, ev.OrderCancelled):
            return {
                "order_id": event.order_id,
                "status": "CANCELLED",
                "status_message": reason_text(event.reason),
                "order_timestamp": ist_of_ms(event.at_ms),
            }
        return {
            "order_id": event.order_id,
            "status": kite_status(event.status_after.value, "LIMIT", True),
            **instrument_fields(self.tokens, event.instrument_id),
            "transaction_type": event.side.value,
            "product": event.product.value,
            "order_timestamp": ist_of_ms(event.at_ms),
        }
