"""Minute candles folded from ticks and the intervals derived from them
(engine/market/candles.py): hand-checked figures, IST alignment of Kite's buckets to the
session open, day boundaries, a minute with a single tick, volume from the day's count."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from engine.market.candles import Candle, MinuteFolder, bucket_start, derive

IST = 330
EQUITY_OPEN = 9 * 60 + 15
MCX_OPEN = 9 * 60


def ms(text: str) -> int:
    """An IST wall time ``YYYY-MM-DD HH:MM[:SS]`` as epoch ms."""
    local = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(local.timestamp() * 1000) - IST * 60_000


def prices(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_fold_when_ticks_span_two_minutes_then_first_minute_completed_with_its_ohlc() -> None:
    folder = MinuteFolder()
    volume = prices(0, 0)
    assert folder.fold(ms("2026-12-01 09:15:00"), prices(100, 0), volume) is None
    assert folder.fold(ms("2026-12-01 09:15:20"), prices(104, 50), volume) is None
    assert folder.fold(ms("2026-12-01 09:15:40"), prices(97, 55), volume) is None
    assert folder.fold(ms("2026-12-01 09:15:59.750"), prices(101, 52), volume) is None
    completed = folder.fold(ms("2026-12-01 09:16:00"), prices(102, 53), volume)

    assert completed is not None
    assert completed.candle(0) == Candle(ms("2026-12-01 09:15"), 100, 104, 97, 101)
    # The second instrument was first priced 20 s into the minute: that tick opens it.
    assert completed.candle(1) == Candle(ms("2026-12-01 09:15"), 50, 55, 50, 52)
    assert folder.current is not None
    assert folder.current.candle(0) == Candle(ms("2026-12-01 09:16"), 102, 102, 102, 102)


def test_fold_when_a_minute_has_a_single_tick_then_its_candle_is_flat_at_that_price() -> None:
    folder = MinuteFolder()
    volume = prices(0)
    folder.fold(ms("2026-12-01 10:00:30"), prices(2500), volume)
    completed = folder.fold(ms("2026-12-01 10:03:00"), prices(2510), volume)

    assert completed is not None and len(completed) == 1
    assert completed.candle(0) == Candle(ms("2026-12-01 10:00"), 2500, 2500, 2500, 2500)


def test_fold_when_unpriced_all_minute_then_no_candle_and_empty_minute_not_handed_back() -> None:
    folder = MinuteFolder()
    folder.fold(ms("2026-12-01 10:00:00"), prices(0), prices(0))
    assert folder.fold(ms("2026-12-01 10:01:00"), prices(0), prices(0)) is None


def test_fold_volume_is_the_day_volume_increase_and_counts_from_zero_after_a_reset() -> None:
    folder = MinuteFolder()
    folder.fold(ms("2026-12-01 15:29:00"), prices(100), prices(1000))  # before start: not counted
    folder.fold(ms("2026-12-01 15:29:30"), prices(100), prices(1300))
    completed = folder.fold(ms("2026-12-01 15:30:00"), prices(100), prices(1350))
    assert completed is not None and completed.candle(0) is not None
    assert completed.candle(0).volume == 300  # type: ignore[union-attr]
    # A new trade day restarts the count: 20 traded since the reset, not a negative figure.
    folder.fold(ms("2026-12-02 09:15:00"), prices(101), prices(20))
    completed = folder.fold(ms("2026-12-02 09:16:00"), prices(101), prices(20))
    assert completed is not None
    assert completed.candle(0).volume == 20  # type: ignore[union-attr]
    assert completed.candle(0).at_ms == ms("2026-12-02 09:15")  # type: ignore[union-attr]


def test_fold_when_instruments_listed_mid_minute_then_their_rows_join() -> None:
    folder = MinuteFolder()
    folder.fold(ms("2026-12-01 10:00:00"), prices(100), prices(0))
    folder.fold(ms("2026-12-01 10:00:10"), prices(101, 7), prices(0, 0))
    completed = folder.fold(ms("2026-12-01 10:01:00"), prices(100, 8), prices(0, 0))
    assert completed is not None
    assert completed.candle(1) == Candle(ms("2026-12-01 10:00"), 7, 7, 7, 7)


def test_fold_when_the_published_minute_is_held_then_later_ticks_do_not_change_it() -> None:
    folder = MinuteFolder()
    folder.fold(ms("2026-12-01 10:00:00"), prices(100), prices(0))
    held = folder.current
    folder.fold(ms("2026-12-01 10:00:05"), prices(120), prices(0))
    assert held is not None and held.candle(0) == Candle(ms("2026-12-01 10:00"), 100, 100, 100, 100)


@pytest.mark.parametrize(
    ("at", "interval", "session_open", "start"),
    [
        ("2026-12-01 09:15", "60minute", EQUITY_OPEN, "2026-12-01 09:15"),
        ("2026-12-01 10:14", "60minute", EQUITY_OPEN, "2026-12-01 09:15"),
        ("2026-12-01 10:15", "60minute", EQUITY_OPEN, "2026-12-01 10:15"),
        ("2026-12-01 15:29", "60minute", EQUITY_OPEN, "2026-12-01 15:15"),
        ("2026-12-01 09:29", "15minute", EQUITY_OPEN, "2026-12-01 09:15"),
        ("2026-12-01 09:45", "30minute", EQUITY_OPEN, "2026-12-01 09:45"),
        ("2026-12-01 09:17", "3minute", EQUITY_OPEN, "2026-12-01 09:15"),
        ("2026-12-01 09:18", "3minute", EQUITY_OPEN, "2026-12-01 09:18"),
        ("2026-12-01 09:24", "10minute", EQUITY_OPEN, "2026-12-01 09:15"),
        ("2026-12-01 09:59", "60minute", MCX_OPEN, "2026-12-01 09:00"),
        ("2026-12-01 23:54", "60minute", MCX_OPEN, "2026-12-01 23:00"),
        # Before the open (a market trading around the clock): the same grid, counted back.
        ("2026-12-01 09:14", "60minute", EQUITY_OPEN, "2026-12-01 08:15"),
        ("2026-12-01 00:10", "60minute", EQUITY_OPEN, "2026-11-30 23:15"),
        # A day is its IST date, stamped at IST midnight (18:30 UTC the day before).
        ("2026-12-01 00:00", "day", EQUITY_OPEN, "2026-12-01 00:00"),
        ("2026-12-01 23:59", "day", MCX_OPEN, "2026-12-01 00:00"),
        ("2026-12-01 05:29", "minute", EQUITY_OPEN, "2026-12-01 05:29"),
    ],
)
def test_bucket_start_aligns_to_the_session_open_in_ist(
    at: str, interval: str, session_open: int, start: str
) -> None:
    assert bucket_start(ms(at), interval, session_open, IST) == ms(start)


def test_day_bucket_when_utc_date_differs_then_ist_date_decides() -> None:
    # 19:00 UTC on 1 Dec is 00:30 IST on 2 Dec: the day candle of 2 Dec.
    at = int(datetime(2026, 12, 1, 19, 0, tzinfo=UTC).timestamp() * 1000)
    assert bucket_start(at, "day", EQUITY_OPEN, IST) == ms("2026-12-02 00:00")


def minute(at: str, o: int, h: int, low: int, c: int, v: int = 0) -> Candle:
    return Candle(ms(at), o, h, low, c, v)


def test_derive_15minute_when_minutes_straddle_buckets_then_hand_checked_ohlcv() -> None:
    minutes = [
        minute("2026-12-01 09:15", 100, 105, 99, 104, 10),
        minute("2026-12-01 09:16", 104, 110, 103, 108, 5),
        minute("2026-12-01 09:29", 108, 109, 95, 96, 1),
        minute("2026-12-01 09:30", 96, 97, 94, 97, 2),
        minute("2026-12-01 09:44", 97, 99, 96, 98, 0),
        minute("2026-12-01 09:46", 98, 98, 90, 91, 4),
    ]
    assert derive(minutes, "15minute", EQUITY_OPEN, IST) == [
        minute("2026-12-01 09:15", 100, 110, 95, 96, 16),
        minute("2026-12-01 09:30", 96, 99, 94, 98, 2),
        minute("2026-12-01 09:45", 98, 98, 90, 91, 4),
    ]


def test_derive_day_when_minutes_of_two_ist_dates_then_one_candle_each() -> None:
    minutes = [
        minute("2026-12-01 09:15", 100, 101, 99, 100),
        minute("2026-12-01 15:29", 100, 120, 100, 118),
        minute("2026-12-02 09:15", 119, 119, 80, 85),
    ]
    assert derive(minutes, "day", EQUITY_OPEN, IST) == [
        minute("2026-12-01 00:00", 100, 120, 99, 118),
        minute("2026-12-02 00:00", 119, 119, 80, 85),
    ]


def test_derive_60minute_when_session_ends_1530_then_last_bucket_is_1515_short() -> None:
    minutes = [minute("2026-12-01 15:14", 1, 2, 1, 2), minute("2026-12-01 15:29", 2, 3, 2, 3)]
    derived = derive(minutes, "60minute", EQUITY_OPEN, IST)
    assert [c.at_ms for c in derived] == [ms("2026-12-01 14:15"), ms("2026-12-01 15:15")]


def test_derive_minute_returns_minutes_as_they_are_and_unknown_interval_refused() -> None:
    minutes = [minute("2026-12-01 09:15", 1, 1, 1, 1)]
    assert derive(minutes, "minute", EQUITY_OPEN, IST) == minutes
    with pytest.raises(ValueError, match="interval"):
        derive(minutes, "2minute", EQUITY_OPEN, IST)
