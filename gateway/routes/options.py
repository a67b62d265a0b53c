"""Option routes: the underlyings, an underlying's option chain (docs/API.md "Market data") and an
account's payoff on one underlying (docs/API.md "Trading").

The lookups are built once from the master (``engine.market.option_chain``) and the payoff's
arithmetic is ``engine.market.payoff``'s; these handlers validate, read one market snapshot and
render it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from aiohttp import web

from engine.domain.instruments import InstrumentMaster
from engine.domain.positions import Position
from engine.market.market_data import MarketSnapshot
from engine.market.market_layout import NO_INDEX
from engine.market.option_chain import ExpiryChain, Underlying
from engine.market.payoff import Leg, leg_in_market, payoff, price_grid
from gateway import replies
from gateway.decoding import convert_query
from gateway.errors import json_response, not_listed
from gateway.keys import BRIDGE, CONFIG, ENGINE
from gateway.option_views import (
    chain_view,
    expiry_items,
    payoff_position_view,
    payoff_view,
    underlying_item,
)
from gateway.ownership import owned_account
from gateway.route_table import Operation, RouteTable
from gateway.schemas import NO_CONTROL

routes = RouteTable()

UnderlyingName = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=NO_CONTROL)]


class OptionChainQuery(msgspec.Struct, forbid_unknown_fields=True):
    underlying: UnderlyingName
    expiry: date | None = None  # the nearest not yet expired when absent


class ExpiriesQuery(msgspec.Struct, forbid_unknown_fields=True):
    underlying: UnderlyingName


class PayoffQuery(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    underlying: UnderlyingName
    trading_account_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None


def known_underlying(request: web.Request, name: str, *, with_options: bool) -> Underlying:
    """The underlying named (in any case), or 404 UNKNOWN_UNDERLYING naming ``$.underlying``."""
    underlying = request.app[ENGINE].market.chains.get(name.upper())
    if underlying is not None and (underlying.chains or (underlying.futures and not with_options)):
        return underlying
    listed = "options" if with_options else "futures or options"
    raise not_listed("UNKNOWN_UNDERLYING", "$.underlying", f"No {listed} are listed on {name}.")


def chosen_chain(underlying: Underlying, expiry: date | None, now_ms: int) -> ExpiryChain:
    """The chain of ``expiry``, or the default one; 404 EXPIRY_NOT_LISTED naming ``$.expiry``."""
    chain = underlying.default_chain(now_ms) if expiry is None else underlying.chain(expiry)
    if chain is None:
        listed = ", ".join(day.isoformat() for day in underlying.expiries)
        raise not_listed(
            "EXPIRY_NOT_LISTED",
            "$.expiry",
            f"No {underlying.name} options expire on {expiry}; listed expiries: {listed}.",
        )
    return chain


@routes.get(
    "/api/underlyings",
    Operation(
        "Every underlying with futures or options listed: its spot and its expiries",
        reply=replies.UnderlyingList,
    ),
    access="public",
)
async def list_underlyings(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    now_ms = engine.clock.now_ms()
    items = [underlying_item(u, engine.master, now_ms) for u in engine.market.chains]
    return json_response({"items": items})


@routes.get(
    "/api/expiries",
    Operation(
        "An underlying's expiries not yet passed, weekly or monthly, of its futures and options",
        query=ExpiriesQuery,
        refusals=(404,),
        reply=replies.ExpiryList,
    ),
    access="public",
)
async def list_expiries(request: web.Request) -> web.Response:
    query = convert_query(dict(request.query), ExpiriesQuery)
    underlying = known_underlying(request, query.underlying, with_options=False)
    engine = request.app[ENGINE]
    items = expiry_items(underlying, engine.master, engine.calendar, engine.clock.now_ms())
    return json_response({"underlying": underlying.name, "items": items})


@routes.get(
    "/api/optionchain",
    Operation(
        "An underlying's option chain for one expiry, with implied volatility and greeks",
        query=OptionChainQuery,
        refusals=(404,),
        reply=replies.OptionChain,
    ),
    access="public",
)
async def get_option_chain(request: web.Request) -> web.Response:
    query = convert_query(dict(request.query), OptionChainQuery)
    underlying = known_underlying(request, query.underlying, with_options=True)
    engine = request.app[ENGINE]
    snapshot = engine.market.snapshot
    chain = chosen_chain(underlying, query.expiry, snapshot.at_ms)
    return json_response(chain_view(underlying, chain, snapshot, engine.master))


@routes.get(
    "/api/trading/payoff",
    Operation(
        "The P&L of an account's futures and options on one underlying across its price:"
        " at expiry and today",
        query=PayoffQuery,
        refusals=(404,),
        reply=replies.Payoff,
    ),
)
async def get_payoff(request: web.Request) -> web.Response:
    query = convert_query(dict(request.query), PayoffQuery)
    account_id = await owned_account(request, query.trading_account_id)
    underlying = known_underlying(request, query.underlying, with_options=False)
    engine = request.app[ENGINE]
    snapshot = engine.market.snapshot  # one tick for every figure of the answer
    positions: list[Position] = await request.app[BRIDGE].inspect(
        account_id, lambda state: [msgspec.structs.replace(p) for p in state.positions.values()]
    )
    reference = underlying.reference(snapshot.at_ms)
    price = int(snapshot.ltp[reference]) if reference != NO_INDEX else 0
    legs = payoff_legs(request, underlying, positions, snapshot, price)
    views = [
        payoff_position_view(position.position_id, index, leg, day, snapshot, engine.master)
        for position, index, leg, day in legs
    ]
    nearest = min((day for *_, day in legs), default=None)
    rate = request.app[CONFIG].market.options.rate
    points = (
        payoff([leg for _, _, leg, _ in legs], price_grid(price), snapshot.at_ms, rate)
        if price > 0
        else []
    )
    return json_response(payoff_view(underlying, price, nearest, points, views, snapshot))


PayoffLeg = tuple[Position, int, Leg, date]  # the position, its instrument's index, its leg, expiry


def payoff_legs(
    request: web.Request,
    underlying: Underlying,
    positions: list[Position],
    snapshot: MarketSnapshot,
    price_paise: int,
) -> list[PayoffLeg]:
    """The open positions in futures and options of ``underlying``, each with its leg."""
    config = request.app[CONFIG]
    master: InstrumentMaster = request.app[ENGINE].master
    found: list[PayoffLeg] = []
    for position in positions:
        index = master.index_of(position.instrument_id)
        if index is None or position.quantity == 0:
            continue
        instrument = master.at(index)
        derivative = instrument.is_future or instrument.is_option
        if not derivative or instrument.underlying != underlying.name or not instrument.expiry:
            continue
        expiry_ms = request.app[ENGINE].calendar.expiry_instant_ms(instrument)
        leg = leg_in_market(
            instrument,
            index,
            position.quantity,
            position.cost_paise,
            expiry_ms,
            snapshot,
            max(price_paise, 1),  # without a price the legs are listed, never charted
            config.market.options.rate,
        )
        found.append((position, index, leg, instrument.expiry))
    return sorted(found, key=lambda item: (item[3], item[2].strike_paise, item[1]))
