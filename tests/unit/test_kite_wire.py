"""The Kite facade's pure parts: session expiry at the next 06:00 IST, the login checksum and
app secrets, Kite's parameter parsing and statuses, and the error mapping of native answers."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from gateway.errors import error_response
from gateway.kite.app_secrets import app_secret, checksum_matches, login_checksum, new_api_key
from gateway.kite.listener import as_kite_error, rate_bucket
from gateway.kite.order_format import kite_status, reason_text
from gateway.kite.sessions import next_session_end
from gateway.kite.wire import (
    ErrorType,
    KiteError,
    ist_text,
    rupees_to_paise_text,
    truthy,
    whole_number,
)

IST_MINUTES = 330


@pytest.mark.parametrize(
    ("now", "ends"),
    [
        # 05:59:59 IST ends a second later; 06:00:00 IST exactly ends the next day.
        (datetime(2026, 12, 4, 0, 29, 59, tzinfo=UTC), datetime(2026, 12, 4, 0, 30, tzinfo=UTC)),
        (datetime(2026, 12, 4, 0, 30, tzinfo=UTC), datetime(2026, 12, 5, 0, 30, tzinfo=UTC)),
        # 15:00 IST and 23:59 IST end at 06:00 IST the next morning.
        (datetime(2026, 12, 4, 9, 30, tzinfo=UTC), datetime(2026, 12, 5, 0, 30, tzinfo=UTC)),
        (datetime(2026, 12, 4, 18, 29, tzinfo=UTC), datetime(2026, 12, 5, 0, 30, tzinfo=UTC)),
        # 00:30 IST (still the previous UTC day) ends the same IST morning.
        (datetime(2026, 12, 3, 19, 0, tzinfo=UTC), datetime(2026, 12, 4, 0, 30, tzinfo=UTC)),
    ],
)
def test_session_end_when_issued_then_the_next_0600_ist(now: datetime, ends: datetime) -> None:
    assert next_session_end(now, 6, IST_MINUTES) == ends


def test_checksum_when_kites_recipe_then_matches_and_nothing_else_does() -> None:
    expected = hashlib.sha256(b"key" + b"request" + b"secret").hexdigest()
    assert login_checksum("key", "request", "secret") == expected
    assert checksum_matches(expected.upper(), "key", "request", "secret")
    assert not checksum_matches(expected, "key", "request", "other-secret")
    assert not checksum_matches(expected[:-1], "key", "request", "secret")


def test_app_secret_when_key_salt_or_app_differ_then_secret_differs() -> None:
    key, salt = bytes(32), bytes(16)
    secret = app_secret(key, "app-1", salt)
    assert len(secret) == 32 and secret == app_secret(key, "app-1", salt)
    assert secret != app_secret(bytes([1]) + bytes(31), "app-1", salt)
    assert secret != app_secret(key, "app-2", salt)
    assert secret != app_secret(key, "app-1", bytes([1]) + bytes(15))
    api_key = new_api_key()
    assert len(api_key) == 16 and api_key.isalnum() and api_key.islower()


def test_prices_when_rupees_then_exact_paise_and_bad_text_refused() -> None:
    assert rupees_to_paise_text("1542.8", "price") == 154_280
    assert rupees_to_paise_text("0.05", "price") == 5
    assert rupees_to_paise_text(None, "price") == 0
    assert rupees_to_paise_text(" ", "price") == 0
    for bad in ("1542.805", "-1", "abc", "nan", "inf", "1e30"):
        with pytest.raises(KiteError) as raised:
            rupees_to_paise_text(bad, "price")
        assert raised.value.error_type is ErrorType.INPUT and "`price`" in raised.value.message


def test_numbers_and_booleans_when_as_requests_sends_them_then_read() -> None:
    assert whole_number({"quantity": "25"}, "quantity") == 25
    assert whole_number({"quantity": "25.0"}, "quantity") == 25
    assert whole_number({}, "quantity", default=0) == 0
    for bad in ({"quantity": "2.5"}, {"quantity": "-1"}, {"quantity": "x"}, {}):
        with pytest.raises(KiteError):
            whole_number(bad, "quantity")
    assert truthy("True", "oi") and truthy("true", "oi") and truthy("1", "oi")
    assert not truthy("False", "oi") and not truthy(None, "oi")
    with pytest.raises(KiteError):
        truthy("maybe", "oi")


def test_ist_text_when_utc_then_kites_local_format() -> None:
    assert ist_text(datetime(2026, 12, 4, 3, 45, 7, tzinfo=UTC)) == "2026-12-04 09:15:07"
    assert ist_text(None) is None


@pytest.mark.parametrize(
    ("status", "order_type", "triggered", "kite"),
    [
        ("PENDING", "LIMIT", False, "OPEN"),
        ("PENDING", "SL", False, "TRIGGER PENDING"),
        ("PENDING", "SL-M", True, "OPEN"),
        ("MODIFIED", "SL-M", False, "TRIGGER PENDING"),
        ("PARTIALLY_FILLED", "LIMIT", False, "OPEN"),
        ("EXECUTED", "MARKET", False, "COMPLETE"),
        ("CANCELLED", "SL", False, "CANCELLED"),
        ("REJECTED", "LIMIT", False, "REJECTED"),
    ],
)
def test_status_when_paperdesks_then_kites(
    status: str, order_type: str, triggered: bool, kite: str
) -> None:
    assert kite_status(status, order_type, triggered) == kite


def test_reasons_when_rejection_codes_then_messages_else_as_stored() -> None:
    assert (
        reason_text("INSUFFICIENT_FUNDS") == "Available funds do not cover the margin and charges."
    )
    assert reason_text("USER") == "USER"
    assert reason_text(None) is None


@pytest.mark.parametrize(
    ("status", "kite_status_code", "error_type"),
    [
        (400, 400, ErrorType.INPUT),
        (401, 403, ErrorType.TOKEN),
        (403, 403, ErrorType.PERMISSION),
        (404, 404, ErrorType.GENERAL),
        (409, 400, ErrorType.INPUT),
        (422, 400, ErrorType.INPUT),
        (429, 429, ErrorType.NETWORK),
        (503, 503, ErrorType.NETWORK),
        (500, 500, ErrorType.GENERAL),
    ],
)
def test_native_error_when_rewritten_then_kites_exception_and_fields(
    status: int, kite_status_code: int, error_type: ErrorType
) -> None:
    native = error_response(status, "CODE", "Not valid.", [{"path": "$.q", "message": "bad"}])
    error = as_kite_error(native)
    assert (error.status, error.error_type) == (kite_status_code, error_type)
    assert error.message == "Not valid. ($.q bad)"


@pytest.mark.parametrize(
    ("method", "path", "bucket"),
    [
        ("POST", "/orders/regular", "orders"),
        ("PUT", "/orders/regular/1", "orders"),
        ("DELETE", "/orders/regular/1", "orders"),
        ("GET", "/orders", "other"),
        ("GET", "/orders/1/trades", "other"),
        ("GET", "/quote", "quotes"),
        ("GET", "/quote/ltp", "quotes"),
        ("GET", "/instruments/historical/256265/minute", "historical"),
        ("GET", "/instruments/NSE", "other"),
        ("GET", "/user/margins", "other"),
    ],
)
def test_rate_bucket_when_route_then_kites_limit(method: str, path: str, bucket: str) -> None:
    assert rate_bucket(method, path) == bucket
