"""``GET /api/openapi.json``: the OpenAPI 3.1 document, generated from the request schemas.

Bodies and queries come from the same msgspec Structs that validate requests, so the document
cannot drift from what the server accepts.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from gateway import schemas
from gateway.admin_routes import StatusQuery, UserQuery
from gateway.errors import json_response
from gateway.funds_routes import FundsQuery
from gateway.market_routes import InstrumentQuery
from gateway.monitoring_routes import PerformanceQuery
from gateway.order_routes import OrderListQuery
from gateway.position_routes import PositionQuery

routes = web.RouteTableDef()

# (method, path, summary, body schema, query schema, success status, public)
OPERATIONS: tuple[tuple[str, str, str, Any, type | None, int, bool], ...] = (
    (
        "post",
        "/api/auth/register",
        "Register a user and open a trading account",
        schemas.RegisterBody,
        None,
        201,
        True,
    ),
    (
        "post",
        "/api/auth/login",
        "Log in; returns a bearer token and a CSRF token",
        schemas.LoginBody,
        None,
        200,
        True,
    ),
    ("post", "/api/auth/logout", "Revoke the session", None, None, 204, False),
    ("get", "/api/auth/session", "The signed-in user", None, None, 200, False),
    ("post", "/api/trading/orders", "Place an order", schemas.PlaceOrderBody, None, 200, False),
    (
        "patch",
        "/api/trading/orders",
        "Modify a pending order",
        schemas.ModifyOrderBody,
        None,
        200,
        False,
    ),
    (
        "delete",
        "/api/trading/orders",
        "Cancel a pending order (orderId in the body or the query)",
        schemas.CancelOrderBody,
        schemas.CancelOrderBody,
        200,
        False,
    ),
    ("get", "/api/trading/orders", "List orders, newest first", None, OrderListQuery, 200, False),
    ("get", "/api/trading/positions", "List positions", None, PositionQuery, 200, False),
    (
        "post",
        "/api/trading/positions",
        "Close a position at market",
        schemas.ClosePositionBody,
        None,
        200,
        False,
    ),
    (
        "patch",
        "/api/trading/positions",
        "Set or clear stop-loss and target",
        schemas.RiskLevelsBody,
        None,
        200,
        False,
    ),
    ("get", "/api/trading/funds", "Funds of a trading account", None, FundsQuery, 200, False),
    (
        "post",
        "/api/trading/funds",
        "Admin: block, release, credit or debit funds",
        schemas.FundOperationBody,
        None,
        200,
        False,
    ),
    (
        "post",
        "/api/trading/charges",
        "Charges of a round trip or one leg",
        schemas.ChargesBody,
        None,
        200,
        False,
    ),
    (
        "post",
        "/api/trading/margins",
        "Margin and charges an order would need",
        schemas.PlaceOrderBody,
        None,
        200,
        False,
    ),
    (
        "get",
        "/api/console",
        "Profile, funds, bank accounts, requests and ledger",
        None,
        None,
        200,
        False,
    ),
    ("post", "/api/console", "A console action", schemas.ConsoleBody, None, 200, False),
    ("post", "/api/admin/funds/add", "Admin: add funds", schemas.AdminFundsBody, None, 200, False),
    (
        "post",
        "/api/admin/funds/withdraw",
        "Admin: withdraw funds",
        schemas.AdminFundsBody,
        None,
        200,
        False,
    ),
    ("get", "/api/admin/deposits", "Admin: deposit requests", None, StatusQuery, 200, False),
    (
        "post",
        "/api/admin/deposits",
        "Admin: approve or reject a deposit",
        schemas.DepositDecisionBody,
        None,
        200,
        False,
    ),
    ("get", "/api/admin/withdrawals", "Admin: withdrawal requests", None, StatusQuery, 200, False),
    (
        "post",
        "/api/admin/withdrawals",
        "Admin: approve or reject a withdrawal",
        schemas.WithdrawalDecisionBody,
        None,
        200,
        False,
    ),
    (
        "get",
        "/api/admin/users",
        "Admin: users with their account summary",
        None,
        UserQuery,
        200,
        False,
    ),
    ("get", "/api/admin/stats", "Admin: system statistics", None, None, 200, False),
    ("get", "/api/quotes", "Quotes by instrument id or ticker", None, None, 200, True),
    ("get", "/api/instruments", "Instrument search", None, InstrumentQuery, 200, True),
    ("get", "/api/health", "Liveness", None, None, 200, True),
    ("get", "/api/health/detailed", "Health of each part", None, None, 200, True),
    (
        "get",
        "/api/monitoring/performance",
        "Admin: performance figures",
        None,
        PerformanceQuery,
        200,
        False,
    ),
    (
        "delete",
        "/api/monitoring/performance",
        "Admin: clear performance figures",
        None,
        None,
        204,
        False,
    ),
)

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}


QUOTE_PARAMETERS = [
    {
        "name": "q",
        "in": "query",
        "required": True,
        "description": "An instrument id (NSE_EQ|INE002A01018) or ticker (NSE:RELIANCE); repeat it",
        "schema": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 500},
        "style": "form",
        "explode": True,
    },
    {
        "name": "mode",
        "in": "query",
        "required": False,
        "schema": {"enum": ["ltp", "full"], "default": "full"},
    },
]
CSRF_PARAMETER = {
    "name": "X-CSRF-Token",
    "in": "header",
    "required": False,
    "description": "Required with cookie sessions on POST/PUT/PATCH/DELETE (the csrfToken from"
    " login); not with a bearer token",
    "schema": {"type": "string"},
}
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {"schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"schema": {"type": "string", "format": "date-time"}},
}
# Routes outside the JSON API, described by hand (method, path, operation).
EXTRA_OPERATIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "get",
        "/api/ws",
        {
            "summary": "WebSocket: quotes and the user's own updates (API.md); a browser may"
            " pass its session token as ?token=",
            "parameters": [{"name": "token", "in": "query", "schema": {"type": "string"}}],
            "responses": {"101": {"description": "Switching to the WebSocket protocol"}},
        },
    ),
    (
        "get",
        "/metrics",
        {
            "summary": "Prometheus metrics",
            "security": [],
            "responses": {
                "200": {
                    "description": "Prometheus text exposition",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        },
    ),
)


def _error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def _responses(status: int, public: bool) -> dict[str, Any]:
    """Success, a 429 for rate-limited (signed-in) routes, and any other API.md error."""
    headers = None if public else RATE_LIMIT_HEADERS
    success: dict[str, Any] = {"description": "Success"}
    if headers:
        success["headers"] = headers
    responses = {str(status): success}
    if not public:
        responses["429"] = _error_response(
            "Rate limited", {**RATE_LIMIT_HEADERS, "Retry-After": {"schema": {"type": "integer"}}}
        )
    responses["default"] = _error_response("An error (API.md error table)", headers)
    return responses


def _query_parameters(query: type) -> list[dict[str, Any]]:
    _, components = msgspec.json.schema_components(
        [query], ref_template="#/components/schemas/{name}"
    )
    properties = components[query.__name__]["properties"]
    return [
        {"name": name, "in": "query", "required": False, "schema": spec}
        for name, spec in properties.items()
    ]


def build_document() -> dict[str, Any]:
    bodies = [op[3] for op in OPERATIONS if op[3] is not None]
    body_refs, components = msgspec.json.schema_components(
        bodies, ref_template="#/components/schemas/{name}"
    )
    refs = dict(zip((id(b) for b in bodies), body_refs, strict=True))
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, body, query, status, public in OPERATIONS:
        operation: dict[str, Any] = {"summary": summary, "responses": _responses(status, public)}
        if body is not None:
            operation["requestBody"] = {
                "required": method != "delete",
                "content": {"application/json": {"schema": refs[id(body)]}},
            }
        parameters = [] if query is None else _query_parameters(query)
        if path == "/api/quotes":
            parameters = QUOTE_PARAMETERS
        if not public and method in ("post", "put", "patch", "delete"):
            parameters = [*parameters, CSRF_PARAMETER]
        if parameters:
            operation["parameters"] = parameters
        if public:
            operation["security"] = []
        paths.setdefault(path, {})[method] = operation
    for method, path, extra in EXTRA_OPERATIONS:
        paths.setdefault(path, {})[method] = extra
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "paperdesk",
            "version": "0.1.0",
            "description": "Paper trading for Indian markets.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "pd_session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


_DOCUMENT = build_document()


@routes.get("/api/openapi.json")
async def openapi(_: web.Request) -> web.Response:
    return json_response(_DOCUMENT)
