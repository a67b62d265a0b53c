"""Decode a request body or query into its schema, or answer 400 naming the field at fault."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from gateway.errors import InvalidRequestError, error_response, validation_failure
from gateway.schemas import PATTERN_MESSAGES, FieldError

T = TypeVar("T")

_AT_PATH = re.compile(r" - at `(?P<path>[^`]+)`$")
_UNKNOWN_FIELD = re.compile(r"unknown field `(?P<field>[^`]+)`")
_MISSING_FIELD = re.compile(r"missing required field `(?P<field>[^`]+)`")
_FRIENDLY = {
    f"Expected `str` matching regex {pattern!r}": message
    for pattern, message in PATTERN_MESSAGES.items()
}


def _path_and_message(error: msgspec.ValidationError) -> tuple[str, str]:
    text = str(error)
    path = "$"
    match = _AT_PATH.search(text)
    if match:
        path = match["path"]
        text = text[: match.start()]
    for pattern in (_UNKNOWN_FIELD, _MISSING_FIELD):
        field = pattern.search(text)
        if field:
            path = f"{path}.{field['field']}"
    return path, _FRIENDLY.get(text, text)


def decode_body(raw: bytes, schema: type[T]) -> T:
    """Decode JSON ``raw`` into ``schema``; raise :class:`InvalidRequestError` (400) on failure."""
    decoded: T = decode_tagged(raw, schema)
    return decoded


def decode_tagged(raw: bytes, schema: Any) -> Any:
    """:func:`decode_body` for tagged unions of Structs (which are not a single type)."""
    try:
        return msgspec.json.decode(raw, type=schema)
    except msgspec.ValidationError as error:
        raise validation_failure(*_path_and_message(error)) from None
    except msgspec.DecodeError:
        raise InvalidRequestError(
            error_response(400, "INVALID_JSON", "The body is not valid JSON.")
        ) from None


def convert_query(query: dict[str, Any], schema: type[T]) -> T:
    """Validate query parameters (strings) into ``schema``."""
    for name, value in query.items():
        # PostgreSQL text cannot hold NUL: refused here, not as a 500 from the query using it.
        if isinstance(value, str) and "\x00" in value:
            raise validation_failure(f"$.{name}", "must not contain NUL characters")
    try:
        result = msgspec.convert(query, schema, strict=False)
    except msgspec.ValidationError as error:
        raise validation_failure(*_path_and_message(error)) from None
    # Lax conversion reads the text "null" as None for an optional field: a value that was
    # sent must mean something, so None from a parameter present in the query is refused.
    for field in msgspec.structs.fields(schema):  # type: ignore[arg-type]
        if field.encode_name in query and getattr(result, field.name) is None:
            raise validation_failure(f"$.{field.encode_name}", "must not be null")
    return result


def field_failure(error: FieldError) -> InvalidRequestError:
    return validation_failure(error.path, error.message)
