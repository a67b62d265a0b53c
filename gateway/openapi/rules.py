"""What the OpenAPI document says of request bodies beyond their msgspec Structs.

A Struct says each field's type and bounds; it cannot say that one field's value decides which
others are needed. Those rules are enforced elsewhere (the engine, or the route after decoding)
and are described here as JSON Schema ``allOf`` entries of the body's component, keyed by its
name. Where the engine holds the rule as a function, the description is asked of that function,
so the two cannot disagree.
"""

from __future__ import annotations

import itertools
from typing import Any

from engine.domain.charges import charge_category
from engine.domain.enums import OrderType, Product, Segment
from engine.domain.rules import check_order_terms

NUMBER = {"type": "number"}
NULL = {"type": "null"}
STRING = {"type": "string"}
PRICE_FIELDS = ("price", "triggerPrice")


def order_prices() -> dict[str, Any]:
    """Which prices each order type takes (``engine.domain.rules.check_order_terms``; the engine
    refuses any other combination with 422 INVALID_PRICE): MARKET none, LIMIT a price, SL both,
    SL-M a trigger."""
    variants = []
    for order_type in OrderType:
        (needed,) = [
            pair
            for pair in itertools.product((False, True), repeat=2)
            if check_order_terms(order_type, *(100 if n else 0 for n in pair))
        ]
        properties: dict[str, Any] = {"orderType": {"const": order_type.value}}
        required = ["orderType"]
        for name, needs in zip(PRICE_FIELDS, needed, strict=True):
            properties[name] = NUMBER if needs else NULL
            if needs:
                required.append(name)
        variants.append({"properties": properties, "required": required})
    return {"oneOf": variants}


def charged_products() -> dict[str, Any]:
    """Which products each segment is charged for (``engine.domain.charges.charge_category``; the
    charges route refuses the rest with 400): cash segments CNC and MIS, derivatives any, the
    INDICES segment none."""
    by_products: dict[tuple[str, ...], list[str]] = {}
    for segment in Segment:
        products = []
        for product in Product:
            try:
                charge_category(segment, product)
            except ValueError:
                continue
            products.append(product.value)
        if products:
            by_products.setdefault(tuple(products), []).append(segment.value)
    return {
        "anyOf": [
            {
                "properties": {"segment": {"enum": segments}, "productType": {"enum": products}},
                "required": ["segment", "productType"],
            }
            for products, segments in by_products.items()
        ]
    }


def one_of_fields(*names: str, kind: dict[str, Any] = NUMBER) -> dict[str, Any]:
    """At least one of ``names`` given, and not null."""
    return {"anyOf": [{"properties": {name: kind}, "required": [name]} for name in names]}


# gateway.routes.funds.fund_operation: a RELEASE names the block it releases (else 400).
RELEASE_NAMES_BLOCK = {
    "anyOf": [
        {"properties": {"operation": {"enum": ["BLOCK", "CREDIT", "DEBIT"]}}},
        {
            "properties": {"operation": {"const": "RELEASE"}, "blockId": STRING},
            "required": ["blockId"],
        },
    ]
}

RULES: dict[str, list[dict[str, Any]]] = {
    "PlaceOrderBody": [order_prices()],
    # gateway.routes.funds.charges_preview: a buyPrice, a sellPrice or both (else 400).
    "ChargesBody": [charged_products(), one_of_fields("buyPrice", "sellPrice")],
    "FundOperationBody": [RELEASE_NAMES_BLOCK],
    # gateway.routes.admin.target_account: the account, or the user whose first it is (else 400).
    "AdminFundsBody": [one_of_fields("tradingAccountId", "userId", kind=STRING)],
    "AdminResetBody": [one_of_fields("tradingAccountId", "userId", kind=STRING)],
}
