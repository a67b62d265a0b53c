"""Which account holds each working order, open position and active GTT.

The gateway's modify, cancel, close and risk-level requests name an order or a position, not an
account: with this map each reaches the one account that holds it in one step, instead of
asking every account of the user in turn. Each account actor keeps its own entries true inside
its turn, right after applying events (``track``), so a request the gateway sends after a reply
finds what that reply reported. Recovery seeds it from every recovered account (``add``).

Entries are only ever written by the actor of the account they name, and read from any thread;
single dict operations are atomic, so no lock is needed. Its size is that of the working orders
and open positions, which ``limits.open_orders_max`` and the instruments bound per account.
"""

from __future__ import annotations

from engine.domain import events as ev
from engine.domain.account.state import AccountState


class AccountLocator:
    def __init__(self) -> None:
        self._orders: dict[str, str] = {}
        self._positions: dict[str, str] = {}
        self._gtts: dict[str, str] = {}

    def account_of_gtt(self, gtt_id: str) -> str | None:
        """The account whose active GTT this is (None: unknown, or ended)."""
        return self._gtts.get(gtt_id)

    def account_of_order(self, order_id: str) -> str | None:
        """The account whose working order this is (None: unknown, or no longer working)."""
        return self._orders.get(order_id)

    def account_of_position(self, position_id: str) -> str | None:
        """The account whose open position this is (None: unknown, or closed)."""
        return self._positions.get(position_id)

    def accounts_with_positions(self) -> set[str]:
        """The accounts holding at least one open position."""
        return set(self._positions.values())

    def add(self, state: AccountState) -> None:
        """Every working order and open position of a recovered account."""
        for order_id in state.orders:
            self._orders[order_id] = state.account_id
        for position_id in state.positions:
            self._positions[position_id] = state.account_id
        for gtt_id in state.gtts:
            self._gtts[gtt_id] = state.account_id

    def track(self, state: AccountState, events: tuple[ev.AccountEvent, ...]) -> None:
        """Bring the entries of the orders and positions ``events`` touched up to ``state``
        (which they were just applied to). Only these events open or finish either: an order
        is accepted, cancelled or filled whole; a fill, new levels or a conversion touch a
        position, and settlement turns positions into holdings."""
        orders = self._orders
        for event in events:
            if isinstance(event, ev.OrderAccepted):
                orders[event.order_id] = state.account_id
            elif isinstance(event, ev.OrderCancelled):
                orders.pop(event.order_id, None)
            elif isinstance(event, ev.OrderFilled):
                if event.order_id not in state.orders:
                    orders.pop(event.order_id, None)
                self._track_position(state, event.position_id)
            elif isinstance(event, ev.PositionRiskSet):
                self._track_position(state, event.position_id)
            elif isinstance(event, ev.PositionConverted):
                self._track_position(state, event.position_id)
                self._track_position(state, event.target_position_id)
            elif isinstance(event, ev.HoldingsSettled):
                for position_id in event.position_ids:
                    self._track_position(state, position_id)
            elif isinstance(event, ev.GttPlaced):
                self._gtts[event.gtt_id] = state.account_id
            elif isinstance(event, ev.GttDeleted | ev.GttTriggered | ev.GttExpired):
                self._gtts.pop(event.gtt_id, None)

    def _track_position(self, state: AccountState, position_id: str) -> None:
        if position_id in state.positions:
            self._positions[position_id] = state.account_id
        elif position_id:  # a sell from holdings alone names no position
            self._positions.pop(position_id, None)
