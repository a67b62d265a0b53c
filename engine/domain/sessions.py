"""Market hours (docs/DOMAIN.md §6), when ``[sessions] enforce_hours`` is on.

Instruments fall in three session groups: cash equity (NSE, BSE), derivatives (NFO, BFO, CDS)
and commodities (MCX). Equity and derivatives are open on trading days (weekdays that are not
exchange holidays), MCX on weekdays, each between its open and its close that day (IST, or the
configured offset; ``engine.domain.calendar``: derivatives close at 15:30, 15:40 from
2026-08-03; MCX at 23:30, 23:55 while US daylight saving time is off). MIS is squared off at
its square-off time: equity 15:20, derivatives 15:25, MCX 25 minutes before its close. The
market actor asks :meth:`SessionRules.boundaries_crossed` on every tick and the accounts act on
what it reports; an account acts only on orders and positions older than the boundary, so a
boundary reported again (the server catching up after a restart) changes nothing it already
did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from engine.domain.calendar import EPOCH, ExchangeCalendar, minute_of_day
from engine.domain.enums import Exchange
from engine.domain.instruments import Instrument
from engine.domain.parameters import SessionsConfig

MS_PER_MINUTE = 60_000
MS_PER_DAY = 86_400_000
CATCH_UP_DAYS = 7  # how far back boundaries are looked for (a long weekend, a long outage)
OPEN_SEARCH_DAYS = 31  # how far ahead a session's next open is looked for (holidays, weekends)


class SessionGroup(StrEnum):
    EQUITY = "EQUITY"
    DERIVATIVES = "DERIVATIVES"
    COMMODITIES = "COMMODITIES"


class Boundary(StrEnum):
    """What a session does at a time of day: square off MIS, or close (DAY orders expire)."""

    SQUARE_OFF = "SQUARE_OFF"
    CLOSE = "CLOSE"


_GROUP_OF_EXCHANGE = {
    Exchange.NSE: SessionGroup.EQUITY,
    Exchange.BSE: SessionGroup.EQUITY,
    Exchange.NFO: SessionGroup.DERIVATIVES,
    Exchange.BFO: SessionGroup.DERIVATIVES,
    Exchange.CDS: SessionGroup.DERIVATIVES,
    Exchange.MCX: SessionGroup.COMMODITIES,
}


def group_of(instrument: Instrument) -> SessionGroup:
    return _GROUP_OF_EXCHANGE[instrument.exchange]


@dataclass(frozen=True, slots=True)
class SessionRules:
    """Open/close and square-off minutes of each group on each day, in exchange-local time."""

    offset_ms: int
    calendar: ExchangeCalendar
    equity_hours: tuple[int, int]  # (open, close) minute of day
    mcx_open: int
    squareoff_equity: int
    squareoff_derivatives: int
    squareoff_mcx_before_close: int

    @classmethod
    def from_config(cls, config: SessionsConfig) -> SessionRules | None:
        """The rules, or None when hours are not enforced (trading around the clock)."""
        if not config.enforce_hours:
            return None
        return cls(
            offset_ms=config.timezone_offset_minutes * MS_PER_MINUTE,
            calendar=ExchangeCalendar.from_config(config),
            equity_hours=(minute_of_day(config.equity_open), minute_of_day(config.equity_close)),
            mcx_open=minute_of_day(config.mcx_open),
            squareoff_equity=minute_of_day(config.mis_squareoff_equity),
            squareoff_derivatives=minute_of_day(config.mis_squareoff_fno),
            squareoff_mcx_before_close=config.mis_squareoff_mcx_before_close_minutes,
        )

    def hours(self, group: SessionGroup, day: date) -> tuple[int, int] | None:
        """(open, close) minute of ``day`` for ``group``, or None if it does not trade then."""
        if group is SessionGroup.COMMODITIES:
            if not self.calendar.is_trading_day(day, Exchange.MCX):
                return None
            return self.mcx_open, self.calendar.mcx_close(day)
        if not self.calendar.is_trading_day(day):
            return None
        if group is SessionGroup.DERIVATIVES:
            return self.equity_hours[0], self.calendar.derivatives_close(day)
        return self.equity_hours

    def squareoff(self, group: SessionGroup, day: date) -> int:
        """The minute of ``day`` from which ``group`` takes no MIS and squares it off."""
        if group is SessionGroup.COMMODITIES:
            return self.calendar.mcx_close(day) - self.squareoff_mcx_before_close
        if group is SessionGroup.DERIVATIVES:
            return self.squareoff_derivatives
        return self.squareoff_equity

    def _local(self, now_ms: int) -> tuple[date, int]:
        """(local date, minute of day) in exchange-local time."""
        day, ms = divmod(now_ms + self.offset_ms, MS_PER_DAY)
        return EPOCH + timedelta(days=day), ms // MS_PER_MINUTE

    def is_open(self, group: SessionGroup, now_ms: int) -> bool:
        day, minute = self._local(now_ms)
        hours = self.hours(group, day)
        return hours is not None and hours[0] <= minute < hours[1]

    def mis_open(self, group: SessionGroup, now_ms: int) -> bool:
        """Open, and not yet squared off: new MIS orders are taken."""
        day, minute = self._local(now_ms)
        return self.is_open(group, now_ms) and minute < self.squareoff(group, day)

    def next_open_ms(self, group: SessionGroup, after_ms: int) -> int | None:
        """The first instant after ``after_ms`` at which ``group``'s session opens (None if none
        within ``OPEN_SEARCH_DAYS``): when an after-market order placed then goes live."""
        first_day, _ = self._local(after_ms)
        for days in range(OPEN_SEARCH_DAYS + 1):
            day = first_day + timedelta(days=days)
            hours = self.hours(group, day)
            if hours is None:
                continue
            at_ms = self.calendar.instant_ms(day, hours[0])
            if at_ms > after_ms:
                return at_ms
        return None

    def boundaries_crossed(
        self, after_ms: int, until_ms: int
    ) -> list[tuple[SessionGroup, Boundary, int]]:
        """The square-offs and closes of trading days in (``after_ms``, ``until_ms``], each with
        the instant it happened."""
        crossed = []
        after_ms = max(after_ms, until_ms - CATCH_UP_DAYS * MS_PER_DAY)
        first_day, _ = self._local(after_ms)
        last_day, _ = self._local(until_ms)
        day = first_day
        while day <= last_day:
            for group in SessionGroup:
                hours = self.hours(group, day)
                if hours is None:
                    continue
                for boundary, minute in (
                    (Boundary.SQUARE_OFF, self.squareoff(group, day)),
                    (Boundary.CLOSE, hours[1]),
                ):
                    at_ms = self.calendar.instant_ms(day, minute)
                    if after_ms < at_ms <= until_ms:
                        crossed.append((group, boundary, at_ms))
            day += timedelta(days=1)
        return crossed


def waits_for_open(
    sessions: SessionRules | None, instrument: Instrument, placed_ms: int, now_ms: int
) -> bool:
    """Whether an after-market order placed at ``placed_ms`` still waits, at ``now_ms``, for the
    first open of its instrument's session after it was placed (docs/DOMAIN.md §3)."""
    if sessions is None:
        return False
    opens_ms = sessions.next_open_ms(group_of(instrument), placed_ms)
    return opens_ms is None or now_ms < opens_ms
