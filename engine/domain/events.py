"""Account events: frozen records of what happened, applied by ``apply`` and journaled.

Every number an event needs is computed by ``decide`` and carried in the event, so ``apply``
and journal replay are plain bookkeeping and always reproduce the same state.
"""

from __future__ import annotations

import msgspec

from engine.domain.enums import OrderStatus, OrderType, Product, Rejection, Side, Validity
from engine.domain.gtt import GttLeg, GttType
from engine.domain.iceberg import Iceberg


class Event(msgspec.Struct, frozen=True, gc=False, tag=True):
    """Base of all account events; ``at_ms`` is the engine clock when it happened."""

    at_ms: int


class OrderTerms(Event, frozen=True, gc=False, tag=True):
    """What a new order asked for; shared by its acceptance and its rejection."""

    order_id: str
    client_order_id: str | None
    instrument_id: str
    side: Side
    product: Product
    order_type: OrderType
    validity: Validity
    quantity: int
    price_paise: int
    trigger_paise: int


class OrderAccepted(OrderTerms, frozen=True, gc=False, tag=True):
    margin_blocked_paise: int
    price_source: str = ""  # the PriceSource tier that valued the order
    tag: str | None = None  # the client's label for the order (Kite's ``tag``)
    after_market: bool = False  # an after-market order, held for its session's next open
    iceberg: Iceberg | None = None  # a leg of an iceberg order


class OrderRejected(OrderTerms, frozen=True, gc=False, tag=True):
    reason: Rejection
    tag: str | None = None  # the client's label for the order (Kite's ``tag``)
    after_market: bool = False  # placed as an after-market order
    iceberg: Iceberg | None = None  # a leg of an iceberg order


class OrderModified(Event, frozen=True, gc=False, tag=True):
    order_id: str
    order_type: OrderType
    quantity: int
    price_paise: int
    trigger_paise: int
    margin_blocked_paise: int


class OrderTriggered(Event, frozen=True, gc=False, tag=True):
    order_id: str


class OrderCancelled(Event, frozen=True, gc=False, tag=True):
    order_id: str
    margin_released_paise: int
    reason: str  # USER, IOC, SQUARE_OFF, ...


class PortfolioBlock(msgspec.Struct, frozen=True, gc=False):
    """What one underlying's futures and options block together now (docs/DOMAIN.md §2): its
    portfolio margin, in place of any margin its ``position_ids`` carried on their own."""

    underlying: str
    margin_paise: int
    position_ids: tuple[str, ...]  # the open positions in the underlying's derivatives


class OrderFilled(Event, frozen=True, gc=False, tag=True):
    """A fill of ``quantity`` at ``price_paise`` and the position/holding it leaves."""

    order_id: str
    instrument_id: str
    product: Product
    side: Side
    quantity: int
    price_paise: int
    status_after: OrderStatus
    block_released_paise: int
    charges_paise: int
    brokerage_paise: int
    taxes_paise: int  # STT + exchange + SEBI + GST + stamp + DP
    realized_pnl_paise: int
    position_id: str
    position_quantity: int
    position_cost_paise: int
    position_margin_paise: int
    holding_quantity: int  # holdings after the fill (CNC sells from holdings), else unchanged
    holding_cost_paise: int
    dp_day: int  # trade day number when a DP charge was levied, else 0
    price_source: str = ""  # set when a position was closed at a resolved price
    # What today's CNC buys left in the position paid (see Position.buy_brokerage_paise).
    position_buy_brokerage_paise: int = 0
    position_buy_taxes_paise: int = 0
    # This order's own brokerage in this fill (brokerage_paise also carries re-rated buys and
    # the square-off fee): brokerage is per executed order, so later fills pay what is left.
    order_brokerage_paise: int = 0
    # Why the fill closed its position when it was not traded away: EXPIRED for a settlement
    # at expiry (CloseReason); empty for every other fill.
    close_reason: str = ""
    # A derivative's fill: its underlying's portfolio margin with the fill (None for equity, and
    # in journals written before portfolio margin, when positions carried their own).
    portfolio: PortfolioBlock | None = None


class PositionRiskSet(Event, frozen=True, gc=False, tag=True):
    position_id: str
    stop_loss_paise: int | None
    target_paise: int | None


class PositionConverted(Event, frozen=True, gc=False, tag=True):
    """``quantity`` units of a position moved at their cost to another product (docs/DOMAIN.md
    §1), and both positions as the move leaves them (a source at 0 units is closed)."""

    position_id: str
    instrument_id: str
    product: Product
    quantity: int
    target_position_id: str
    target_product: Product
    position_quantity: int
    position_cost_paise: int
    position_margin_paise: int
    position_buy_brokerage_paise: int
    position_buy_taxes_paise: int
    target_quantity: int
    target_cost_paise: int
    target_margin_paise: int
    target_buy_brokerage_paise: int
    target_buy_taxes_paise: int
    # A derivative's: its underlying's portfolio margin with the units moved.
    portfolio: PortfolioBlock | None = None


class FundsCredited(Event, frozen=True, gc=False, tag=True):
    amount_paise: int
    kind: str  # DEPOSIT, ADJUSTMENT, OPENING_BALANCE
    reference: str
    # An admin adjustment sent with an idempotency key: the key, and who made it.
    operation_key: str = ""
    operator_id: str = ""


class FundsDebited(Event, frozen=True, gc=False, tag=True):
    amount_paise: int
    kind: str  # WITHDRAWAL, ADJUSTMENT
    reference: str
    operation_key: str = ""
    operator_id: str = ""


class FundsBlocked(Event, frozen=True, gc=False, tag=True):
    block_id: str
    amount_paise: int
    kind: str  # WITHDRAWAL, ADMIN


class FundsReleased(Event, frozen=True, gc=False, tag=True):
    block_id: str
    amount_paise: int


class DepositRequested(Event, frozen=True, gc=False, tag=True):
    """A user asked to deposit ``amount_paise``: nothing moves until an admin approves."""

    deposit_id: str
    amount_paise: int
    bank_account_id: str | None
    reference: str


class DepositDecided(Event, frozen=True, gc=False, tag=True):
    """An admin approved (the amount is credited in this same event) or rejected a deposit."""

    deposit_id: str
    approved: bool
    amount_paise: int
    decided_by: str
    remarks: str


class WithdrawalRequested(Event, frozen=True, gc=False, tag=True):
    """A user asked to withdraw ``amount_paise``: it is blocked (block id = withdrawal id)
    until an admin decides."""

    withdrawal_id: str
    amount_paise: int
    bank_account_id: str | None


class WithdrawalDecided(Event, frozen=True, gc=False, tag=True):
    """An admin approved (the block is released and the amount debited) or rejected (the
    block is released) a withdrawal."""

    withdrawal_id: str
    approved: bool
    amount_paise: int
    decided_by: str
    remarks: str


class HoldingsSettled(Event, frozen=True, gc=False, tag=True):
    """CNC long positions of the session became holdings."""

    position_ids: tuple[str, ...]


class SharesDelivered(Event, frozen=True, gc=False, tag=True):
    """A stock future or an exercised stock option settled by delivery of its shares at expiry
    (docs/DOMAIN.md §6; ``engine.domain.account.delivery``), just after its position was closed
    by the expiry's exit order ``exit_order_id``.

    ``side`` BUY: ``quantity`` shares came into the holding of ``instrument_id`` at
    ``price_paise`` each (the holding's cost grows by their value). SELL: they went out of it at
    that price; the ``delivered_quantity`` the holding had free went out, realising against
    their cost, and the rest was a short delivery, closed out at ``closeout_price_paise`` (the
    difference realised) with ``penalty_paise`` charged. The holding after is carried whole.
    """

    # The expiry's exit order, the reference of the delivery's ledger legs (not ``order_id``:
    # this is no order event).
    exit_order_id: str
    position_id: str  # the contract's position, closed just before
    contract_id: str  # the expired contract
    instrument_id: str  # the shares delivered
    side: Side
    quantity: int
    price_paise: int  # the delivery price a share: a future's settlement price, an option's strike
    delivered_quantity: int
    closeout_price_paise: int  # 0 when nothing was closed out
    realized_pnl_paise: int
    charges_paise: int  # brokerage + taxes + penalty
    brokerage_paise: int
    taxes_paise: int  # STT + exchange + SEBI + GST + stamp + DP, at equity delivery rates
    penalty_paise: int  # the short delivery's close-out penalty
    holding_quantity: int
    holding_cost_paise: int
    dp_day: int  # trade day number when a DP charge was levied, else 0


class WithdrawalCancelled(Event, frozen=True, gc=False, tag=True):
    """A pending withdrawal was withdrawn by an account reset: its block is released and no
    money moves (not an admin decision, so nobody ``decided`` it)."""

    withdrawal_id: str
    amount_paise: int
    cancelled_by: str  # the user who reset the account
    reason: str  # RESET


class AccountReset(Event, frozen=True, gc=False, tag=True):
    """The account started over: the events of the same decision before this one cancelled its
    working orders and pending withdrawals and closed or sold everything at market; the one
    after it (if any) sets the cash back to ``opening_balance_paise`` with one RESET entry of
    ``adjustment_paise`` (signed: a credit is positive). Lists filtered ``since=reset`` start
    after this event."""

    reset_id: str
    by_user_id: str
    by_role: str  # USER (the owner, from the console) or ADMIN
    trade_day: int  # the exchange-local day number the per-day limit counts on
    opening_balance_paise: int
    adjustment_paise: int


class ExpiryMarginBlock(msgspec.Struct, frozen=True, gc=False):
    """The expiry-day extra ELM blocked on one short position: ``amount_paise`` is the
    configured rate of ``quantity × reference_paise`` (the underlying's price, else the
    strike), rounded half-up."""

    position_id: str
    instrument_id: str
    quantity: int  # units short
    reference_paise: int
    amount_paise: int


class ExpiryMarginBlocked(Event, frozen=True, gc=False, tag=True):
    """The start of ``trade_day`` (docs/DOMAIN.md §2): each short index option expiring that
    day and opened before it now carries the extra ELM in its position margin (``blocks``).
    Recorded once a day for an account holding an index option expiring that day, even with
    no short among them (no block), so the day's check is never made twice."""

    trade_day: int
    blocks: tuple[ExpiryMarginBlock, ...]


class PortfolioMarginRevalued(Event, frozen=True, gc=False, tag=True):
    """Portfolio margins recomputed at the market's prices, without a fill (docs/DOMAIN.md
    §2): each changed underlying's new margin."""

    blocks: tuple[PortfolioBlock, ...]


class MarginCalled(Event, frozen=True, gc=False, tag=True):
    """The account's equity fell below the margin its positions require (docs/DOMAIN.md §2):
    orders that add risk are refused until it is met again."""

    equity_paise: int
    required_paise: int
    unrealised_paise: int  # the mark-to-market counted in the equity


class MarginCallMet(Event, frozen=True, gc=False, tag=True):
    """The equity covers the required margin again (by a gain, a deposit or a reduction)."""

    equity_paise: int
    required_paise: int


class FutureSettlement(msgspec.Struct, frozen=True, gc=False):
    """One future's daily settlement: the P&L since its cost realised at ``price_paise``, which
    becomes its new cost basis."""

    position_id: str
    price_paise: int
    realized_pnl_paise: int


class FuturesSettled(Event, frozen=True, gc=False, tag=True):
    """The daily mark-to-market of futures (docs/DOMAIN.md §2): each open future settled in cash
    at the previous trade day's closing price, at the start of ``trade_day``."""

    trade_day: int
    settlements: tuple[FutureSettlement, ...]


class GttPlaced(Event, frozen=True, gc=False, tag=True):
    """A GTT was placed: active until ``expires_ms`` (docs/DOMAIN.md §7)."""

    gtt_id: str
    instrument_id: str
    gtt_type: GttType
    last_price_paise: int
    legs: tuple[GttLeg, ...]
    expires_ms: int


class GttModified(Event, frozen=True, gc=False, tag=True):
    """An active GTT's triggers and orders were replaced whole (its expiry is kept)."""

    gtt_id: str
    gtt_type: GttType
    last_price_paise: int
    legs: tuple[GttLeg, ...]


class GttDeleted(Event, frozen=True, gc=False, tag=True):
    """The trader deleted an active GTT: CANCELLED."""

    gtt_id: str


class GttTriggered(Event, frozen=True, gc=False, tag=True):
    """The price reached leg ``leg`` of a GTT at ``ltp_paise``: the leg's order
    ``placed_order_id`` was placed by the event after this one in the same batch, accepted
    (TRIGGERED) or refused for
    ``rejection`` (REJECTED; the order is kept REJECTED too). A two-leg GTT's other leg is
    cancelled with it: the GTT has ended."""

    gtt_id: str
    leg: int
    ltp_paise: int
    # The order it placed (not ``order_id``: the order's own events carry that, and the
    # projections take an event naming one for an order event).
    placed_order_id: str
    rejection: str = ""  # the Rejection of the order, empty when it was accepted


class GttExpired(Event, frozen=True, gc=False, tag=True):
    """An active GTT ended without firing: ``status`` EXPIRED (its life ran out) or DISABLED
    (its contract expired)."""

    gtt_id: str
    status: str


AccountEvent = (
    OrderAccepted
    | OrderRejected
    | OrderModified
    | OrderTriggered
    | OrderCancelled
    | OrderFilled
    | PositionRiskSet
    | PositionConverted
    | FundsCredited
    | FundsDebited
    | FundsBlocked
    | FundsReleased
    | HoldingsSettled
    | SharesDelivered
    | DepositRequested
    | DepositDecided
    | WithdrawalRequested
    | WithdrawalDecided
    | WithdrawalCancelled
    | AccountReset
    | ExpiryMarginBlocked
    | PortfolioMarginRevalued
    | MarginCalled
    | MarginCallMet
    | FuturesSettled
    | GttPlaced
    | GttModified
    | GttDeleted
    | GttTriggered
    | GttExpired
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AccountEvent)


def encode_event(event: Event) -> bytes:
    """Encode an event for the journal (tagged JSON)."""
    return _encoder.encode(event)


def decode_event(payload: bytes | str) -> AccountEvent:
    """Decode a journaled event."""
    event: AccountEvent = _decoder.decode(payload)
    return event
