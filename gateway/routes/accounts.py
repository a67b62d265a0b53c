"""The caller's trading accounts (docs/API.md "Trading accounts"): a user may hold several, one
per strategy, each with its own funds, orders and positions; the first is opened at
registration, the others here, each credited ``accounts.opening_balance``."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from aiohttp import web

from gateway import replies
from gateway.auth import current_user
from gateway.errors import ApiError, error_response, json_response, limit_reached
from gateway.keys import CONFIG, DB, USERS
from gateway.opening_balances import open_account
from gateway.ownership import decode_own_body
from gateway.route_table import Operation, RouteTable
from gateway.schemas import OpenAccountBody
from gateway.views import iso_moment
from persistence.trading_accounts import accounts_of_user, insert_account

routes = RouteTable()


def account_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "userId": row["user_id"],
        "name": row["name"],
        "createdAt": iso_moment(row["created_at"]),
    }


@routes.get(
    "/api/trading/accounts",
    Operation("The caller's trading accounts, oldest first", reply=replies.TradingAccounts),
)
async def list_accounts(request: web.Request) -> web.Response:
    rows = await accounts_of_user(request.app[DB].pool, current_user(request).user_id)
    return json_response({"accounts": [account_view(row) for row in rows]})


@routes.post(
    "/api/trading/accounts",
    Operation(
        "Open a further trading account (one per strategy) with the opening balance",
        body=OpenAccountBody,
        status=201,
        refusals=(409, 422),
        reply=replies.OpenedAccount,
    ),
)
async def open_trading_account(request: web.Request) -> web.Response:
    body = await decode_own_body(request, OpenAccountBody)
    app = request.app
    user_id = current_user(request).user_id
    opening_balance = app[CONFIG].accounts.opening_balance_paise
    try:
        row = await insert_account(
            app[DB].pool,
            account_id=str(uuid.uuid4()),
            user_id=user_id,
            name=body.name,
            opening_balance_paise=opening_balance,
            accounts_max=app[CONFIG].kite.accounts_per_user_max,
        )
    except asyncpg.UniqueViolationError:
        raise ApiError(
            error_response(
                409,
                "DUPLICATE",
                "You already have a trading account of that name.",
                [{"path": "$.name", "message": "is taken by another of your accounts"}],
            )
        ) from None
    if row is None:
        raise limit_reached(
            "You hold as many trading accounts as allowed (kite.accounts_per_user_max)."
        )
    app[USERS].add_account(user_id, row["id"])
    await open_account(app, row["id"], opening_balance)
    return json_response({"account": account_view(row)}, status=201)
