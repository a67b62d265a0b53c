"""What account actors and the engine tell the market actor: book changes and control messages.

Each account decision becomes ``BookOps`` (what rests, queues, is forgotten, which exits and
positions the market watches); ``Tick`` and ``Sync`` drive and fence the actor itself.
"""

from __future__ import annotations

import msgspec


class Tick(msgspec.Struct, frozen=True):
    """Time to jitter, match and publish."""


class Sync(msgspec.Struct, frozen=True):
    """Answered once everything sent to the market before it has been handled."""


class RestOrder(msgspec.Struct, frozen=True, gc=False):
    """A LIMIT order, or an SL/SL-M order waiting for (or past) its trigger."""

    account_id: str
    order_id: str
    index: int
    side: int  # +1 buy, -1 sell
    quantity: int
    limit_paise: int
    trigger_paise: int
    triggered: bool
    ioc: bool
    version: int = 0  # the order version these terms are (echoed on its fill or trigger)
    after_market: bool = False  # held until its session's first open after ``placed_ms``
    placed_ms: int = 0


class ExecuteMarket(msgspec.Struct, frozen=True, gc=False):
    """Fill a MARKET (or triggered SL-M) order at market once ``due_ms`` has come."""

    account_id: str
    order_id: str
    index: int
    side: int
    quantity: int
    due_ms: int
    version: int = 0
    ioc: bool = False  # what the book cannot fill at once is cancelled, not rested
    after_market: bool = False  # held until its session's first open after ``placed_ms``
    placed_ms: int = 0


class ForgetOrder(msgspec.Struct, frozen=True, gc=False):
    """The order no longer works (or works on new terms): drop whatever it rests or queues."""

    account_id: str
    order_id: str


class SetExits(msgspec.Struct, frozen=True, gc=False):
    """Stop-loss and target of a position (``None`` clears a level)."""

    account_id: str
    position_id: str
    index: int
    quantity: int  # signed
    stop_loss_paise: int | None
    target_paise: int | None


class MirrorPosition(msgspec.Struct, frozen=True, gc=False):
    """A position's new quantity and cost, for risk marking (quantity 0: closed)."""

    account_id: str
    position_id: str
    index: int
    quantity: int
    signed_cost_paise: int


class RestGtt(msgspec.Struct, frozen=True, gc=False):
    """An active GTT's legs (replacing any earlier version's): ``rising`` the trigger of the
    leg that fires when the price rises to it, ``falling`` of the one that fires when it falls
    to it, each ``(leg, trigger_paise)`` or None; it expires at ``expires_ms``."""

    account_id: str
    gtt_id: str
    index: int
    version: int
    rising: tuple[int, int] | None
    falling: tuple[int, int] | None
    expires_ms: int


class ForgetGtt(msgspec.Struct, frozen=True, gc=False):
    """The GTT has ended: drop its legs."""

    account_id: str
    gtt_id: str


BookOp = RestOrder | ExecuteMarket | ForgetOrder | SetExits | MirrorPosition | RestGtt | ForgetGtt


class BookOps(msgspec.Struct, frozen=True, gc=False):
    """Book changes from one account decision, applied in order."""

    ops: tuple[BookOp, ...]
