"""Error answers (docs/API.md "Errors"): the body every one has, the answers several modules give,
and the one table from engine rejections to HTTP status, code and message.

Every error body is ``{"error": {"code", "message", "details"?}}`` (:func:`error_response`). A
handler refuses by returning one of these or raising it as an :class:`ApiError`, which
``gateway.middleware.failures`` renders. An answer only one check gives (a middleware's own
refusal, a handler's one-off conflict) is built beside that check, from :func:`error_response`.
"""

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
    Rejection.GTT_NOT_ACTIVE: 409,
    Rejection.NOT_TRADABLE: 422,
    Rejection.INSTRUMENT_EXPIRED: 422,
    Rejection.PRODUCT_NOT_ALLOWED: 422,
    Rejection.OPPOSITE_POSITION: 409,
    Rejection.MARKET_CLOSED: 422,
    Rejection.AMO_WHILE_OPEN: 422,
    Rejection.INVALID_QUANTITY: 422,
    Rejection.ABOVE_FREEZE_QUANTITY: 422,
    Rejection.INVALID_PRICE: 422,
    Rejection.INVALID_TRIGGER: 422,
    Rejection.PRICE_UNAVAILABLE: 422,
    Rejection.OPEN_ORDERS_LIMIT: 422,
    Rejection.GTT_LIMIT: 422,
    Rejection.ORDER_VALUE_LIMIT: 422,
    Rejection.INSUFFICIENT_HOLDINGS: 422,
    Rejection.INSUFFICIENT_FUNDS: 422,
    Rejection.INVALID_AMOUNT: 422,
    Rejection.BLOCK_OWNED_BY_WITHDRAWAL: 409,
    Rejection.RESET_LIMIT_REACHED: 422,
}
REJECTION_MESSAGES = {
    Rejection.INSUFFICIENT_FUNDS: "Available funds do not cover the margin and charges.",
    Rejection.PRICE_UNAVAILABLE: "No price is available for this instrument right now.",
    Rejection.INVALID_PRICE: "The price is off the tick grid or outside the circuit band.",
    Rejection.INVALID_QUANTITY: "The quantity must be a positive multiple of the lot size.",
    Rejection.ABOVE_FREEZE_QUANTITY: (
        "The quantity is above the instrument's freezeQuantity, the most the exchange takes in"
        " one order: place it as several orders, or as an iceberg order."
    ),
    Rejection.PRODUCT_NOT_ALLOWED: "This product is not allowed for this instrument.",
    Rejection.OPPOSITE_POSITION: (
        "The position in that product is on the other side: the two would net. Close one of"
        " them instead of converting."
    ),
    Rejection.NOT_TRADABLE: "An index is quoted for reference only and cannot be traded.",
    Rejection.INSTRUMENT_EXPIRED: "This contract has expired and no longer trades.",
    Rejection.INSUFFICIENT_HOLDINGS: "You do not hold enough shares to sell for delivery.",
    Rejection.ORDER_NOT_OPEN: "The order is no longer open.",
    Rejection.POSITION_CLOSED: "The position is already closed.",
    Rejection.GTT_NOT_ACTIVE: "The GTT is no longer active.",
    Rejection.INVALID_TRIGGER: (
        "A single trigger must differ from the last price; a two-leg GTT's lower trigger must"
        " be below it and its upper above it."
    ),
    Rejection.GTT_LIMIT: "Too many active GTTs on this account.",
    Rejection.OPEN_ORDERS_LIMIT: "Too many open orders on this account.",
    Rejection.ORDER_VALUE_LIMIT: "The order value is above the allowed maximum.",
    Rejection.MARKET_CLOSED: "The market is closed.",
    Rejection.AMO_WHILE_OPEN: (
        "After-market orders are taken only while the market is closed: place a regular order."
    ),
    Rejection.DUPLICATE: "This request was already made.",
    Rejection.NOT_FOUND: "Not found.",
    Rejection.INVALID_AMOUNT: "The amount is not valid for this operation.",
    Rejection.RESET_LIMIT_REACHED: "This account has been reset as often as allowed today.",
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


def limit_reached(message: str) -> ApiError:
    """422 ``LIMIT_REACHED``: the caller holds as many of something as a per-user limit allows."""
    return ApiError(error_response(422, "LIMIT_REACHED", message))


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


class InvalidRequestError(ApiError):
    """Carries the 400 response for a body or query that failed validation."""


def validation_failure(path: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(
        error_response(
            400,
            "VALIDATION_ERROR",
            "The request is not valid.",
            [{"path": path, "message": message}],
        )
    )


def validation_error(path: str, message: str) -> web.Response:
    return error_response(
        400, "VALIDATION_ERROR", "The request is not valid.", [{"path": path, "message": message}]
    )


def unauthenticated() -> web.Response:
    return error_response(401, "UNAUTHENTICATED", "Sign in to continue.")


def forbidden(message: str = "You are not allowed to do that.") -> web.Response:
    return error_response(403, "FORBIDDEN", message)


class ForbiddenError(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(error_response(403, "FORBIDDEN", message))


def password_change_required() -> web.Response:
    return error_response(
        403,
        "PASSWORD_CHANGE_REQUIRED",
        "Change your password first: POST /api/console with action CHANGE_PASSWORD,"
        " currentPassword and newPassword (the dashboard asks for it after you log in).",
    )


class NotFoundError(ApiError):
    """Unknown, or not the caller's: the two must look the same."""

    def __init__(self, what: str) -> None:
        super().__init__(error_response(404, "NOT_FOUND", f"No such {what}."))


def not_listed(code: str, path: str, message: str) -> ApiError:
    """404 for a market name the instrument master does not list (an underlying, an expiry),
    naming the query field as a validation error does."""
    return ApiError(error_response(404, code, message, [{"path": path, "message": message}]))


def rate_limited() -> web.Response:
    """The 429; its headers come from the request's verdict (``auth.rate_limit_headers``)."""
    return error_response(429, "RATE_LIMITED", "Too many requests; try again later.")


def unavailable(
    message: str = "The service is degraded; the request was not accepted.",
) -> web.Response:
    return error_response(503, "UNAVAILABLE", message)


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


def refused_at(rejection: Rejection, path: str) -> ApiError:
    """The engine's ``rejection`` as the answer to raise, naming ``path`` as at fault."""
    message = REJECTION_MESSAGES[rejection]
    return ApiError(
        error_response(
            REJECTION_STATUS[rejection],
            rejection.value,
            message,
            [{"path": path, "message": message}],
        )
    )


def rejected(rejection: Rejection, details: dict[str, Any] | None = None) -> ApiError:
    """The engine's ``rejection`` as the answer to raise, with ``details`` when given."""
    response = rejection_response(rejection, REJECTION_MESSAGES[rejection])
    if details:
        response = error_response(
            response.status, rejection.value, REJECTION_MESSAGES[rejection], details
        )
    return ApiError(response)
