"""Trade dates (IST) as instants: the bounds a date's trades and orders are read between, for
the native trades route and the Kite facade's day lists."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from engine.domain.calendar import ExchangeCalendar
from gateway.errors import validation_failure
from gateway.keys import CONFIG, ENGINE
from persistence.projection import at


def trade_day_bounds(calendar: ExchangeCalendar, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The instants a trade date (exchange-local) starts and ends; 400 for a date whose day
    cannot be written as instants (the first and last days a date can name)."""
    try:
        next_day = day + dt.timedelta(days=1)
        return at(calendar.instant_ms(day, 0)), at(calendar.instant_ms(next_day, 0))
    except OverflowError:
        raise validation_failure("$.date", "is out of range") from None


def current_trade_day(request: web.Request) -> tuple[dt.datetime, dt.datetime]:
    """The bounds of the trade date (IST) the engine's clock is in now."""
    engine = request.app[ENGINE]
    offset = dt.timedelta(minutes=request.app[CONFIG].sessions.timezone_offset_minutes)
    now = dt.datetime.fromtimestamp(engine.clock.now_ms() / 1000, dt.UTC)
    return trade_day_bounds(engine.calendar, (now + offset).date())
