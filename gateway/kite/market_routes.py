"""Kite's market routes (docs/KITE.md "Market data"): ``/quote``, ``/quote/ohlc``,
``/quote/ltp`` for instruments named ``EXCHANGE:TRADINGSYMBOL`` or by token (repeated ``i``),
and the instrument master as Kite's CSV (``/instruments``, ``/instruments/{exchange}``)."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web

from engine.domain.instruments import Instrument
from engine.domain.money import paise_to_rupees
from engine.domain.rules import circuit_band
from engine.market.market_data import MarketData
from gateway.keys import CONFIG, ENGINE
from gateway.kite.tokens import KITE_TOKENS
from gateway.kite.wire import date_text, input_error, ist_of_ms, success

routes = web.RouteTableDef()

CSV_COLUMNS = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)


def requested(request: web.Request) -> list[tuple[str, int]]:
    """The ``i`` parameters with the instruments they name (unknown ones are left out, as
    Kite leaves them out of its answer)."""
    keys = request.query.getall("i", [])
    if not keys:
        raise input_error("Missing `i`: name at least one instrument.")
    quotes_max = request.app[CONFIG].limits.quotes_per_request_max
    if len(keys) > quotes_max:
        raise input_error(f"At most {quotes_max} instruments per request.")
    tokens = request.app[KITE_TOKENS]
    found = []
    for key in keys:
        index = tokens.index_of(key)
        if index is not None:
            found.append((key, index))
    return found


def ohlc(market: MarketData, index: int) -> dict[str, float]:
    return {
        "open": paise_to_rupees(int(market.day_open[index])),
        "high": paise_to_rupees(int(market.day_high[index])),
        "low": paise_to_rupees(int(market.day_low[index])),
        "close": paise_to_rupees(int(market.previous_close[index])),
    }


def depth_side(levels: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "price": paise_to_rupees(level.price_paise),
            "quantity": level.quantity,
            "orders": level.orders,
        }
        for level in levels
    ]


def full_quote(request: web.Request, instrument: Instrument, index: int) -> dict[str, Any]:
    engine = request.app[ENGINE]
    market = engine.market
    snapshot = market.snapshot
    ltp = int(snapshot.ltp[index])
    close = int(market.previous_close[index])
    low, high = circuit_band(request.app[CONFIG].circuits, instrument, close or ltp)
    bids, asks = engine.depth.book(index, snapshot)
    at = ist_of_ms(snapshot.at_ms)
    return {
        "instrument_token": request.app[KITE_TOKENS].token_of(instrument),
        "timestamp": at,
        "last_trade_time": at,
        "last_price": paise_to_rupees(ltp),
        "last_quantity": 0,
        "buy_quantity": sum(level.quantity for level in bids),
        "sell_quantity": sum(level.quantity for level in asks),
        "volume": int(market.volume[index]),
        "average_price": paise_to_rupees(ltp),
        "oi": 0,
        "oi_day_high": 0,
        "oi_day_low": 0,
        "net_change": paise_to_rupees(ltp - close) if close else 0.0,
        "lower_circuit_limit": paise_to_rupees(low),
        "upper_circuit_limit": paise_to_rupees(high),
        "ohlc": ohlc(market, index),
        "depth": {"buy": depth_side(bids), "sell": depth_side(asks)},
    }


@routes.get("/quote")
async def quote(request: web.Request) -> web.Response:
    master = request.app[ENGINE].master
    ltp = request.app[ENGINE].market.snapshot.ltp
    data = {
        key: full_quote(request, master.at(index), index)
        for key, index in requested(request)
        if index < len(ltp) and ltp[index] > 0
    }
    return success(data)


@routes.get("/quote/ohlc")
async def quote_ohlc(request: web.Request) -> web.Response:
    market, tokens = request.app[ENGINE].market, request.app[KITE_TOKENS]
    ltp = market.snapshot.ltp
    data = {
        key: {
            "instrument_token": tokens.token_of(market.master.at(index)),
            "last_price": paise_to_rupees(int(ltp[index])),
            "ohlc": ohlc(market, index),
        }
        for key, index in requested(request)
        if index < len(ltp) and ltp[index] > 0
    }
    return success(data)


@routes.get("/quote/ltp")
async def quote_ltp(request: web.Request) -> web.Response:
    market, tokens = request.app[ENGINE].market, request.app[KITE_TOKENS]
    ltp = market.snapshot.ltp
    data = {
        key: {
            "instrument_token": tokens.token_of(market.master.at(index)),
            "last_price": paise_to_rupees(int(ltp[index])),
        }
        for key, index in requested(request)
        if index < len(ltp) and ltp[index] > 0
    }
    return success(data)


def csv_row(instrument: Instrument, token: int, last_paise: int) -> tuple[Any, ...]:
    derivative = not instrument.is_equity and not instrument.is_index
    return (
        token,
        token >> 8,
        instrument.symbol,
        instrument.underlying if derivative and instrument.underlying else instrument.name,
        paise_to_rupees(last_paise),
        date_text(instrument.expiry),
        paise_to_rupees(instrument.strike_paise),
        paise_to_rupees(instrument.tick_paise),
        instrument.lot_size,
        instrument.instrument_type.value,
        instrument.segment.value,
        instrument.exchange.value,
    )


def instruments_csv(request: web.Request, exchange: str | None) -> web.Response:
    market, tokens = request.app[ENGINE].market, request.app[KITE_TOKENS]
    ltp = market.snapshot.ltp
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for index, instrument in enumerate(market.master):
        if exchange is not None and instrument.exchange.value != exchange:
            continue
        last = int(ltp[index]) if index < len(ltp) else 0
        writer.writerow(csv_row(instrument, tokens.token_of(instrument), last))
    return web.Response(text=out.getvalue(), content_type="text/csv")


@routes.get("/instruments")
async def all_instruments(request: web.Request) -> web.Response:
    return instruments_csv(request, None)


@routes.get("/instruments/{exchange}")
async def exchange_instruments(request: web.Request) -> web.Response:
    exchange = request.match_info["exchange"].upper()
    if exchange not in {instrument.exchange.value for instrument in request.app[ENGINE].master}:
        raise input_error(f"Invalid exchange `{exchange}`.")
    return instruments_csv(request, exchange)
