"""GTT routes (docs/API.md "GTT"): place, list, read, modify and delete the caller's GTT
triggers. Writes go to the account's actor (``engine.domain.account.gtts``); reads come from
the ``gtts`` projection. Another user's GTT answers 404."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web

from engine.actors.account_actor import Outcome
from engine.domain import commands as cmd
from engine.domain.enums import Rejection
from engine.domain.gtt import GttType
from gateway import replies
from gateway.auth import current_user
from gateway.decoding import convert_query, field_failure
from gateway.errors import (
    NotFoundError,
    json_response,
    rejected,
    validation_failure,
)
from gateway.gtt_views import gtt_row_view, gtt_view, legs_of, refused_at
from gateway.keys import BRIDGE, DB, ENGINE, USERS
from gateway.outcomes import check_outcome
from gateway.ownership import check_body_user, decode_own_body, owned_account
from gateway.paging import decode_cursor, page_of
from gateway.route_table import Operation, RouteTable
from gateway.schemas import (
    FieldError,
    Id,
    ModifyGttBody,
    PlaceGttBody,
    optional_paise,
)
from persistence.read_models.gtts import gtt_by_id, gtt_page

routes = RouteTable()


class GttPath(msgspec.Struct, forbid_unknown_fields=True):
    id: Id


def _last_price(body: PlaceGttBody | ModifyGttBody) -> int | None:
    try:
        return None if body.last_price is None else optional_paise(body.last_price, "$.lastPrice")
    except FieldError as error:
        raise field_failure(error) from None


def _answer(request: web.Request, account_id: str, outcome: Outcome) -> web.Response:
    """The GTT an outcome left, or its refusal naming the field at fault."""
    check_outcome(outcome)
    rejection = outcome.rejection
    if rejection is not None:
        if not outcome.refused_field:
            raise rejected(rejection)
        raise refused_at(rejection, f"$.{outcome.refused_field}")
    if outcome.gtt is None:
        raise TypeError("an accepted GTT command reports its GTT")
    master = request.app[ENGINE].master
    return json_response({"gtt": gtt_view(outcome.gtt, account_id, master)})


@routes.post(
    "/api/trading/gtt",
    Operation(
        "Place a GTT: a single trigger, or two (OCO: a stop-loss below and a target above)",
        body=PlaceGttBody,
        refusals=(404, 409, 422),
        reply=replies.GttReply,
    ),
)
async def place_gtt(request: web.Request) -> web.Response:
    body = await decode_own_body(request, PlaceGttBody)
    account_id = await owned_account(request, body.trading_account_id)
    instrument = request.app[ENGINE].master.get(body.instrument_id)
    if instrument is None:
        raise validation_failure("$.instrumentId", "unknown instrument")
    placing = cmd.PlaceGttRequest(
        gtt_id=request.app[ENGINE].new_id(),
        instrument=instrument,
        gtt_type=GttType(body.type),
        legs=legs_of(body),
        last_price_paise=_last_price(body),
    )
    outcome = await request.app[BRIDGE].submit(account_id, placing)
    return _answer(request, account_id, outcome)


class GttListQuery(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    trading_account_id: str | None = None
    status: (
        Literal["ACTIVE", "TRIGGERED", "REJECTED", "CANCELLED", "EXPIRED", "DISABLED"] | None
    ) = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50
    cursor: Annotated[str, msgspec.Meta(max_length=200)] | None = None


@routes.get(
    "/api/trading/gtt",
    Operation(
        "List GTTs, newest first",
        query=GttListQuery,
        refusals=(404,),
        reply=replies.GttPage,
    ),
)
async def list_gtts(request: web.Request) -> web.Response:
    query = convert_query(dict(request.query), GttListQuery)
    account_id = await owned_account(request, query.trading_account_id)
    before, before_id = decode_cursor(query.cursor)
    rows = await gtt_page(
        request.app[DB].pool,
        account_id,
        status=query.status,
        before=before,
        before_id=before_id,
        limit=query.limit + 1,
    )
    master = request.app[ENGINE].master
    page, next_cursor = page_of(rows, query.limit)
    return json_response(
        {"items": [gtt_row_view(r, master) for r in page], "nextCursor": next_cursor}
    )


async def _owned_gtt_account(request: web.Request, gtt_id: str) -> str:
    """The caller's account holding the GTT ``gtt_id`` active (the engine's locator), else its
    stored row's if it is the caller's (the account then answers GTT_NOT_ACTIVE); 404 if it is
    unknown or another user's."""
    owned = await request.app[USERS].accounts_of(current_user(request).user_id)
    located = request.app[ENGINE].locator.account_of_gtt(gtt_id)
    if located is not None and located in owned:
        return located
    row = await gtt_by_id(request.app[DB].pool, gtt_id)
    if row is None or row["trading_account_id"] not in owned:
        raise NotFoundError("GTT")
    raise rejected(Rejection.GTT_NOT_ACTIVE)


@routes.get(
    "/api/trading/gtt/{id}",
    Operation("One GTT, any status", path=GttPath, refusals=(404,), reply=replies.GttReply),
)
async def get_gtt(request: web.Request) -> web.Response:
    path = convert_query(dict(request.match_info), GttPath)
    owned = await request.app[USERS].accounts_of(current_user(request).user_id)
    row = await gtt_by_id(request.app[DB].pool, path.id)
    if row is None or row["trading_account_id"] not in owned:
        raise NotFoundError("GTT")
    return json_response({"gtt": gtt_row_view(row, request.app[ENGINE].master)})


@routes.put(
    "/api/trading/gtt/{id}",
    Operation(
        "Replace an active GTT's triggers and orders",
        path=GttPath,
        body=ModifyGttBody,
        refusals=(404, 409, 422),
        reply=replies.GttReply,
    ),
)
async def modify_gtt(request: web.Request) -> web.Response:
    path = convert_query(dict(request.match_info), GttPath)
    body = await decode_own_body(request, ModifyGttBody)
    legs = legs_of(body)
    account_id = await _owned_gtt_account(request, path.id)
    modification = cmd.ModifyGttRequest(
        gtt_id=path.id,
        gtt_type=GttType(body.type),
        legs=legs,
        last_price_paise=_last_price(body),
    )
    outcome = await request.app[BRIDGE].submit(account_id, modification)
    return _answer(request, account_id, outcome)


@routes.delete(
    "/api/trading/gtt/{id}",
    Operation(
        "Delete an active GTT (it ends CANCELLED)",
        path=GttPath,
        refusals=(404, 409),
        reply=replies.GttReply,
    ),
)
async def delete_gtt(request: web.Request) -> web.Response:
    path = convert_query(dict(request.match_info), GttPath)
    check_body_user(request, None)
    account_id = await _owned_gtt_account(request, path.id)
    outcome = await request.app[BRIDGE].submit(account_id, cmd.DeleteGttRequest(path.id))
    return _answer(request, account_id, outcome)
