"""Which account holds each working order and open position.

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

    def account_of_order(self, order_id: str) -> str | None:
        """The account whose working order this is (None: unknown, or no longer working)."""
        return self._orders.get(order_id)

    def account_of_position(self, position_id: str) -> str | None:
        """The account whose open position this is (None: unknown, or closed)."""
        return self._positions.get(position_id)

    def add(self, state: AccountState) -> None:
        """Every working order and open position of a recovered account."""
        for order_id in state.orders:
            self._orders[order_id] = state.account_id
        for position_id in state.positions:
            self._positions[position_id] = state.account_id

    def track(self, state: AccountState, events: tuple[ev.AccountEvent, ...]) -> None:
        """Bring the entries of the orders and positions ``events`` touched up to ``state``
        (which they were just applied to)."""
        account_id = state.account_id
        orders, positions = self._orders, self._positions
        for event in events:
            order_id = getattr(event, "order_id", None)
            if order_id is not None:
                if order_id in state.orders:
                    orders[order_id] = account_id
                else:
                    orders.pop(order_id, None)
            position_ids: tuple[str, ...] = ()
            if isinstance(event, ev.OrderFilled | ev.PositionRiskSet):
                position_ids = (event.position_id,)
            elif isinstance(event, ev.HoldingsSettled):
                position_ids = event.position_ids
            for position_id in position_ids:
                if position_id in state.positions:
                    positions[position_id] = account_id
                elif position_id:
                    positions.pop(position_id, None)
