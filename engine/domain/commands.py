"""Account commands: what a caller asks an account (a request), and the command ``decide`` takes.

A request is what the gateway, the market or a session boundary sends: only what the caller
knows. The account's actor stamps it into the command of the same name without the suffix,
adding what it resolves at that moment (the clock reading, the instrument's quote, an option's
underlying price, an exit's market price and order id, a modified order's instrument): each
command is its request plus those stamps, so ``decide`` stays a pure function of state and
command and no caller writes a placeholder for what it cannot know.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from engine.domain.enums import (
    CancelReason,
    CloseReason,
    FundKind,
    OrderType,
    PriceSource,
    Product,
    Side,
    Validity,
)
from engine.domain.gtt import GttLeg, GttType
from engine.domain.iceberg import Iceberg
from engine.domain.instruments import Instrument
from engine.domain.orders import Order
from engine.domain.portfolio import UnderlyingMarket
from engine.domain.quote import Quote


class Request(msgspec.Struct, frozen=True, gc=False):
    """What a caller asks an account; stamped by its actor into a :class:`Command`."""


class Command(msgspec.Struct, frozen=True, gc=False):
    """A request stamped with the clock, ``now_ms`` (and what else its kind needs)."""


class PlaceOrderRequest(Request, frozen=True, gc=False):
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
    tag: str | None = None  # the client's label, kept with the order
    after_market: bool = False  # an AMO: taken only while closed, for the next open
    # A leg of an iceberg order: ``quantity`` is this leg's (a new iceberg places its first).
    iceberg: Iceberg | None = None


class PlaceOrder(PlaceOrderRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int
    quote: Quote | None
    market: UnderlyingMarket | None = None  # a derivative's underlying, for portfolio margin
    mtm_paise: int = 0  # the account's mark-to-market now, as it counts in available funds
    price_source: PriceSource | None = None


class ModifyOrderRequest(Request, frozen=True, gc=False):
    """New terms for a working order (``None`` keeps a term)."""

    order_id: str
    quantity: int | None = None
    price_paise: int | None = None
    trigger_paise: int | None = None
    order_type: OrderType | None = None


class ModifyOrder(ModifyOrderRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int
    instrument: Instrument
    quote: Quote | None
    market: UnderlyingMarket | None = None
    mtm_paise: int = 0


class CancelOrderRequest(Request, frozen=True, gc=False):
    order_id: str
    reason: CancelReason = CancelReason.USER


class CancelOrder(CancelOrderRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int


class TriggerOrderRequest(Request, frozen=True, gc=False):
    """The market crossed the trigger of version ``order_version`` of an SL/SL-M order."""

    order_id: str
    order_version: int = 0


class TriggerOrder(TriggerOrderRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int


class FillOrderRequest(Request, frozen=True, gc=False):
    """The market fills ``quantity`` of version ``order_version`` of an order at
    ``price_paise`` (slippage included): ``at_market`` from the market queue (a MARKET or a
    triggered SL-M order), otherwise from a limit book (a LIMIT or a triggered SL order)."""

    order_id: str
    instrument: Instrument
    quantity: int
    price_paise: int
    order_version: int = 0
    at_market: bool = False


class FillOrder(FillOrderRequest, Command, frozen=True, gc=False, kw_only=True):
    """A fill; one that completes a leg of an iceberg order with legs to come is stamped as
    that next leg's new order is (its id, the quote, the price tier), for the decision to
    place it (docs/DOMAIN.md §3). The next leg's mark-to-market is the account's as the fill
    leaves it: the unrealised P&L of every position but the one the fill books
    (``others_unrealised_paise``, not yet ``counted``), and that one's at the quote."""

    now_ms: int
    market: UnderlyingMarket | None = None
    next_leg_order_id: str | None = None
    quote: Quote | None = None
    others_unrealised_paise: int = 0
    price_source: PriceSource | None = None


class ClosePositionRequest(Request, frozen=True, gc=False):
    """Close a position at market through a MARKET exit order."""

    position_id: str
    reason: CloseReason = CloseReason.USER
    trigger_level_paise: int | None = None  # the SL/target level that fired, re-checked


class ClosePosition(ClosePositionRequest, Command, frozen=True, gc=False, kw_only=True):
    """A close priced at ``price_paise``, the market's price for the exit."""

    now_ms: int
    exit_order_id: str
    instrument: Instrument
    price_paise: int
    price_source: PriceSource | None = None
    market: UnderlyingMarket | None = None


class ExpirePositionRequest(Request, frozen=True, gc=False):
    """Settle a position whose contract expired, at ``settlement_paise`` a unit: a future at
    its final settlement price, an option at its intrinsic value (0 out of the money)."""

    position_id: str
    settlement_paise: int


class ExpirePosition(ExpirePositionRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int
    exit_order_id: str
    instrument: Instrument
    # The shares a physically settled contract delivers (a stock future or option on NFO or
    # BFO, docs/DOMAIN.md §6): the stock on the contract's cash exchange. None: cash settled.
    deliverable: Instrument | None = None
    market: UnderlyingMarket | None = None


class ConvertPositionRequest(Request, frozen=True, gc=False):
    """Move ``quantity`` units of an open position to ``product`` (docs/DOMAIN.md §1)."""

    position_id: str
    product: Product
    quantity: int


class ConvertPosition(ConvertPositionRequest, Command, frozen=True, gc=False, kw_only=True):
    """Stamped with the position's instrument and, for a derivative, its underlying's market
    (the portfolio margin is recomputed with the units moved)."""

    now_ms: int
    instrument: Instrument
    market: UnderlyingMarket | None = None


class SetRiskLevelsRequest(Request, frozen=True, gc=False):
    position_id: str
    stop_loss_paise: int | None
    target_paise: int | None


class SetRiskLevels(SetRiskLevelsRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int
    tick_paise: int  # the position's instrument's


class PlaceGttRequest(Request, frozen=True, gc=False):
    """Place a GTT (docs/DOMAIN.md §7): ``legs`` one per trigger, a two-leg GTT's lower
    (stop-loss) first; ``last_price_paise`` the price it is placed against (None: the
    market's now)."""

    gtt_id: str
    instrument: Instrument
    gtt_type: GttType
    legs: tuple[GttLeg, ...]
    last_price_paise: int | None = None


class PlaceGtt(PlaceGttRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int
    ltp_paise: int  # the market's last price now (0: none)


class ModifyGttRequest(Request, frozen=True, gc=False):
    """New triggers and orders for an active GTT, whole (as placing takes them)."""

    gtt_id: str
    gtt_type: GttType
    legs: tuple[GttLeg, ...]
    last_price_paise: int | None = None


class ModifyGtt(ModifyGttRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int
    instrument: Instrument
    ltp_paise: int


class DeleteGttRequest(Request, frozen=True, gc=False):
    gtt_id: str


class DeleteGtt(DeleteGttRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int


class TriggerGttRequest(Request, frozen=True, gc=False):
    """The market's last price ``ltp_paise`` reached leg ``leg`` of version ``gtt_version``
    of a GTT."""

    gtt_id: str
    leg: int
    ltp_paise: int
    gtt_version: int = 0


class TriggerGtt(TriggerGttRequest, Command, frozen=True, gc=False, kw_only=True):
    """A firing stamped with what placing the leg's order needs, as a new order is stamped
    (``gtt_order`` builds the order from the leg and these)."""

    now_ms: int
    order_id: str
    instrument: Instrument
    quote: Quote | None
    market: UnderlyingMarket | None = None
    mtm_paise: int = 0
    price_source: PriceSource | None = None


def next_iceberg_leg(
    order: Order, order_id: str, instrument: Instrument
) -> PlaceOrderRequest | None:
    """The order ``order``'s iceberg places when ``order`` has filled, on ``order``'s terms as
    they are now (a modified price carries to the legs after it); None after the last leg."""
    if order.iceberg is None or (iceberg := order.iceberg.next_leg()) is None:
        return None
    return PlaceOrderRequest(
        order_id=order_id,
        client_order_id=None,
        instrument=instrument,
        side=order.side,
        product=order.product,
        order_type=order.order_type,
        validity=order.validity,
        quantity=iceberg.quantity_of_leg(iceberg.leg),
        price_paise=order.price_paise,
        trigger_paise=order.trigger_paise,
        tag=order.tag,
        iceberg=iceberg,
    )


def gtt_order(leg: GttLeg, order_id: str, instrument: Instrument) -> PlaceOrderRequest:
    """The order a GTT's leg places when it fires: a DAY order of the leg's terms."""
    return PlaceOrderRequest(
        order_id=order_id,
        client_order_id=None,
        instrument=instrument,
        side=leg.side,
        product=leg.product,
        order_type=leg.order_type,
        validity=Validity.DAY,
        quantity=leg.quantity,
        price_paise=leg.price_paise,
        trigger_paise=0,
    )


class EndGttRequest(Request, frozen=True, gc=False):
    """End an active GTT that did not fire: EXPIRED (its life is over, reported by the market)
    or DISABLED (its contract expired)."""

    gtt_id: str
    status: str  # GttStatus.EXPIRED or GttStatus.DISABLED
    gtt_version: int | None = None  # the market's report names the version it expired


class EndGtt(EndGttRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int


class CreditFundsRequest(Request, frozen=True, gc=False):
    """Credit funds; with ``operation_key`` (an admin's idempotency key) at most once."""

    amount_paise: int
    kind: FundKind
    reference: str
    operation_key: str = ""
    operator_id: str = ""


class CreditFunds(CreditFundsRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int


class DebitFundsRequest(Request, frozen=True, gc=False):
    """Debit funds; with ``operation_key`` (an admin's idempotency key) at most once."""

    amount_paise: int
    kind: FundKind
    reference: str
    operation_key: str = ""
    operator_id: str = ""


class DebitFunds(DebitFundsRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int


class RequestDepositRequest(Request, frozen=True, gc=False):
    deposit_id: str
    amount_paise: int
    bank_account_id: str | None
    reference: str


class RequestDeposit(RequestDepositRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int


class DecideDepositRequest(Request, frozen=True, gc=False):
    deposit_id: str
    approve: bool
    admin_user_id: str
    remarks: str


class DecideDeposit(DecideDepositRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int


class RequestWithdrawalRequest(Request, frozen=True, gc=False):
    withdrawal_id: str
    amount_paise: int
    bank_account_id: str | None


class RequestWithdrawal(RequestWithdrawalRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int


class DecideWithdrawalRequest(Request, frozen=True, gc=False):
    withdrawal_id: str
    approve: bool
    admin_user_id: str
    remarks: str


class DecideWithdrawal(DecideWithdrawalRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int


class BlockFundsRequest(Request, frozen=True, gc=False):
    block_id: str
    amount_paise: int
    kind: FundKind


class BlockFunds(BlockFundsRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int


class ReleaseFundsRequest(Request, frozen=True, gc=False):
    """Release a fund block whole; ``amount_paise``, when given, must be the block's."""

    block_id: str
    amount_paise: int | None = None


class ReleaseFunds(ReleaseFundsRequest, Command, frozen=True, gc=False, kw_only=True):
    now_ms: int


class SettleHoldings(Command, frozen=True, gc=False):
    """End of session: CNC long positions become holdings (the actor's own command)."""

    now_ms: int


class PositionMark(msgspec.Struct, frozen=True, gc=False):
    """An open position's market now: its last price (0: none), and where a close at market
    would fill and the tier that priced it (for a liquidation)."""

    position_id: str
    instrument: Instrument
    ltp_paise: int
    exit_paise: int
    price_source: PriceSource | None = None


class RevalueMargin(Command, frozen=True, gc=False):
    """Recompute the portfolio margin of each underlying in ``markets`` at their prices now,
    then check the equity against the required margin at ``marks`` (a margin call, and below
    the liquidation level a square-off): the actor's own command, at a trade day's start, on
    the revaluation cadence and after large moves."""

    now_ms: int
    markets: tuple[UnderlyingMarket, ...]
    marks: tuple[PositionMark, ...] = ()


class SettleFutures(Command, frozen=True, gc=False):
    """Start of a trade day: settle the futures held from before it at the previous day's
    closing prices (``closes``: (position id, price) pairs), once a day."""

    now_ms: int
    closes: tuple[tuple[str, int], ...]


class ResetExit(msgspec.Struct, frozen=True, gc=False):
    """The market price a reset closes one position (``position_id``) or sells one holding
    (``position_id`` empty) at, resolved by the shell as a position close resolves its price."""

    instrument: Instrument
    price_paise: int
    position_id: str = ""
    price_source: PriceSource | None = None


class ResetAccountRequest(Request, frozen=True, gc=False):
    """Start the account over: cancel, close, sell and release everything, then set the cash
    to ``opening_balance_paise``."""

    reset_id: str
    by_user_id: str
    by_role: str  # USER or ADMIN
    opening_balance_paise: int


class ResetAccount(ResetAccountRequest, Command, frozen=True, gc=False, kw_only=True):
    """``exits``: one per open position and one per holding, priced by the shell (a missing
    one refuses the reset with PRICE_UNAVAILABLE)."""

    now_ms: int
    exits: tuple[ResetExit, ...] = ()


AccountRequest = (
    PlaceOrderRequest
    | ModifyOrderRequest
    | CancelOrderRequest
    | TriggerOrderRequest
    | FillOrderRequest
    | ClosePositionRequest
    | ExpirePositionRequest
    | SetRiskLevelsRequest
    | ConvertPositionRequest
    | CreditFundsRequest
    | DebitFundsRequest
    | BlockFundsRequest
    | ReleaseFundsRequest
    | RequestDepositRequest
    | DecideDepositRequest
    | RequestWithdrawalRequest
    | DecideWithdrawalRequest
    | ResetAccountRequest
    | PlaceGttRequest
    | ModifyGttRequest
    | DeleteGttRequest
    | TriggerGttRequest
    | EndGttRequest
)

AccountCommand = (
    PlaceOrder
    | ModifyOrder
    | CancelOrder
    | TriggerOrder
    | FillOrder
    | ClosePosition
    | ExpirePosition
    | SetRiskLevels
    | ConvertPosition
    | CreditFunds
    | DebitFunds
    | BlockFunds
    | ReleaseFunds
    | SettleHoldings
    | RevalueMargin
    | SettleFutures
    | RequestDeposit
    | DecideDeposit
    | RequestWithdrawal
    | DecideWithdrawal
    | ResetAccount
    | PlaceGtt
    | ModifyGtt
    | DeleteGtt
    | TriggerGtt
    | EndGtt
)

# The command of each request stamped with the clock alone (the account stamps the others,
# which need the market or the account's own orders and positions, one by one).
STAMPED_WITH_TIME: dict[type[Request], Callable[..., AccountCommand]] = {
    CancelOrderRequest: CancelOrder,
    TriggerOrderRequest: TriggerOrder,
    CreditFundsRequest: CreditFunds,
    DebitFundsRequest: DebitFunds,
    BlockFundsRequest: BlockFunds,
    ReleaseFundsRequest: ReleaseFunds,
    RequestDepositRequest: RequestDeposit,
    DecideDepositRequest: DecideDeposit,
    RequestWithdrawalRequest: RequestWithdrawal,
    DecideWithdrawalRequest: DecideWithdrawal,
    DeleteGttRequest: DeleteGtt,
    EndGttRequest: EndGtt,
}
