"""The trades route (docs/API.md "Trading"): an account's fills, newest first."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from aiohttp import web

from gateway import replies
from gateway.decoding import convert_query
from gateway.errors import json_response
from gateway.keys import DB, ENGINE
from gateway.ownership import owned_account, owned_order
from gateway.paging import decode_cursor, page_of
from gateway.route_table import Operation, RouteTable
from gateway.schemas import Id
from gateway.trade_days import trade_day_bounds
from gateway.views import trade_row_view
from persistence.read_models.trades import trade_page

routes = RouteTable()


class TradeListQuery(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    trading_account_id: str | None = None
    order_id: Id | None = None  # that order's trades only
    date: dt.date | None = None  # trades of that trade date (IST), YYYY-MM-DD
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50
    cursor: Annotated[str, msgspec.Meta(max_length=200)] | None = None


@routes.get(
    "/api/trading/trades",
    Operation(
        "List trades (each fill of an order), newest first",
        query=TradeListQuery,
        refusals=(404,),
        reply=replies.TradePage,
    ),
)
async def list_trades(request: web.Request) -> web.Response:
    query = convert_query(dict(request.query), TradeListQuery)
    account_id = query.trading_account_id
    if query.order_id is not None and account_id is None:
        # The order names its account: the caller's first need not be it.
        account_id = (await owned_order(request, query.order_id))["trading_account_id"]
    elif query.order_id is not None:
        await owned_order(request, query.order_id)
    account_id = await owned_account(request, account_id)
    before, before_id = decode_cursor(query.cursor)
    between = None
    if query.date is not None:
        between = trade_day_bounds(request.app[ENGINE].calendar, query.date)
    rows = await trade_page(
        request.app[DB].pool,
        account_id,
        order_id=query.order_id,
        between=between,
        before=before,
        before_id=before_id,
        limit=query.limit + 1,
    )
    master = request.app[ENGINE].master
    page, next_cursor = page_of(rows, query.limit, "executed_at")
    return json_response(
        {"items": [trade_row_view(r, master) for r in page], "nextCursor": next_cursor}
    )
