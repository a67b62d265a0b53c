"""Account commands: imperative requests that ``decide`` accepts or rejects.

A command carries everything the decision needs (the instrument, the quote the shell
resolved, the clock reading), so ``decide`` stays a pure function of state and command.
"""

from __future__ import annotations

import msgspec

from engine.domain.enums import OrderType, PriceSource, Product, Side, Validity
from engine.domain.instruments import Instrument
from engine.domain.quote import Quote


class Command(msgspec.Struct, frozen=True, gc=False):
    now_ms: int


class PlaceOrder(Command, frozen=True, gc=False):
    order_id: str
    client_order_id: str | None
    instrument: Instrument
    side: Side
    product: Product
    order_type: OrderType
    validity: Validity
    quantity: int
    price_paise: int
    trigger_paise: int
    quote: Quote | None
    underlying_price_paise: int = 0
    price_source: PriceSource | None = None


class ModifyOrder(Command, frozen=True, gc=False):
    order_id: str
    instrument: Instrument
    quote: Quote | None
    quantity: int | None = None
    price_paise: int | None = None
    trigger_paise: int | None = None
    order_type: OrderType | None = None
    underlying_price_paise: int = 0


class CancelOrder(Command, frozen=True, gc=False):
    order_id: str
    reason: str = "USER"


class TriggerOrder(Command, frozen=True, gc=False):
    """The market crossed the trigger of version ``order_version`` of an SL/SL-M order."""

    order_id: str
    order_version: int = 0


class FillOrder(Command, frozen=True, gc=False):
    """The market fills ``quantity`` of version ``order_version`` of an order at
    ``price_paise`` (slippage included): ``at_market`` from the market queue (a MARKET or a
    triggered SL-M order), otherwise from a limit book (a LIMIT or a triggered SL order)."""

    order_id: str
    instrument: Instrument
    quantity: int
    price_paise: int
    order_version: int = 0
    at_market: bool = False
    underlying_price_paise: int = 0


class ClosePosition(Command, frozen=True, gc=False):
    """Close a position at ``price_paise`` through a MARKET exit order."""

    position_id: str
    exit_order_id: str
    instrument: Instrument
    price_paise: int
    reason: str = "USER"  # USER, STOP_LOSS, TARGET, SQUARE_OFF
    trigger_level_paise: int | None = None  # the SL/target level that fired, re-checked
    price_source: PriceSource | None = None


class SetRiskLevels(Command, frozen=True, gc=False):
    position_id: str
    tick_paise: int
    stop_loss_paise: int | None
    target_paise: int | None


class CreditFunds(Command, frozen=True, gc=False):
    """Credit funds; with ``operation_key`` (an admin's idempotency key) at most once."""

    amount_paise: int
    kind: str
    reference: str
    operation_key: str = ""
    operator_id: str = ""


class DebitFunds(Command, frozen=True, gc=False):
    """Debit funds; with ``operation_key`` (an admin's idempotency key) at most once."""

    amount_paise: int
    kind: str
    reference: str
    operation_key: str = ""
    operator_id: str = ""


class RequestDeposit(Command, frozen=True, gc=False):
    deposit_id: str
    amount_paise: int
    bank_account_id: str | None
    reference: str


class DecideDeposit(Command, frozen=True, gc=False):
    deposit_id: str
    approve: bool
    admin_user_id: str
    remarks: str


class RequestWithdrawal(Command, frozen=True, gc=False):
    withdrawal_id: str
    amount_paise: int
    bank_account_id: str | None


class DecideWithdrawal(Command, frozen=True, gc=False):
    withdrawal_id: str
    approve: bool
    admin_user_id: str
    remarks: str


class BlockFunds(Command, frozen=True, gc=False):
    block_id: str
    amount_paise: int
    kind: str


class ReleaseFunds(Command, frozen=True, gc=False):
    """Release a fund block whole; ``amount_paise``, when given, must be the block's."""

    block_id: str
    amount_paise: int | None = None


class SettleHoldings(Command, frozen=True, gc=False):
    """End of session: CNC long positions become holdings."""


class ResetExit(msgspec.Struct, frozen=True, gc=False):
    """The market price a reset closes one position (``position_id``) or sells one holding
    (``position_id`` empty) at, resolved by the shell as a position close resolves its price."""

    instrument: Instrument
    price_paise: int
    position_id: str = ""
    price_source: PriceSource | None = None


class ResetAccount(Command, frozen=True, gc=False):
    """Start the account over: cancel, close, sell and release everything, then set the cash
    to ``opening_balance_paise``. ``exits`` is stamped by the shell: one per open position
    and one per holding (a missing one refuses the reset with PRICE_UNAVAILABLE)."""

    reset_id: str
    by_user_id: str
    by_role: str  # USER or ADMIN
    opening_balance_paise: int
    exits: tuple[ResetExit, ...] = ()


AccountCommand = (
    PlaceOrder
    | ModifyOrder
    | CancelOrder
    | TriggerOrder
    | FillOrder
    | ClosePosition
    | SetRiskLevels
    | CreditFunds
    | DebitFunds
    | BlockFunds
    | ReleaseFunds
    | SettleHoldings
    | RequestDeposit
    | DecideDeposit
    | RequestWithdrawal
    | DecideWithdrawal
    | ResetAccount
)
