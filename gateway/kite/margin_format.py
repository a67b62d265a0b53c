"""The JSON-array bodies of Kite's margin and charges routes read, and paperdesk's margins and
charges written as Kite's order-margin and contract-note objects (docs/KITE_MARGINS.md).

Pure: no request, no engine. A bad order is an ``InputException`` naming its index and field
(``orders[1].quantity: …``); money leaves as rupees, computed in paise.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from engine.domain.account.basket import MarginFigures
from engine.domain.charges import ChargeBreakdown
from engine.domain.enums import Exchange, OrderType, Product, Side
from engine.domain.money import paise_to_rupees
from gateway.kite.wire import PRICE_PAISE_MAX, KiteError, input_error

KITE_PRODUCTS = {"CNC": Product.CNC, "MIS": Product.MIS, "NRML": Product.NRML}
SIDES = {side.value: side for side in Side}
ORDER_TYPES = {order_type.value: order_type for order_type in OrderType}
# The varieties priced: an after-market order, or an iceberg order of the quantity given, is
# priced as the same regular order.
PRICED_VARIETIES = ("regular", "amo", "iceberg")
QUANTITY_MAX = 10**9  # beyond any freeze quantity; the engine refuses what is above its own
# A compact answer's fields: what the order needs in all, and which order it is.
COMPACT_FIELDS = ("type", "tradingsymbol", "exchange", "leverage", "total")


class OrderTerms(NamedTuple):
    """One order of a margin or charges body, checked; prices in paise (0 when absent)."""

    exchange: str
    tradingsymbol: str
    side: Side
    product: Product
    order_type: OrderType
    quantity: int
    price_paise: int
    trigger_paise: int
    average_paise: int  # the contract note's executed price
    order_id: str | None
    variety: str  # regular, amo or iceberg: priced alike


def orders_of(body: Any, orders_max: int) -> list[Any]:
    """The body's orders: a JSON array of 1 to ``orders_max`` objects."""
    if not isinstance(body, list):
        raise input_error("orders: expected a JSON array of orders.")
    if not body:
        raise input_error("orders: at least one order.")
    if len(body) > orders_max:
        raise input_error(f"orders: at most {orders_max} orders.")
    return body


def fault(n: int, name: str, message: str) -> KiteError:
    return input_error(f"orders[{n}].{name}: {message}")


def text_of(raw: dict[str, Any], n: int, name: str, default: str | None = None) -> str:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is not None:
            return default
        raise fault(n, name, "missing or empty.")
    if not isinstance(value, str):
        raise fault(n, name, "expected a string.")
    return value.strip()


def choice_of(raw: dict[str, Any], n: int, name: str, options: dict[str, Any]) -> Any:
    value = text_of(raw, n, name).upper()
    if value not in options:
        raise fault(n, name, f"expected one of {', '.join(options)}.")
    return options[value]


def quantity_of(raw: dict[str, Any], n: int) -> int:
    value = raw.get("quantity")
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise fault(n, "quantity", "expected a whole number.") from None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise fault(n, "quantity", "expected a whole number.")
    if value != int(value) or not 0 < value <= QUANTITY_MAX:
        raise fault(n, "quantity", f"a whole number from 1 to {QUANTITY_MAX}.")
    return int(value)


def paise_of(raw: dict[str, Any], n: int, name: str) -> int:
    """A price in rupees (a number, or its text) as paise; 0 when absent."""
    value = raw.get(name)
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise fault(n, name, "expected a price in rupees.")
    try:
        paise = Decimal(str(value).strip()) * 100
    except InvalidOperation:
        raise fault(n, name, "expected a price in rupees.") from None
    if not paise.is_finite() or paise < 0 or paise > PRICE_PAISE_MAX:
        raise fault(n, name, "out of range.")
    if paise != paise.to_integral_value():
        raise fault(n, name, "at most two decimals.")
    return int(paise)


def order_terms(raw: Any, n: int) -> OrderTerms:
    """The ``n``-th order of a body, every field checked."""
    if not isinstance(raw, dict):
        raise input_error(f"orders[{n}]: expected an object.")
    variety = text_of(raw, n, "variety", PRICED_VARIETIES[0]).lower()
    if variety not in PRICED_VARIETIES:
        raise fault(n, "variety", f"paperdesk prices {', '.join(PRICED_VARIETIES)} orders.")
    exchange = text_of(raw, n, "exchange").upper()
    if exchange not in Exchange.__members__:
        raise fault(n, "exchange", f"expected one of {', '.join(Exchange.__members__)}.")
    order_type = OrderType.MARKET  # as Kite's calculator takes an order without one
    if raw.get("order_type") not in (None, ""):
        order_type = choice_of(raw, n, "order_type", ORDER_TYPES)
    order_id = raw.get("order_id")
    return OrderTerms(
        exchange=exchange,
        tradingsymbol=text_of(raw, n, "tradingsymbol").upper(),
        side=choice_of(raw, n, "transaction_type", SIDES),
        product=choice_of(raw, n, "product", KITE_PRODUCTS),
        order_type=order_type,
        quantity=quantity_of(raw, n),
        price_paise=paise_of(raw, n, "price")
        if order_type in (OrderType.LIMIT, OrderType.SL)
        else 0,
        trigger_paise=paise_of(raw, n, "trigger_price")
        if order_type in (OrderType.SL, OrderType.SL_M)
        else 0,
        average_paise=paise_of(raw, n, "average_price"),
        order_id=None if order_id is None or order_id == "" else str(order_id),
        variety=variety,
    )


def charges_view(charges: ChargeBreakdown, exchange: str) -> dict[str, Any]:
    """Kite's ``charges`` object. GST is one figure in paperdesk, shown as IGST (as Kite's
    own answers do); STT is CTT on MCX."""
    gst = paise_to_rupees(charges.gst_paise)
    return {
        "transaction_tax": paise_to_rupees(charges.stt_paise),
        "transaction_tax_type": "ctt" if exchange == Exchange.MCX.value else "stt",
        "exchange_turnover_charge": paise_to_rupees(charges.exchange_paise),
        "sebi_turnover_charge": paise_to_rupees(charges.sebi_paise),
        "brokerage": paise_to_rupees(charges.brokerage_paise),
        "stamp_duty": paise_to_rupees(charges.stamp_paise),
        "gst": {"igst": gst, "cgst": 0.0, "sgst": 0.0, "total": gst},
        "total": paise_to_rupees(charges.total_paise),
    }


NO_CHARGES = ChargeBreakdown()


def segment_type(exchange: str) -> str:
    """Kite's ``type`` of an order margin: the commodity segment is MCX's, equity the rest."""
    return "commodity" if exchange == Exchange.MCX.value else "equity"


def margin_view(
    figures: MarginFigures,
    *,
    exchange: str = "",
    tradingsymbol: str = "",
    kind: str = "",
    leverage: float = 0.0,
    charges: dict[str, Any] | None = None,
    compact: bool = False,
) -> dict[str, Any]:
    """Kite's order-margin object of ``figures``. ``total`` is what a SPAN broker shows as
    required; paperdesk credits short options' premium against it (docs/KITE_MARGINS.md)."""
    view: dict[str, Any] = {
        "type": kind,
        "tradingsymbol": tradingsymbol,
        "exchange": exchange,
        "span": paise_to_rupees(figures.span_paise),
        "exposure": paise_to_rupees(figures.exposure_paise),
        "option_premium": paise_to_rupees(figures.option_premium_paise),
        "additional": paise_to_rupees(figures.additional_paise),
        "bo": 0.0,
        "cash": 0.0,
        "var": paise_to_rupees(figures.var_paise),
        "pnl": {"realised": 0.0, "unrealised": 0.0},
        "leverage": leverage,
        "charges": charges if charges is not None else charges_view(NO_CHARGES, exchange),
        "total": paise_to_rupees(figures.total_paise),
    }
    if compact:
        return {name: view[name] for name in COMPACT_FIELDS}
    return view


def contract_note_view(terms: OrderTerms, charges: ChargeBreakdown) -> dict[str, Any]:
    """One order of Kite's virtual contract note."""
    return {
        "transaction_type": terms.side.value,
        "tradingsymbol": terms.tradingsymbol,
        "exchange": terms.exchange,
        "variety": terms.variety,
        "product": terms.product.value,
        "order_type": terms.order_type.value,
        "quantity": terms.quantity,
        "price": paise_to_rupees(terms.average_paise),
        "charges": charges_view(charges, terms.exchange),
    }
