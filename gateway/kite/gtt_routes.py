"""Kite's GTT routes (docs/KITE.md "GTT"): ``/gtt/triggers`` to place, list, read, modify and
delete single and two-leg (OCO) triggers, over paperdesk's own GTTs (engine/domain/gtt.py):
they rest in the market's books, survive restarts and show in paperdesk's API and dashboard.

Kite sends ``condition`` and ``orders`` as JSON text in a form; a two-leg GTT's triggers are
(stop-loss, target), the lower first, each with its order. Trigger ids are paperdesk's GTT ids
(UUIDs; Kite's are integers).
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
from aiohttp import web

from engine.actors.account_actor import Outcome
from engine.domain import commands as cmd
from engine.domain.enums import OrderType, Product, Side
from engine.domain.gtt import GttLeg, GttType
from engine.domain.instruments import Instrument
from engine.domain.money import paise_to_rupees
from gateway.errors import REJECTION_MESSAGES
from gateway.keys import BRIDGE, CONFIG, DB, ENGINE
from gateway.kite.access import KiteAccess, access_of
from gateway.kite.tokens import KITE_TOKENS
from gateway.kite.wire import (
    ErrorType,
    KiteError,
    form_of,
    input_error,
    ist_text,
    required,
    rupees_to_paise_text,
    success,
)
from gateway.outcomes import check_outcome
from persistence.read_models.gtts import gtt_by_id, gtt_page

routes = web.RouteTableDef()

KITE_TYPES = {"single": GttType.SINGLE, "two-leg": GttType.TWO_LEG}
TYPE_NAMES = {kind: name for name, kind in KITE_TYPES.items()}
LEGS = {GttType.SINGLE: 1, GttType.TWO_LEG: 2}
KITE_PRODUCTS = {"CNC": Product.CNC, "MIS": Product.MIS, "NRML": Product.NRML}
KITE_ORDER_TYPES = {"LIMIT": OrderType.LIMIT, "MARKET": OrderType.MARKET}


def json_field(form: Any, name: str) -> Any:
    try:
        return orjson.loads(required(form, name))
    except orjson.JSONDecodeError:
        raise input_error(f"Invalid `{name}`: not JSON.") from None


def text_of(mapping: dict[str, Any], name: str, at: str) -> str:
    value = mapping.get(name)
    if not isinstance(value, str) or not value.strip():
        raise input_error(f"Invalid `{at}.{name}`: expected text.")
    return value.strip().upper()


def price_of(value: Any, at: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise input_error(f"Invalid `{at}`: expected a price.")
    paise = rupees_to_paise_text(str(value), at)
    if paise <= 0:
        raise input_error(f"Invalid `{at}`: must be more than 0.")
    return paise


Terms = tuple[Instrument, GttType, tuple[GttLeg, ...], int]
SIDES = {side.value: side for side in Side}


def condition_of(request: web.Request, form: Any) -> tuple[Instrument, list[Any], int]:
    """The instrument, trigger values and last price of a GTT form's ``condition``."""
    condition = json_field(form, "condition")
    if not isinstance(condition, dict):
        raise input_error("Invalid `condition`: expected an object.")
    exchange = text_of(condition, "exchange", "condition")
    symbol = text_of(condition, "tradingsymbol", "condition")
    instrument = request.app[ENGINE].master.get(f"{exchange}:{symbol}")
    if instrument is None or instrument.is_index:
        raise input_error(
            f"Invalid `condition.tradingsymbol`: {exchange}:{symbol} is not tradable."
        )
    triggers = condition.get("trigger_values")
    if not isinstance(triggers, list):
        raise input_error("Invalid `condition.trigger_values`: expected a list.")
    return instrument, triggers, price_of(condition.get("last_price"), "condition.last_price")


def leg_of(order: Any, trigger: Any, n: int, instrument: Instrument) -> GttLeg:
    """Leg ``n``: ``orders[n]`` placed when the price reaches ``trigger_values[n]``."""
    at = f"orders[{n}]"
    if not isinstance(order, dict):
        raise input_error(f"Invalid `{at}`: expected an object.")
    named = f"{text_of(order, 'exchange', at)}:{text_of(order, 'tradingsymbol', at)}"
    if named != instrument.ticker:
        raise input_error(f"Invalid `{at}`: its instrument must be the condition's.")
    side = SIDES.get(text_of(order, "transaction_type", at))
    product = KITE_PRODUCTS.get(text_of(order, "product", at))
    order_type = KITE_ORDER_TYPES.get(text_of(order, "order_type", at))
    if side is None or product is None or order_type is None:
        raise input_error(f"Invalid `{at}`: transaction_type, product or order_type.")
    quantity = order.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise input_error(f"Invalid `{at}.quantity`: expected a whole number above 0.")
    limit = order_type is OrderType.LIMIT
    return GttLeg(
        trigger_paise=price_of(trigger, f"condition.trigger_values[{n}]"),
        side=side,
        quantity=quantity,
        order_type=order_type,
        price_paise=price_of(order.get("price"), f"{at}.price") if limit else 0,
        product=product,
    )


def gtt_terms(request: web.Request, form: Any) -> Terms:
    """(instrument, type, legs, last price) of a Kite GTT form; InputException naming the part
    at fault."""
    kind = KITE_TYPES.get(required(form, "type"))
    if kind is None:
        raise input_error("Invalid `type`: expected single or two-leg.")
    instrument, triggers, last_price = condition_of(request, form)
    orders = json_field(form, "orders")
    wanted = LEGS[kind]
    if len(triggers) != wanted:
        raise input_error(
            f"Invalid `condition.trigger_values`: a {TYPE_NAMES[kind]} GTT takes {wanted}."
        )
    if not isinstance(orders, list) or len(orders) != wanted:
        raise input_error(f"Invalid `orders`: a {TYPE_NAMES[kind]} GTT takes {wanted}.")
    legs = tuple(
        leg_of(order, trigger, n, instrument)
        for n, (trigger, order) in enumerate(zip(triggers, orders, strict=True))
    )
    if wanted == 2 and legs[0].trigger_paise >= legs[1].trigger_paise:
        raise input_error("Invalid `condition.trigger_values`: the lower (stop-loss) comes first.")
    return instrument, kind, legs, last_price


def answered(outcome: Outcome) -> str:
    """The GTT id an accepted command reports; its refusal as Kite's error otherwise."""
    check_outcome(outcome)
    if outcome.rejection is not None:
        where = f" ({outcome.refused_field})" if outcome.refused_field else ""
        raise KiteError(400, ErrorType.INPUT, REJECTION_MESSAGES[outcome.rejection] + where)
    if outcome.gtt is None:
        raise TypeError("an accepted GTT command reports its GTT")
    return outcome.gtt.gtt_id


@routes.post("/gtt/triggers")
async def place_gtt(request: web.Request) -> web.Response:
    access = access_of(request)
    instrument, kind, legs, last_price = gtt_terms(request, await form_of(request))
    placing = cmd.PlaceGttRequest(
        gtt_id=request.app[ENGINE].new_id(),
        instrument=instrument,
        gtt_type=kind,
        legs=legs,
        last_price_paise=last_price,
    )
    outcome = await request.app[BRIDGE].submit(access.account_id, placing)
    return success({"trigger_id": answered(outcome)})


async def own_row(request: web.Request, access: KiteAccess, gtt_id: str) -> Any:
    row = await gtt_by_id(request.app[DB].pool, gtt_id)
    if row is None or row["trading_account_id"] != access.account_id:
        raise input_error("Couldn't find that `trigger_id`.")
    return row


async def active_gtt(request: web.Request, access: KiteAccess, gtt_id: str) -> None:
    if request.app[ENGINE].locator.account_of_gtt(gtt_id) == access.account_id:
        return
    row = await own_row(request, access, gtt_id)
    raise input_error(f"The trigger is {row['status'].lower()}: not active.")


@routes.put("/gtt/triggers/{trigger_id}")
async def modify_gtt(request: web.Request) -> web.Response:
    access = access_of(request)
    gtt_id = request.match_info["trigger_id"]
    _, kind, legs, last_price = gtt_terms(request, await form_of(request))
    await active_gtt(request, access, gtt_id)
    modification = cmd.ModifyGttRequest(
        gtt_id=gtt_id, gtt_type=kind, legs=legs, last_price_paise=last_price
    )
    outcome = await request.app[BRIDGE].submit(access.account_id, modification)
    return success({"trigger_id": answered(outcome)})


@routes.delete("/gtt/triggers/{trigger_id}")
async def delete_gtt(request: web.Request) -> web.Response:
    access = access_of(request)
    gtt_id = request.match_info["trigger_id"]
    await active_gtt(request, access, gtt_id)
    outcome = await request.app[BRIDGE].submit(access.account_id, cmd.DeleteGttRequest(gtt_id))
    return success({"trigger_id": answered(outcome)})


def gtt_view(request: web.Request, row: Any, user_id: str) -> dict[str, Any]:
    """A stored GTT as Kite's trigger."""
    tokens = request.app[KITE_TOKENS]
    instrument = tokens.master.get(row["instrument_id"])
    exchange = "" if instrument is None else instrument.exchange.value
    symbol = row["instrument_id"] if instrument is None else instrument.symbol
    legs = msgspec.json.decode(row["legs"], type=tuple[GttLeg, ...])
    status = row["status"].lower()
    fired = row["triggered_leg"]
    orders = []
    for n, leg in enumerate(legs):
        result = None
        if fired == n:
            result = {
                "exchange": exchange,
                "tradingsymbol": symbol,
                "validity": "DAY",
                "product": leg.product.value,
                "order_type": leg.order_type.value,
                "transaction_type": leg.side.value,
                "quantity": leg.quantity,
                "price": paise_to_rupees(leg.price_paise),
                "meta": "",
                "timestamp": ist_text(row["updated_at"]),
                "triggered_at": paise_to_rupees(row["triggered_price_paise"] or 0),
                "order_result": {
                    "order_id": row["order_id"] or "",
                    "rejection_reason": row["rejection_reason"] or "",
                    "status": "failed" if row["rejection_reason"] else "success",
                },
            }
        orders.append(
            {
                "exchange": exchange,
                "tradingsymbol": symbol,
                "product": leg.product.value,
                "order_type": leg.order_type.value,
                "transaction_type": leg.side.value,
                "quantity": leg.quantity,
                "price": paise_to_rupees(leg.price_paise),
                "result": result,
            }
        )
    return {
        "id": row["id"],
        "user_id": user_id,
        "parent_trigger": None,
        "type": TYPE_NAMES[GttType(row["gtt_type"])],
        "created_at": ist_text(row["created_at"]),
        "updated_at": ist_text(row["updated_at"]),
        "expires_at": ist_text(row["expires_at"]),
        "status": status,
        "condition": {
            "exchange": exchange,
            "tradingsymbol": symbol,
            "instrument_token": 0 if instrument is None else tokens.token_of(instrument),
            "last_price": paise_to_rupees(row["last_price_paise"]),
            "trigger_values": [paise_to_rupees(leg.trigger_paise) for leg in legs],
        },
        "orders": orders,
        "meta": {},
    }


@routes.get("/gtt/triggers")
async def list_gtts(request: web.Request) -> web.Response:
    access = access_of(request)
    rows = await gtt_page(
        request.app[DB].pool,
        access.account_id,
        status=None,
        before=None,
        before_id="",
        limit=request.app[CONFIG].kite.orders_listed_max,
    )
    return success([gtt_view(request, row, access.user_id) for row in rows])


@routes.get("/gtt/triggers/{trigger_id}")
async def get_gtt(request: web.Request) -> web.Response:
    access = access_of(request)
    row = await own_row(request, access, request.match_info["trigger_id"])
    return success(gtt_view(request, row, access.user_id))
