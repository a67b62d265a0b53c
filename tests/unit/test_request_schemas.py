"""Stored strings refuse control characters at the schema, naming the field and saying why.

PostgreSQL text cannot hold NUL: a value that reached an account actor and then failed to
journal would leave memory and database apart, so it must be refused before decoding ends.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.decoding import decode_body
from gateway.errors import InvalidRequestError
from gateway.schemas import AdminFundsBody, PlaceOrderBody, RegisterBody

ORDER = {
    "tradingAccountId": "acct-1",
    "instrumentId": "NSE_EQ|INE002A01018",
    "quantity": 1,
    "orderType": "MARKET",
    "orderSide": "BUY",
    "productType": "MIS",
}
REGISTER = {"email": "trader@paperdesk.test", "password": "long enough", "name": "A Trader"}
ADMIN_FUNDS = {"amount": 100.0, "tradingAccountId": "acct-1"}


def _refusal(schema: type[Any], body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(InvalidRequestError) as caught:
        decode_body(orjson.dumps(body), schema)
    response = caught.value.response
    assert response.status == 400
    assert response.text is not None
    error: dict[str, Any] = orjson.loads(response.text)["error"]
    assert error["code"] == "VALIDATION_ERROR"
    detail: dict[str, Any] = error["details"][0]
    return detail


@pytest.mark.parametrize(
    ("schema", "body", "path", "message"),
    [
        (
            PlaceOrderBody,
            {**ORDER, "clientOrderId": "retry\x00-1"},
            "$.clientOrderId",
            "must not contain control characters",
        ),
        (
            PlaceOrderBody,
            {**ORDER, "tradingAccountId": "acct\n1"},
            "$.tradingAccountId",
            "must not contain control characters",
        ),
        (
            RegisterBody,
            {**REGISTER, "name": "A\x07Trader"},
            "$.name",
            "must not contain control characters",
        ),
        (
            RegisterBody,
            {**REGISTER, "email": "trader\x00@paperdesk.test"},
            "$.email",
            "must be an email address",
        ),
        (
            AdminFundsBody,
            {**ADMIN_FUNDS, "remarks": "bonus\x00"},
            "$.remarks",
            "must not contain control characters other than tab and line breaks",
        ),
    ],
)
def test_decode_when_stored_string_has_control_character_then_400_names_field(
    schema: type[Any], body: dict[str, Any], path: str, message: str
) -> None:
    assert _refusal(schema, body) == {"path": path, "message": message}


def test_decode_when_strings_are_printable_then_accepted() -> None:
    order = decode_body(orjson.dumps({**ORDER, "clientOrderId": "retry-1 ✓"}), PlaceOrderBody)
    assert order.client_order_id == "retry-1 ✓"
    funds = decode_body(
        orjson.dumps({**ADMIN_FUNDS, "remarks": "line one\n\tline two"}), AdminFundsBody
    )
    assert funds.remarks == "line one\n\tline two"


def test_decode_when_email_malformed_then_message_not_regex() -> None:
    detail = _refusal(RegisterBody, {**REGISTER, "email": "no at sign"})
    assert detail == {"path": "$.email", "message": "must be an email address"}
