"""An order body as the engine's request: the body decoded and checked as placing it would be
(the caller's account, a known instrument its optional names agree with, prices in paise).

Placing an order and previewing its margin build the same request; the account's actor stamps
and values it either way.
"""

from __future__ import annotations

from aiohttp import web

from engine.domain import commands as cmd
from engine.domain.enums import OrderType, Product, Rejection, Side, Validity
from engine.domain.instruments import Instrument
from gateway.decoding import field_failure
from gateway.errors import REJECTION_MESSAGES, ApiError, error_response, validation_failure
from gateway.keys import ENGINE
from gateway.ownership import decode_own_body, owned_account
from gateway.schemas import FieldError, PlaceOrderBody, optional_paise


def resolve_instrument(request: web.Request, body: PlaceOrderBody) -> Instrument:
    master = request.app[ENGINE].master
    instrument = master.get(body.instrument_id)
    if instrument is None:
        raise validation_failure("$.instrumentId", "unknown instrument")
    if instrument.is_index:
        raise ApiError(
            error_response(
                422,
                Rejection.NOT_TRADABLE.value,
                REJECTION_MESSAGES[Rejection.NOT_TRADABLE],
                [{"path": "$.instrumentId", "message": "an index is not tradable"}],
            )
        )
    if body.segment is not None and body.segment != instrument.segment.value:
        raise validation_failure(
            "$.segment", f"the instrument trades in {instrument.segment.value}"
        )
    # The optional names of the instrument must agree with it: a mismatch is a client's bug
    # that would otherwise trade something other than what the person saw.
    if body.symbol is not None and body.symbol.upper() != instrument.symbol:
        raise validation_failure("$.symbol", f"the instrument's symbol is {instrument.symbol}")
    if body.stock_id is not None and master.get(body.stock_id) is not instrument:
        raise validation_failure("$.stockId", "names another instrument than instrumentId")
    return instrument


def place_command(
    body: PlaceOrderBody, instrument: Instrument, order_id: str
) -> cmd.PlaceOrderRequest:
    try:
        price = optional_paise(body.price, "$.price")
        trigger = optional_paise(body.trigger_price, "$.triggerPrice")
    except FieldError as error:
        raise field_failure(error) from None
    return cmd.PlaceOrderRequest(
        order_id=order_id,
        client_order_id=body.client_order_id,
        instrument=instrument,
        side=Side(body.order_side),
        product=Product(body.product_type),
        order_type=OrderType(body.order_type),
        validity=Validity(body.validity),
        quantity=body.quantity,
        price_paise=price,
        trigger_paise=trigger,
    )


async def order_from_request(
    request: web.Request, order_id: str
) -> tuple[PlaceOrderBody, str, cmd.PlaceOrderRequest]:
    """Decode and check an order body as placing it would: (body, the caller's account, the
    command)."""
    body = await decode_own_body(request, PlaceOrderBody)
    account_id = await owned_account(request, body.trading_account_id)
    instrument = resolve_instrument(request, body)
    return body, account_id, place_command(body, instrument, order_id)
