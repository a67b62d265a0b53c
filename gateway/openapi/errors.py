"""The error answers as the OpenAPI document describes them: the ``Error`` schema every error body
matches (``gateway.errors.error_response``), a reference to it, and what each status means by
its docs/API.md error codes. The document and the routes that describe themselves by hand (the
websocket handshake) both use them."""

from __future__ import annotations

from typing import Any

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
    404: "Unknown, or not the caller's (NOT_FOUND); an underlying or expiry the instrument master"
    " does not list (UNKNOWN_UNDERLYING, EXPIRY_NOT_LISTED, naming the query field)",
    408: "The body did not arrive in time (REQUEST_TIMEOUT)",
    409: "The state does not allow it (ORDER_NOT_OPEN, POSITION_CLOSED, DUPLICATE, ...)",
    413: "The body is too large (PAYLOAD_TOO_LARGE)",
    415: "A body not sent as Content-Type: application/json, UTF-8 (UNSUPPORTED_MEDIA_TYPE)",
    422: "A business rule refuses it (INSUFFICIENT_FUNDS, INVALID_PRICE, a weak password, ...)",
    429: "Rate limited (RATE_LIMITED); Retry-After says when to try again",
    503: "The database or the engine is unavailable (UNAVAILABLE), or a write's outcome is not"
    " confirmed (OUTCOME_UNKNOWN); also any request past the connection limit",
}
