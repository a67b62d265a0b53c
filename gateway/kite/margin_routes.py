"""Kite's margin and charges routes (docs/KITE_MARGINS.md): the margins of orders, of a basket
with its hedge benefit, and the virtual contract note of executed orders.

Every figure is paperdesk's own: the orders are valued by the account's actor exactly as
``POST /api/trading/margins/basket`` values them (one engine path, so the two APIs agree to the
paisa), and an executed order's charges are its fills' charges as the engine debited them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from engine.domain import commands as cmd
from engine.domain.account.basket import BasketMargins, OrderMargins, basket_margins
from engine.domain.account.decide import valuation_price
from engine.domain.account.state import AccountState
from engine.domain.charges import (
    ChargeBreakdown,
    ChargeCategory,
    OrderSoFar,
    charge_category,
    order_charges,
)
from engine.domain.enums import Product, Rejection, Side, Validity
from engine.domain.instruments import Instrument
from engine.domain.margin import leverage_x100
from engine.domain.rules import AccountRules
from gateway.errors import REJECTION_MESSAGES
from gateway.keys import BRIDGE, CONFIG, DB, ENGINE
from gateway.kite.access import access_of
from gateway.kite.margin_format import (
    OrderTerms,
    charges_view,
    contract_note_view,
    fault,
    margin_view,
    order_terms,
    orders_of,
    segment_type,
)
from gateway.kite.wire import input_error, success, truthy
from gateway.order_commands import refused_path
from persistence.read_models.orders import order_by_id
from persistence.read_models.trades import trades_of_order

routes = web.RouteTableDef()

# The order field each native refusal names, as Kite's parameter.
KITE_FIELD = {"instrumentId": "tradingsymbol", "productType": "product", "quantity": "quantity"}


async def body_terms(request: web.Request) -> list[OrderTerms]:
    """The JSON array of orders in the body, each checked."""
    try:
        body = await request.json()
    except ValueError:
        raise input_error("orders: the body is not JSON.") from None
    raw = orders_of(body, request.app[CONFIG].limits.basket_orders_max)
    return [order_terms(order, n) for n, order in enumerate(raw)]


def instrument_at(request: web.Request, terms: OrderTerms, n: int) -> Instrument:
    instrument = request.app[ENGINE].master.get(f"{terms.exchange}:{terms.tradingsymbol}")
    if instrument is None:
        raise fault(n, "tradingsymbol", f"{terms.exchange}:{terms.tradingsymbol} is not listed.")
    if instrument.is_index:
        raise fault(n, "tradingsymbol", "an index is not tradable.")
    return instrument


def place_request(request: web.Request, terms: OrderTerms, n: int) -> cmd.PlaceOrderRequest:
    return cmd.PlaceOrderRequest(
        order_id=f"kite-margin-{n}",
        client_order_id=None,
        instrument=instrument_at(request, terms, n),
        side=terms.side,
        product=terms.product,
        order_type=terms.order_type,
        validity=Validity.DAY,
        quantity=terms.quantity,
        price_paise=terms.price_paise,
        trigger_paise=terms.trigger_paise,
    )


async def priced_basket(request: web.Request) -> tuple[list[OrderTerms], BasketMargins]:
    """The body's orders valued by the account's actor as the native basket route values
    them; an order any rule but funds refuses is an ``InputException`` naming it."""
    terms = await body_terms(request)
    requests = tuple(place_request(request, order, n) for n, order in enumerate(terms))
    account_id = access_of(request).account_id
    margins, _ = await request.app[BRIDGE].preview_basket(account_id, requests)
    for n, priced in enumerate(margins.orders):
        rejection = priced.requirements.rejection
        if rejection is not None and rejection is not Rejection.INSUFFICIENT_FUNDS:
            raise refusal_at(rejection, n)
    return terms, margins


def refusal_at(rejection: Rejection, n: int) -> Exception:
    path = refused_path(rejection, f"orders[{n}]")
    head, _, field = path.partition(".")
    message = REJECTION_MESSAGES[rejection]
    if not field:
        return input_error(f"{head}: {message}")
    return fault(n, KITE_FIELD.get(field, field), message)


def estimated_charges(order: cmd.PlaceOrder, rules: AccountRules) -> ChargeBreakdown:
    """The charges the margin preview estimates for ``order``, by component: the order filled
    whole at its valuation price (``decide``'s estimate, the same figures)."""
    valuation = valuation_price(
        order.order_type, order.price_paise, order.trigger_paise, order.quote, rules
    )
    return order_charges(
        rules.charges.on(rules.trade_date(order.now_ms)),
        charge_category(order.instrument.segment, order.product),
        order.instrument.exchange.value,
        order.side,
        order.quantity * valuation,
    )


def leverage_of(priced: OrderMargins) -> float:
    """Value over what paperdesk blocks, as the native margin preview computes it."""
    order = priced.order
    price = (
        order.price_paise or order.trigger_paise or (order.quote.ask_paise if order.quote else 0)
    )
    return leverage_x100(order.quantity * price, priced.requirements.block_paise) / 100


def order_margin_view(
    request: web.Request, priced: OrderMargins, figures: Any, compact: bool
) -> dict[str, Any]:
    instrument = priced.order.instrument
    exchange = instrument.exchange.value
    charges = estimated_charges(priced.order, request.app[ENGINE].rules)
    return margin_view(
        figures,
        exchange=exchange,
        tradingsymbol=instrument.symbol,
        kind=segment_type(exchange),
        leverage=leverage_of(priced),
        charges=charges_view(charges, exchange),
        compact=compact,
    )


def is_compact(request: web.Request) -> bool:
    mode = request.query.get("mode", "").strip().lower()
    if mode not in ("", "compact"):
        raise input_error("Invalid `mode`: expected compact or none.")
    return mode == "compact"


@routes.post("/margins/orders")
async def order_margins(request: web.Request) -> web.Response:
    """Each order's margin against the account as it is (its positions and working orders)."""
    compact = is_compact(request)
    _, margins = await priced_basket(request)
    return success([order_margin_view(request, p, p.figures, compact) for p in margins.orders])


def flat_basket(margins: BasketMargins, rules: AccountRules) -> BasketMargins:
    """The same stamped orders priced on an account holding nothing (``consider_positions``
    false): the engine's basket function, run here on an empty state."""
    orders = [priced.order for priced in margins.orders]
    return basket_margins(AccountState("kite-flat"), orders, rules)


@routes.post("/margins/basket")
async def basket_order_margins(request: web.Request) -> web.Response:
    """A basket's margins: each order alone (``orders``, summed in ``initial``) and all of
    them together with the positions held (``final``: the hedge benefit taken)."""
    compact = is_compact(request)
    consider = request.query.get("consider_positions")
    with_positions = True if consider is None else truthy(consider, "consider_positions")
    _, margins = await priced_basket(request)
    rules = request.app[ENGINE].rules
    if not with_positions:
        margins = flat_basket(margins, rules)
    charges = ChargeBreakdown()
    for priced in margins.orders:
        charges = charges + estimated_charges(priced.order, rules)
    return success(
        {
            "initial": margin_view(margins.initial, compact=compact),
            "final": margin_view(margins.final, compact=compact),
            "orders": [order_margin_view(request, p, p.figures, compact) for p in margins.orders],
            "charges": charges_view(charges, ""),
        }
    )


# A CNC sell is charged as intraday against today's buys and at delivery rates (with the DP
# charge once a day) from holdings (docs/DOMAIN.md §1): the rating that reproduces the fill's.
CNC_SELL_RATINGS = (
    (ChargeCategory.MIS, False),
    (ChargeCategory.CNC, False),
    (ChargeCategory.CNC, True),
)


def executed_charges(
    rules: AccountRules, instrument: Instrument, product: Product, trades: Sequence[Any]
) -> ChargeBreakdown:
    """An executed order's charges by component, fill by fill as the engine charged them
    (brokerage once per order); each fill's total is the one it debited."""
    category = charge_category(instrument.segment, product)
    exchange = instrument.exchange.value
    so_far = OrderSoFar()
    total = ChargeBreakdown()
    for trade in trades:
        side = Side(trade["side"])
        value = trade["quantity"] * trade["price_paise"]
        at_ms = int(trade["executed_at"].timestamp() * 1000)
        schedule = rules.charges.on(rules.trade_date(at_ms))
        ratings: tuple[tuple[ChargeCategory, bool], ...] = ((category, False),)
        if category is ChargeCategory.CNC and side is Side.SELL:
            ratings = CNC_SELL_RATINGS
        tried = [
            order_charges(schedule, rated, exchange, side, value, dp_applies=dp, so_far=so_far)
            for rated, dp in ratings
        ]
        fill = next((c for c in tried if c.total_paise == trade["charges_paise"]), tried[0])
        so_far = OrderSoFar(
            so_far.value_paise + value, so_far.brokerage_paise + fill.brokerage_paise
        )
        total = total + fill
    return total


async def executed_order(request: web.Request, terms: OrderTerms, n: int) -> list[Any] | None:
    """The fills of ``terms.order_id`` when it names an executed order of the account, checked
    against the terms given; None when it names none."""
    if terms.order_id is None:
        return None
    row = await order_by_id(request.app[DB].pool, terms.order_id)
    if row is None or row["trading_account_id"] != access_of(request).account_id:
        return None
    instrument = instrument_at(request, terms, n)
    if row["instrument_id"] != instrument.instrument_id:
        raise fault(n, "tradingsymbol", "not the instrument of that order_id.")
    if row["side"] != terms.side.value:
        raise fault(n, "transaction_type", f"that order is a {row['side']}.")
    if row["product"] != terms.product.value:
        raise fault(n, "product", f"that order is {row['product']}.")
    trades = await trades_of_order(request.app[DB].pool, terms.order_id)
    filled = sum(trade["quantity"] for trade in trades)
    if filled != terms.quantity:
        raise fault(n, "quantity", f"that order filled {filled}.")
    return trades


@routes.post("/charges/orders")
async def virtual_contract_note(request: web.Request) -> web.Response:
    """The charges of executed orders: an order of the account's by its fills, as debited;
    any other by its quantity at its ``average_price`` as one fill on today's rates."""
    terms = await body_terms(request)
    rules = request.app[ENGINE].rules
    now_ms = request.app[ENGINE].clock.now_ms()
    notes = []
    for n, order in enumerate(terms):
        if order.average_paise <= 0:
            raise fault(n, "average_price", "the executed price is missing.")
        instrument = instrument_at(request, order, n)
        trades = await executed_order(request, order, n)
        if trades is not None:
            charges = executed_charges(rules, instrument, order.product, trades)
        else:
            try:
                category = charge_category(instrument.segment, order.product)
            except ValueError:
                raise fault(n, "product", f"{order.product.value} is not traded there.") from None
            charges = order_charges(
                rules.charges.on(rules.trade_date(now_ms)),
                category,
                instrument.exchange.value,
                order.side,
                order.quantity * order.average_paise,
            )
        notes.append(contract_note_view(order, charges))
    return success(notes)
