"""An order body as the engine's request: the body decoded and checked as placing it would be
(the caller's account, a known instrument its optional names agree with, prices in paise).

Placing an order, previewing its margin and previewing a basket's build the same request; the
account's actor stamps and values it either way.
"""

from __future__ import annotations

from aiohttp import web

from engine.domain import commands as cmd
from engine.domain.enums import OrderType, Product, Rejection, Side, Validity
from engine.domain.iceberg import Iceberg, check_iceberg
from engine.domain.instruments import Instrument
from engine.domain.parameters import LimitsConfig
from gateway.decoding import field_failure
from gateway.errors import (
    REJECTION_MESSAGES,
    REJECTION_STATUS,
    ApiError,
    error_response,
    refused_at,
    validation_failure,
)
from gateway.keys import ENGINE
from gateway.ownership import decode_own_body, owned_account
from gateway.schemas import BasketOrderBody, FieldError, PlaceOrderBody, optional_paise

# The terms of an order as a body gives them: placed (or previewed) alone, or in a basket.
OrderTermsBody = PlaceOrderBody | BasketOrderBody


def resolve_instrument(request: web.Request, body: OrderTermsBody, at: str = "$") -> Instrument:
    """The instrument ``body`` names; errors name its fields under ``at`` (``$.orders[2]``)."""
    master = request.app[ENGINE].master
    instrument = master.get(body.instrument_id)
    if instrument is None:
        raise validation_failure(f"{at}.instrumentId", "unknown instrument")
    if instrument.is_index:
        raise ApiError(
            error_response(
                422,
                Rejection.NOT_TRADABLE.value,
                REJECTION_MESSAGES[Rejection.NOT_TRADABLE],
                [{"path": f"{at}.instrumentId", "message": "an index is not tradable"}],
            )
        )
    if body.segment is not None and body.segment != instrument.segment.value:
        raise validation_failure(
            f"{at}.segment", f"the instrument trades in {instrument.segment.value}"
        )
    # The optional names of the instrument must agree with it: a mismatch is a client's bug
    # that would otherwise trade something other than what the person saw.
    if body.symbol is not None and body.symbol.upper() != instrument.symbol:
        raise validation_failure(f"{at}.symbol", f"the instrument's symbol is {instrument.symbol}")
    if body.stock_id is not None and master.get(body.stock_id) is not instrument:
        raise validation_failure(f"{at}.stockId", "names another instrument than instrumentId")
    return instrument


def place_command(
    body: OrderTermsBody,
    instrument: Instrument,
    order_id: str,
    *,
    client_order_id: str | None = None,
    tag: str | None = None,
    after_market: bool = False,
    iceberg: Iceberg | None = None,
    at: str = "$",
) -> cmd.PlaceOrderRequest:
    """The request for ``body``'s order (an iceberg's: its leg ``iceberg``); errors name its
    fields under ``at``."""
    try:
        price = optional_paise(body.price, f"{at}.price")
        trigger = optional_paise(body.trigger_price, f"{at}.triggerPrice")
    except FieldError as error:
        raise field_failure(error) from None
    return cmd.PlaceOrderRequest(
        order_id=order_id,
        client_order_id=client_order_id,
        instrument=instrument,
        side=Side(body.order_side),
        product=Product(body.product_type),
        order_type=OrderType(body.order_type),
        validity=Validity(body.validity),
        quantity=body.quantity if iceberg is None else iceberg.quantity_of_leg(iceberg.leg),
        price_paise=price,
        trigger_paise=trigger,
        tag=tag,
        after_market=after_market,
        iceberg=iceberg,
    )


async def order_from_request(
    request: web.Request, order_id: str
) -> tuple[PlaceOrderBody, str, cmd.PlaceOrderRequest]:
    """Decode and check an order body as placing it would: (body, the caller's account, the
    command; for an iceberg, its first leg's)."""
    body = await decode_own_body(request, PlaceOrderBody)
    account_id = await owned_account(request, body.trading_account_id)
    instrument = resolve_instrument(request, body)
    command = place_command(
        body,
        instrument,
        order_id,
        client_order_id=body.client_order_id,
        tag=body.tag,
        after_market=body.after_market,
        iceberg=first_leg(body, instrument, order_id, request.app[ENGINE].rules.limits),
    )
    return body, account_id, command


# An iceberg's legs are placed as the market trades them: none waits for a session's open.
ICEBERG_AFTER_MARKET = "ICEBERG_AFTER_MARKET"
ICEBERG_AFTER_MARKET_MESSAGE = (
    "An iceberg order is not taken after market: place it while the market is open."
)


def first_leg(
    body: PlaceOrderBody, instrument: Instrument, order_id: str, limits: LimitsConfig
) -> Iceberg | None:
    """The first leg of ``body``'s iceberg, order ``order_id`` (None for any other order), its
    terms checked before anything is placed: a refusal is 422 naming the field at fault."""
    if body.iceberg is None:
        return None
    if body.after_market:
        message = ICEBERG_AFTER_MARKET_MESSAGE
        details = [{"path": "$.iceberg", "message": message}]
        raise ApiError(error_response(422, ICEBERG_AFTER_MARKET, message, details))
    iceberg = Iceberg(
        parent_order_id=order_id,
        leg=1,
        legs=body.iceberg.legs,
        leg_quantity=body.iceberg.leg_quantity,
        total_quantity=body.quantity,
    )
    check = check_iceberg(instrument, iceberg, limits)
    if check is not None:
        details = [{"path": f"$.{check.field}", "message": check.message}]
        status = REJECTION_STATUS[check.rejection]
        message = f"The iceberg's terms are not valid: {check.message}."
        raise ApiError(error_response(status, check.rejection.value, message, details))
    return iceberg


# The field of an order each business refusal is about (the order as a whole when absent).
_REFUSED_FIELD = {
    Rejection.NOT_TRADABLE: "instrumentId",
    Rejection.INSTRUMENT_EXPIRED: "instrumentId",
    Rejection.MARKET_CLOSED: "instrumentId",
    Rejection.AMO_WHILE_OPEN: "afterMarket",
    Rejection.PRICE_UNAVAILABLE: "instrumentId",
    Rejection.PRODUCT_NOT_ALLOWED: "productType",
    Rejection.INVALID_QUANTITY: "quantity",
    Rejection.ABOVE_FREEZE_QUANTITY: "quantity",
    Rejection.ORDER_VALUE_LIMIT: "quantity",
    Rejection.INSUFFICIENT_HOLDINGS: "quantity",
}


def refused_path(rejection: Rejection, at: str = "$") -> str:
    """Where an order refused for ``rejection`` is at fault: its field when the refusal is
    about one, else the order ``at`` as a whole."""
    field = _REFUSED_FIELD.get(rejection)
    return at if field is None else f"{at}.{field}"


def refused_order(rejection: Rejection, at: str) -> ApiError:
    """An order's business refusal as its answer, naming the order at ``at`` (in a basket:
    ``$.orders[1]``) and the field at fault where there is one."""
    return refused_at(rejection, refused_path(rejection, at))
