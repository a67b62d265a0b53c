"""One-minute OHLCV candles folded from the market's ticks, and the longer intervals derived
from them (docs/API.md "Candles").

:class:`MinuteFolder` takes every tick's snapshot (on the market actor's thread, as a tick
listener) and keeps the current minute of every instrument as numpy columns: the first priced
tick of a minute opens it, each tick raises its high, lowers its low and sets its close. When
a tick falls in a later minute, the minute before is handed back whole (:class:`MinuteBlock`)
and a new one starts. Each fold builds new arrays rather than writing into the published
block, so a reader on another thread holding ``current`` sees one consistent minute.

Volume is the cumulative day volume's increase over the minute. The quotes carry no volume of
their own (``engine.domain.quote.Quote``): the market's day volume (``MarketData.volume``) is
what the accounts of this server traded, so that is what a candle counts, the same figure
``/api/quotes`` reports; it restarts at 0 each trade day, and an increase measured across that
reset counts from 0. Open interest is not modelled by the market: ``oi`` is 0.

Intervals are Kite's. An N-minute candle covers N minutes counted from its session's open in
IST (09:15 for NSE, BSE and their derivatives, 09:00 for MCX), so 60-minute candles start at
09:15, 10:15, …; a day candle covers one IST date and is stamped at its midnight, as Kite's
are. Every time here is epoch milliseconds (UTC); only the bucketing reads the IST offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec
import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MS_PER_MINUTE = 60_000
MINUTES_PER_DAY = 1440
DAY = "day"
# Kite's intervals and their length in minutes (a day: one IST date).
INTERVAL_MINUTES: dict[str, int] = {
    "minute": 1,
    "3minute": 3,
    "5minute": 5,
    "10minute": 10,
    "15minute": 15,
    "30minute": 30,
    "60minute": 60,
    DAY: MINUTES_PER_DAY,
}


class Candle(msgspec.Struct, frozen=True, gc=False):
    """One candle: its start (epoch ms), prices in paise, volume in units, open interest."""

    at_ms: int
    open_paise: int
    high_paise: int
    low_paise: int
    close_paise: int
    volume: int = 0
    oi: int = 0


class MinuteBlock:
    """Every instrument's candle of one minute, as columns (read-only once published).

    ``priced`` says which instruments had a price in the minute; the others' entries mean
    nothing. ``day_volume`` is the cumulative day volume at the last tick folded in.
    """

    __slots__ = ("close", "day_volume", "high", "low", "minute_ms", "open", "priced", "volume")

    def __init__(  # noqa: PLR0917 (one column each)
        self,
        minute_ms: int,
        open_: Int64Array,
        high: Int64Array,
        low: Int64Array,
        close: Int64Array,
        volume: Int64Array,
        day_volume: Int64Array,
        priced: BoolArray,
    ) -> None:
        self.minute_ms = minute_ms
        self.open = open_
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.day_volume = day_volume
        self.priced = priced

    def __len__(self) -> int:
        return int(self.priced.sum())

    def candle(self, index: int) -> Candle | None:
        """The candle of the instrument at ``index``, or None if it had no price this minute."""
        if index >= len(self.priced) or not self.priced[index]:
            return None
        return Candle(
            self.minute_ms,
            int(self.open[index]),
            int(self.high[index]),
            int(self.low[index]),
            int(self.close[index]),
            int(self.volume[index]),
        )

    def rows(self) -> Iterable[tuple[int, Candle]]:
        """(instrument index, candle) of every instrument priced in the minute."""
        for index in np.flatnonzero(self.priced):
            candle = self.candle(int(index))
            assert candle is not None
            yield int(index), candle


def minute_of(at_ms: int) -> int:
    """The start of the minute holding ``at_ms``."""
    return at_ms - at_ms % MS_PER_MINUTE


def _grown(column: Int64Array, n: int) -> Int64Array:
    """``column`` padded with zeros to ``n`` entries (instruments listed since)."""
    if len(column) >= n:
        return column
    return np.concatenate([column, np.zeros(n - len(column), dtype=np.int64)])


class MinuteFolder:
    """Folds ticks into the current minute of every instrument (one thread only: the market
    actor's). ``current`` is the minute being built, replaced (never changed) at each fold."""

    def __init__(self) -> None:
        self.current: MinuteBlock | None = None

    def fold(self, at_ms: int, ltp: Int64Array, day_volume: Int64Array) -> MinuteBlock | None:
        """Fold one tick (its time, every LTP in paise, 0 where unpriced, and the cumulative
        day volumes); return the minute it completed, if it started a new one. A tick older
        than the current minute (a clock stepped back) is folded into the current minute."""
        n = len(ltp)
        day_volume = _grown(day_volume[:n], n).copy()
        priced_now = ltp > 0
        current = self.current
        minute_ms = minute_of(at_ms)
        if current is None or minute_ms > current.minute_ms:
            completed = current if current is not None and len(current) else None
            previous_volume = (
                day_volume.copy() if current is None else _grown(current.day_volume, n)
            )
            self.current = self._open(minute_ms, ltp, day_volume, previous_volume, priced_now)
            return completed
        self.current = self._extend(current, ltp, day_volume, priced_now)
        return None

    @staticmethod
    def _traded(day_volume: Int64Array, before: Int64Array) -> Int64Array:
        """The volume traded since ``before``: the increase, or (the day's count restarted)
        everything counted since the restart."""
        traded: Int64Array = np.where(day_volume >= before, day_volume - before, day_volume)
        return traded

    def _open(
        self,
        minute_ms: int,
        ltp: Int64Array,
        day_volume: Int64Array,
        previous_volume: Int64Array,
        priced: BoolArray,
    ) -> MinuteBlock:
        price = ltp.copy()
        return MinuteBlock(
            minute_ms,
            price,
            price.copy(),
            price.copy(),
            price.copy(),
            self._traded(day_volume, previous_volume),
            day_volume,
            priced.copy(),
        )

    def _extend(
        self, block: MinuteBlock, ltp: Int64Array, day_volume: Int64Array, priced_now: BoolArray
    ) -> MinuteBlock:
        n = len(ltp)
        was_priced = np.concatenate([block.priced, np.zeros(n - len(block.priced), np.bool_)])
        opening = priced_now & ~was_priced
        open_ = np.where(opening, ltp, _grown(block.open, n))
        high = np.where(opening, ltp, _grown(block.high, n))
        low = np.where(opening, ltp, _grown(block.low, n))
        high = np.where(priced_now, np.maximum(high, ltp), high)
        low = np.where(priced_now, np.minimum(low, ltp), low)
        close = np.where(priced_now, ltp, _grown(block.close, n))
        volume = _grown(block.volume, n) + self._traded(day_volume, _grown(block.day_volume, n))
        return MinuteBlock(
            block.minute_ms, open_, high, low, close, volume, day_volume, was_priced | priced_now
        )


def merge(earlier: Candle, later: Candle) -> Candle:
    """One candle of two parts of the same bucket, ``earlier`` then ``later``: the first open,
    the extremes, the last close, the volumes added and the latest open interest."""
    return Candle(
        earlier.at_ms,
        earlier.open_paise,
        max(earlier.high_paise, later.high_paise),
        min(earlier.low_paise, later.low_paise),
        later.close_paise,
        earlier.volume + later.volume,
        later.oi,
    )


def bucket_start(at_ms: int, interval: str, session_open_minute: int, offset_minutes: int) -> int:
    """The start of the ``interval`` bucket holding the minute ``at_ms``: N-minute buckets
    counted from ``session_open_minute`` (IST minute of day) of the same IST date, a day's at
    its IST midnight (``offset_minutes`` east of UTC)."""
    size = INTERVAL_MINUTES[interval]
    local_minute = at_ms // MS_PER_MINUTE + offset_minutes
    day_start = local_minute - local_minute % MINUTES_PER_DAY
    if interval == DAY:
        start = day_start
    else:
        since_open = local_minute - day_start - session_open_minute
        start = day_start + session_open_minute + since_open // size * size
    return (start - offset_minutes) * MS_PER_MINUTE


def derive(
    minutes: Sequence[Candle], interval: str, session_open_minute: int, offset_minutes: int
) -> list[Candle]:
    """``interval`` candles from one instrument's minute candles (in time order), each bucket
    aligned by :func:`bucket_start` and stamped at its start; empty buckets are left out."""
    if interval not in INTERVAL_MINUTES:
        raise ValueError(f"unknown interval {interval!r}")
    if INTERVAL_MINUTES[interval] == 1:
        return list(minutes)
    derived: list[Candle] = []
    for minute in minutes:
        start = bucket_start(minute.at_ms, interval, session_open_minute, offset_minutes)
        if derived and derived[-1].at_ms == start:
            derived[-1] = merge(derived[-1], minute)
        else:
            derived.append(msgspec.structs.replace(minute, at_ms=start))
    return derived
