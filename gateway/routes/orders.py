"""Order routes (docs/API.md "Trading"): place, modify, cancel and list orders, and one order
with its trades and history."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from engine.actors.account_actor import Outcome
from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.account.state import Shortfall
from engine.domain.enums import OrderType, Rejection
from engine.domain.money import paise_to_rupees
from gateway import replies
from gateway.decoding import convert_query, decode_body, field_failure
from gateway.errors import ApiError, error_response, json_response, rejected
from gateway.keys import BRIDGE, DB, ENGINE
from gateway.order_commands import order_from_request, refused_path
from gateway.outcomes import check_outcome
from gateway.ownership import (
    check_body_user,
    decode_own_body,
    holding_account,
    owned_account,
    owned_order,
)
from gateway.paging import decode_cursor, page_of
from gateway.route_table import Operation, RouteTable
from gateway.schemas import (
    CancelOrderBody,
    FieldError,
    Id,
    ModifyOrderBody,
    PlaceOrderBody,
    optional_paise,
)
from gateway.since import Since, since_seq
from gateway.views import (
    accepted_order_view,
    iso_ms,
    order_change_view,
    order_row_view,
    order_view,
    trade_row_view,
    unfilled_quantities,
)
from persistence.read_models.orders import order_by_id, order_history, order_page
from persistence.read_models.trades import trades_of_order

routes = RouteTable()


def shortfall_details(shortfall: Shortfall | None) -> dict[str, Any]:
    """The amounts an INSUFFICIENT_FUNDS was decided on, for the person to read."""
    if shortfall is None:
        return {}
    return {
        "requiredMargin": paise_to_rupees(shortfall.required_margin_paise),
        "estimatedCharges": paise_to_rupees(shortfall.charges_paise),
        "availableMargin": paise_to_rupees(shortfall.available_paise),
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
    _, account_id, order = await order_from_request(request, request.app[ENGINE].new_id())
    outcome = await request.app[BRIDGE].submit(account_id, order)
    check_outcome(outcome)
    master = request.app[ENGINE].master
    if outcome.rejection is Rejection.DUPLICATE:
        return json_response({"order": await original_order(request, account_id, outcome)})
    event = outcome.events[0]
    if not isinstance(event, ev.OrderAccepted | ev.OrderRejected):
        raise TypeError(f"a new order's first event is its terms, not {event!r}")
    view = accepted_order_view(event, account_id, master)
    if outcome.rejection is not None:
        path = refused_path(outcome.rejection)
        details = {"order": view, "path": path} | shortfall_details(outcome.shortfall)
        raise rejected(outcome.rejection, details)
    return json_response({"order": view})


async def original_order(request: web.Request, account_id: str, outcome: Outcome) -> dict[str, Any]:
    """The order first placed with this clientOrderId (a retry must not create a second): as
    the account held it when it refused the retry, while it works; else its stored row."""
    master = request.app[ENGINE].master
    if outcome.order is not None:
        return order_view(outcome.order, account_id, master)
    row = None
    if outcome.original_order_id is not None:
        row = await order_by_id(request.app[DB].pool, outcome.original_order_id)
    if row is None:  # finished and not yet written (durability = "async")
        raise ApiError(error_response(409, "DUPLICATE", "This clientOrderId is being processed."))
    return order_row_view(row, master)


async def order_account(request: web.Request, order_id: str) -> str:
    """The caller's account whose working order this is (409 ORDER_NOT_OPEN if it finished)."""
    located = request.app[ENGINE].locator.account_of_order(order_id)
    return await holding_account(request, "order", order_id, located, Rejection.ORDER_NOT_OPEN)


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
    try:
        price = None if body.price is None else optional_paise(body.price, "$.price")
        trigger = (
            None
            if body.trigger_price is None
            else optional_paise(body.trigger_price, "$.triggerPrice")
        )
    except FieldError as error:
        raise field_failure(error) from None
    account_id = await order_account(request, body.order_id)
    modification = cmd.ModifyOrderRequest(
        order_id=body.order_id,
        quantity=body.quantity,
        price_paise=price,
        trigger_paise=trigger,
        order_type=None if body.order_type is None else OrderType(body.order_type),
    )
    outcome = await request.app[BRIDGE].submit(account_id, modification)
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise rejected(outcome.rejection, shortfall_details(outcome.shortfall))
    if outcome.order is None:
        raise TypeError("an accepted modification reports its order")
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
    account_id = await order_account(request, body.order_id)
    outcome = await request.app[BRIDGE].submit(account_id, cmd.CancelOrderRequest(body.order_id))
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise rejected(outcome.rejection)
    if outcome.order is None:
        raise TypeError("an accepted cancellation reports its order")
    cancelled = next(e for e in outcome.events if isinstance(e, ev.OrderCancelled))
    order = order_view(outcome.order, account_id, request.app[ENGINE].master)
    order |= {
        "status": "CANCELLED",
        **unfilled_quantities("CANCELLED", outcome.order.quantity, outcome.order.filled_quantity),
        "cancelReason": cancelled.reason,
        "marginBlocked": 0.0,
        "updatedAt": iso_ms(cancelled.at_ms),
    }
    return json_response({"order": order})


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


class OrderPath(msgspec.Struct, forbid_unknown_fields=True):
    id: Id


@routes.get(
    "/api/trading/orders/{id}",
    Operation(
        "One order, any status, with its trades and the history of its changes",
        path=OrderPath,
        refusals=(404,),
        reply=replies.OrderDetail,
    ),
)
async def get_order(request: web.Request) -> web.Response:
    path = convert_query(dict(request.match_info), OrderPath)
    row = await owned_order(request, path.id)
    pool, master = request.app[DB].pool, request.app[ENGINE].master
    trades = await trades_of_order(pool, path.id)
    history = await order_history(pool, path.id)
    return json_response(
        {
            "order": order_row_view(row, master),
            "trades": [trade_row_view(t, master) for t in trades],
            "history": [order_change_view(h) for h in history],
        }
    )
