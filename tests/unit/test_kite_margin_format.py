"""The Kite margin and charges bodies read, and paperdesk's figures written in Kite's shape,
without a server: every field of an order is checked and a bad one named by the order's index;
charges and margins are rupees of exact paise with Kite's field names; compact keeps the
totals."""

from __future__ import annotations

from typing import Any

import pytest

from engine.domain.account.basket import MarginFigures
from engine.domain.charges import ChargeBreakdown
from engine.domain.enums import OrderType, Product, Side
from gateway.kite.margin_format import (
    COMPACT_FIELDS,
    OrderTerms,
    charges_view,
    contract_note_view,
    margin_view,
    order_terms,
    orders_of,
    segment_type,
)
from gateway.kite.wire import ErrorType, KiteError

GOOD: dict[str, Any] = {
    "exchange": "nfo",
    "tradingsymbol": "nifty26dec26000ce",
    "transaction_type": "SELL",
    "variety": "regular",
    "product": "NRML",
    "order_type": "LIMIT",
    "quantity": 65,
    "price": 441.45,
    "trigger_price": 0,
}


def test_order_terms_when_valid_then_upper_cased_and_priced_in_paise() -> None:
    assert order_terms(GOOD, 0) == OrderTerms(
        exchange="NFO",
        tradingsymbol="NIFTY26DEC26000CE",
        side=Side.SELL,
        product=Product.NRML,
        order_type=OrderType.LIMIT,
        quantity=65,
        price_paise=44145,
        trigger_paise=0,
        average_paise=0,
        order_id=None,
        variety="regular",
    )


def test_order_terms_when_after_market_then_priced_as_amo() -> None:
    assert order_terms(GOOD | {"variety": "AMO"}, 0).variety == "amo"
    terms = order_terms(GOOD | {"variety": "amo", "order_type": "MARKET"}, 0)
    assert contract_note_view(terms, ChargeBreakdown())["variety"] == "amo"


def test_order_terms_when_market_then_prices_ignored_and_average_read() -> None:
    terms = order_terms(
        GOOD | {"order_type": "MARKET", "average_price": "196.13", "order_id": 7}, 2
    )
    assert (terms.price_paise, terms.average_paise, terms.order_id) == (0, 19613, "7")
    assert order_terms({k: v for k, v in GOOD.items() if k != "order_type"}, 0).order_type == (
        OrderType.MARKET
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quantity": 0}, "orders[3].quantity:"),
        ({"quantity": 1.5}, "orders[3].quantity:"),
        ({"quantity": "many"}, "orders[3].quantity:"),
        ({"quantity": True}, "orders[3].quantity:"),
        ({"quantity": None}, "orders[3].quantity:"),
        ({"price": 441.455}, "orders[3].price: at most two decimals."),
        ({"price": -1}, "orders[3].price: out of range."),
        ({"price": "abc"}, "orders[3].price:"),
        ({"exchange": "NYSE"}, "orders[3].exchange:"),
        ({"tradingsymbol": ""}, "orders[3].tradingsymbol: missing or empty."),
        ({"tradingsymbol": 5}, "orders[3].tradingsymbol: expected a string."),
        ({"transaction_type": "HOLD"}, "orders[3].transaction_type:"),
        ({"product": "BO"}, "orders[3].product:"),
        ({"order_type": "STOP"}, "orders[3].order_type:"),
        ({"variety": "co"}, "orders[3].variety:"),
    ],
)
def test_order_terms_when_field_bad_then_input_error_names_index_and_field(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(KiteError) as caught:
        order_terms(GOOD | change, 3)
    assert caught.value.status == 400 and caught.value.error_type is ErrorType.INPUT
    assert caught.value.message.startswith(message), caught.value.message


def test_order_terms_when_not_an_object_then_refused() -> None:
    with pytest.raises(KiteError, match=r"orders\[1\]: expected an object"):
        order_terms(["NFO"], 1)


@pytest.mark.parametrize(
    ("body", "message"),
    [({}, "a JSON array"), ([], "at least one"), ([{}] * 4, "at most 3 orders")],
)
def test_orders_of_when_not_1_to_max_orders_then_refused(body: Any, message: str) -> None:
    with pytest.raises(KiteError, match=message):
        orders_of(body, 3)
    assert orders_of([{}] * 3, 3) == [{}] * 3


def test_charges_view_when_breakdown_then_kite_names_in_rupees_gst_as_igst() -> None:
    charges = ChargeBreakdown(
        brokerage_paise=2000,
        stt_paise=1560,
        exchange_paise=707,
        sebi_paise=2,
        gst_paise=848,
        stamp_paise=28,
    )
    assert charges_view(charges, "NFO") == {
        "transaction_tax": 15.6,
        "transaction_tax_type": "stt",
        "exchange_turnover_charge": 7.07,
        "sebi_turnover_charge": 0.02,
        "brokerage": 20.0,
        "stamp_duty": 0.28,
        "gst": {"igst": 8.48, "cgst": 0.0, "sgst": 0.0, "total": 8.48},
        "total": 51.45,
    }
    assert charges_view(charges, "MCX")["transaction_tax_type"] == "ctt"


def test_margin_view_when_figures_then_parts_and_total_without_the_credit() -> None:
    figures = MarginFigures(
        span_paise=16654263,
        exposure_paise=3397563,
        option_premium_paise=1233050,
        premium_credit_paise=2869425,
        blocked_paise=18415451,
    )
    view = margin_view(figures, exchange="NFO", tradingsymbol="X", kind="equity", leverage=1.5)
    assert (view["span"], view["exposure"], view["option_premium"]) == (
        166542.63,
        33975.63,
        12330.5,
    )
    assert view["total"] == 212848.76  # span + exposure + premium: the credit is not taken off
    assert view["pnl"] == {"realised": 0.0, "unrealised": 0.0}
    assert view["charges"]["total"] == 0.0 and view["leverage"] == 1.5
    compact = margin_view(figures, exchange="NFO", tradingsymbol="X", compact=True)
    assert tuple(compact) == COMPACT_FIELDS and compact["total"] == 212848.76


def test_segment_type_when_mcx_then_commodity_else_equity() -> None:
    assert [segment_type(e) for e in ("MCX", "NFO", "NSE")] == ["commodity", "equity", "equity"]


def test_contract_note_view_when_order_then_its_terms_at_the_average_price() -> None:
    terms = order_terms(GOOD | {"order_type": "MARKET", "average_price": 196.13}, 0)
    note = contract_note_view(terms, ChargeBreakdown(brokerage_paise=2000))
    assert note["price"] == 196.13 and note["quantity"] == 65 and note["variety"] == "regular"
    assert (note["transaction_type"], note["order_type"]) == ("SELL", "MARKET")
    assert note["charges"]["total"] == 20.0
