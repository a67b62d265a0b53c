"""Funds, charges preview and margin previews, of an order and of a basket (docs/API.md
"Trading")."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from aiohttp import web

from engine.domain import commands as cmd
from engine.domain.charges import breakeven_points_paise, charge_category, round_trip_charges
from engine.domain.enums import Exchange, FundKind, Product, Rejection, Segment
from engine.domain.margin import leverage_x100
from engine.domain.money import paise_to_rupees
from gateway import replies
from gateway.auth import current_user
from gateway.decoding import convert_query, field_failure
from gateway.errors import (
    ApiError,
    NotFoundError,
    error_response,
    json_response,
    rejected,
    validation_failure,
)
from gateway.funds_views import funds_of, operation_result
from gateway.keys import BRIDGE, CONFIG, DB, ENGINE
from gateway.margin_views import basket_view
from gateway.order_commands import (
    order_from_request,
    place_command,
    refused_order,
    resolve_instrument,
)
from gateway.outcomes import check_outcome
from gateway.ownership import decode_own_body, owned_account, refuse_own_account
from gateway.route_table import Operation, RouteTable
from gateway.schemas import (
    BasketBody,
    ChargesBody,
    FieldError,
    FundOperationBody,
    PlaceOrderBody,
    to_paise,
)
from persistence.read_models.requests import block_held_by_withdrawal
from persistence.trading_accounts import owner_of

routes = RouteTable()


class FundsQuery(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    trading_account_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None


@routes.get(
    "/api/trading/funds",
    Operation("Funds of a trading account", query=FundsQuery, refusals=(404,), reply=replies.Funds),
)
async def get_funds(request: web.Request) -> web.Response:
    query = convert_query(dict(request.query), FundsQuery)
    account_id = await owned_account(request, query.trading_account_id)
    return json_response(await funds_of(request, account_id))


async def operated_account(request: web.Request, account_id: str) -> None:
    """The account an admin operates on directly: 404 if there is none, 403 if it is their own."""
    owner = await owner_of(request.app[DB].pool, account_id)
    if owner is None:
        raise NotFoundError("trading account")
    refuse_own_account(request, str(owner))


async def refuse_withdrawal_block(request: web.Request, account_id: str, block_id: str) -> None:
    """Refuse an admin BLOCK or RELEASE naming a withdrawal's block (409).

    Only the withdrawal's decision releases its block: released here, the withdrawal would stay
    PENDING with nothing to debit or release, and APPROVE and REJECT would answer 404 for ever.
    A BLOCK reusing the id would make an admin block this same rule could never release.
    The block's own kind is checked as well as the request row, because a withdrawal blocks its
    amount first and writes its row after: in between only the kind says whose block it is.
    """
    owned = await block_held_by_withdrawal(request.app[DB].pool, account_id, block_id)
    if owned:
        raise ApiError(
            error_response(
                409,
                "BLOCK_OWNED_BY_WITHDRAWAL",
                "This block holds a withdrawal; approve or reject the withdrawal instead.",
                [{"path": "$.blockId", "message": "names the block of a withdrawal"}],
            )
        )


@routes.post(
    "/api/trading/funds",
    Operation(
        "Admin: block, release, credit or debit funds",
        body=FundOperationBody,
        refusals=(404, 409, 422),
        reply=replies.FundsMoved,
    ),
    access="admin",
)
async def fund_operation(request: web.Request) -> web.Response:
    body = await decode_own_body(request, FundOperationBody)
    await operated_account(request, body.trading_account_id)
    try:
        amount = to_paise(body.amount, "$.amount")
    except FieldError as error:
        raise field_failure(error) from None
    reference = body.description or f"admin:{current_user(request).user_id}"
    command: cmd.AccountRequest
    if body.operation == "CREDIT":
        command = cmd.CreditFundsRequest(
            amount_paise=amount, kind=FundKind.ADJUSTMENT, reference=reference
        )
    elif body.operation == "DEBIT":
        command = cmd.DebitFundsRequest(
            amount_paise=amount, kind=FundKind.ADJUSTMENT, reference=reference
        )
    elif body.operation == "BLOCK":
        if body.block_id is not None:
            await refuse_withdrawal_block(request, body.trading_account_id, body.block_id)
        command = cmd.BlockFundsRequest(
            block_id=body.block_id or request.app[ENGINE].new_id(),
            amount_paise=amount,
            kind=FundKind.ADMIN,
        )
    else:
        if body.block_id is None:
            raise validation_failure("$.blockId", "RELEASE needs the blockId of the block")
        await refuse_withdrawal_block(request, body.trading_account_id, body.block_id)
        command = cmd.ReleaseFundsRequest(block_id=body.block_id, amount_paise=amount)
    outcome = await request.app[BRIDGE].submit(body.trading_account_id, command)
    check_outcome(outcome)
    if outcome.rejection is not None:
        raise rejected(outcome.rejection)
    result = await operation_result(request, body.trading_account_id, outcome)
    if isinstance(command, cmd.BlockFundsRequest | cmd.ReleaseFundsRequest):
        result["blockId"] = command.block_id  # what a later RELEASE names
    return json_response(result)


@routes.post(
    "/api/trading/charges",
    Operation("Charges of a round trip or one leg", body=ChargesBody, reply=replies.Charges),
)
async def charges_preview(request: web.Request) -> web.Response:
    body = await decode_own_body(request, ChargesBody)
    if body.buy_price is None and body.sell_price is None:
        raise validation_failure("$.buyPrice", "give a buyPrice, a sellPrice or both")
    try:
        buy = 0 if body.buy_price is None else to_paise(body.buy_price, "$.buyPrice")
        sell = 0 if body.sell_price is None else to_paise(body.sell_price, "$.sellPrice")
    except FieldError as error:
        raise field_failure(error) from None
    segment = Segment(body.segment)
    product = Product(body.product_type)
    try:
        category = charge_category(segment, product)
    except ValueError:
        raise validation_failure(
            "$.productType", f"{product.value} is not traded in {segment.value}"
        ) from None
    engine = request.app[ENGINE]
    schedule = request.app[CONFIG].charges.on(engine.rules.trade_date(engine.clock.now_ms()))
    charges = round_trip_charges(
        schedule, category, Exchange(body.exchange).value, buy * body.quantity, sell * body.quantity
    )
    payload: dict[str, Any] = {
        "brokerage": paise_to_rupees(charges.brokerage_paise),
        "stt": paise_to_rupees(charges.stt_paise),
        "exchangeTxn": paise_to_rupees(charges.exchange_paise),
        "sebi": paise_to_rupees(charges.sebi_paise),
        "gst": paise_to_rupees(charges.gst_paise),
        "stampDuty": paise_to_rupees(charges.stamp_paise),
        "dpCharges": paise_to_rupees(charges.dp_paise),
        "total": paise_to_rupees(charges.total_paise),
    }
    if buy and sell:
        gross = (sell - buy) * body.quantity
        payload["netPnl"] = paise_to_rupees(gross - charges.total_paise)
        payload["breakevenPoints"] = paise_to_rupees(
            breakeven_points_paise(charges.total_paise, body.quantity)
        )
    return json_response(payload)


@routes.post(
    "/api/trading/margins",
    Operation(
        "Margin and charges an order would need, placing nothing",
        body=PlaceOrderBody,
        refusals=(404, 422),
        reply=replies.Margin,
    ),
)
async def margin_preview(request: web.Request) -> web.Response:
    _, account_id, order = await order_from_request(request, "preview")
    requirements, available, quote = await request.app[BRIDGE].preview(account_id, order)
    if requirements.rejection is not None and requirements.block_paise == 0:
        raise rejected(requirements.rejection)
    value = order.quantity * (
        order.price_paise or order.trigger_paise or (quote.ask_paise if quote else 0)
    )
    return json_response(
        {
            "required": paise_to_rupees(requirements.block_paise),
            "leverage": leverage_x100(value, requirements.block_paise) / 100,
            "availableMargin": paise_to_rupees(available),
            "charges": paise_to_rupees(requirements.charges_paise),
            "sufficient": requirements.rejection is None,
        }
    )


@routes.post(
    "/api/trading/margins/basket",
    Operation(
        "Margins of a basket of orders, each alone and all together, placing nothing",
        body=BasketBody,
        refusals=(404, 422),
        reply=replies.BasketMargin,
    ),
)
async def basket_margin_preview(request: web.Request) -> web.Response:
    body = await decode_own_body(request, BasketBody)
    orders_max = request.app[CONFIG].limits.basket_orders_max
    if len(body.orders) > orders_max:
        raise validation_failure("$.orders", f"at most {orders_max} orders per basket")
    account_id = await owned_account(request, body.trading_account_id)
    requests = []
    for n, order in enumerate(body.orders):
        at = f"$.orders[{n}]"
        instrument = resolve_instrument(request, order, at)
        requests.append(place_command(order, instrument, f"preview-{n}", at=at))
    margins, available = await request.app[BRIDGE].preview_basket(account_id, tuple(requests))
    # As the margin preview: an order short of funds is priced and flagged; an order any other
    # rule refuses is not a basket that could be placed, and answers that rule's 422.
    for n, priced in enumerate(margins.orders):
        rejection = priced.requirements.rejection
        if rejection is not None and rejection is not Rejection.INSUFFICIENT_FUNDS:
            raise refused_order(rejection, f"$.orders[{n}]")
    return json_response(basket_view(margins, available))
