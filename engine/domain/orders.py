"""Orders and their lifecycle, kept as one transition table."""

from __future__ import annotations

import msgspec

from engine.domain.enums import OrderStatus, OrderType, Product, Side, Validity
from engine.domain.iceberg import Iceberg
from engine.domain.invariants import InvariantError
from engine.domain.money import div_half_up

# Allowed status changes; ``None`` is "not yet recorded". Nothing leaves a terminal state.
# PENDING -> PENDING is a modification, a trigger or a partial fill.
TRANSITIONS: frozenset[tuple[OrderStatus | None, OrderStatus]] = frozenset(
    {
        (None, OrderStatus.PENDING),
        (None, OrderStatus.REJECTED),
        (OrderStatus.PENDING, OrderStatus.PENDING),
        (OrderStatus.PENDING, OrderStatus.EXECUTED),
        (OrderStatus.PENDING, OrderStatus.CANCELLED),
        (OrderStatus.PENDING, OrderStatus.REJECTED),
    }
)

TERMINAL = frozenset({OrderStatus.EXECUTED, OrderStatus.CANCELLED, OrderStatus.REJECTED})


def can_transition(current: OrderStatus | None, target: OrderStatus) -> bool:
    return (current, target) in TRANSITIONS


def transition(current: OrderStatus | None, target: OrderStatus) -> OrderStatus:
    """Return ``target`` if the lifecycle allows it; an illegal move is a bug, not a branch."""
    if (current, target) not in TRANSITIONS:
        raise InvariantError(f"illegal order transition {current} -> {target}")
    return target


class Order(msgspec.Struct, gc=False):
    """A working order inside an account (terminal orders leave the account's state)."""

    order_id: str
    client_order_id: str | None
    instrument_id: str
    side: Side
    product: Product
    order_type: OrderType
    validity: Validity
    quantity: int
    price_paise: int  # limit price for LIMIT and SL, 0 otherwise
    trigger_paise: int  # trigger for SL and SL-M, 0 otherwise
    status: OrderStatus
    margin_blocked_paise: int
    created_ms: int
    updated_ms: int
    filled_quantity: int = 0
    fill_value_paise: int = 0
    charges_paise: int = 0
    triggered: bool = False
    # Bumped by every modification: the market's queued, resting or triggered executions carry
    # the version they were made for, and the account refuses any other.
    version: int = 0
    brokerage_paise: int = 0  # charged to this order so far (brokerage is per executed order)
    tag: str | None = None  # the client's label for the order (Kite's ``tag``), not unique
    # Placed while its session was closed, for the next open (docs/DOMAIN.md §3, after-market
    # orders): the market holds it until then.
    after_market: bool = False
    iceberg: Iceberg | None = None  # a leg of an iceberg order (docs/DOMAIN.md §3)

    @property
    def remaining_quantity(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def waits_for_trigger(self) -> bool:
        return self.order_type in (OrderType.SL, OrderType.SL_M) and not self.triggered

    @property
    def rests_at_limit(self) -> bool:
        """True when the order now waits for the market to cross its limit price."""
        if self.order_type is OrderType.LIMIT:
            return True
        return self.order_type is OrderType.SL and self.triggered

    def average_price_paise(self) -> int:
        """What its fills traded, per unit, to the nearest paisa (0 before the first fill)."""
        if self.filled_quantity == 0:
            return 0
        return div_half_up(self.fill_value_paise, self.filled_quantity)
