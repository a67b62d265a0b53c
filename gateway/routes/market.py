"""Market data routes: quotes (docs/API.md "Market data"), instrument search and candles."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from engine.domain.calendar import ExchangeCalendar
from engine.domain.instruments import Instrument
from engine.domain.money import paise_to_rupees
from engine.market.candles import Candle
from engine.market.depth import MarketDepth
from engine.market.market_data import MarketData
from engine.market.option_chain import OptionChains
from gateway import replies
from gateway.decoding import convert_query
from gateway.depth_views import depth_view
from gateway.errors import InvalidRequestError, error_response, json_response, validation_error
from gateway.keys import CANDLES, CONFIG, DB, ENGINE
from gateway.option_views import greeks_view, underlying_prices
from gateway.route_table import Operation, RouteTable
from gateway.schemas import NO_CONTROL
from gateway.views import iso_ms

routes = RouteTable()

# The quotes' query, described by hand: no Struct reads its repeated ``q``.
QUOTE_PARAMETERS = [
    {
        "name": "q",
        "in": "query",
        "required": True,
        "description": "An instrument id (NSE_EQ|INE002A01018) or ticker (NSE:RELIANCE); repeat it",
        "schema": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": 500,
        },
        "style": "form",
        "explode": True,
    },
    {
        "name": "mode",
        "in": "query",
        "required": False,
        "schema": {"enum": ["ltp", "full"], "default": "full"},
    },
]


class InstrumentQuery(msgspec.Struct, forbid_unknown_fields=True):
    search: Annotated[str, msgspec.Meta(max_length=64)] = ""
    exchange: Literal["NSE", "BSE", "NFO", "BFO", "MCX", "CDS", ""] = ""
    underlying: Annotated[str, msgspec.Meta(max_length=32, pattern=NO_CONTROL)] = ""
    kind: Literal["EQ", "INDEX", "FUT", "CE", "PE", ""] = ""  # INDEX: the spots, EQ: shares
    expiry: date | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50


def _kind(instrument: Instrument) -> str:
    return "INDEX" if instrument.is_index else instrument.instrument_type.value


class LiveContracts:
    """Which instruments still trade at ``now_ms``: all but contracts past their expiry."""

    def __init__(self, calendar: ExchangeCalendar, now_ms: int) -> None:
        self.calendar = calendar
        self.now_ms = now_ms
        self.today = calendar.local_date(now_ms)

    def trading(self, instrument: Instrument) -> bool:
        expiry = instrument.expiry
        if expiry is None or expiry > self.today:
            return True
        return expiry == self.today and self.calendar.expiry_instant_ms(instrument) > self.now_ms


def instrument_matches(instrument: Instrument, query: InstrumentQuery) -> bool:
    """Whether ``instrument`` passes every filter the query sets."""
    needle = query.search.upper()
    return (
        (not query.exchange or instrument.exchange.value == query.exchange)
        and (not query.underlying or instrument.underlying == query.underlying.upper())
        and (not query.kind or _kind(instrument) == query.kind)
        and (query.expiry is None or instrument.expiry == query.expiry)
        and (not needle or needle in instrument.symbol or needle in instrument.name.upper())
    )


def quote_payload(
    market: MarketData, chains: OptionChains, depth: MarketDepth | None, index: int
) -> dict[str, Any] | None:
    """An instrument's quote: its LTP and time; with ``depth`` (``mode=full``) also its day,
    its book and its analytics. None while it has no price."""
    snapshot = market.snapshot
    ltp = int(snapshot.ltp[index])
    if ltp <= 0:
        return None
    payload: dict[str, Any] = {"ltp": paise_to_rupees(ltp), "timestamp": iso_ms(snapshot.at_ms)}
    if depth is not None:
        close = int(market.previous_close[index])
        change = ltp - close
        payload |= {
            "bid": paise_to_rupees(int(snapshot.bid[index])),
            "ask": paise_to_rupees(int(snapshot.ask[index])),
            "open": paise_to_rupees(int(market.day_open[index])),
            "high": paise_to_rupees(int(market.day_high[index])),
            "low": paise_to_rupees(int(market.day_low[index])),
            "close": paise_to_rupees(close),
            "change": paise_to_rupees(change),
            "changePercent": round(change * 100 / close, 2) if close else 0.0,
            "volume": int(market.volume[index]),
            "depth": depth_view(depth, index, snapshot),
        }
        instrument = market.master.at(index)
        if instrument.is_option:
            payload |= greeks_view(snapshot, index)
        underlying = chains.of(instrument)
        if underlying is not None:
            payload["underlying"] = underlying_prices(underlying, snapshot)
    return payload


@routes.get(
    "/api/quotes",
    Operation(
        "Quotes by instrument id or ticker; unknown ids are left out",
        refusals=(400,),  # its query is read by hand (QUOTE_PARAMETERS), not by a Struct
        reply=replies.Quotes,
        parameters=QUOTE_PARAMETERS,
    ),
    access="public",
)
async def get_quotes(request: web.Request) -> web.Response:
    ids = request.query.getall("q", [])
    mode = request.query.get("mode", "full")
    if mode not in ("ltp", "full"):
        return validation_error("$.mode", "must be 'ltp' or 'full'")
    if not ids:
        return validation_error("$.q", "at least one instrument id is required")
    quotes_max = request.app[CONFIG].limits.quotes_per_request_max
    if len(ids) > quotes_max:
        return validation_error("$.q", f"at most {quotes_max} ids per request")
    engine = request.app[ENGINE]
    market = engine.market
    depth = engine.depth if mode == "full" else None
    data: dict[str, Any] = {}
    for key in ids:
        index = market.master.index_of(key)
        if index is None:
            continue
        payload = quote_payload(market, market.chains, depth, index)
        if payload is not None:
            data[key] = payload
    return json_response({"data": data})


@routes.get(
    "/api/instruments",
    Operation("Instrument search", query=InstrumentQuery, reply=replies.InstrumentList),
    access="public",
)
async def search_instruments(request: web.Request) -> web.Response:
    try:
        query = convert_query(dict(request.query), InstrumentQuery)
    except InvalidRequestError as error:
        return error.response
    engine = request.app[ENGINE]
    live = LiveContracts(engine.calendar, engine.clock.now_ms())
    items = []
    for instrument in engine.master:
        if not instrument_matches(instrument, query) or not live.trading(instrument):
            continue
        items.append(
            {
                "instrumentId": instrument.instrument_id,
                "instrumentToken": instrument.instrument_token,
                "exchangeToken": instrument.token,
                "symbol": instrument.symbol,
                "name": instrument.name,
                "exchange": instrument.exchange.value,
                "segment": instrument.segment.value,
                "instrumentType": instrument.instrument_type.value,
                "underlying": instrument.underlying or None,
                "lotSize": instrument.lot_size,
                "tickSize": paise_to_rupees(instrument.tick_paise),
                "freezeQuantity": instrument.freeze_quantity or None,
                "expiry": instrument.expiry.isoformat() if instrument.expiry else None,
                "strike": paise_to_rupees(instrument.strike_paise)
                if instrument.strike_paise
                else None,
                "optionType": instrument.instrument_type.value if instrument.is_option else None,
            }
        )
        if len(items) == query.limit:
            break
    return json_response({"items": items})


Interval = Literal[
    "minute", "3minute", "5minute", "10minute", "15minute", "30minute", "60minute", "day"
]
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
MS_PER_DAY = 86_400_000


class CandleQuery(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    instrument_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NO_CONTROL)]
    start: Instant = msgspec.field(name="from")
    interval: Interval = "minute"
    end: Instant | None = msgspec.field(default=None, name="to")  # None: now
    oi: bool = False


def candle_view(candle: Candle, with_oi: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "time": iso_ms(candle.at_ms),
        "open": paise_to_rupees(candle.open_paise),
        "high": paise_to_rupees(candle.high_paise),
        "low": paise_to_rupees(candle.low_paise),
        "close": paise_to_rupees(candle.close_paise),
        "volume": candle.volume,
    }
    if with_oi:
        view["oi"] = candle.oi
    return view


@routes.get(
    "/api/market/candles",
    Operation(
        "An instrument's OHLCV candles of an interval over a time range",
        query=CandleQuery,
        refusals=(404,),
        reply=replies.Candles,
    ),
    access="public",
)
async def get_candles(request: web.Request) -> web.Response:
    """Candles from the minute store (docs/API.md "Candles"): the range is bounded by the
    interval's ``history.request_days_max``, as Kite bounds its historical calls."""
    try:
        query = convert_query(dict(request.query), CandleQuery)
    except InvalidRequestError as error:
        return error.response
    engine = request.app[ENGINE]
    instrument = engine.master.get(query.instrument_id)
    if instrument is None:
        return error_response(404, "NOT_FOUND", "No such instrument.")
    start_ms = int(query.start.timestamp() * 1000)
    end_ms = engine.clock.now_ms() if query.end is None else int(query.end.timestamp() * 1000)
    if end_ms <= start_ms:
        return validation_error("$.to", "must be later than from")
    days_max = request.app[CONFIG].history.request_days_max[query.interval]
    if end_ms - start_ms > days_max * MS_PER_DAY:
        return validation_error(
            "$.from", f"at most {days_max} days of {query.interval} candles per request"
        )
    candles = await request.app[CANDLES].candles(
        request.app[DB].pool, instrument.instrument_id, query.interval, start_ms, end_ms
    )
    return json_response(
        {
            "instrumentId": instrument.instrument_id,
            "interval": query.interval,
            "candles": [candle_view(c, query.oi) for c in candles],
        }
    )
