"""The one table from failures to HTTP status and error code (docs/API.md "Errors")."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from engine.domain.enums import Rejection

REJECTION_STATUS: dict[Rejection, int] = {
    Rejection.NOT_FOUND: 404,
    Rejection.DUPLICATE: 409,
    Rejection.ORDER_NOT_OPEN: 409,
    Rejection.STALE_EXECUTION: 409,
    Rejection.OUTSIDE_ORDER_TERMS: 409,
    Rejection.POSITION_CLOSED: 409,
    Rejection.PRODUCT_NOT_ALLOWED: 422,
    Rejection.MARKET_CLOSED: 422,
    Rejection.INVALID_QUANTITY: 422,
    Rejection.INVALID_PRICE: 422,
    Rejection.PRICE_UNAVAILABLE: 422,
    Rejection.OPEN_ORDERS_LIMIT: 422,
    Rejection.ORDER_VALUE_LIMIT: 422,
    Rejection.INSUFFICIENT_HOLDINGS: 422,
    Rejection.INSUFFICIENT_FUNDS: 422,
    Rejection.INVALID_AMOUNT: 422,
    Rejection.BLOCK_OWNED_BY_WITHDRAWAL: 409,
    Rejection.RESET_LIMIT_REACHED: 422,
}


class ApiError(Exception):
    """An answer to give instead of the handler's: raised anywhere, rendered by middleware."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.text)
        self.response = response


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return web.Response(
        status=status,
        body=orjson.dumps({"error": body}),
        content_type="application/json",
        headers=headers,
    )


def validation_error(path: str, message: str) -> web.Response:
    return error_response(
        400, "VALIDATION_ERROR", "The request is not valid.", [{"path": path, "message": message}]
    )


def outcome_unknown() -> web.Response:
    """503 for a request that reached the engine and was not confirmed: it may or may not have
    been carried out. Retrying it with the same ``clientOrderId`` or ``idempotencyKey`` (or
    the same decision) answers what happened; without one, read the resource first."""
    return error_response(
        503,
        "OUTCOME_UNKNOWN",
        "The request was submitted but its outcome is not confirmed; retry it with the same"
        " key, or read the resource, to learn what happened.",
    )


def rejection_response(rejection: Rejection, message: str) -> web.Response:
    return error_response(REJECTION_STATUS[rejection], rejection.value, message)


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")
