"""Kite's order routes (docs/KITE.md "Orders"): place, modify and cancel by variety, the day's
orders, an order's history and trades, and the day's trades.

As at Kite, a placed order answers its ``order_id`` whatever the engine then decided: a margin
or risk rejection is the order's ``REJECTED`` status with its ``status_message``, not a failed
call. Only a request that names no order the engine could consider (a missing or unknown
field, an unknown instrument, a variety paperdesk does not offer, an iceberg's legs that break
its rules) is an ``InputException``. An iceberg answers its first leg's ``order_id``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.enums import OrderType, Product, Side, Validity
from engine.domain.iceberg import Iceberg, check_iceberg
from engine.domain.instruments import Instrument
from engine.domain.parameters import LimitsConfig
from gateway.errors import REJECTION_MESSAGES
from gateway.keys import BRIDGE, CONFIG, DB, ENGINE
from gateway.kite.access import KiteAccess, access_of
from gateway.kite.order_format import (
    AMO_VARIETY,
    ICEBERG_VARIETY,
    amo_waits,
    history_view,
    order_view,
    trade_view,
)
from gateway.kite.tokens import KITE_TOKENS
from gateway.kite.wire import (
    ErrorType,
    KiteError,
    form_of,
    input_error,
    optional,
    required,
    rupees_to_paise_text,
    success,
    whole_number,
)
from gateway.outcomes import check_outcome
from gateway.schemas import ORDER_TAG_MAX
from gateway.trade_days import current_trade_day
from persistence.projection import ms_of
from persistence.read_models.orders import day_orders, order_by_id, order_history
from persistence.read_models.trades import trade_page, trades_of_order

routes = web.RouteTableDef()

# ``amo``: an after-market order, placed while the session is closed for its next open;
# ``iceberg``: an order worked as legs, one at a time (``iceberg_legs`` of ``iceberg_quantity``).
OFFERED_VARIETIES = frozenset({"regular", "amo", "iceberg"})
NOT_OFFERED = {
    "co": "paperdesk does not offer cover orders (variety co).",
    "auction": "paperdesk does not offer auction orders (variety auction).",
}
# The Kite parameter of each field ``check_iceberg`` names.
ICEBERG_FIELDS = {
    "iceberg.legs": "iceberg_legs",
    "iceberg.legQuantity": "iceberg_quantity",
    "quantity": "quantity",
}
KITE_PRODUCTS = {"CNC": Product.CNC, "MIS": Product.MIS, "NRML": Product.NRML}
KITE_VALIDITIES = {"DAY": Validity.DAY, "IOC": Validity.IOC}


def check_variety(variety: str) -> None:
    if variety in OFFERED_VARIETIES:
        return
    message = NOT_OFFERED.get(variety, f"Invalid variety `{variety}`.")
    raise input_error(message)


def choice(form: Any, name: str, options: dict[str, Any]) -> Any:
    value = required(form, name).upper()
    if value not in options:
        raise input_error(f"Invalid `{name}`: expected one of {', '.join(options)}.")
    return options[value]


def instrument_of(request: web.Request, exchange: str, tradingsymbol: str) -> Instrument:
    instrument = request.app[ENGINE].master.get(f"{exchange.upper()}:{tradingsymbol.upper()}")
    if instrument is None:
        raise input_error(f"Invalid `tradingsymbol`: {exchange}:{tradingsymbol} is not listed.")
    if instrument.is_index:
        raise input_error("An index is not tradable.")
    return instrument


@routes.post("/orders/{variety}")
async def place_order(request: web.Request) -> web.Response:
    variety = request.match_info["variety"]
    check_variety(variety)
    access = access_of(request)
    form = await form_of(request)
    instrument = instrument_of(request, required(form, "exchange"), required(form, "tradingsymbol"))
    validity = (optional(form, "validity") or "DAY").upper()
    if validity not in KITE_VALIDITIES:
        raise input_error(
            "paperdesk does not offer TTL validity."
            if validity == "TTL"
            else "Invalid `validity`: expected DAY or IOC."
        )
    order_type = choice(form, "order_type", {t.value: t for t in OrderType})
    engine = request.app[ENGINE]
    order_id = engine.new_id()
    quantity = positive(whole_number(form, "quantity"), "quantity")
    iceberg = None
    if variety == ICEBERG_VARIETY:
        iceberg = first_leg(form, instrument, order_id, quantity, engine.rules.limits)
        quantity = iceberg.quantity_of_leg(iceberg.leg)
    order = cmd.PlaceOrderRequest(
        order_id=order_id,
        client_order_id=None,
        instrument=instrument,
        side=choice(form, "transaction_type", {s.value: s for s in Side}),
        product=choice(form, "product", KITE_PRODUCTS),
        order_type=order_type,
        validity=KITE_VALIDITIES[validity],
        quantity=quantity,
        price_paise=rupees_to_paise_text(form.get("price"), "price")
        if order_type in (OrderType.LIMIT, OrderType.SL)
        else 0,
        trigger_paise=rupees_to_paise_text(form.get("trigger_price"), "trigger_price")
        if order_type in (OrderType.SL, OrderType.SL_M)
        else 0,
        tag=tag_of(form),
        after_market=variety == AMO_VARIETY,
        iceberg=iceberg,
    )
    outcome = await request.app[BRIDGE].submit(access.account_id, order)
    check_outcome(outcome)
    if not outcome.events or not isinstance(outcome.events[0], ev.OrderAccepted | ev.OrderRejected):
        rejection = outcome.rejection
        message = REJECTION_MESSAGES[rejection] if rejection is not None else "Not placed."
        raise KiteError(400, ErrorType.ORDER, message)
    return success({"order_id": outcome.events[0].order_id})


def first_leg(
    form: Any, instrument: Instrument, order_id: str, total: int, limits: LimitsConfig
) -> Iceberg:
    """The first leg, order ``order_id``, of an iceberg of ``total`` in legs of
    ``iceberg_quantity`` (``iceberg_legs`` of them), its terms checked before it is placed."""
    iceberg = Iceberg(
        parent_order_id=order_id,
        leg=1,
        legs=positive(whole_number(form, "iceberg_legs"), "iceberg_legs"),
        leg_quantity=positive(whole_number(form, "iceberg_quantity"), "iceberg_quantity"),
        total_quantity=total,
    )
    check = check_iceberg(instrument, iceberg, limits)
    if check is not None:
        raise input_error(f"Invalid `{ICEBERG_FIELDS[check.field]}`: {check.message}.")
    return iceberg


def tag_of(form: Any) -> str | None:
    """Kite's ``tag``: up to 20 letters and digits."""
    tag = optional(form, "tag")
    if tag is not None and (len(tag) > ORDER_TAG_MAX or not tag.isascii() or not tag.isalnum()):
        raise input_error(f"Invalid `tag`: up to {ORDER_TAG_MAX} letters and digits.")
    return tag


def positive(value: int, name: str) -> int:
    if value <= 0:
        raise input_error(f"Invalid `{name}`: must be more than 0.")
    return value


async def own_working_order(request: web.Request, access: KiteAccess, order_id: str) -> None:
    """Refuse an order that is not the grant's account's working order."""
    if request.app[ENGINE].locator.account_of_order(order_id) == access.account_id:
        return
    row = await order_by_id(request.app[DB].pool, order_id)
    if row is None or row["trading_account_id"] != access.account_id:
        raise input_error("Couldn't find that `order_id`.")
    raise KiteError(400, ErrorType.ORDER, f"The order is {row['status'].lower()}: not open.")


@routes.put("/orders/{variety}/{order_id}")
async def modify_order(request: web.Request) -> web.Response:
    check_variety(request.match_info["variety"])
    access = access_of(request)
    order_id = request.match_info["order_id"]
    form = await form_of(request)
    await own_working_order(request, access, order_id)
    order_type = optional(form, "order_type")
    if order_type is not None and order_type.upper() not in {t.value for t in OrderType}:
        raise input_error("Invalid `order_type`.")
    quantity = optional(form, "quantity")
    modification = cmd.ModifyOrderRequest(
        order_id=order_id,
        quantity=None if quantity is None else positive(whole_number(form, "quantity"), "quantity"),
        price_paise=None
        if optional(form, "price") is None
        else rupees_to_paise_text(form.get("price"), "price"),
        trigger_paise=None
        if optional(form, "trigger_price") is None
        else rupees_to_paise_text(form.get("trigger_price"), "trigger_price"),
        order_type=None if order_type is None else OrderType(order_type.upper()),
    )
    outcome = await request.app[BRIDGE].submit(access.account_id, modification)
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise KiteError(400, ErrorType.ORDER, REJECTION_MESSAGES[outcome.rejection])
    return success({"order_id": order_id})


@routes.delete("/orders/{variety}/{order_id}")
async def cancel_order(request: web.Request) -> web.Response:
    check_variety(request.match_info["variety"])
    access = access_of(request)
    order_id = request.match_info["order_id"]
    await own_working_order(request, access, order_id)
    outcome = await request.app[BRIDGE].submit(access.account_id, cmd.CancelOrderRequest(order_id))
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise KiteError(400, ErrorType.ORDER, REJECTION_MESSAGES[outcome.rejection])
    return success({"order_id": order_id})


@routes.get("/orders")
async def list_orders(request: web.Request) -> web.Response:
    """The day's orders and every order still working, oldest first, as Kite's order book."""
    access = access_of(request)
    start, _ = current_trade_day(request)
    limit = request.app[CONFIG].kite.orders_listed_max
    rows = await day_orders(request.app[DB].pool, access.account_id, start, limit)
    tokens = request.app[KITE_TOKENS]
    engine = request.app[ENGINE]
    sessions, now_ms = engine.rules.sessions, engine.clock.now_ms()
    return success(
        [
            order_view(
                row,
                tokens,
                access.user_id,
                waiting=amo_waits(row, tokens, sessions, ms_of(row["created_at"]), now_ms),
            )
            for row in rows
        ]
    )


async def own_order(request: web.Request, access: KiteAccess, order_id: str) -> Any:
    row = await order_by_id(request.app[DB].pool, order_id)
    if row is None or row["trading_account_id"] != access.account_id:
        raise input_error("Couldn't find that `order_id`.")
    return row


@routes.get("/orders/{order_id}")
async def get_order_history(request: web.Request) -> web.Response:
    """Every state the order went through, first first."""
    access = access_of(request)
    order = await own_order(request, access, request.match_info["order_id"])
    changes = await order_history(request.app[DB].pool, order["id"])
    tokens = request.app[KITE_TOKENS]
    sessions, placed_ms = request.app[ENGINE].rules.sessions, ms_of(order["created_at"])
    return success(
        [
            history_view(
                order,
                change,
                tokens,
                access.user_id,
                waiting=amo_waits(order, tokens, sessions, placed_ms, ms_of(change["occurred_at"])),
            )
            for change in changes
        ]
    )


@routes.get("/orders/{order_id}/trades")
async def get_order_trades(request: web.Request) -> web.Response:
    access = access_of(request)
    order = await own_order(request, access, request.match_info["order_id"])
    rows = await trades_of_order(request.app[DB].pool, order["id"])
    return success([trade_view(row, request.app[KITE_TOKENS]) for row in rows])


@routes.get("/trades")
async def list_trades(request: web.Request) -> web.Response:
    """The day's trades, oldest first."""
    access = access_of(request)
    day = current_trade_day(request)
    rows = await trade_page(
        request.app[DB].pool,
        access.account_id,
        order_id=None,
        between=day,
        before=None,
        before_id="",
        limit=request.app[CONFIG].kite.orders_listed_max,
    )
    tokens = request.app[KITE_TOKENS]
    return success([trade_view(row, tokens) for row in reversed(rows)])
