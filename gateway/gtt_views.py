"""GTTs as the API shows them (docs/API.md "GTT"), from the engine's GTT or its stored row, and
GTT bodies as the engine's legs."""

from __future__ import annotations

from typing import Any

import msgspec
from asyncpg import Record

from engine.domain import events as ev
from engine.domain.account.state import AccountState
from engine.domain.enums import OrderType, Product, Rejection, Side
from engine.domain.gtt import Gtt, GttLeg, GttStatus
from engine.domain.instruments import InstrumentMaster
from engine.domain.money import paise_to_rupees
from gateway.decoding import field_failure
from gateway.errors import REJECTION_MESSAGES, REJECTION_STATUS, ApiError, error_response
from gateway.schemas import FieldError, GttTermsBody, optional_paise, to_paise
from gateway.views import iso_ms
from persistence.projection import ms_of


def refused_at(rejection: Rejection, path: str) -> ApiError:
    """A business refusal of a GTT's terms naming the field at fault (``$.orders[1].quantity``)."""
    message = REJECTION_MESSAGES[rejection]
    details = [{"path": path, "message": message}]
    return ApiError(error_response(REJECTION_STATUS[rejection], rejection.value, message, details))


def legs_of(body: GttTermsBody) -> tuple[GttLeg, ...]:
    """The engine's legs of a GTT body. A schema-valid body whose triggers and orders do not
    match its type is refused as the engine refuses terms (422 ``INVALID_TRIGGER`` naming the
    field); a LIMIT leg without a price, a MARKET leg with one, or two triggers out of order
    reach the engine's checks, which name the field at fault."""
    wanted = 2 if body.type == "TWO_LEG" else 1
    if len(body.trigger_values) != wanted:
        raise refused_at(Rejection.INVALID_TRIGGER, "$.triggerValues")
    if len(body.orders) != wanted:
        raise refused_at(Rejection.INVALID_TRIGGER, "$.orders")
    legs: list[GttLeg] = []
    try:
        for n, (trigger, order) in enumerate(zip(body.trigger_values, body.orders, strict=True)):
            legs.append(
                GttLeg(
                    trigger_paise=to_paise(trigger, f"$.triggerValues[{n}]"),
                    side=Side(order.order_side),
                    quantity=order.quantity,
                    order_type=OrderType(order.order_type),
                    price_paise=optional_paise(order.price, f"$.orders[{n}].price"),
                    product=Product(order.product_type),
                )
            )
    except FieldError as error:
        raise field_failure(error) from None
    return tuple(legs)


def _names(master: InstrumentMaster, instrument_id: str) -> dict[str, Any]:
    instrument = master.get(instrument_id)
    return {
        "instrumentId": instrument_id,
        "symbol": None if instrument is None else instrument.symbol,
        "exchange": None if instrument is None else instrument.exchange.value,
    }


def _orders(legs: tuple[GttLeg, ...]) -> list[dict[str, Any]]:
    return [
        {
            "orderSide": leg.side.value,
            "quantity": leg.quantity,
            "orderType": leg.order_type.value,
            "price": paise_to_rupees(leg.price_paise) if leg.price_paise else None,
            "productType": leg.product.value,
        }
        for leg in legs
    ]


def gtt_view(
    gtt: Gtt, account_id: str, master: InstrumentMaster, fired: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The engine's GTT (``fired``: what its firing placed, when it fired)."""
    return {
        "id": gtt.gtt_id,
        "tradingAccountId": account_id,
        **_names(master, gtt.instrument_id),
        "type": gtt.gtt_type.value,
        "status": gtt.status.value,
        "lastPrice": paise_to_rupees(gtt.last_price_paise),
        "triggerValues": [paise_to_rupees(leg.trigger_paise) for leg in gtt.legs],
        "orders": _orders(gtt.legs),
        "version": gtt.version,
        "triggeredLeg": None,
        "triggeredPrice": None,
        "orderId": None,
        "rejectionReason": None,
        **(fired or {}),
        "createdAt": iso_ms(gtt.created_ms),
        "updatedAt": iso_ms(gtt.updated_ms),
        "expiresAt": iso_ms(gtt.expires_ms),
    }


def gtt_row_view(row: Record, master: InstrumentMaster) -> dict[str, Any]:
    """A stored GTT, any status."""
    legs = msgspec.json.decode(row["legs"], type=tuple[GttLeg, ...])
    fired = row["triggered_price_paise"]
    return {
        "id": row["id"],
        "tradingAccountId": row["trading_account_id"],
        **_names(master, row["instrument_id"]),
        "type": row["gtt_type"],
        "status": row["status"],
        "lastPrice": paise_to_rupees(row["last_price_paise"]),
        "triggerValues": [paise_to_rupees(leg.trigger_paise) for leg in legs],
        "orders": _orders(legs),
        "version": row["version"],
        "triggeredLeg": row["triggered_leg"],
        "triggeredPrice": None if fired is None else paise_to_rupees(fired),
        "orderId": row["order_id"],
        "rejectionReason": row["rejection_reason"],
        "createdAt": iso_ms(ms_of(row["created_at"])),
        "updatedAt": iso_ms(ms_of(row["updated_at"])),
        "expiresAt": iso_ms(ms_of(row["expires_at"])),
    }


def gtt_change(
    event: ev.AccountEvent, state: AccountState, master: InstrumentMaster
) -> dict[str, Any]:
    """A GTT event as the websocket's ``gtt`` frame (``state`` just after it): the GTT whole
    while it is active; once it ended, its id, final status and what its firing placed."""
    gtt_id: str = getattr(event, "gtt_id", "")
    active = state.gtts.get(gtt_id)
    if active is not None:
        return gtt_view(active, state.account_id, master)
    change: dict[str, Any] = {
        "id": gtt_id,
        "tradingAccountId": state.account_id,
        "status": GttStatus.CANCELLED.value,
        "updatedAt": iso_ms(event.at_ms),
    }
    if isinstance(event, ev.GttExpired):
        change["status"] = event.status
    elif isinstance(event, ev.GttTriggered):
        rejected = bool(event.rejection)
        change |= {
            "status": (GttStatus.REJECTED if rejected else GttStatus.TRIGGERED).value,
            "triggeredLeg": event.leg,
            "triggeredPrice": paise_to_rupees(event.ltp_paise),
            "orderId": event.placed_order_id,
            "rejectionReason": event.rejection or None,
        }
    return change
