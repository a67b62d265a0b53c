"""Market hours (docs/DOMAIN.md §6), when ``[sessions] enforce_hours`` is on.

Instruments fall in three session groups: cash equity (NSE, BSE), derivatives (NFO, BFO, CDS)
and commodities (MCX). Each group is open on weekdays between its open and close (IST, or the
configured offset; no exchange holiday calendar), and MIS is squared off at its square-off time:
equity 15:20, derivatives 15:25, MCX 25 minutes before close. The market actor asks
:meth:`SessionRules.boundaries_crossed` on every tick and the accounts act on what it reports;
an account acts only on orders and positions older than the boundary, so a boundary reported
again (the server catching up after a restart) changes nothing it already did.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.domain.enums import Exchange
from engine.domain.instruments import Instrument
from engine.domain.parameters import SessionsConfig

MS_PER_MINUTE = 60_000
MS_PER_DAY = 86_400_000
CATCH_UP_DAYS = 7  # how far back boundaries are looked for (a long weekend, a long outage)
# 1970-01-01 was a Thursday: the weekday (Monday 0) of day number d is (d + 3) % 7.
_EPOCH_WEEKDAY = 3


def _is_weekday(day: int) -> bool:
    return (day + _EPOCH_WEEKDAY) % 7 < 5


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


def _minute(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True)
class SessionRules:
    """Open/close and square-off minutes of each group, in exchange-local time."""

    offset_ms: int
    hours: dict[SessionGroup, tuple[int, int]]  # (open, close) minute of day
    squareoff: dict[SessionGroup, int]

    @classmethod
    def from_config(cls, config: SessionsConfig) -> SessionRules | None:
        """The rules, or None when hours are not enforced (trading around the clock)."""
        if not config.enforce_hours:
            return None
        equity = (_minute(config.equity_open), _minute(config.equity_close))
        mcx = (_minute(config.mcx_open), _minute(config.mcx_close))
        return cls(
            offset_ms=config.timezone_offset_minutes * MS_PER_MINUTE,
            hours={
                SessionGroup.EQUITY: equity,
                SessionGroup.DERIVATIVES: equity,
                SessionGroup.COMMODITIES: mcx,
            },
            squareoff={
                SessionGroup.EQUITY: _minute(config.mis_squareoff_equity),
                SessionGroup.DERIVATIVES: _minute(config.mis_squareoff_fno),
                SessionGroup.COMMODITIES: mcx[1] - config.mis_squareoff_mcx_before_close_minutes,
            },
        )

    def _local(self, now_ms: int) -> tuple[int, int]:
        """(day number, minute of day) in exchange-local time."""
        day, ms = divmod(now_ms + self.offset_ms, MS_PER_DAY)
        return day, ms // MS_PER_MINUTE

    def is_open(self, group: SessionGroup, now_ms: int) -> bool:
        day, minute = self._local(now_ms)
        opens, closes = self.hours[group]
        return _is_weekday(day) and opens <= minute < closes

    def mis_open(self, group: SessionGroup, now_ms: int) -> bool:
        """Open, and not yet squared off: new MIS orders are taken."""
        return self.is_open(group, now_ms) and self._local(now_ms)[1] < self.squareoff[group]

    def boundaries_crossed(
        self, after_ms: int, until_ms: int
    ) -> list[tuple[SessionGroup, Boundary, int]]:
        """The square-offs and closes of weekdays in (``after_ms``, ``until_ms``], each with
        the instant it happened."""
        crossed = []
        after_ms = max(after_ms, until_ms - CATCH_UP_DAYS * MS_PER_DAY)
        first_day, _ = self._local(after_ms)
        last_day, _ = self._local(until_ms)
        for day in range(first_day, last_day + 1):
            if not _is_weekday(day):
                continue
            for group in SessionGroup:
                for boundary, minute in (
                    (Boundary.SQUARE_OFF, self.squareoff[group]),
                    (Boundary.CLOSE, self.hours[group][1]),
                ):
                    at_ms = day * MS_PER_DAY + minute * MS_PER_MINUTE - self.offset_ms
                    if after_ms < at_ms <= until_ms:
                        crossed.append((group, boundary, at_ms))
        return crossed
