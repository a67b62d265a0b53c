"""Kite's historical data route (docs/KITE_HISTORY.md): ``GET /instruments/historical/
{instrument_token}/{interval}?from=…&to=…&continuous=0|1&oi=0|1``, answered from the minute
candle store (``gateway.candle_recorder``) as the native ``/api/market/candles`` is.

``from`` and ``to`` are IST wall times, ``YYYY-MM-DD HH:MM:SS`` as the client sends a datetime,
or a date alone as it sends a ``date``: a date ``from`` is that day's midnight, a date ``to``
the whole of that day. ``to`` is inclusive, as Kite's is: a candle starting at ``to`` is
answered. The bucket holding ``from`` is answered whole. The range is bounded by the
interval's ``history.request_days_max`` (Kite's own limits), measured between ``from`` and
``to`` as written. paperdesk keeps no continuous futures series: ``continuous=1`` is refused.

A candle is ``[start, open, high, low, close, volume]`` (and ``oi`` with ``oi=1``), its start
written ``2026-12-03T09:15:00+0530`` as Kite writes it. A 60-day minute request is tens of
thousands of candles, so the stamps are built from integers, one date string a day, rather
than through ``datetime`` for each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from engine.domain.instruments import Instrument
from engine.market.candles import INTERVAL_MINUTES, MINUTES_PER_DAY, MS_PER_MINUTE, Candle
from gateway.keys import CANDLES, CONFIG, DB, ENGINE
from gateway.kite.tokens import KITE_TOKENS
from gateway.kite.wire import IST, input_error, success, truthy

routes = web.RouteTableDef()

MS_PER_DAY = 86_400_000
IST_OFFSET_MINUTES = 330  # +05:30, the offset every stamp is written in
# Every minute of a day as a stamp ends, "09:15:00+0530": one lookup a candle.
CLOCK = tuple(f"{m // 60:02d}:{m % 60:02d}:00+0530" for m in range(MINUTES_PER_DAY))
EPOCH_DAY = date(1970, 1, 1)
# What Kite accepts for ``from`` and ``to``: a datetime as the client formats one, the same
# without seconds or with a ``T``, or a date alone.
MOMENT_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")
DATE_FORMAT = "%Y-%m-%d"


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """A historical request's parameters: candles whose buckets start in [the bucket holding
    ``start_ms``, ``end_ms``), epoch milliseconds."""

    interval: str
    start_ms: int
    end_ms: int
    oi: bool
    continuous: bool


def parse_moment(text: str | None, name: str) -> tuple[datetime, bool]:
    """``from`` or ``to`` as an aware IST datetime, and whether it was a date alone."""
    if text is None or not text.strip():
        raise input_error(f"Missing or empty field `{name}`.")
    text = text.strip()
    try:
        return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=IST), True
    except ValueError:
        pass
    for pattern in MOMENT_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=IST), False
        except ValueError:
            continue
    raise input_error(f"Invalid `{name}`: expected yyyy-mm-dd hh:mm:ss or yyyy-mm-dd (IST).")


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000


def parse_query(
    interval: str, query: Mapping[str, str], request_days_max: Mapping[str, int]
) -> HistoryQuery:
    """Check the interval and the query as Kite does; raise its ``InputException`` naming the
    parameter at fault."""
    if interval not in INTERVAL_MINUTES:
        raise input_error(
            f"Invalid `interval` {interval!r}: expected one of {', '.join(INTERVAL_MINUTES)}."
        )
    start, _ = parse_moment(query.get("from"), "from")
    end, end_is_date = parse_moment(query.get("to"), "to")
    if start > end:
        raise input_error("Invalid `from`: it is after `to`.")
    days_max = request_days_max[interval]
    if end - start > timedelta(days=days_max):
        raise input_error(
            f"Invalid `from`: interval exceeds max limit: {days_max} days"
            f" (at most {days_max} days of {interval} candles per request)."
        )
    # ``to`` is inclusive: a date, its whole day; a moment, the candle starting at it.
    end_ms = epoch_ms(end) + (MS_PER_DAY if end_is_date else 1)
    return HistoryQuery(
        interval,
        epoch_ms(start),
        end_ms,
        truthy(query.get("oi"), "oi"),
        truthy(query.get("continuous"), "continuous"),
    )


def instrument_of(request: web.Request, token_text: str) -> Instrument:
    tokens = request.app[KITE_TOKENS]
    index = tokens.index_of_token(int(token_text)) if token_text.isdigit() else None
    if index is None:
        raise input_error(f"Invalid `instrument_token` {token_text!r}: no such instrument.")
    return request.app[ENGINE].master.at(index)


def refuse_continuous(instrument: Instrument) -> None:
    """Kite serves continuous data for futures only; paperdesk has no continuous series."""
    if not instrument.is_future:
        raise input_error("Invalid `continuous`: continuous data is available for futures only.")
    raise input_error(
        "Invalid `continuous`: paperdesk keeps no continuous futures series;"
        " ask for each contract's own candles (continuous=0)."
    )


def candle_rows(candles: Iterable[Candle], with_oi: bool) -> list[list[Any]]:
    """Candles as Kite's rows, each stamped ``YYYY-MM-DDTHH:MM:00+0530`` at its IST start
    (candles start on whole minutes)."""
    days: dict[int, str] = {}
    rows: list[list[Any]] = []
    for c in candles:
        day, minute = divmod(c.at_ms // MS_PER_MINUTE + IST_OFFSET_MINUTES, MINUTES_PER_DAY)
        prefix = days.get(day)
        if prefix is None:
            prefix = days[day] = f"{(EPOCH_DAY + timedelta(days=day)).isoformat()}T"
        row: list[Any] = [
            prefix + CLOCK[minute],
            c.open_paise / 100,
            c.high_paise / 100,
            c.low_paise / 100,
            c.close_paise / 100,
            c.volume,
        ]
        if with_oi:
            row.append(c.oi)
        rows.append(row)
    return rows


@routes.get("/instruments/historical/{instrument_token}/{interval}")
async def historical(request: web.Request) -> web.Response:
    instrument = instrument_of(request, request.match_info["instrument_token"])
    query = parse_query(
        request.match_info["interval"],
        request.query,
        request.app[CONFIG].history.request_days_max,
    )
    if query.continuous:
        refuse_continuous(instrument)
    candles = await request.app[CANDLES].candles(
        request.app[DB].pool, instrument.instrument_id, query.interval, query.start_ms, query.end_ms
    )
    return success({"candles": candle_rows(candles, query.oi)})
