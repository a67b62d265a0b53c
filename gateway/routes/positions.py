"""Position routes (docs/API.md "Trading"): list, close at market, convert to another product,
set stop-loss and target."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from aiohttp import web

from engine.domain import commands as cmd
from engine.domain import events as ev
from engine.domain.enums import Product, Rejection
from engine.domain.money import paise_to_rupees
from engine.domain.positions import Position
from gateway import replies
from gateway.decoding import convert_query, field_failure
from gateway.errors import NotFoundError, json_response, refused_at, rejected
from gateway.keys import BRIDGE, DB, ENGINE
from gateway.outcomes import check_outcome
from gateway.ownership import decode_own_body, holding_account, owned_account
from gateway.route_table import Operation, RouteTable
from gateway.schemas import (
    ClosePositionBody,
    ConvertPositionBody,
    FieldError,
    RiskLevelsBody,
    to_paise,
)
from gateway.since import Since, since_seq
from gateway.views import iso_ms, order_row_view, position_row_view, position_view
from persistence.iceberg_rows import iceberg_row
from persistence.projection import at
from persistence.read_models.positions import closed_positions

routes = RouteTable()


class PositionQuery(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    trading_account_id: str | None = None
    status: Literal["OPEN", "CLOSED"] | None = None
    # Closed positions opened after the last reset (open ones always are: a reset closes all).
    since: Since | None = None


async def open_positions(request: web.Request, account_id: str) -> list[dict[str, Any]]:
    engine = request.app[ENGINE]
    views: list[dict[str, Any]] = await request.app[BRIDGE].inspect(
        account_id,
        lambda state: [
            position_view(p, account_id, engine.master, engine.market)
            for p in state.positions.values()
        ],
    )
    return views


@routes.get(
    "/api/trading/positions",
    Operation(
        "List positions (since=reset: closed ones opened after the last reset)",
        query=PositionQuery,
        refusals=(404,),
        reply=replies.PositionList,
    ),
)
async def list_positions(request: web.Request) -> web.Response:
    query = convert_query(dict(request.query), PositionQuery)
    account_id = await owned_account(request, query.trading_account_id)
    items: list[dict[str, Any]] = []
    if query.status in (None, "OPEN"):
        items.extend(await open_positions(request, account_id))
    if query.status in (None, "CLOSED"):
        rows = await closed_positions(
            request.app[DB].pool, account_id, await since_seq(request, account_id, query.since)
        )
        items.extend(position_row_view(row, request.app[ENGINE].master) for row in rows)
    return json_response({"items": items})


@routes.patch(
    "/api/trading/positions",
    Operation(
        "Set or clear stop-loss and target (null clears, absent keeps)",
        body=RiskLevelsBody,
        refusals=(404, 409, 422),
        reply=replies.PositionReply,
    ),
)
async def set_risk_levels(request: web.Request) -> web.Response:
    body = await decode_own_body(request, RiskLevelsBody)
    account_id, position = await open_position(request, body.position_id)
    try:
        stop_loss = _level(body.stop_loss, position.stop_loss_paise, "$.stopLoss")
        target = _level(body.target, position.target_paise, "$.target")
    except FieldError as error:
        raise field_failure(error) from None
    engine = request.app[ENGINE]
    levels = cmd.SetRiskLevelsRequest(body.position_id, stop_loss, target)
    outcome = await request.app[BRIDGE].submit(account_id, levels)
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise rejected(outcome.rejection)
    # The position as this change left it (a level the market already touched may close it
    # a moment later; the websocket and the positions list report that).
    updated = msgspec.structs.replace(position, stop_loss_paise=stop_loss, target_paise=target)
    view = position_view(updated, account_id, engine.master, engine.market)
    return json_response({"position": view})


@routes.post(
    "/api/trading/positions",
    Operation(
        "Close a position at market",
        body=ClosePositionBody,
        refusals=(404, 409, 422),
        reply=replies.PositionClosed,
    ),
)
async def close_position(request: web.Request) -> web.Response:
    body = await decode_own_body(request, ClosePositionBody)
    named = await owned_account(request, body.trading_account_id)
    account_id = await position_account(request, body.position_id)
    if account_id != named:
        raise NotFoundError("position")
    outcome = await request.app[BRIDGE].submit(
        account_id, cmd.ClosePositionRequest(body.position_id)
    )
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise rejected(outcome.rejection)
    position = outcome.position
    if position is None:
        raise TypeError("an accepted close reports the position it closed")
    fill = next(e for e in outcome.events if isinstance(e, ev.OrderFilled))
    exit_order = next(e for e in outcome.events if isinstance(e, ev.OrderAccepted))
    # Built from the outcome, never re-read: the answer is what was decided and journaled.
    master = request.app[ENGINE].master
    return json_response(
        {
            "position": position_row_view(closed_row(account_id, position, fill), master),
            "exitOrder": order_row_view(exit_order_row(account_id, exit_order, fill), master),
            "realizedPnl": paise_to_rupees(fill.realized_pnl_paise),
        }
    )


# The field of a conversion each business refusal is about (the request as a whole if absent).
_CONVERSION_FIELDS = {
    Rejection.PRODUCT_NOT_ALLOWED: "$.productType",
    Rejection.OPPOSITE_POSITION: "$.productType",
    Rejection.INVALID_QUANTITY: "$.quantity",
}


@routes.post(
    "/api/trading/positions/convert",
    Operation(
        "Convert units of a position to another product (MIS and CNC, MIS and NRML)",
        body=ConvertPositionBody,
        refusals=(404, 409, 422),
        reply=replies.PositionConversion,
    ),
)
async def convert_position(request: web.Request) -> web.Response:
    body = await decode_own_body(request, ConvertPositionBody)
    named = await owned_account(request, body.trading_account_id)
    account_id, position = await open_position(request, body.position_id)
    if account_id != named:
        raise NotFoundError("position")
    conversion = cmd.ConvertPositionRequest(
        body.position_id, Product(body.product_type), body.quantity
    )
    outcome = await request.app[BRIDGE].submit(account_id, conversion)
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise refused_at(outcome.rejection, _CONVERSION_FIELDS.get(outcome.rejection, "$"))
    converted = next(e for e in outcome.events if isinstance(e, ev.PositionConverted))
    engine = request.app[ENGINE]

    def views(state: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """Both positions as they are now (the source closed when all of it moved)."""
        source = state.positions.get(converted.position_id)
        target = state.positions.get(converted.target_position_id)
        source_view = (
            position_view(source, account_id, engine.master, engine.market)
            if source is not None
            else position_view(position, account_id, engine.master, engine.market)
            | {"quantity": 0, "averagePrice": 0.0, "unrealizedPnl": 0.0, "marginBlocked": 0.0}
            | {"status": "CLOSED", "closeReason": "CONVERTED"}
            | {"closedAt": iso_ms(converted.at_ms)}
        )
        target_view = (
            position_view(target, account_id, engine.master, engine.market)
            if target is not None
            else {"id": converted.target_position_id, "status": "CLOSED"}
        )
        return source_view, target_view

    source_view, target_view = await request.app[BRIDGE].inspect(account_id, views)
    return json_response({"position": source_view, "convertedPosition": target_view})


def closed_row(account_id: str, position: Position, fill: ev.OrderFilled) -> dict[str, Any]:
    """The ``positions`` row a close leaves, as its projection writes it."""
    closed_at = at(fill.at_ms)
    return {
        "id": position.position_id,
        "trading_account_id": account_id,
        "instrument_id": position.instrument_id,
        "product": position.product.value,
        "quantity": fill.position_quantity,
        "average_price_paise": 0,
        "realized_pnl_paise": position.realized_pnl_paise + fill.realized_pnl_paise,
        "margin_paise": fill.position_margin_paise,
        "stop_loss_paise": position.stop_loss_paise,
        "target_paise": position.target_paise,
        "status": "CLOSED" if fill.position_quantity == 0 else "OPEN",
        "close_reason": "CLOSED" if fill.position_quantity == 0 else None,
        "opened_at": at(position.opened_ms),
        "closed_at": closed_at if fill.position_quantity == 0 else None,
    }


def exit_order_row(
    account_id: str, accepted: ev.OrderAccepted, fill: ev.OrderFilled
) -> dict[str, Any]:
    """The ``orders`` row of a close's exit order (accepted and filled in one decision)."""
    done = at(fill.at_ms)
    return {
        "id": accepted.order_id,
        "client_order_id": None,
        "tag": None,
        "after_market": False,
        **iceberg_row(None),
        "trading_account_id": account_id,
        "instrument_id": accepted.instrument_id,
        "product": accepted.product.value,
        "order_type": accepted.order_type.value,
        "side": accepted.side.value,
        "validity": accepted.validity.value,
        "quantity": accepted.quantity,
        "filled_quantity": fill.quantity,
        "price_paise": 0,
        "trigger_paise": 0,
        "average_price_paise": fill.price_paise,
        "status": fill.status_after.value,
        "rejection_reason": None,
        "cancel_reason": None,
        "margin_blocked_paise": 0,
        "charges_paise": fill.charges_paise,
        "created_at": at(accepted.at_ms),
        "updated_at": done,
        "executed_at": done,
    }


async def position_account(request: web.Request, position_id: str) -> str:
    """The caller's account whose open position this is (409 POSITION_CLOSED if it closed)."""
    located = request.app[ENGINE].locator.account_of_position(position_id)
    return await holding_account(
        request, "position", position_id, located, Rejection.POSITION_CLOSED
    )


async def open_position(request: web.Request, position_id: str) -> tuple[str, Position]:
    """An open position of the caller's, from its account (the database may lag behind it);
    409 POSITION_CLOSED if it has closed, 404 if unknown or not the caller's."""
    account_id = await position_account(request, position_id)
    position: Position | None = await request.app[BRIDGE].inspect(
        account_id,
        lambda state: (
            msgspec.structs.replace(state.positions[position_id])
            if position_id in state.positions
            else None
        ),
    )
    if position is None:
        raise rejected(Rejection.POSITION_CLOSED)  # closed since the lookup
    return account_id, position


def _level(value: float | msgspec.UnsetType | None, current: int | None, path: str) -> int | None:
    """Absent keeps the current level, null clears it, a number sets it."""
    if value is msgspec.UNSET:
        return current
    if value is None:
        return None
    assert isinstance(value, float | int)
    return to_paise(float(value), path)
