"""Position routes (API.md "Trading"): list, close at market, set stop-loss and target."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from aiohttp import web

from engine import commands as cmd
from engine import events as ev
from engine.enums import Rejection
from engine.money import paise_to_rupees
from engine.positions import Position
from gateway.auth import current_user
from gateway.decoding import convert_query, field_failure
from gateway.errors import json_response
from gateway.keys import BRIDGE, DB, ENGINE, USERS
from gateway.order_routes import check_outcome, rejected
from gateway.ownership import (
    NotFoundError,
    decode_own_body,
    owned_account,
    require_owned_row,
)
from gateway.schemas import ClosePositionBody, FieldError, RiskLevelsBody, to_paise
from gateway.views import order_row_view, position_row_view, position_view

routes = web.RouteTableDef()


class PositionQuery(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    trading_account_id: str | None = None
    status: Literal["OPEN", "CLOSED"] | None = None


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


@routes.get("/api/trading/positions")
async def list_positions(request: web.Request) -> web.Response:
    query = convert_query(dict(request.query), PositionQuery)
    account_id = await owned_account(request, query.trading_account_id)
    items: list[dict[str, Any]] = []
    if query.status in (None, "OPEN"):
        items.extend(await open_positions(request, account_id))
    if query.status in (None, "CLOSED"):
        rows = await request.app[DB].pool.fetch(
            "SELECT * FROM positions WHERE trading_account_id = $1 AND status = 'CLOSED'"
            " ORDER BY closed_at DESC NULLS LAST LIMIT 500",
            account_id,
        )
        items.extend(position_row_view(row, request.app[ENGINE].master) for row in rows)
    return json_response({"items": items})


@routes.post("/api/trading/positions")
async def close_position(request: web.Request) -> web.Response:
    body = await decode_own_body(request, ClosePositionBody)
    named = await owned_account(request, body.trading_account_id)
    account_id, position = await open_position(request, body.position_id)
    if account_id != named:
        raise NotFoundError("position")
    instrument = request.app[ENGINE].master.get(position.instrument_id)
    assert instrument is not None
    command = cmd.ClosePosition(
        now_ms=0,
        position_id=body.position_id,
        exit_order_id="",
        instrument=instrument,
        price_paise=0,
    )
    outcome = await request.app[BRIDGE].submit(account_id, command)
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise rejected(outcome.rejection)
    fill = next(e for e in outcome.events if isinstance(e, ev.OrderFilled))
    exit_order = next(e for e in outcome.events if isinstance(e, ev.OrderAccepted))
    pool = request.app[DB].pool
    master = request.app[ENGINE].master
    position_row = await pool.fetchrow("SELECT * FROM positions WHERE id = $1", body.position_id)
    order_row = await pool.fetchrow("SELECT * FROM orders WHERE id = $1", exit_order.order_id)
    return json_response(
        {
            "position": position_row_view(position_row, master) if position_row else None,
            "exitOrder": order_row_view(order_row, master)
            if order_row
            else {"id": exit_order.order_id},
            "realizedPnl": paise_to_rupees(fill.realized_pnl_paise),
        }
    )


@routes.patch("/api/trading/positions")
async def set_risk_levels(request: web.Request) -> web.Response:
    body = await decode_own_body(request, RiskLevelsBody)
    account_id, position = await open_position(request, body.position_id)
    try:
        stop_loss = _level(body.stop_loss, position.stop_loss_paise, "$.stopLoss")
        target = _level(body.target, position.target_paise, "$.target")
    except FieldError as error:
        raise field_failure(error) from None
    engine = request.app[ENGINE]
    instrument = engine.master.get(position.instrument_id)
    assert instrument is not None
    command = cmd.SetRiskLevels(
        now_ms=0,
        position_id=body.position_id,
        tick_paise=instrument.tick_paise,
        stop_loss_paise=stop_loss,
        target_paise=target,
    )
    outcome = await request.app[BRIDGE].submit(account_id, command)
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise rejected(outcome.rejection)
    # The position as this change left it (a level the market already touched may close it
    # a moment later; the websocket and the positions list report that).
    updated = msgspec.structs.replace(position, stop_loss_paise=stop_loss, target_paise=target)
    view = position_view(updated, account_id, engine.master, engine.market)
    return json_response({"position": view})


async def open_position(request: web.Request, position_id: str) -> tuple[str, Position]:
    """An open position of the caller's, from the engine (the database may lag behind it);
    409 POSITION_CLOSED if it has closed, 404 if unknown or not the caller's."""
    for account_id in await request.app[USERS].accounts_of(current_user(request).user_id):
        position: Position | None = await request.app[BRIDGE].inspect(
            account_id,
            lambda state: (
                msgspec.structs.replace(state.positions[position_id])
                if position_id in state.positions
                else None
            ),
        )
        if position is not None:
            return account_id, position
    await require_owned_row(request, "position", position_id)  # 404 unless the caller's
    raise rejected(Rejection.POSITION_CLOSED)


def _level(value: float | msgspec.UnsetType | None, current: int | None, path: str) -> int | None:
    """Absent keeps the current level, null clears it, a number sets it."""
    if value is msgspec.UNSET:
        return current
    if value is None:
        return None
    assert isinstance(value, float | int)
    return to_paise(float(value), path)
