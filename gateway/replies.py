"""The shapes of success answers, for the OpenAPI document (``gateway.openapi``).

Handlers build their answers as dicts (``gateway.views`` and the routes); these Structs describe
them in the same msgspec terms as the request schemas, and ``tests/e2e/test_schemathesis.py``
checks every answer of the live server against them, so a view that gains, loses or retypes a
field fails there until this module says so too. Objects list every key they carry
(``forbid_unknown_fields``); a key only some answers carry is ``UNSET`` by default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from gateway.schemas import ExchangeName, OrderTypeName, ProductName, SegmentName, SideName

Timestamp = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
Date = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date"})]
Money = float  # rupees (docs/API.md conventions)
OrderStatus = Literal["PENDING", "EXECUTED", "CANCELLED", "REJECTED"]
RequestStatus = Literal["PENDING", "APPROVED", "REJECTED", "CANCELLED"]


class Reply(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Base of answer shapes: camelCase keys, no key left undescribed."""


class User(Reply):
    id: str
    email: str
    name: str
    role: Literal["USER", "ADMIN"]
    created_at: Timestamp


class AccountRef(Reply):
    id: str
    user_id: str


class Registered(Reply):
    user: User
    trading_account: AccountRef


class LoggedIn(Reply):
    token: str
    csrf_token: str
    expires_at: Timestamp
    user: User
    # true until the first admin changes the generated password printed at the first start
    password_change_required: bool | msgspec.UnsetType = msgspec.UNSET


class SessionInfo(Reply):
    user: User
    expires_at: Timestamp
    password_change_required: bool | msgspec.UnsetType = msgspec.UNSET


class Iceberg(Reply):
    """Where an order stands in its iceberg: leg ``leg`` of ``legs``."""

    parent_order_id: str  # the first leg's order id, shared by every leg
    leg: int  # 1 for the first leg
    legs: int
    leg_quantity: int  # every leg's quantity but the last's, which is what is left
    total_quantity: int
    remaining_quantity: int  # what the legs after this one are to trade


class Order(Reply):
    id: str
    client_order_id: str | None
    tag: str | None  # the client's label (Kite's ``tag``)
    after_market: bool  # placed while closed, for the session's next open
    iceberg: Iceberg | None  # a leg of an iceberg order
    trading_account_id: str
    instrument_id: str
    symbol: str | None
    exchange: ExchangeName | None
    segment: SegmentName | None
    product_type: ProductName
    order_type: OrderTypeName
    order_side: SideName
    validity: Literal["DAY", "IOC"]
    quantity: int
    filled_quantity: int
    pending_quantity: int  # quantity − filled while it works, else 0
    cancelled_quantity: int  # quantity − filled once CANCELLED, else 0
    price: Money | None
    trigger_price: Money | None
    average_price: Money | None  # fill value / filled quantity
    status: OrderStatus
    rejection_reason: str | None
    cancel_reason: str | None
    margin_blocked: Money
    charges: Money
    created_at: Timestamp
    updated_at: Timestamp | None
    executed_at: Timestamp | None


class OrderReply(Reply):
    order: Order


class OrderPage(Reply):
    items: list[Order]
    next_cursor: str | None


class GttOrder(Reply):
    """The order one GTT leg places."""

    order_side: SideName
    quantity: int
    order_type: Literal["LIMIT", "MARKET"]
    price: Money | None
    product_type: ProductName


class Gtt(Reply):
    """A GTT trigger (docs/API.md "GTT")."""

    id: str
    trading_account_id: str
    instrument_id: str
    symbol: str | None
    exchange: ExchangeName | None
    type: Literal["SINGLE", "TWO_LEG"]
    status: Literal["ACTIVE", "TRIGGERED", "REJECTED", "CANCELLED", "EXPIRED", "DISABLED"]
    last_price: Money
    trigger_values: list[Money]
    orders: list[GttOrder]
    version: int
    triggered_leg: int | None  # which leg fired (its index in orders)
    triggered_price: Money | None  # the last price that fired it
    order_id: str | None  # the order it placed
    rejection_reason: str | None  # why that order was refused (status REJECTED)
    created_at: Timestamp
    updated_at: Timestamp
    expires_at: Timestamp


class GttReply(Reply):
    gtt: Gtt


class GttPage(Reply):
    items: list[Gtt]
    next_cursor: str | None


class Trade(Reply):
    """One fill of an order."""

    id: str  # "<order id>-<account seq>": the same on every replay of the journal
    order_id: str
    trading_account_id: str
    instrument_id: str
    symbol: str | None
    exchange: ExchangeName | None
    product_type: ProductName
    order_side: SideName
    quantity: int
    price: Money
    charges: Money  # this fill's brokerage and taxes
    executed_at: Timestamp


class TradePage(Reply):
    items: list[Trade]
    next_cursor: str | None


class OrderChange(Reply):
    """One change of an order: what it became, and its filled quantity and terms after it."""

    status: Literal[
        "PENDING",
        "MODIFIED",
        "TRIGGERED",
        "PARTIALLY_FILLED",
        "EXECUTED",
        "CANCELLED",
        "REJECTED",
    ]
    filled_quantity: int
    quantity: int
    price: Money | None
    trigger_price: Money | None
    reason: str | None  # a cancel reason or a rejection code
    at: Timestamp


class OrderDetail(Reply):
    order: Order
    trades: list[Trade]  # first first
    history: list[OrderChange]  # first first


class Position(Reply):
    id: str
    trading_account_id: str
    instrument_id: str
    symbol: str | None
    exchange: ExchangeName | None
    product_type: ProductName
    quantity: int  # signed: + long, - short
    average_price: Money
    ltp: Money | None
    unrealized_pnl: Money
    realized_pnl: Money
    margin_blocked: Money
    stop_loss: Money | None
    target: Money | None
    status: Literal["OPEN", "CLOSED"]
    # Why a closed position closed: CLOSED (traded out), SETTLED (CNC shares became a
    # holding), EXPIRED (its contract settled at expiry), CONVERTED (all of it moved to another
    # product); null while open.
    close_reason: Literal["CLOSED", "SETTLED", "EXPIRED", "CONVERTED"] | None
    opened_at: Timestamp | None
    closed_at: Timestamp | None


class PositionList(Reply):
    items: list[Position]


class PositionReply(Reply):
    position: Position


class PositionConversion(Reply):
    position: Position  # the position converted from, as the move left it
    converted_position: Position  # the position in the new product


class PositionClosed(Reply):
    position: Position | None
    exit_order: Order
    realized_pnl: Money


class Funds(Reply):
    balance: Money
    available_margin: Money  # balance − blocked, marked to market
    used_margin: Money
    required_margin: Money  # what positions block: their own margin and their portfolios'
    blocked_margin: Money
    realized_pnl: Money
    unrealized_pnl: Money
    mark_to_market: Money  # what of the unrealized P&L counts in available funds
    margin_call: bool
    total_charges: Money


class LedgerEntry(Reply):
    id: str | None
    account_seq: int
    trading_account_id: str
    book: Literal["CASH", "BLOCKED"]
    kind: str
    amount: Money
    balance_after: Money | None
    reference: str
    description: str
    created_at: Timestamp


class FundsMoved(Reply):
    funds: Funds
    transaction: LedgerEntry
    block_id: str | msgspec.UnsetType = msgspec.UNSET  # BLOCK and RELEASE: what RELEASE names
    replayed: bool | msgspec.UnsetType = msgspec.UNSET  # a retried idempotencyKey


class Charges(Reply):
    brokerage: Money
    stt: Money
    exchange_txn: Money
    sebi: Money
    gst: Money
    stamp_duty: Money
    dp_charges: Money
    total: Money
    net_pnl: Money | msgspec.UnsetType = msgspec.UNSET  # with both prices
    breakeven_points: Money | msgspec.UnsetType = msgspec.UNSET


class Margin(Reply):
    required: Money
    leverage: float
    available_margin: Money
    charges: Money
    sufficient: bool


class MarginBreakdown(Reply):
    """A margin as a broker shows it; as a change, parts may be negative (docs/API.md)."""

    span: Money
    exposure: Money
    additional: Money
    option_premium: Money
    premium_credit: Money
    var: Money
    total: Money
    blocked: Money


class BasketOrderMargin(MarginBreakdown):
    instrument_id: str
    order_side: SideName
    quantity: int
    charges: Money
    sufficient: bool
    rejection: Literal["INSUFFICIENT_FUNDS"] | None
    standalone: MarginBreakdown


class BasketMargin(Reply):
    initial: MarginBreakdown
    final: MarginBreakdown
    benefit: Money
    charges: Money
    available_margin: Money
    orders: list[BasketOrderMargin]


class BankAccount(Reply):
    id: str
    bank_name: str
    account_number: str  # all but the last four digits masked
    ifsc: str
    account_holder: str
    created_at: Timestamp
    removed_at: Timestamp | None


class MoneyRequest(Reply):
    """A deposit or withdrawal request."""

    id: str
    trading_account_id: str
    bank_account_id: str | None
    amount: Money
    status: RequestStatus
    remarks: str | None
    created_at: Timestamp
    decided_at: Timestamp | None
    reference: str | msgspec.UnsetType = msgspec.UNSET  # deposits only


class ResetSummary(Reply):
    """The account's resets: today's (exchange-local day) against the limit, and in all."""

    today: int
    per_day_max: int
    total: int
    last_reset_at: Timestamp | None


class Console(Reply):
    user: User
    trading_account: AccountRef
    funds: Funds
    bank_accounts: list[BankAccount]
    deposits: list[MoneyRequest]
    withdrawals: list[MoneyRequest]
    transactions: list[LedgerEntry]
    resets: ResetSummary


class AccountReset(Reply):
    """What a reset did; ``accountSeq`` is its AccountReset event (``since=reset`` lists
    start after it)."""

    id: str
    trading_account_id: str
    account_seq: int
    reset_by: str
    by_role: Literal["USER", "ADMIN"]
    opening_balance: Money
    adjustment: Money  # the RESET ledger entry: a credit is positive
    orders_cancelled: int
    positions_closed: int
    holdings_sold: int
    withdrawals_cancelled: int
    created_at: Timestamp


class AccountResetDone(Reply):
    reset: AccountReset
    funds: Funds


class ConsoleChange(Reply):
    """The object a console action changed, under its own name."""

    user: User | msgspec.UnsetType = msgspec.UNSET
    bank_account: BankAccount | msgspec.UnsetType = msgspec.UNSET
    deposit: MoneyRequest | msgspec.UnsetType = msgspec.UNSET
    withdrawal: MoneyRequest | msgspec.UnsetType = msgspec.UNSET
    reset: AccountReset | msgspec.UnsetType = msgspec.UNSET
    funds: Funds | msgspec.UnsetType = msgspec.UNSET


class RequestPage(Reply):
    items: list[MoneyRequest]
    next_cursor: str | None


class DepositDecided(Reply):
    deposit: MoneyRequest


class WithdrawalDecided(Reply):
    withdrawal: MoneyRequest


class AccountSummary(Reply):
    id: str
    balance: Money
    blocked_margin: Money
    available_margin: Money
    realized_pnl: Money


class AdminUser(User):
    trading_account: AccountSummary | None


class UserPage(Reply):
    items: list[AdminUser]
    next_cursor: str | None


class Stats(Reply):
    users: int
    trading_accounts: int
    orders_today: int
    executed_today: int
    open_positions: int
    total_balance: Money
    total_blocked_margin: Money
    pending_deposits: int
    pending_withdrawals: int
    resets_today: int  # account resets on today's exchange-local (IST) trade day
    resets_total: int


class UnderlyingPrices(Reply):
    """The LTPs of a contract's underlying: its spot and its nearest live future."""

    spot: Money | None
    future: Money | None


class DepthEntry(Reply):
    """One price level of the displayed book."""

    price: Money
    quantity: int  # units, net of what orders took and has not come back yet
    orders: int


class QuoteDepth(Reply):
    """The displayed book, best first: up to five levels a side (fewer at the circuit limits,
    none while the instrument has no price)."""

    buy: list[DepthEntry]
    sell: list[DepthEntry]


class Quote(Reply):
    """``ltp`` and ``timestamp`` always; the rest in ``mode=full``: the book's ``depth``,
    ``underlying`` for futures, options and index spots, implied volatility and greeks for
    options (null where the model priced nothing)."""

    ltp: Money
    timestamp: Timestamp
    bid: Money | msgspec.UnsetType = msgspec.UNSET
    ask: Money | msgspec.UnsetType = msgspec.UNSET
    open: Money | msgspec.UnsetType = msgspec.UNSET
    high: Money | msgspec.UnsetType = msgspec.UNSET
    low: Money | msgspec.UnsetType = msgspec.UNSET
    close: Money | msgspec.UnsetType = msgspec.UNSET
    change: Money | msgspec.UnsetType = msgspec.UNSET
    change_percent: float | msgspec.UnsetType = msgspec.UNSET
    volume: int | msgspec.UnsetType = msgspec.UNSET
    depth: QuoteDepth | msgspec.UnsetType = msgspec.UNSET
    iv: float | msgspec.UnsetType | None = msgspec.UNSET  # percent
    delta: float | msgspec.UnsetType | None = msgspec.UNSET
    gamma: float | msgspec.UnsetType | None = msgspec.UNSET  # per rupee of the forward
    theta: Money | msgspec.UnsetType | None = msgspec.UNSET  # per calendar day
    vega: Money | msgspec.UnsetType | None = msgspec.UNSET  # per volatility point
    underlying: UnderlyingPrices | msgspec.UnsetType = msgspec.UNSET


class Quotes(Reply):
    data: dict[str, Quote]  # by the id or ticker as asked; unknown ones left out


class Instrument(Reply):
    instrument_id: str
    instrument_token: int  # Kite's: exchange_token << 8 | the segment's code
    exchange_token: int
    symbol: str
    name: str
    exchange: ExchangeName
    segment: SegmentName
    instrument_type: Literal["EQ", "FUT", "CE", "PE"]
    underlying: str | None
    lot_size: int
    tick_size: Money
    freeze_quantity: int | None  # the most one order may carry; None: no limit
    expiry: Date | None
    strike: Money | None
    option_type: Literal["CE", "PE"] | None


class InstrumentList(Reply):
    items: list[Instrument]


class Candle(Reply):
    """One candle (docs/API.md "Candles"): its start, rupees, volume in units."""

    time: Timestamp
    open: Money
    high: Money
    low: Money
    close: Money
    volume: int
    oi: int | msgspec.UnsetType = msgspec.UNSET  # with ``oi=true``


class Candles(Reply):
    instrument_id: str
    interval: Literal[
        "minute", "3minute", "5minute", "10minute", "15minute", "30minute", "60minute", "day"
    ]
    candles: list[Candle]


class ChainSide(Reply):
    """One option of a chain's strike, with its analytics (units as in ``Quote``)."""

    instrument_id: str
    symbol: str
    ltp: Money | None
    bid: Money | None
    ask: Money | None
    iv: float | None
    delta: float | None
    gamma: float | None
    theta: Money | None
    vega: Money | None


class ChainStrike(Reply):
    strike: Money
    call: ChainSide | None  # null where only the put is listed
    put: ChainSide | None


class OptionChain(Reply):
    underlying: str
    expiry: Date
    expiries: list[Date]  # every expiry with options on the underlying, in order
    spot: Money | None
    future: Money | None  # the listed future of the expiry, else the options' forward
    future_source: Literal["listed", "forward"] | None
    atm_strike: Money | None  # the strike nearest the forward
    timestamp: Timestamp
    strikes: list[ChainStrike]  # by strike


class UnderlyingItem(Reply):
    underlying: str
    spot_instrument_id: str | None
    future_expiries: list[Date]
    option_expiries: list[Date]


class UnderlyingList(Reply):
    items: list[UnderlyingItem]


class ExpiryItem(Reply):
    """One expiry of an underlying's listed contracts."""

    date: Date
    expires_at: Timestamp  # the segment's close on that date
    kind: Literal["WEEKLY", "MONTHLY"]
    futures: bool  # futures of the underlying expire then
    options: bool  # options of the underlying expire then


class ExpiryList(Reply):
    underlying: str
    items: list[ExpiryItem]  # not yet expired, nearest first


class PayoffPoint(Reply):
    price: Money  # the underlying's
    expiry: Money  # P&L with the underlying there at the nearest expiry
    today: Money  # P&L with the underlying there now


class PayoffPosition(Reply):
    id: str
    instrument_id: str
    symbol: str
    instrument_type: Literal["FUT", "CE", "PE"]
    strike: Money | None
    expiry: Date
    quantity: int  # signed
    average_price: Money
    ltp: Money | None
    unrealized_pnl: Money
    iv: float | None  # percent, options only


class Payoff(Reply):
    underlying: str
    spot: Money | None
    nearest_expiry: Date | None
    timestamp: Timestamp
    points: list[PayoffPoint]  # ascending price; empty while the underlying has no price
    positions: list[PayoffPosition]


class Health(Reply):
    status: Literal["healthy", "unhealthy"]
    timestamp: Timestamp


class HealthDetailed(Reply):
    status: Literal["healthy", "degraded", "unhealthy"]
    checks: dict[str, dict[str, Any]]
    performance: dict[str, Any]
    system: dict[str, Any]


class Sample(Reply):
    """One timed operation, for ``type=slow`` and ``type=failed``."""

    operation: str
    duration_ms: float
    status: str
    at: Timestamp


class OperationSummary(Reply):
    operation: str
    count: int
    success_rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


class OperationList(Reply):
    items: list[OperationSummary]


class SampleList(Reply):
    items: list[Sample]


Document = dict[str, Any]  # the OpenAPI document itself


class TradingAccount(Reply):
    id: str
    user_id: str
    name: str
    created_at: Timestamp


class TradingAccounts(Reply):
    accounts: list[TradingAccount]


class OpenedAccount(Reply):
    account: TradingAccount


class ApiApp(Reply):
    id: str
    name: str
    api_key: str
    trading_account_id: str
    redirect_url: str
    created_at: Timestamp


class ApiApps(Reply):
    apps: list[ApiApp]


class CreatedApp(Reply):
    app: ApiApp
    api_secret: str  # shown this once: the server does not store it


class AppToken(Reply):
    api_key: str
    access_token: str
    expires_at: Timestamp
