"""Kite Connect's wire conventions, which the ``kiteconnect`` client depends on.

Answers are ``{"status": "success", "data": …}`` or ``{"status": "error", "message": …,
"error_type": …}`` with Kite's exception names and statuses, always with a ``Content-Type`` (the
client branches on it); timestamps are ``YYYY-MM-DD HH:MM:SS`` in IST; requests are
form-encoded (repeated keys for lists, ``true``/``True`` both true) except the JSON-array bodies
of the margin and charges routes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import orjson
from aiohttp import web
from multidict import MultiDict, MultiDictProxy, MultiMapping

from gateway.errors import ApiError

IST = timezone(timedelta(hours=5, minutes=30), "IST")
TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no", ""})
PRICE_PAISE_MAX = 10**14  # ₹1,000 crore a unit: beyond any listed price


class ErrorType(StrEnum):
    """Kite's exception names (``kiteconnect.exceptions``): the client raises the one named."""

    TOKEN = "TokenException"  # 403: no, a wrong or an expired session
    PERMISSION = "PermissionException"  # 403: not allowed for this app or user
    INPUT = "InputException"  # 400: a missing or bad parameter
    ORDER = "OrderException"  # 400: an order could not be acted on
    DATA = "DataException"  # 502: the answer could not be produced
    NETWORK = "NetworkException"  # 429/503: rate limited, or the service unreachable
    GENERAL = "GeneralException"  # 404/405/500: anything else


class KiteError(ApiError):
    """An error answer in Kite's shape, raised anywhere in the facade (an :class:`ApiError`, so
    the native error middleware answers it as it is)."""

    def __init__(self, status: int, error_type: ErrorType, message: str) -> None:
        self.status = status
        self.error_type = error_type
        self.message = message
        super().__init__(error_answer(self))


def input_error(message: str) -> KiteError:
    return KiteError(400, ErrorType.INPUT, message)


def success(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"status": "success", "data": data}, option=orjson.OPT_NON_STR_KEYS),
        content_type="application/json",
    )


def error_answer(error: KiteError) -> web.Response:
    body = {
        "status": "error",
        "message": error.message,
        "data": None,
        "error_type": error.error_type.value,
    }
    return web.Response(
        status=error.status, body=orjson.dumps(body), content_type="application/json"
    )


def ist_text(moment: datetime | None) -> str | None:
    """An aware datetime as Kite writes it: ``YYYY-MM-DD HH:MM:SS`` in IST."""
    if moment is None:
        return None
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")


def ist_of_ms(epoch_ms: int | None) -> str | None:
    if epoch_ms is None:
        return None
    return ist_text(datetime.fromtimestamp(epoch_ms / 1000, UTC))


def date_text(day: date | None) -> str:
    return "" if day is None else day.isoformat()


async def form_of(request: web.Request) -> MultiMapping[str]:
    """The request's parameters: the query of a GET or DELETE, the form body of a POST or PUT
    (the client sends DELETE's parameters in the query)."""
    if request.method in ("GET", "DELETE"):
        return request.query
    form = await request.post()
    return MultiDictProxy(
        MultiDict((key, value) for key, value in form.items() if isinstance(value, str))
    )


def required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if value is None or not value.strip():
        raise input_error(f"Missing or empty field `{name}`.")
    return value.strip()


def optional(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name)
    return None if value is None or not value.strip() else value.strip()


def truthy(value: str | None, name: str) -> bool:
    """A boolean parameter as Python's ``requests`` sends one (``True``) or as typed (``true``)."""
    if value is None:
        return False
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise input_error(f"Invalid `{name}`: expected true or false.")


def whole_number(form: Mapping[str, str], name: str, *, default: int | None = None) -> int:
    text = optional(form, name)
    if text is None:
        if default is None:
            raise input_error(f"Missing or empty field `{name}`.")
        return default
    try:
        number = float(text)
    except ValueError:
        raise input_error(f"Invalid `{name}`.") from None
    if not number.is_integer() or number < 0:
        raise input_error(f"Invalid `{name}`: expected a whole number.")
    return int(number)


def rupees_to_paise_text(text: str | None, name: str) -> int:
    """A price parameter (rupees, at most two decimals, as the client sends a float) in paise;
    0 when absent."""
    if text is None or not text.strip():
        return 0
    try:
        paise = Decimal(text.strip()) * 100
    except InvalidOperation:
        raise input_error(f"Invalid `{name}`.") from None
    if not paise.is_finite() or paise < 0 or paise > PRICE_PAISE_MAX:
        raise input_error(f"Invalid `{name}`.")
    if paise != paise.to_integral_value():
        raise input_error(f"Invalid `{name}`: at most two decimals.")
    return int(paise)
