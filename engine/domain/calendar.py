"""The exchanges' calendar (docs/DOMAIN.md §6): trading days, closes by date, and expiries.

* **Trading days**: NSE and BSE (cash and derivatives) trade on weekdays that are not exchange
  holidays (``sessions.holidays``, as the exchanges publish them each December); MCX on weekdays
  that are not its own full-day holidays (``sessions.mcx_holidays``: most exchange holidays
  close only its morning session, which this calendar does not model).
* **Closes by date**: the derivatives segment (NFO, BFO, CDS) closes at the time in force on
  the day (``[[sessions.derivatives_close]]``: 15:30, then 15:40 from 2026-08-03 by NSE circular
  74/2026); MCX's evening session at 23:30 while US daylight saving time is on and 23:55 when it
  is off (MCX follows the US markets' hours).
* **Expiries** (``[[sessions.expiry_rules]]``, the rule in force on the expiry's date): each
  exchange's derivatives expire on its weekday (since 2025-09-01: NSE Tuesday, BSE Thursday);
  the exchange's one weekly index series (NIFTY, SENSEX) on every such weekday, everything else
  monthly on the last such weekday of the month; an expiry that falls on a holiday moves to the
  previous trading day. A contract expires at its segment's close on its expiry date. MCX
  contracts expire by their own calendar (a day of the month, moved back over MCX holidays;
  ``engine.market.universe`` lists them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from engine.domain.effective_dates import in_force
from engine.domain.enums import Exchange
from engine.domain.instruments import Instrument
from engine.domain.parameters import ExpiryRule, SessionsConfig

MS_PER_MINUTE = 60_000
MS_PER_DAY = 86_400_000
EPOCH = date(1970, 1, 1)
SUNDAY = 6


def minute_of_day(text: str) -> int:
    """``"HH:MM"`` as minutes after midnight."""
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def us_daylight_saving(day: date) -> bool:
    """Whether US daylight saving time is on that day: from the second Sunday of March to the
    first Sunday of November (the rule since 2007)."""
    return _nth_sunday(day.year, 3, 2) <= day < _nth_sunday(day.year, 11, 1)


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(SUNDAY - first.weekday()) % 7 + 7 * (n - 1))


@dataclass(frozen=True, slots=True)
class ExchangeCalendar:
    holidays: frozenset[date]
    mcx_holidays: frozenset[date]
    offset_minutes: int
    derivatives_closes: tuple[tuple[date, int], ...]  # (effective from, close minute), oldest first
    mcx_close_us_summer: int
    mcx_close_us_winter: int
    expiry_rules: tuple[ExpiryRule, ...]  # oldest first

    @classmethod
    def from_config(cls, config: SessionsConfig) -> ExchangeCalendar:
        return cls(
            holidays=frozenset(config.holidays),
            mcx_holidays=frozenset(config.mcx_holidays),
            offset_minutes=config.timezone_offset_minutes,
            derivatives_closes=tuple(
                sorted((start, minute_of_day(time)) for start, time in config.derivatives_close)
            ),
            mcx_close_us_summer=minute_of_day(config.mcx_close_us_summer),
            mcx_close_us_winter=minute_of_day(config.mcx_close_us_winter),
            expiry_rules=tuple(sorted(config.expiry_rules, key=lambda r: r.effective_from)),
        )

    # -- days -------------------------------------------------------------------------------

    def is_trading_day(self, day: date, exchange: Exchange = Exchange.NSE) -> bool:
        """``exchange`` trades that day: a weekday and not one of its holidays (NSE's and BSE's
        are one list, for cash and derivatives alike; MCX has its own)."""
        holidays = self.mcx_holidays if exchange is Exchange.MCX else self.holidays
        return day.weekday() < 5 and day not in holidays

    def previous_trading_day(self, day: date, exchange: Exchange = Exchange.NSE) -> date:
        """The last trading day of ``exchange`` on or before ``day``."""
        while not self.is_trading_day(day, exchange):
            day -= timedelta(days=1)
        return day

    def trading_days_before(self, day: date, count: int, exchange: Exchange) -> date:
        """The trading day of ``exchange`` ``count`` trading days before ``day``."""
        for _ in range(count):
            day = self.previous_trading_day(day - timedelta(days=1), exchange)
        return day

    def derivatives_close(self, day: date) -> int:
        """The derivatives segment's close that day, in minutes after local midnight."""
        close = self.derivatives_closes[0][1]
        for start, minute in self.derivatives_closes:
            if start <= day:
                close = minute
        return close

    def mcx_close(self, day: date) -> int:
        return self.mcx_close_us_summer if us_daylight_saving(day) else self.mcx_close_us_winter

    def close_minute(self, exchange: Exchange, day: date) -> int:
        """When a contract of ``exchange`` stops trading on ``day`` (its segment's close)."""
        return self.mcx_close(day) if exchange is Exchange.MCX else self.derivatives_close(day)

    def local_date(self, now_ms: int) -> date:
        """The exchange-local date at ``now_ms``."""
        return EPOCH + timedelta(days=(now_ms + self.offset_minutes * MS_PER_MINUTE) // MS_PER_DAY)

    def instant_ms(self, day: date, minute: int) -> int:
        """Epoch milliseconds of ``minute`` after local midnight on ``day``."""
        return (day - EPOCH).days * MS_PER_DAY + (minute - self.offset_minutes) * MS_PER_MINUTE

    def expiry_instant_ms(self, instrument: Instrument) -> int:
        """When a contract expires: its segment's close on its expiry date."""
        assert instrument.expiry is not None
        return self.close_instant_ms(instrument.exchange, instrument.expiry)

    def close_instant_ms(self, exchange: Exchange, day: date) -> int:
        """When a contract of ``exchange`` expiring on ``day`` stops trading."""
        return self.instant_ms(day, self.close_minute(exchange, day))

    # -- expiries ---------------------------------------------------------------------------

    def expiry_rule(self, day: date) -> ExpiryRule:
        """The expiry rule in force on ``day``."""
        return in_force(self.expiry_rules, day)

    def monthly_expiry(self, exchange: Exchange, year: int, month: int) -> date:
        """The monthly expiry of ``exchange`` in that month: the last expiry weekday, moved to
        the previous trading day if it is a holiday."""
        first_of_next = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        last = first_of_next - timedelta(days=1)
        weekday = self.expiry_rule(last).weekday[exchange]
        return self.previous_trading_day(last - timedelta(days=(last.weekday() - weekday) % 7))

    def weekly_expiries(self, exchange: Exchange, start: date) -> Iterator[date]:
        """Every weekly expiry of ``exchange`` on or after ``start``, in order (each expiry
        weekday, moved back over holidays)."""
        day = start - timedelta(days=7)
        while True:
            weekday = self.expiry_rule(day).weekday[exchange]
            day += timedelta(days=(weekday - day.weekday()) % 7 or 7)
            expiry = self.previous_trading_day(day)
            if expiry >= start:
                yield expiry

    def monthly_expiries(self, exchange: Exchange, start: date) -> Iterator[date]:
        """Every monthly expiry of ``exchange`` on or after ``start``, in order."""
        year, month = start.year, start.month
        while True:
            expiry = self.monthly_expiry(exchange, year, month)
            if expiry >= start:
                yield expiry
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def is_monthly(self, exchange: Exchange, day: date) -> bool:
        """Whether an expiry on ``day`` is ``exchange``'s monthly one (an exchange without an
        expiry weekday, MCX, lists monthly contracts only)."""
        if exchange not in self.expiry_rule(day).weekday:
            return True
        return day == self.monthly_expiry(exchange, day.year, day.month)

    def expiries_crossed(
        self, instruments: Iterable[Instrument], after_ms: int, until_ms: int
    ) -> list[tuple[int, frozenset[str]]]:
        """The expiry instants in (``after_ms``, ``until_ms``], each with the ids of the
        contracts of ``instruments`` expiring then, in time order."""
        crossed: dict[int, set[str]] = {}
        for instrument in instruments:
            if instrument.expiry is None:
                continue
            at_ms = self.expiry_instant_ms(instrument)
            if after_ms < at_ms <= until_ms:
                crossed.setdefault(at_ms, set()).add(instrument.instrument_id)
        return [(at_ms, frozenset(ids)) for at_ms, ids in sorted(crossed.items())]

    def has_weekly(self, exchange: Exchange, underlying: str, day: date) -> bool:
        """Whether ``underlying`` is ``exchange``'s weekly series under the rule of ``day``."""
        rule = self.expiry_rule(day)
        return underlying in rule.weekly and exchange in rule.weekday
