"""The trading account as a pure state machine.

``decide(state, command, rules)`` checks a command against the state and returns the events it
causes or a rejection; ``apply(state, event)`` books one event. No actors, clocks or I/O live
here: the actor shell supplies the instrument, quote and time inside each command.

Funds identity (docs/DOMAIN.md §2), true after every event:
``balance = deposits - withdrawals + realized P&L - charges`` and
``blocked = Σ open-order blocks + Σ position margin + Σ portfolio margin + Σ holding cost +
Σ fund blocks``;
``available = balance - blocked``.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import NamedTuple

import msgspec

from engine.domain import events as ev
from engine.domain.enums import (
    Product,
    Rejection,
)
from engine.domain.gtt import Gtt
from engine.domain.invariants import InvariantError
from engine.domain.orders import Order
from engine.domain.positions import Holding, Position

POSITION_ID_NAMESPACE = uuid.UUID("6f1c3f3e-6a43-4c55-9a43-2d1f0c7d9e10")


class FundOperation(msgspec.Struct, frozen=True, gc=False):
    """An admin adjustment made with an idempotency key, as it was done (a retry with the
    same key answers this instead of moving money again)."""

    operation: str  # ADD or WITHDRAW
    amount_paise: int
    operator_id: str
    balance_after_paise: int
    account_seq: int
    at_ms: int


class AccountState(msgspec.Struct, gc=False):
    """Everything one trading account holds in memory."""

    account_id: str
    seq: int = 0
    balance_paise: int = 0
    deposits_paise: int = 0
    withdrawals_paise: int = 0
    realized_pnl_paise: int = 0
    charges_paise: int = 0
    blocked_paise: int = 0
    orders: dict[str, Order] = msgspec.field(default_factory=dict)
    positions: dict[str, Position] = msgspec.field(default_factory=dict)
    position_ids: dict[str, str] = msgspec.field(default_factory=dict)  # key -> position id
    holdings: dict[str, Holding] = msgspec.field(default_factory=dict)
    fund_blocks: dict[str, int] = msgspec.field(default_factory=dict)
    client_order_ids: dict[str, str] = msgspec.field(default_factory=dict)
    dp_charged_day: dict[str, int] = msgspec.field(default_factory=dict)
    pending_deposits: dict[str, int] = msgspec.field(default_factory=dict)  # id -> amount
    pending_withdrawals: dict[str, int] = msgspec.field(default_factory=dict)  # id -> amount
    fund_operations: dict[str, FundOperation] = msgspec.field(default_factory=dict)  # by key
    resets_total: int = 0
    last_reset_day: int = 0  # the trade day of the latest reset (0: never reset)
    resets_on_last_day: int = 0
    # The latest trade day whose expiry-day margin check was made (0: never), so it is made
    # once a day (engine/domain/account/expiry_margin.py).
    expiry_margin_day: int = 0
    # What each underlying's futures and options block together (docs/DOMAIN.md §2), by name.
    portfolio_margin: dict[str, int] = msgspec.field(default_factory=dict)
    margin_called: bool = False  # equity below the required margin at the last check
    # The latest trade day at whose start the futures held were settled to the market (0: never).
    futures_settled_day: int = 0
    # The active GTTs, by id (docs/DOMAIN.md §7): they block nothing; one that ends leaves.
    gtts: dict[str, Gtt] = msgspec.field(default_factory=dict)

    @property
    def available_paise(self) -> int:
        return self.balance_paise - self.blocked_paise

    def position_for(self, instrument_id: str, product: Product) -> Position | None:
        position_id = self.position_ids.get(position_key(instrument_id, product))
        return None if position_id is None else self.positions[position_id]


class Shortfall(NamedTuple):
    """What an order was refused ``INSUFFICIENT_FUNDS`` on: the margin it would block, its
    estimated charges and the funds available to it then (a modified order's own block
    included)."""

    required_margin_paise: int
    charges_paise: int
    available_paise: int


class Decision(NamedTuple):
    """The outcome of ``decide``: events to apply, and the rejection if the command failed.

    A rejected order still yields an ``OrderRejected`` event so it is journaled. A rejection
    carries what its answer needs, as decided: ``shortfall`` for an order's
    ``INSUFFICIENT_FUNDS``, ``original_order_id`` for a new order's ``DUPLICATE`` (the order
    first placed with its clientOrderId).
    """

    events: tuple[ev.AccountEvent, ...]
    rejection: Rejection | None = None
    shortfall: Shortfall | None = None
    original_order_id: str | None = None
    refused_field: str = ""  # a GTT's refusal: the field at fault (``orders[1].quantity``)


def position_key(instrument_id: str, product: Product) -> str:
    return f"{product.value}:{instrument_id}"


def new_position_id(order_id: str, filled_before: int) -> str:
    """Derive a position id from the fill that opens it, so replay reproduces it."""
    return str(uuid.uuid5(POSITION_ID_NAMESPACE, f"{order_id}:{filled_before}"))


def resets_on_day(state: AccountState, trade_day: int) -> int:
    """How many times the account was reset on ``trade_day``."""
    return state.resets_on_last_day if state.last_reset_day == trade_day else 0


# --------------------------------------------------------------------------------------------
# invariants and fingerprints


def blocked_from_parts(state: AccountState) -> int:
    """Recompute the blocked total from its parts (for invariant checks, after every batch:
    plain loops, the cheapest walk over a few small dicts)."""
    blocked = sum(state.fund_blocks.values()) + sum(state.portfolio_margin.values())
    for order in state.orders.values():
        blocked += order.margin_blocked_paise
    for position in state.positions.values():
        blocked += position.margin_paise
    for holding in state.holdings.values():
        blocked += holding.cost_paise
    return blocked


def check_funds_identity(state: AccountState) -> None:
    """Raise :class:`InvariantError` unless ``state`` satisfies the funds identity (docs/DOMAIN.md
    §2; ``available = balance - blocked`` is derived, so it holds with them), naming the figures.
    It walks the account's orders, positions, holdings and fund blocks once."""
    balance = (
        state.deposits_paise
        - state.withdrawals_paise
        + state.realized_pnl_paise
        - state.charges_paise
    )
    blocked = blocked_from_parts(state)
    if state.balance_paise != balance or state.blocked_paise != blocked:
        raise InvariantError(
            f"account {state.account_id} at seq {state.seq}: funds identity broken:"
            f" balance {state.balance_paise} (its parts say {balance}),"
            f" blocked {state.blocked_paise} (its parts say {blocked})"
        )


def funds_identity_holds(state: AccountState) -> bool:
    """docs/DOMAIN.md §2: ``check_funds_identity`` as a predicate."""
    try:
        check_funds_identity(state)
    except InvariantError:
        return False
    return True


def state_fingerprint(state: AccountState) -> str:
    """A stable hash of the whole state, to compare projections with journal replay."""
    return hashlib.sha256(msgspec.json.encode(state, order="sorted")).hexdigest()
