"""``GET /api/openapi.json``: the OpenAPI document, as ``gateway.openapi.document`` built it from
the route registry (``gateway.app`` keeps it in the app)."""

from __future__ import annotations

from aiohttp import web

from gateway import replies
from gateway.errors import json_response
from gateway.keys import OPENAPI_DOCUMENT
from gateway.route_table import Operation, RouteTable

routes = RouteTable()


@routes.get(
    "/api/openapi.json", Operation("This document", reply=replies.Document), access="public"
)
async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI_DOCUMENT])
