"""Kite's portfolio and funds routes (docs/KITE.md "Portfolio"): ``/portfolio/positions``
(``net`` and ``day``, and their conversion), ``/portfolio/holdings``, ``/user/profile``,
``/user/margins`` and ``/user/margins/{segment}``, read from the account's actor as
paperdesk's own routes are.

paperdesk keeps one net position per instrument and product, with its signed cost, not Kite's
separate buy and sell legs; the legs shown are what that net position amounts to (a long one
bought, a short one sold). Its funds are one pool for every segment, so ``equity`` and
``commodity`` show the same pool.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.domain import commands as cmd
from engine.domain.account.state import AccountState
from engine.domain.enums import Rejection, Side
from engine.domain.instruments import InstrumentMaster
from engine.domain.money import paise_to_rupees
from engine.domain.positions import Position
from engine.market.market_data import MarketData
from gateway.errors import REJECTION_MESSAGES
from gateway.funds_views import funds_of
from gateway.keys import BRIDGE, CONFIG, DB, ENGINE, USERS
from gateway.kite.access import access_of
from gateway.kite.order_format import instrument_fields
from gateway.kite.order_routes import KITE_PRODUCTS, choice, instrument_of, positive
from gateway.kite.profile import profile_view
from gateway.kite.tokens import KITE_TOKENS, KiteTokens
from gateway.kite.wire import (
    ErrorType,
    KiteError,
    form_of,
    input_error,
    required,
    success,
    whole_number,
)
from gateway.outcomes import check_outcome
from gateway.trade_days import current_trade_day
from persistence.read_models.positions import positions_closed_since

routes = web.RouteTableDef()

SEGMENTS = ("equity", "commodity")


def marks(master: InstrumentMaster, market: MarketData, instrument_id: str) -> tuple[int, int]:
    """(last price, previous close) of an instrument in paise; zeros when it has none."""
    index = master.index_of(instrument_id)
    if index is None or index >= len(market.snapshot.ltp):
        return 0, 0
    return int(market.snapshot.ltp[index]), int(market.previous_close[index])


def position_view(position: Position, tokens: KiteTokens, market: MarketData) -> dict[str, Any]:
    last, close = marks(tokens.master, market, position.instrument_id)
    quantity, cost = position.quantity, position.cost_paise
    unrealised = quantity * last - cost if last else 0
    realised = position.realized_pnl_paise
    bought, sold = (quantity, 0) if quantity > 0 else (0, -quantity)
    average = position.average_price_paise()
    return {
        **instrument_fields(tokens, position.instrument_id),
        "product": position.product.value,
        "quantity": quantity,
        "overnight_quantity": 0,
        "multiplier": 1,
        "average_price": paise_to_rupees(average),
        "close_price": paise_to_rupees(close),
        "last_price": paise_to_rupees(last),
        "value": paise_to_rupees(realised - cost),
        "pnl": paise_to_rupees(realised + unrealised),
        "m2m": paise_to_rupees(unrealised),
        "unrealised": paise_to_rupees(unrealised),
        "realised": paise_to_rupees(realised),
        "buy_quantity": bought,
        "buy_price": paise_to_rupees(average if bought else 0),
        "buy_value": paise_to_rupees(abs(cost) if bought else 0),
        "buy_m2m": paise_to_rupees(abs(cost) if bought else 0),
        "sell_quantity": sold,
        "sell_price": paise_to_rupees(average if sold else 0),
        "sell_value": paise_to_rupees(abs(cost) if sold else 0),
        "sell_m2m": paise_to_rupees(abs(cost) if sold else 0),
        "day_buy_quantity": bought,
        "day_buy_price": paise_to_rupees(average if bought else 0),
        "day_buy_value": paise_to_rupees(abs(cost) if bought else 0),
        "day_sell_quantity": sold,
        "day_sell_price": paise_to_rupees(average if sold else 0),
        "day_sell_value": paise_to_rupees(abs(cost) if sold else 0),
    }


def closed_view(row: Any, tokens: KiteTokens, market: MarketData) -> dict[str, Any]:
    """A position closed today, as Kite lists one: quantity 0, its realised P&L."""
    last, close = marks(tokens.master, market, row["instrument_id"])
    realised = row["realized_pnl_paise"]
    zero = paise_to_rupees(0)
    legs = ("buy", "sell", "day_buy", "day_sell")
    return {
        **instrument_fields(tokens, row["instrument_id"]),
        "product": row["product"],
        "quantity": 0,
        "overnight_quantity": 0,
        "multiplier": 1,
        "average_price": zero,
        "close_price": paise_to_rupees(close),
        "last_price": paise_to_rupees(last),
        "value": paise_to_rupees(realised),
        "pnl": paise_to_rupees(realised),
        "m2m": zero,
        "unrealised": zero,
        "realised": paise_to_rupees(realised),
        **{f"{leg}_quantity": 0 for leg in legs},
        **{f"{leg}_{figure}": zero for leg in legs for figure in ("price", "value")},
        "buy_m2m": zero,
        "sell_m2m": zero,
    }


@routes.get("/portfolio/positions")
async def positions(request: web.Request) -> web.Response:
    """The open positions, then those closed in the trade day (quantity 0), as ``net`` and
    ``day`` alike."""
    access = access_of(request)
    market, tokens = request.app[ENGINE].market, request.app[KITE_TOKENS]

    def views(state: AccountState) -> list[dict[str, Any]]:
        return [position_view(p, tokens, market) for p in state.positions.values()]

    net = await request.app[BRIDGE].inspect(access.account_id, views)
    day_start, _ = current_trade_day(request)
    limit = request.app[CONFIG].kite.orders_listed_max
    closed = await positions_closed_since(request.app[DB].pool, access.account_id, day_start, limit)
    net += [closed_view(row, tokens, market) for row in closed]
    return success({"net": net, "day": net})


POSITION_TYPES = frozenset({"day", "overnight"})


@routes.put("/portfolio/positions")
async def convert_position(request: web.Request) -> web.Response:
    """Kite's position conversion: move ``quantity`` of the open position in ``old_product``
    to ``new_product`` (docs/DOMAIN.md §1). ``transaction_type`` names the position's side
    (BUY a long one, SELL a short one); paperdesk keeps one net position per product, so
    ``position_type`` (``day`` or ``overnight``) names the same position either way."""
    access = access_of(request)
    form = await form_of(request)
    instrument = instrument_of(request, required(form, "exchange"), required(form, "tradingsymbol"))
    side = choice(form, "transaction_type", {s.value: s for s in Side})
    if required(form, "position_type").lower() not in POSITION_TYPES:
        raise input_error("Invalid `position_type`: expected day or overnight.")
    old_product = choice(form, "old_product", KITE_PRODUCTS)
    new_product = choice(form, "new_product", KITE_PRODUCTS)
    quantity = positive(whole_number(form, "quantity"), "quantity")
    instrument_id = instrument.instrument_id

    def held(state: AccountState) -> str | None:
        position = state.position_for(instrument_id, old_product)
        if position is None or (position.quantity > 0) != (side is Side.BUY):
            return None
        return position.position_id

    position_id = await request.app[BRIDGE].inspect(access.account_id, held)
    if position_id is None:
        raise input_error(
            f"No open {side.value} {old_product.value} position in"
            f" {instrument.exchange.value}:{instrument.symbol} to convert."
        )
    conversion = cmd.ConvertPositionRequest(position_id, new_product, quantity)
    outcome = await request.app[BRIDGE].submit(access.account_id, conversion)
    check_outcome(outcome)
    if outcome.rejection is not None:
        error_type = ErrorType.INPUT if outcome.rejection in INPUT_REFUSALS else ErrorType.ORDER
        raise KiteError(400, error_type, REJECTION_MESSAGES[outcome.rejection])
    return success(True)


# The refusals of a conversion that are about its parameters, not the account's state.
INPUT_REFUSALS = frozenset(
    {Rejection.PRODUCT_NOT_ALLOWED, Rejection.INVALID_QUANTITY, Rejection.OPPOSITE_POSITION}
)


def holding_views(state: AccountState, tokens: KiteTokens, market: MarketData) -> list[Any]:
    views = []
    for holding in state.holdings.values():
        instrument = tokens.master.get(holding.instrument_id)
        last, close = marks(tokens.master, market, holding.instrument_id)
        quantity = holding.quantity
        average = holding.cost_paise // quantity if quantity else 0
        views.append(
            {
                **instrument_fields(tokens, holding.instrument_id),
                "isin": "" if instrument is None else instrument.isin,
                "product": "CNC",
                "price": 0.0,
                "quantity": quantity,
                "used_quantity": 0,
                "t1_quantity": 0,
                "realised_quantity": quantity,
                "authorised_quantity": 0,
                "authorised_date": None,
                "opening_quantity": quantity,
                "collateral_quantity": 0,
                "collateral_type": "",
                "discrepancy": False,
                "average_price": paise_to_rupees(average),
                "last_price": paise_to_rupees(last),
                "close_price": paise_to_rupees(close),
                "pnl": paise_to_rupees(quantity * last - holding.cost_paise if last else 0),
                "day_change": paise_to_rupees(last - close if last and close else 0),
                "day_change_percentage": round((last - close) * 100 / close, 2)
                if last and close
                else 0.0,
            }
        )
    return views


@routes.get("/portfolio/holdings")
async def holdings(request: web.Request) -> web.Response:
    market, tokens = request.app[ENGINE].market, request.app[KITE_TOKENS]
    views = await request.app[BRIDGE].inspect(
        access_of(request).account_id, lambda state: holding_views(state, tokens, market)
    )
    return success(views)


@routes.get("/user/profile")
async def profile(request: web.Request) -> web.Response:
    user = await request.app[USERS].by_id(access_of(request).user_id)
    return success(profile_view(user))


def segment_margins(funds: dict[str, Any]) -> dict[str, Any]:
    """paperdesk's funds (docs/API.md) as one of Kite's segments: ``net`` is the available
    margin, marked to market; ``utilised.debits`` every block less the counted mark to market,
    so that ``available.cash - utilised.debits == net``; ``span`` the margin positions block
    (SPAN and exposure together), ``delivery`` the holdings' cost."""
    balance, net = funds["balance"], funds["availableMargin"]
    return {
        "enabled": True,
        "net": net,
        "available": {
            "adhoc_margin": 0.0,
            "cash": balance,
            "opening_balance": balance,
            "live_balance": net,
            "collateral": 0.0,
            "intraday_payin": 0.0,
        },
        "utilised": {
            "debits": round(balance - net, 2),
            "exposure": 0.0,
            "m2m_realised": funds["realizedPnl"],
            "m2m_unrealised": funds["unrealizedPnl"],
            "option_premium": 0.0,
            "payout": 0.0,
            "span": funds["requiredMargin"],
            "holding_sales": 0.0,
            "turnover": 0.0,
            "liquid_collateral": 0.0,
            "stock_collateral": 0.0,
            "delivery": round(funds["usedMargin"] - funds["requiredMargin"], 2),
        },
    }


@routes.get("/user/margins")
async def margins(request: web.Request) -> web.Response:
    funds = await funds_of(request, access_of(request).account_id)
    return success({segment: segment_margins(funds) for segment in SEGMENTS})


@routes.get("/user/margins/{segment}")
async def segment_margin(request: web.Request) -> web.Response:
    segment = request.match_info["segment"]
    if segment not in SEGMENTS:
        raise input_error(f"Invalid segment `{segment}`: expected equity or commodity.")
    funds = await funds_of(request, access_of(request).account_id)
    return success(segment_margins(funds))
