"""The OpenAPI 3.1 document (served at ``GET /api/openapi.json``), built from the route registry.

The routes, who may call each and what it takes and answers come from
:mod:`gateway.routes.registry`, as each route module declares them. Bodies and queries are the
msgspec Structs that validate requests, so the document cannot drift from what the server
accepts; answers are the Structs of :mod:`gateway.replies`. What a Struct cannot say (which
prices an order type takes, which products a segment trades, fields one of which is needed) is
added from :mod:`gateway.openapi.rules`, asked of the engine's own rules where they live there.
Each operation lists every status it can answer; a method a path does not list answers 405 with
an ``Allow`` header (``gateway.middleware.failures``). ``tests/e2e/test_schemathesis.py`` holds
the live server to this document.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.openapi.errors import ERROR_REF, ERROR_SCHEMA, STATUS_DESCRIPTIONS
from gateway.openapi.rules import RULES
from gateway.route_table import Operation, Route
from gateway.routes.registry import ROUTES

REF_TEMPLATE = "#/components/schemas/{name}"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
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
DESCRIPTION = """Paper trading for Indian markets (docs/API.md is the contract).

Every error answer is `{"error": {"code", "message", "details"?}}`. A request with a body must
send it as `Content-Type: application/json`. A method a path does not list answers 405
METHOD_NOT_ALLOWED with an `Allow` header naming the methods it takes. Signed-in routes carry
`X-RateLimit-*` headers. Prometheus metrics are served on their own listener (`[metrics]` in the
configuration), not on this one."""


def statuses(route: Route, operation: Operation) -> list[int]:
    """Every status ``route`` can answer, success first."""
    found = {operation.status, 503, *operation.refusals}
    if operation.body is not None:
        found |= {400, 408, 413, 415}
    if operation.query is not None or operation.path is not None:
        found.add(400)
    if route.access != "public":
        found |= {401, 429}
        if route.access == "admin" or route.method in UNSAFE_METHODS:
            found.add(403)  # the role, or CSRF with a cookie session
    return [operation.status, *sorted(found - {operation.status})]


def _responses(route: Route, operation: Operation, reply: dict[str, Any]) -> dict[str, Any]:
    counted = route.access != "public" or operation.refusals.count(429) > 0
    responses: dict[str, Any] = {}
    for status in statuses(route, operation):
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


def _parameters(
    struct: type, components: dict[str, Any], where: str = "query"
) -> list[dict[str, Any]]:
    """The fields of ``struct`` as parameters ``where`` (in the query or the path)."""
    schema = components[struct.__name__]
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": where,
            "required": name in required,
            "schema": _without_null(spec),
        }
        for name, spec in schema["properties"].items()
    ]


class _Schemas:
    """The components generated from every Struct the operations name, and a reference to
    each by the type it came from."""

    def __init__(self, operations: list[Operation]) -> None:
        named = [
            t for op in operations for t in (op.body, op.query, op.path, op.reply) if t is not None
        ]
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


def _operation(route: Route, operation: Operation, schemas_: _Schemas) -> dict[str, Any]:
    reply = {"type": "object"} if operation.reply is None else schemas_.of(operation.reply)
    spec: dict[str, Any] = {
        "summary": operation.summary,
        "responses": _responses(route, operation, reply),
    }
    if operation.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas_.of(operation.body)}},
        }
    parameters: list[Any] = []
    if operation.query is not None:
        parameters = _parameters(operation.query, schemas_.components)
        if operation.body is not None:  # the query is the body's alternative, not both
            parameters = [{**p, "required": False} for p in parameters]
    if operation.parameters is not None:  # a query no Struct reads, described by hand
        parameters = list(operation.parameters)
    if operation.path is not None:
        parameters = [*_parameters(operation.path, schemas_.components, "path"), *parameters]
    if route.access != "public" and route.method in UNSAFE_METHODS:
        parameters = [*parameters, CSRF_PARAMETER]
    if parameters:
        spec["parameters"] = parameters
    if route.access == "public":
        spec["security"] = []
    return spec


def build_document() -> dict[str, Any]:
    """The document of every route the registry holds, in its order."""
    schemas_ = _Schemas([r.openapi for r in ROUTES if isinstance(r.openapi, Operation)])
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        if isinstance(route.openapi, Operation):
            spec = _operation(route, route.openapi, schemas_)
        elif route.openapi is not None:  # an operation written out whole by its route
            spec = dict(route.openapi)
        else:  # not in the document (the dashboard)
            continue
        paths.setdefault(route.path, {})[route.method.lower()] = spec
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


# What GET /api/openapi.json answers (gateway.app gives it to the route).
DOCUMENT = build_document()
