"""Order routes (docs/API.md "Trading"): place, modify, cancel and list orders."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import AccountState
from engine.domain.enums import OrderType, Rejection
from engine.domain.money import paise_to_rupees
from gateway import replies
from gateway.auth import current_user
from gateway.decoding import convert_query, decode_body, field_failure
from gateway.errors import ApiError, error_response, json_response, rejected, unavailable
from gateway.keys import BRIDGE, DB, ENGINE, USERS
from gateway.order_commands import order_from_request
from gateway.order_preview import preview_in_account, stamped_for_preview
from gateway.outcomes import check_outcome
from gateway.ownership import (
    check_body_user,
    decode_own_body,
    owned_account,
    require_owned_row,
)
from gateway.paging import decode_cursor, page_of
from gateway.route_table import Operation, RouteTable
from gateway.schemas import (
    CancelOrderBody,
    FieldError,
    ModifyOrderBody,
    PlaceOrderBody,
    optional_paise,
)
from gateway.since import Since, since_seq
from gateway.views import accepted_order_view, iso_ms, order_row_view, order_view
from persistence.read_models.orders import order_by_id, order_page

routes = RouteTable()


async def funds_shortfall(
    request: web.Request, account_id: str, command: cmd.PlaceOrder
) -> dict[str, Any]:
    """The amounts behind an INSUFFICIENT_FUNDS rejection, for the person to read."""
    stamped = stamped_for_preview(request.app[ENGINE], command)
    requirements, available = await preview_in_account(request, account_id, stamped)
    return {
        "requiredMargin": paise_to_rupees(requirements.block_paise),
        "estimatedCharges": paise_to_rupees(requirements.charges_paise),
        "availableMargin": paise_to_rupees(available),
    }


@routes.post(
    "/api/trading/orders",
    Operation(
        "Place an order; a business rejection answers 422 and keeps the order REJECTED",
        body=PlaceOrderBody,
        refusals=(404, 409, 422),
        reply=replies.OrderReply,
    ),
    rate_bucket="orders",
)
async def place_order(request: web.Request) -> web.Response:
    body, account_id, command = await order_from_request(request, str(uuid.uuid4()))
    outcome = await request.app[BRIDGE].submit(account_id, command)
    check_outcome(outcome)
    master = request.app[ENGINE].master
    if outcome.rejection is Rejection.DUPLICATE:
        return json_response({"order": await original_order(request, account_id, body)})
    event = outcome.events[0]
    assert isinstance(event, ev.OrderTerms)
    view = accepted_order_view(event, account_id, master)
    if outcome.rejection is not None:
        details: dict[str, Any] = {"order": view}
        if outcome.rejection is Rejection.INSUFFICIENT_FUNDS:
            details |= await funds_shortfall(request, account_id, command)
        raise rejected(outcome.rejection, details)
    return json_response({"order": view})


async def original_order(
    request: web.Request, account_id: str, body: PlaceOrderBody
) -> dict[str, Any]:
    """The order first placed with this clientOrderId (a retry must not create a second)."""
    client_order_id = body.client_order_id or ""
    master = request.app[ENGINE].master

    def find(state: AccountState) -> tuple[str | None, dict[str, Any] | None]:
        order_id = state.client_order_ids.get(client_order_id)
        order = state.orders.get(order_id) if order_id is not None else None
        return order_id, None if order is None else order_view(order, account_id, master)

    order_id, working = await request.app[BRIDGE].inspect(account_id, find)
    if working is not None:
        return working
    row = await order_by_id(request.app[DB].pool, order_id)
    if row is None:
        raise ApiError(error_response(409, "DUPLICATE", "This clientOrderId is being processed."))
    return order_row_view(row, master)


async def engine_order_view(
    request: web.Request, account_id: str, order_id: str
) -> dict[str, Any] | None:
    """The order while it works, from the engine (which the database may lag in async mode)."""
    master = request.app[ENGINE].master
    view: dict[str, Any] | None = await request.app[BRIDGE].inspect(
        account_id,
        lambda state: (
            order_view(state.orders[order_id], account_id, master)
            if order_id in state.orders
            else None
        ),
    )
    return view


async def working_order(request: web.Request, order_id: str) -> dict[str, Any]:
    """A working order of the caller's; 409 if it has finished, 404 if unknown or not theirs."""
    for account_id in await request.app[USERS].accounts_of(current_user(request).user_id):
        view = await engine_order_view(request, account_id, order_id)
        if view is not None:
            return view
    raise await not_working_error(request, order_id)


async def not_working_error(request: web.Request, order_id: str) -> ApiError:
    """No account of the caller's has ``order_id`` working: raise 404 unless it is one of
    theirs that has finished; return the 409 ORDER_NOT_OPEN to raise for that."""
    await require_owned_row(request, "order", order_id)
    return rejected(Rejection.ORDER_NOT_OPEN)


@routes.patch(
    "/api/trading/orders",
    Operation(
        "Modify a pending order",
        body=ModifyOrderBody,
        refusals=(404, 409, 422),
        reply=replies.OrderReply,
    ),
)
async def modify_order(request: web.Request) -> web.Response:
    body = await decode_own_body(request, ModifyOrderBody)
    order = await working_order(request, body.order_id)
    account_id = order["tradingAccountId"]
    instrument = request.app[ENGINE].master.get(order["instrumentId"])
    assert instrument is not None
    try:
        price = None if body.price is None else optional_paise(body.price, "$.price")
        trigger = (
            None
            if body.trigger_price is None
            else optional_paise(body.trigger_price, "$.triggerPrice")
        )
    except FieldError as error:
        raise field_failure(error) from None
    command = cmd.ModifyOrder(
        now_ms=0,
        order_id=body.order_id,
        instrument=instrument,
        quote=None,
        quantity=body.quantity,
        price_paise=price,
        trigger_paise=trigger,
        order_type=None if body.order_type is None else OrderType(body.order_type),
    )
    outcome = await request.app[BRIDGE].submit(account_id, command)
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise rejected(outcome.rejection)
    assert outcome.order is not None, "an accepted modification reports its order"
    master = request.app[ENGINE].master
    return json_response({"order": order_view(outcome.order, account_id, master)})


@routes.delete(
    "/api/trading/orders",
    Operation(
        "Cancel a pending order (orderId in the body, or in the query with no body)",
        body=CancelOrderBody,
        query=CancelOrderBody,
        refusals=(404, 409, 422),
        reply=replies.OrderReply,
    ),
)
async def cancel_order(request: web.Request) -> web.Response:
    raw = await request.read()
    if raw.strip():
        body = decode_body(raw, CancelOrderBody)
    else:
        body = convert_query(dict(request.query), CancelOrderBody)
    check_body_user(request, body.user_id)
    order_id = body.order_id
    command = cmd.CancelOrder(now_ms=0, order_id=order_id)
    # Straight to the caller's accounts in turn: an account without a working order of that
    # id refuses the cancellation without events, and the one holding it cancels it. One
    # refusing writes (quarantined) may be the one holding it: 503 unless another has it.
    refused_writes = False
    for account_id in await request.app[USERS].accounts_of(current_user(request).user_id):
        outcome = await request.app[BRIDGE].submit(account_id, command)
        if outcome.unavailable:
            refused_writes = True
            continue
        if outcome.rejection is Rejection.ORDER_NOT_OPEN:
            continue
        if outcome.rejection is not None:
            raise rejected(outcome.rejection)
        assert outcome.order is not None, "an accepted cancellation reports its order"
        cancelled = next(e for e in outcome.events if isinstance(e, ev.OrderCancelled))
        order = order_view(outcome.order, account_id, request.app[ENGINE].master)
        order |= {
            "status": "CANCELLED",
            "cancelReason": cancelled.reason,
            "marginBlocked": 0.0,
            "updatedAt": iso_ms(cancelled.at_ms),
        }
        return json_response({"order": order})
    if refused_writes:
        raise ApiError(unavailable())
    raise await not_working_error(request, order_id)


class OrderListQuery(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    trading_account_id: str | None = None
    status: Literal["PENDING", "EXECUTED", "CANCELLED", "REJECTED"] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50
    cursor: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    since: Since | None = None  # only orders placed after the last reset


@routes.get(
    "/api/trading/orders",
    Operation(
        "List orders, newest first (since=reset: placed after the last reset)",
        query=OrderListQuery,
        refusals=(404,),
        reply=replies.OrderPage,
    ),
)
async def list_orders(request: web.Request) -> web.Response:
    query = convert_query(dict(request.query), OrderListQuery)
    account_id = await owned_account(request, query.trading_account_id)
    after, after_id = decode_cursor(query.cursor)
    rows = await order_page(
        request.app[DB].pool,
        account_id,
        status=query.status,
        before=after,
        before_id=after_id,
        limit=query.limit + 1,
        after_seq=await since_seq(request, account_id, query.since),
    )
    master = request.app[ENGINE].master
    page, next_cursor = page_of(rows, query.limit)
    return json_response(
        {"items": [order_row_view(r, master) for r in page], "nextCursor": next_cursor}
    )
