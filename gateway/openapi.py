"""``GET /api/openapi.json``: the OpenAPI 3.1 document, generated from the request schemas.

Bodies and queries come from the msgspec Structs that validate requests, so the document cannot
drift from what the server accepts; answers from :mod:`gateway.replies`; the routes from
:mod:`gateway.openapi_operations`. What a Struct cannot say (which prices an order type takes,
which products a segment trades, fields one of which is needed) is added from
:mod:`gateway.openapi_rules`, asked of the engine's own rules where they live there. Each
operation lists every status it can answer; a method a path does not list answers 405 with an
``Allow`` header (``gateway.middleware.failures``). ``tests/e2e/test_schemathesis.py`` holds the
live server to this document.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from gateway.errors import json_response
from gateway.openapi_operations import OPERATIONS, Operation
from gateway.openapi_rules import RULES

routes = web.RouteTableDef()

REF_TEMPLATE = "#/components/schemas/{name}"
UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})


ERROR_REF: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z][A-Z_]*$"},
                "message": {"type": "string", "minLength": 1},
                "details": {},
            },
        }
    },
}
# What each status means, by its docs/API.md error codes.
STATUS_DESCRIPTIONS = {
    400: "The body or query does not match this schema (VALIDATION_ERROR naming the field,"
    " INVALID_JSON)",
    401: "No session, or an expired one (UNAUTHENTICATED); a wrong password at login",
    403: "Not allowed: wrong role or userId (FORBIDDEN), CSRF token missing or wrong with a"
    " cookie session (CSRF_FAILED), a foreign Origin on login and register (FORBIDDEN), an"
    " admin deciding or adjusting their own account (SELF_APPROVAL_FORBIDDEN), anything but a"
    " password change before the first admin's generated password is changed"
    " (PASSWORD_CHANGE_REQUIRED)",
    404: "Unknown, or not the caller's (NOT_FOUND)",
    408: "The body did not arrive in time (REQUEST_TIMEOUT)",
    409: "The state does not allow it (ORDER_NOT_OPEN, POSITION_CLOSED, DUPLICATE, ...)",
    413: "The body is too large (PAYLOAD_TOO_LARGE)",
    415: "A body not sent as Content-Type: application/json, UTF-8 (UNSUPPORTED_MEDIA_TYPE)",
    422: "A business rule refuses it (INSUFFICIENT_FUNDS, INVALID_PRICE, a weak password, ...)",
    429: "Rate limited (RATE_LIMITED); Retry-After says when to try again",
    503: "The database or the engine is unavailable (UNAVAILABLE), or a write's outcome is not"
    " confirmed (OUTCOME_UNKNOWN); also any request past the connection limit",
}
QUOTE_PARAMETERS = [
    {
        "name": "q",
        "in": "query",
        "required": True,
        "description": "An instrument id (NSE_EQ|INE002A01018) or ticker (NSE:RELIANCE); repeat it",
        "schema": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": 500,
        },
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
RATE_LIMIT_HEADERS: dict[str, dict[str, Any]] = {
    "X-RateLimit-Limit": {"schema": {"type": "integer", "minimum": 0}},
    "X-RateLimit-Remaining": {"schema": {"type": "integer", "minimum": 0}},
    "X-RateLimit-Reset": {"schema": {"type": "string", "format": "date-time"}},
}
RETRY_AFTER: dict[str, Any] = {"schema": {"type": "integer", "minimum": 1}}
# The websocket route: its handshake is described by hand (no body, no Struct).
WEBSOCKET_OPERATION: dict[str, Any] = {
    "summary": "WebSocket: quotes and the user's own updates (docs/API.md); a browser may pass its"
    " session token as ?token=. A cookie-signed handshake must come from an allowed Origin.",
    "parameters": [
        {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}},
        {"name": "Upgrade", "in": "header", "required": True, "schema": {"const": "websocket"}},
        {"name": "Connection", "in": "header", "required": True, "schema": {"const": "Upgrade"}},
        {
            "name": "Sec-WebSocket-Version",
            "in": "header",
            "required": True,
            "schema": {"const": "13"},
        },
        {
            "name": "Sec-WebSocket-Key",
            "in": "header",
            "required": True,
            "description": "16 random bytes in base64 (RFC 6455)",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9+/]{22}==$"},
        },
    ],
    "responses": {
        "101": {"description": "Switching to the WebSocket protocol"},
        **{
            str(status): {
                "description": description,
                "content": {"application/json": {"schema": ERROR_REF}},
            }
            for status, description in (
                (400, "Not a websocket handshake (VALIDATION_ERROR)"),
                (401, STATUS_DESCRIPTIONS[401]),
                (403, "A cookie-signed handshake from a missing or foreign Origin (FORBIDDEN)"),
                (429, STATUS_DESCRIPTIONS[429]),
                (503, STATUS_DESCRIPTIONS[503]),
            )
        },
    },
}
DESCRIPTION = """Paper trading for Indian markets (docs/API.md is the contract).

Every error answer is `{"error": {"code", "message", "details"?}}`. A request with a body must
send it as `Content-Type: application/json`. A method a path does not list answers 405
METHOD_NOT_ALLOWED with an `Allow` header naming the methods it takes. Signed-in routes carry
`X-RateLimit-*` headers. Prometheus metrics are served on their own listener (`[metrics]` in the
configuration), not on this one."""


def statuses(operation: Operation) -> list[int]:
    """Every status ``operation`` can answer, success first."""
    found = {operation.status, 503, *operation.refusals}
    if operation.body is not None:
        found |= {400, 408, 413, 415}
    if operation.query is not None:
        found.add(400)
    if operation.access != "public":
        found |= {401, 429}
        if operation.access == "admin" or operation.method in UNSAFE_METHODS:
            found.add(403)  # the role, or CSRF with a cookie session
    return [operation.status, *sorted(found - {operation.status})]


def _responses(operation: Operation, reply: dict[str, Any]) -> dict[str, Any]:
    counted = operation.access != "public" or operation.refusals.count(429) > 0
    responses: dict[str, Any] = {}
    for status in statuses(operation):
        if status == operation.status:
            response: dict[str, Any] = {"description": "Success"}
            if status != 204:
                response["content"] = {"application/json": {"schema": reply}}
            if counted:
                response["headers"] = _rate_limit_headers(required=True)
        else:
            error = ERROR_REF
            if status == 503 and operation.unhealthy:
                error = {"anyOf": [reply, ERROR_REF]}  # its own body, saying what is unhealthy
            response = {
                "description": STATUS_DESCRIPTIONS[status],
                "content": {"application/json": {"schema": error}},
            }
            if status == 429:
                response["headers"] = _rate_limit_headers(required=True)
                response["headers"]["Retry-After"] = {**RETRY_AFTER, "required": True}
            elif counted and status != 401:
                # Answers given before the request was counted (CSRF, media type) lack them.
                response["headers"] = _rate_limit_headers(required=False)
        responses[str(status)] = response
    return responses


def _rate_limit_headers(*, required: bool) -> dict[str, Any]:
    return {name: {**spec, "required": required} for name, spec in RATE_LIMIT_HEADERS.items()}


def _without_null(spec: dict[str, Any]) -> dict[str, Any]:
    """A query value is text, never null: drop the ``null`` an optional field's schema allows."""
    options = [s for s in spec.get("anyOf", ()) if s != {"type": "null"}]
    if len(options) != 1:
        return spec
    return {**options[0], **{k: v for k, v in spec.items() if k not in ("anyOf", "default")}}


def _query_parameters(query: type, components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = components[query.__name__]
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _without_null(spec),
        }
        for name, spec in schema["properties"].items()
    ]


class _Schemas:
    """The components generated from every Struct the operations name, and a reference to
    each by the type it came from."""

    def __init__(self, operations: tuple[Operation, ...]) -> None:
        named = [t for op in operations for t in (op.body, op.query, op.reply) if t is not None]
        flat = [t for n in named for t in (n if isinstance(n, tuple) else (n,))]
        types = list({id(t): t for t in flat}.values())
        refs, self.components = msgspec.json.schema_components(types, ref_template=REF_TEMPLATE)
        self.refs = dict(zip((id(t) for t in types), refs, strict=True))
        for name, rules in RULES.items():
            self.components[name].setdefault("allOf", []).extend(rules)
        self.components["Error"] = ERROR_SCHEMA

    def of(self, named: Any) -> dict[str, Any]:
        """The schema of a type, or of any one of a tuple of types."""
        if isinstance(named, tuple):
            return {"anyOf": [self.refs[id(t)] for t in named]}
        return dict(self.refs[id(named)])


def _operation(operation: Operation, schemas_: _Schemas) -> dict[str, Any]:
    reply = {"type": "object"} if operation.reply is None else schemas_.of(operation.reply)
    spec: dict[str, Any] = {
        "summary": operation.summary,
        "responses": _responses(operation, reply),
    }
    if operation.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas_.of(operation.body)}},
        }
    parameters: list[dict[str, Any]] = []
    if operation.query is not None:
        parameters = _query_parameters(operation.query, schemas_.components)
        if operation.body is not None:  # the query is the body's alternative, not both
            parameters = [{**p, "required": False} for p in parameters]
    if operation.path == "/api/quotes":
        parameters = QUOTE_PARAMETERS
    if operation.access != "public" and operation.method in UNSAFE_METHODS:
        parameters = [*parameters, CSRF_PARAMETER]
    if parameters:
        spec["parameters"] = parameters
    if operation.access == "public":
        spec["security"] = []
    return spec


def build_document() -> dict[str, Any]:
    schemas_ = _Schemas(OPERATIONS)
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation, schemas_)
    paths["/api/ws"] = {"get": WEBSOCKET_OPERATION}
    return {
        "openapi": "3.1.0",
        "info": {"title": "paperdesk", "version": "0.1.0", "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": schemas_.components,
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
