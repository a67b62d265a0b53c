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
        "Cancel a pending order",
        schemas.CancelOrderBody,
        None,
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
    ("get", "/api/quotes", "Quotes by instrument id (q repeated)", None, None, 200, True),
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
        operation: dict[str, Any] = {
            "summary": summary,
            "responses": {
                str(status): {"description": "Success"},
                "default": {
                    "description": "An error (API.md error table)",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
        if body is not None:
            operation["requestBody"] = {
                "required": method != "delete",
                "content": {"application/json": {"schema": refs[id(body)]}},
            }
        if query is not None:
            operation["parameters"] = _query_parameters(query)
        if public:
            operation["security"] = []
        paths.setdefault(path, {})[method] = operation
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
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


_DOCUMENT = build_document()


@routes.get("/api/openapi.json")
async def openapi(_: web.Request) -> web.Response:
    return json_response(_DOCUMENT)
