"""Request schemas: each body is decoded and validated in one step by a msgspec Struct.

Field names follow docs/API.md (camelCase on the wire). Money arrives as JSON numbers in rupees with
at most two decimals and is converted to paise by :func:`to_paise`, which names the field when
it refuses a value. Nothing reaches an actor without passing through here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

# Strings that are stored refuse ASCII control characters: PostgreSQL text cannot hold NUL, and
# a value the journal cannot write must be refused here, before an actor has applied it.
CONTROL = r"\x00-\x1f\x7f"
NO_CONTROL = rf"^[^{CONTROL}]+$"
# Free text may span lines and hold tabs, nothing else below 0x20.
TEXT_CHARACTERS = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# Whitespace spelled out: \s means other characters in Python (U+0085) than in the ECMA-262
# regular expressions of JSON Schema (U+FEFF), and a client checks the same pattern as we do.
WHITESPACE = r" \t\n\v\f\r\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_EMAIL_CHAR = rf"[^@{WHITESPACE}{CONTROL}]"
EMAIL = rf"^{_EMAIL_CHAR}{{1,64}}@{_EMAIL_CHAR}{{1,190}}\.{_EMAIL_CHAR}{{1,63}}$"
# What a value failing each pattern is told (instead of the regular expression).
PATTERN_MESSAGES = {
    NO_CONTROL: "must not contain control characters",
    TEXT_CHARACTERS: "must not contain control characters other than tab and line breaks",
    EMAIL: "must be an email address",
}

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NO_CONTROL)]
Email = Annotated[str, msgspec.Meta(pattern=EMAIL, max_length=254)]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NO_CONTROL)]
Quantity = Annotated[int, msgspec.Meta(gt=0, le=10_000_000)]
# JSON numbers decode to floats; repr() gives back the shortest decimal that round-trips, which
# is the text the client sent, so Decimal(repr(x)) converts to paise exactly. At most two
# decimals is to_paise's check (a float modulo 0.01 is never exact), so multipleOf is only said.
Rupees = Annotated[
    float, msgspec.Meta(ge=0.01, le=1_000_000_000, extra_json_schema={"multipleOf": 0.01})
]
Text = Annotated[str, msgspec.Meta(max_length=500, pattern=TEXT_CHARACTERS)]
# Kite's order tag: up to 20 letters and digits.
ORDER_TAG_MAX = 20
OrderTag = Annotated[
    str, msgspec.Meta(min_length=1, max_length=ORDER_TAG_MAX, pattern=r"^[A-Za-z0-9]+$")
]

OrderTypeName = Literal["MARKET", "LIMIT", "SL", "SL-M"]
SideName = Literal["BUY", "SELL"]
ProductName = Literal["MIS", "CNC", "NRML"]
ValidityName = Literal["DAY", "IOC"]
ExchangeName = Literal["NSE", "BSE", "NFO", "BFO", "MCX", "CDS"]
SegmentName = Literal[
    "NSE",
    "BSE",
    "NFO-FUT",
    "NFO-OPT",
    "BFO-FUT",
    "BFO-OPT",
    "MCX-FUT",
    "MCX-OPT",
    "CDS-FUT",
    "CDS-OPT",
    "INDICES",
]


class Body(msgspec.Struct, forbid_unknown_fields=True, rename="camel", omit_defaults=True):
    """Base of request bodies: unknown fields are refused, names are camelCase."""


class SessionBody(Body, kw_only=True):
    """A body acted on as the signed-in user: a ``userId`` in it must be theirs (docs/API.md), which
    :func:`gateway.ownership.decode_own_body` checks."""

    user_id: Id | None = None


class FieldError(ValueError):
    """A value that passed the schema but breaks a rule the schema cannot express."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def to_paise(value: float, path: str) -> int:
    """Convert rupees to paise, refusing more than two decimals."""
    paise = Decimal(repr(value)) * 100
    if paise != paise.to_integral_value():
        raise FieldError(path, "must have at most two decimals")
    return int(paise)


def optional_paise(value: float | None, path: str) -> int:
    return 0 if value is None else to_paise(value, path)


# -- auth --------------------------------------------------------------------------------------


class RegisterBody(Body):
    email: Email
    password: Password
    name: Name


class LoginBody(Body, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


# -- trading -----------------------------------------------------------------------------------


AccountName = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=NO_CONTROL)]


class OpenAccountBody(SessionBody):
    """A further trading account of the caller (one per strategy), with its own funds."""

    name: AccountName


# The legs of an iceberg as the document states them: configs/default.toml's
# limits.iceberg_legs_min and _max, which the gateway enforces (as configured) with 422.
ICEBERG_LEGS_MIN = 2
ICEBERG_LEGS_MAX = 50
IcebergLegs = Annotated[
    int, msgspec.Meta(extra_json_schema={"minimum": ICEBERG_LEGS_MIN, "maximum": ICEBERG_LEGS_MAX})
]


class IcebergBody(Body):
    """An iceberg order's legs (docs/API.md): ``legs`` orders of ``legQuantity`` each, the last
    one what is left of the order's ``quantity``, its total."""

    legs: IcebergLegs
    leg_quantity: Quantity


class PlaceOrderBody(SessionBody):
    trading_account_id: Id
    instrument_id: Id
    quantity: Quantity
    order_type: OrderTypeName
    order_side: SideName
    product_type: ProductName
    symbol: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    stock_id: Id | None = None
    segment: SegmentName | None = None
    price: Rupees | None = None
    trigger_price: Rupees | None = None
    validity: ValidityName = "DAY"
    client_order_id: Id | None = None
    tag: OrderTag | None = None  # a label kept with the order, not unique (Kite's ``tag``)
    # An after-market order: taken only while the session is closed, for its next open.
    after_market: bool = False
    # An iceberg order: ``quantity`` is its total, worked as legs one at a time.
    iceberg: IcebergBody | None = None


# -- GTT triggers (docs/API.md "GTT") ---------------------------------------------------------

GttTypeName = Literal["SINGLE", "TWO_LEG"]


class GttOrderBody(Body):
    """The order a GTT leg places when it fires: LIMIT at ``price``, or MARKET (no price)."""

    order_side: SideName
    quantity: Quantity
    product_type: ProductName
    order_type: Literal["LIMIT", "MARKET"] = "LIMIT"
    price: Rupees | None = None


class GttTermsBody(SessionBody, kw_only=True):
    """A GTT's triggers and orders: one each for SINGLE; for TWO_LEG the lower trigger (the
    stop-loss) and its order first, then the upper (the target)."""

    type: GttTypeName
    trigger_values: Annotated[list[Rupees], msgspec.Meta(min_length=1, max_length=2)]
    orders: Annotated[list[GttOrderBody], msgspec.Meta(min_length=1, max_length=2)]
    last_price: Rupees | None = None  # the price the triggers are set against (default: LTP)


class PlaceGttBody(GttTermsBody, kw_only=True):
    instrument_id: Id
    trading_account_id: Id | None = None


class ModifyGttBody(GttTermsBody, kw_only=True):
    """New triggers and orders for an active GTT, whole."""


# The bound of a basket as the document states it: configs/default.toml's
# limits.basket_orders_max, which the route enforces (as it is configured).
BASKET_ORDERS_MAX = 50


class BasketOrderBody(Body):
    """One order of a basket: the terms of :class:`PlaceOrderBody` (the basket names the
    account; nothing is placed, so no clientOrderId)."""

    instrument_id: Id
    quantity: Quantity
    order_type: OrderTypeName
    order_side: SideName
    product_type: ProductName
    symbol: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    stock_id: Id | None = None
    segment: SegmentName | None = None
    price: Rupees | None = None
    trigger_price: Rupees | None = None
    validity: ValidityName = "DAY"


class BasketBody(SessionBody):
    trading_account_id: Id
    orders: Annotated[
        list[BasketOrderBody],
        msgspec.Meta(min_length=1, extra_json_schema={"maxItems": BASKET_ORDERS_MAX}),
    ]


class ModifyOrderBody(SessionBody):
    order_id: Id
    quantity: Quantity | None = None
    price: Rupees | None = None
    trigger_price: Rupees | None = None
    order_type: OrderTypeName | None = None


class CancelOrderBody(SessionBody):
    order_id: Id


class ClosePositionBody(SessionBody):
    position_id: Id
    trading_account_id: Id


class ConvertPositionBody(SessionBody):
    position_id: Id
    trading_account_id: Id
    product_type: ProductName  # the product to move the units to
    quantity: Quantity  # units to move, whole lots


class RiskLevelsBody(SessionBody):
    position_id: Id
    stop_loss: Rupees | msgspec.UnsetType | None = msgspec.UNSET
    target: Rupees | msgspec.UnsetType | None = msgspec.UNSET


class FundOperationBody(SessionBody):
    trading_account_id: Id
    operation: Literal["BLOCK", "RELEASE", "CREDIT", "DEBIT"]
    amount: Rupees
    description: Text = ""
    block_id: Id | None = None


class ChargesBody(SessionBody):
    segment: SegmentName
    exchange: ExchangeName
    product_type: ProductName
    quantity: Quantity
    buy_price: Rupees | None = None
    sell_price: Rupees | None = None
    instrument_id: Id | None = None


# -- console -----------------------------------------------------------------------------------


class ConsoleAction(SessionBody, tag_field="action"):
    """Base of console actions; the ``action`` field picks the variant."""


class UpdateProfile(ConsoleAction, tag="UPDATE_PROFILE"):
    name: Name


class ChangePassword(ConsoleAction, tag="CHANGE_PASSWORD"):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    new_password: Password


class AddBankAccount(ConsoleAction, tag="ADD_BANK_ACCOUNT"):
    bank_name: Name
    account_number: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6,18}$")]
    ifsc: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{4}0[A-Z0-9]{6}$")]
    account_holder: Name


class RemoveBankAccount(ConsoleAction, tag="REMOVE_BANK_ACCOUNT"):
    bank_account_id: Id


class RequestDeposit(ConsoleAction, tag="REQUEST_DEPOSIT"):
    amount: Rupees
    bank_account_id: Id | None = None
    reference: Annotated[str, msgspec.Meta(max_length=100, pattern=TEXT_CHARACTERS)] = ""
    idempotency_key: Id | None = None  # a retry with the same key answers the same request
    trading_account_id: Id | None = None  # the caller's first account when absent


class RequestWithdrawal(ConsoleAction, tag="REQUEST_WITHDRAWAL"):
    amount: Rupees
    bank_account_id: Id
    idempotency_key: Id | None = None
    trading_account_id: Id | None = None  # the caller's first account when absent


class ResetAccount(ConsoleAction, tag="RESET_ACCOUNT"):
    """Start the trading account over; ``confirm`` must be the account's name as the console
    shows it (its id: accounts have no other name)."""

    confirm: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NO_CONTROL)]
    trading_account_id: Id | None = None  # the caller's first account when absent


ConsoleBody = (
    UpdateProfile
    | ChangePassword
    | AddBankAccount
    | RemoveBankAccount
    | RequestDeposit
    | RequestWithdrawal
    | ResetAccount
)


# -- admin -------------------------------------------------------------------------------------


class AdminFundsBody(Body):
    amount: Rupees
    trading_account_id: Id | None = None
    user_id: Id | None = None
    remarks: Text = ""
    idempotency_key: Id | None = None


class AdminResetBody(Body):
    """The account an admin resets: by its id, or the user's first account."""

    trading_account_id: Id | None = None
    user_id: Id | None = None


class DecisionBody(SessionBody, kw_only=True):
    action: Literal["APPROVE", "REJECT"]
    remarks: Text = ""


class DepositDecisionBody(DecisionBody):
    deposit_id: Id


class WithdrawalDecisionBody(DecisionBody):
    withdrawal_id: Id


# -- API apps (the Kite Connect facade, docs/KITE.md) --------------------------------------------

# Where a login sends the browser back: an absolute http(s) address.
RedirectUrl = Annotated[
    str, msgspec.Meta(min_length=8, max_length=500, pattern=r"^https?://[^\x00-\x20\x7f]+$")
]


class CreateAppBody(SessionBody):
    name: AccountName
    trading_account_id: Id
    redirect_url: RedirectUrl
