"""The caller's API apps (docs/KITE.md "Apps"): each bound to one of their trading accounts,
with an ``api_key``, an ``api_secret`` shown once at creation, and the redirect URL a Kite login
returns to. The console can also hand out an access token for a headless script."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from aiohttp import web

from gateway import replies
from gateway.auth import current_user
from gateway.errors import NotFoundError, json_response, limit_reached
from gateway.keys import CONFIG, DB, KITE_SESSIONS
from gateway.kite.app_secrets import new_api_key, new_salt
from gateway.ownership import decode_own_body, owned_account
from gateway.route_table import Operation, RouteTable
from gateway.schemas import CreateAppBody, Id
from gateway.views import iso_moment
from persistence import api_apps

routes = RouteTable()


def app_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "apiKey": row["api_key"],
        "tradingAccountId": row["trading_account_id"],
        "redirectUrl": row["redirect_url"],
        "createdAt": iso_moment(row["created_at"]),
    }


@routes.get("/api/console/apps", Operation("The caller's API apps", reply=replies.ApiApps))
async def list_apps(request: web.Request) -> web.Response:
    rows = await api_apps.apps_of_user(request.app[DB].pool, current_user(request).user_id)
    return json_response({"apps": [app_view(row) for row in rows]})


@routes.post(
    "/api/console/apps",
    Operation(
        "Create an API app bound to one of the caller's trading accounts; its apiSecret is"
        " answered this once",
        body=CreateAppBody,
        status=201,
        refusals=(404, 422),
        reply=replies.CreatedApp,
    ),
)
async def create_app(request: web.Request) -> web.Response:
    body = await decode_own_body(request, CreateAppBody)
    app = request.app
    user_id = current_user(request).user_id
    account_id = await owned_account(request, body.trading_account_id)
    row = await api_apps.insert_app(
        app[DB].pool,
        app_id=str(uuid.uuid4()),
        user_id=user_id,
        account_id=account_id,
        name=body.name,
        api_key=new_api_key(),
        secret_salt=new_salt(),
        redirect_url=body.redirect_url,
        apps_max=app[CONFIG].kite.apps_per_user_max,
    )
    if row is None:
        raise limit_reached("You have as many apps as allowed (kite.apps_per_user_max).")
    return json_response(
        {"app": app_view(row), "apiSecret": app[KITE_SESSIONS].secret_of(row)}, status=201
    )


class AppPath(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    app_id: Id


async def owned_app(request: web.Request) -> Any:
    row = await api_apps.app_of_user(
        request.app[DB].pool, current_user(request).user_id, request.match_info["appId"]
    )
    if row is None:
        raise NotFoundError("app")
    return row


@routes.delete(
    "/api/console/apps/{appId}",
    Operation(
        "Delete an API app; its access tokens stop working",
        path=AppPath,
        status=204,
        refusals=(404,),
    ),
)
async def delete_app(request: web.Request) -> web.Response:
    row = await owned_app(request)
    await api_apps.delete_app(request.app[DB].pool, row["user_id"], row["id"])
    request.app[KITE_SESSIONS].forget_app(row["id"])
    return web.Response(status=204)


@routes.post(
    "/api/console/apps/{appId}/token",
    Operation(
        "An access token for the app, for a headless script (no login redirect)",
        path=AppPath,
        refusals=(404,),
        reply=replies.AppToken,
    ),
)
async def headless_token(request: web.Request) -> web.Response:
    row = await owned_app(request)
    issued = await request.app[KITE_SESSIONS].issue_access_token(row, row["user_id"])
    return json_response(
        {
            "apiKey": row["api_key"],
            "accessToken": issued.access_token,
            "expiresAt": iso_moment(issued.access.expires_at),
        }
    )
