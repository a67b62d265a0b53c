"""The Kite historical route's parameters (gateway/kite/history_routes.py): ``from`` and ``to``
as Kite takes them (a datetime or a date, IST; ``to`` inclusive, a date ``to`` its whole day),
the interval's range limit, and every refusal an ``InputException`` naming the parameter; the
candle rows stamped at their IST start as Kite writes them."""

from __future__ import annotations

from datetime import UTC, datetime

import dateutil.parser
import pytest

from engine.market.candles import Candle
from gateway.kite.history_routes import candle_rows, parse_moment, parse_query
from gateway.kite.wire import IST, ErrorType, KiteError

LIMITS = {
    "minute": 60,
    "3minute": 100,
    "5minute": 100,
    "10minute": 100,
    "15minute": 200,
    "30minute": 200,
    "60minute": 400,
    "day": 2000,
}


def ms(text: str) -> int:
    """Epoch ms of an IST wall time ``YYYY-MM-DD HH:MM[:SS]``."""
    return int(datetime.fromisoformat(text).replace(tzinfo=IST).timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "expected", "is_date"),
    [
        ("2026-12-03 09:15:00", "2026-12-03 09:15:00", False),
        ("2026-12-03T09:15:00", "2026-12-03 09:15:00", False),
        ("2026-12-03 09:15", "2026-12-03 09:15:00", False),
        (" 2026-12-03 ", "2026-12-03 00:00:00", True),
    ],
)
def test_parse_moment_when_kite_format_then_ist_instant(
    text: str, expected: str, is_date: bool
) -> None:
    moment, date_only = parse_moment(text, "from")
    assert moment == datetime.fromisoformat(expected).replace(tzinfo=IST)
    assert date_only is is_date


@pytest.mark.parametrize(
    "text", [None, "", "yesterday", "2026-13-01", "03-12-2026", "2026-12-03 25:00:00"]
)
def test_parse_moment_when_malformed_then_input_error_naming_it(text: str | None) -> None:
    with pytest.raises(KiteError) as raised:
        parse_moment(text, "to")
    assert raised.value.error_type is ErrorType.INPUT and raised.value.status == 400
    assert "`to`" in raised.value.message


def test_parse_query_when_datetimes_then_to_inclusive_and_flags_read() -> None:
    query = parse_query(
        "15minute",
        {"from": "2026-12-03 09:15:00", "to": "2026-12-03 15:30:00", "oi": "1", "continuous": "0"},
        LIMITS,
    )
    assert query.interval == "15minute"
    assert query.start_ms == ms("2026-12-03 09:15")
    assert query.end_ms == ms("2026-12-03 15:30") + 1  # a candle starting at `to` is in
    assert query.oi is True and query.continuous is False


def test_parse_query_when_dates_then_to_covers_its_whole_day() -> None:
    query = parse_query("day", {"from": "2026-12-01", "to": "2026-12-03"}, LIMITS)
    assert query.start_ms == ms("2026-12-01 00:00")
    assert query.end_ms == ms("2026-12-04 00:00")
    assert query.oi is False and query.continuous is False


def test_parse_query_when_exactly_the_limit_then_accepted() -> None:
    query = parse_query("minute", {"from": "2026-10-04", "to": "2026-12-03"}, LIMITS)
    assert query.end_ms - query.start_ms == 61 * 86_400_000  # 60 days, and `to`'s own day


@pytest.mark.parametrize(
    ("interval", "params", "named"),
    [
        ("2minute", {"from": "2026-12-01", "to": "2026-12-02"}, "`interval`"),
        ("week", {"from": "2026-12-01", "to": "2026-12-02"}, "`interval`"),
        ("minute", {"to": "2026-12-02"}, "`from`"),
        ("minute", {"from": "2026-12-01"}, "`to`"),
        ("minute", {"from": "2026-12-02", "to": "2026-12-01 23:59:59"}, "`from`"),
        ("minute", {"from": "2026-10-01", "to": "2026-12-01"}, "`from`"),  # 61 days
        ("day", {"from": "2021-06-08", "to": "2026-12-01"}, "`from`"),  # past 2,000
        ("minute", {"from": "2026-12-01", "to": "2026-12-02", "oi": "maybe"}, "`oi`"),
        ("minute", {"from": "2026-12-01", "to": "2026-12-02", "continuous": "2"}, "`continuous`"),
    ],
)
def test_parse_query_when_wrong_then_input_error_naming_the_parameter(
    interval: str, params: dict[str, str], named: str
) -> None:
    with pytest.raises(KiteError) as raised:
        parse_query(interval, params, LIMITS)
    assert raised.value.error_type is ErrorType.INPUT
    assert named in raised.value.message


def test_parse_query_when_range_too_long_then_kites_message() -> None:
    with pytest.raises(KiteError, match="interval exceeds max limit: 200 days"):
        parse_query("30minute", {"from": "2026-01-01", "to": "2026-12-01"}, LIMITS)


def test_candle_rows_when_formatted_then_dateutil_reads_the_ist_start() -> None:
    candles = [
        Candle(ms("2026-12-03 09:15"), 250_010, 250_500, 249_900, 250_000, 12, 0),
        Candle(ms("2026-12-03 23:29"), 531_200, 531_200, 531_100, 531_100, 0, 0),
        Candle(ms("2026-12-04 00:00"), 100, 100, 100, 100, 0, 0),  # a day candle's midnight
    ]
    rows = candle_rows(candles, with_oi=False)
    assert rows[0] == ["2026-12-03T09:15:00+0530", 2500.1, 2505.0, 2499.0, 2500.0, 12]
    assert rows[1][0] == "2026-12-03T23:29:00+0530"
    assert rows[2][0] == "2026-12-04T00:00:00+0530"
    for row, candle in zip(rows, candles, strict=True):
        parsed = dateutil.parser.parse(row[0])
        assert parsed.utcoffset() == IST.utcoffset(None)
        assert parsed == datetime.fromtimestamp(candle.at_ms / 1000, UTC)
    assert [len(row) for row in candle_rows(candles, with_oi=True)] == [7, 7, 7]
