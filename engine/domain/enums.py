"""The vocabulary of the engine: exchanges, segments, order terms and rejections."""

from __future__ import annotations

from enum import StrEnum


class Exchange(StrEnum):
    NSE = "NSE"
    BSE = "BSE"
    NFO = "NFO"
    BFO = "BFO"
    MCX = "MCX"
    CDS = "CDS"


class Segment(StrEnum):
    NSE = "NSE"
    BSE = "BSE"
    NFO_FUT = "NFO-FUT"
    NFO_OPT = "NFO-OPT"
    BFO_FUT = "BFO-FUT"
    BFO_OPT = "BFO-OPT"
    MCX_FUT = "MCX-FUT"
    MCX_OPT = "MCX-OPT"
    CDS_FUT = "CDS-FUT"
    CDS_OPT = "CDS-OPT"
    INDICES = "INDICES"


class InstrumentType(StrEnum):
    EQ = "EQ"
    FUT = "FUT"
    CE = "CE"
    PE = "PE"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    SL = "SL"
    SL_M = "SL-M"


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class Product(StrEnum):
    MIS = "MIS"
    CNC = "CNC"
    NRML = "NRML"


class Validity(StrEnum):
    DAY = "DAY"
    IOC = "IOC"


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    EXECUTED = "EXECUTED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


class PriceSource(StrEnum):
    """Which tier of price resolution (docs/DOMAIN.md §5) valued an order or priced an exit."""

    LIVE = "LIVE"  # the quote source (live feed or simulation)
    STORED = "STORED"  # the last LTP stored in the database, surviving restarts
    REQUEST = "REQUEST"  # a price the request supplied (LIMIT, SL, SL-M terms)
    POSITION_AVERAGE = "POSITION_AVERAGE"  # the position's own average price


class Rejection(StrEnum):
    """Business rejections, in the order ``decide`` checks them (first match wins)."""

    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    ORDER_NOT_OPEN = "ORDER_NOT_OPEN"
    STALE_EXECUTION = "STALE_EXECUTION"  # the market acted on terms the order no longer has
    OUTSIDE_ORDER_TERMS = "OUTSIDE_ORDER_TERMS"  # a fill the order's current terms forbid
    POSITION_CLOSED = "POSITION_CLOSED"
    GTT_NOT_ACTIVE = "GTT_NOT_ACTIVE"  # the GTT has fired, expired or been deleted
    NOT_TRADABLE = "NOT_TRADABLE"  # an index spot: quoted for reference, never traded
    INSTRUMENT_EXPIRED = "INSTRUMENT_EXPIRED"  # a contract past its expiry instant
    MARKET_CLOSED = "MARKET_CLOSED"
    AMO_WHILE_OPEN = "AMO_WHILE_OPEN"  # an after-market order while its session is open
    PRODUCT_NOT_ALLOWED = "PRODUCT_NOT_ALLOWED"
    OPPOSITE_POSITION = "OPPOSITE_POSITION"  # a conversion onto a position on the other side
    INVALID_QUANTITY = "INVALID_QUANTITY"
    ABOVE_FREEZE_QUANTITY = "ABOVE_FREEZE_QUANTITY"  # more than the exchange takes in one order
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_TRIGGER = "INVALID_TRIGGER"  # a GTT trigger on the wrong side of the last price
    PRICE_UNAVAILABLE = "PRICE_UNAVAILABLE"
    OPEN_ORDERS_LIMIT = "OPEN_ORDERS_LIMIT"
    GTT_LIMIT = "GTT_LIMIT"  # gtt.active_max active GTTs already
    ORDER_VALUE_LIMIT = "ORDER_VALUE_LIMIT"
    INSUFFICIENT_HOLDINGS = "INSUFFICIENT_HOLDINGS"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    BLOCK_OWNED_BY_WITHDRAWAL = "BLOCK_OWNED_BY_WITHDRAWAL"  # released only by its decision
    RESET_LIMIT_REACHED = "RESET_LIMIT_REACHED"  # limits.account_resets_per_day_max used up


class CancelReason(StrEnum):
    """Why a working order (``OrderCancelled.reason``) or a pending withdrawal was cancelled."""

    USER = "USER"  # the trader cancelled it
    IOC = "IOC"  # an IOC order's unfilled rest
    SQUARE_OFF = "SQUARE_OFF"  # an MIS order at the segment's square-off time
    EXPIRED = "EXPIRED"  # a DAY order at the session's close
    CONTRACT_EXPIRED = "CONTRACT_EXPIRED"  # its contract reached its expiry instant
    RESET = "RESET"  # the account was reset
    LIQUIDATION = "LIQUIDATION"  # it held margin while the account was being liquidated


class CloseReason(StrEnum):
    """Why a position was closed at market."""

    USER = "USER"
    STOP_LOSS = "STOP_LOSS"
    TARGET = "TARGET"
    SQUARE_OFF = "SQUARE_OFF"  # an MIS position at square-off time (the fee is charged)
    RESET = "RESET"  # the account was reset
    EXPIRED = "EXPIRED"  # its contract reached its expiry instant and settled (docs/DOMAIN.md §6)
    LIQUIDATED = "LIQUIDATED"  # squared off below the liquidation level (docs/DOMAIN.md §2)


class FundKind(StrEnum):
    """What moved an account's cash or blocked it: the ledger entry's kind."""

    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    ADJUSTMENT = "ADJUSTMENT"  # an admin's credit or debit
    OPENING_BALANCE = "OPENING_BALANCE"  # a new account's virtual money
    RESET = "RESET"  # a reset's cash back to the opening balance
    ADMIN = "ADMIN"  # a fund block an admin placed
