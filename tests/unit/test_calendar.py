"""The exchanges' calendar (``engine.domain.calendar``, docs/DOMAIN.md §6): trading days against
exchange_calendars' record of BSE's 2026, closes by date, US daylight saving for MCX, and
expiries on known dates (NIFTY weeklies on Tuesdays ending with December 2026's monthly on the
29th, SENSEX on Thursdays with its monthly on the 31st, expiries moved back over holidays)."""

from __future__ import annotations

import warnings
from datetime import date, datetime, timedelta, timezone
from itertools import islice

import pytest

from engine.config import Config, load_config
from engine.domain.calendar import ExchangeCalendar, us_daylight_saving
from engine.domain.enums import Exchange
from engine.domain.instruments import InstrumentMaster

IST = timezone(timedelta(hours=5, minutes=30))


@pytest.fixture(scope="module")
def calendar(config: Config) -> ExchangeCalendar:
    return ExchangeCalendar.from_config(config.sessions)


def test_trading_days_when_2026_then_as_exchange_calendars_records_bse(
    calendar: ExchangeCalendar,
) -> None:
    with warnings.catch_warnings():  # pandas' deprecation notices from inside the oracle
        warnings.simplefilter("ignore")
        import exchange_calendars

        bse = exchange_calendars.get_calendar("XBOM", start="2026-01-01", end="2026-12-31")
        sessions = {timestamp.date() for timestamp in bse.sessions}
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert calendar.is_trading_day(day) == (day in sessions), day
        day += timedelta(days=1)


@pytest.mark.parametrize(
    ("day", "trading"),
    [
        (date(2026, 11, 23), True),  # Monday
        (date(2026, 11, 24), False),  # Guru Nanak Jayanti
        (date(2026, 11, 28), False),  # Saturday
        (date(2027, 1, 26), False),  # Republic Day (2027's list is provisional)
        (date(2027, 3, 26), False),  # Good Friday 2027
        (date(2027, 3, 25), True),
    ],
)
def test_is_trading_day_when_asked_then_weekday_and_not_holiday(
    calendar: ExchangeCalendar, day: date, trading: bool
) -> None:
    assert calendar.is_trading_day(day) is trading


@pytest.mark.parametrize(
    ("day", "trading"),
    [
        (date(2026, 11, 24), True),  # an NSE holiday on which MCX's evening session trades
        (date(2026, 4, 3), False),  # Good Friday: MCX closed all day
        (date(2026, 12, 25), False),
        (date(2026, 12, 26), False),  # Saturday
        (date(2027, 3, 22), True),  # Holi: only MCX's morning session is shut
    ],
)
def test_is_trading_day_when_mcx_then_its_own_full_day_closures(
    calendar: ExchangeCalendar, day: date, trading: bool
) -> None:
    assert calendar.is_trading_day(day, Exchange.MCX) is trading


def test_trading_days_before_when_counting_back_then_skips_weekends_and_holidays(
    calendar: ExchangeCalendar,
) -> None:
    # 2026-12-28 is a Monday: one MCX trading day before is Thursday the 24th (the 25th is shut).
    assert calendar.trading_days_before(date(2026, 12, 28), 1, Exchange.MCX) == date(2026, 12, 24)
    assert calendar.trading_days_before(date(2026, 12, 28), 2, Exchange.MCX) == date(2026, 12, 23)
    assert calendar.trading_days_before(date(2026, 12, 28), 0, Exchange.MCX) == date(2026, 12, 28)


def test_weekly_expiries_when_december_2026_then_nifty_tuesdays_and_sensex_thursdays(
    calendar: ExchangeCalendar,
) -> None:
    nifty = list(islice(calendar.weekly_expiries(Exchange.NFO, date(2026, 12, 1)), 5))
    assert nifty == [date(2026, 12, d) for d in (1, 8, 15, 22, 29)]
    sensex = list(islice(calendar.weekly_expiries(Exchange.BFO, date(2026, 12, 1)), 5))
    assert sensex == [date(2026, 12, d) for d in (3, 10, 17, 24, 31)]
    assert calendar.monthly_expiry(Exchange.NFO, 2026, 12) == date(2026, 12, 29)
    assert calendar.monthly_expiry(Exchange.BFO, 2026, 12) == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("exchange", "expected"),
    [
        # Holi on Tuesday 3 March: the NIFTY weekly moves to Monday the 2nd.
        (Exchange.NFO, [date(2026, 3, 2), date(2026, 3, 10), date(2026, 3, 17)]),
        # Ram Navami on Thursday 26 March: the SENSEX weekly moves to Wednesday the 25th.
        (Exchange.BFO, [date(2026, 3, 19), date(2026, 3, 25), date(2026, 4, 2)]),
    ],
)
def test_weekly_expiry_when_its_day_is_a_holiday_then_the_trading_day_before(
    calendar: ExchangeCalendar, exchange: Exchange, expected: list[date]
) -> None:
    start = expected[0] - timedelta(days=1)
    assert list(islice(calendar.weekly_expiries(exchange, start), 3)) == expected


@pytest.mark.parametrize(
    ("exchange", "year", "month", "expected"),
    [
        (Exchange.NFO, 2026, 3, date(2026, 3, 30)),  # Tuesday the 31st: Mahavir Jayanti
        (Exchange.NFO, 2026, 11, date(2026, 11, 23)),  # Tuesday the 24th: Guru Nanak Jayanti
        (Exchange.BFO, 2026, 3, date(2026, 3, 25)),  # Thursday the 26th: Ram Navami
        (Exchange.NFO, 2027, 1, date(2027, 1, 25)),  # the last Tuesday is Republic Day
        (Exchange.BFO, 2027, 2, date(2027, 2, 25)),
    ],
)
def test_monthly_expiry_when_month_given_then_last_expiry_weekday_moved_back_over_holidays(
    calendar: ExchangeCalendar, exchange: Exchange, year: int, month: int, expected: date
) -> None:
    assert calendar.monthly_expiry(exchange, year, month) == expected
    monthly = next(calendar.monthly_expiries(exchange, date(year, month, 1)))
    assert monthly == expected


def test_expiry_rule_when_changed_on_a_date_then_each_expiry_by_the_rule_in_force() -> None:
    # Before 1 September 2025 NSE's expiries were on Thursdays: an earlier rule, listed too.
    config = load_config(
        sessions={
            "expiry_rules": [
                {"effective_from": "2024-01-01", "weekday": {"NFO": "THU"}, "weekly": ["NIFTY"]},
                {
                    "effective_from": "2025-09-01",
                    "weekday": {"NFO": "TUE", "BFO": "THU"},
                    "weekly": ["NIFTY", "SENSEX"],
                },
            ]
        }
    )
    calendar = ExchangeCalendar.from_config(config.sessions)
    assert calendar.monthly_expiry(Exchange.NFO, 2025, 8) == date(2025, 8, 28)  # Thursday
    assert calendar.monthly_expiry(Exchange.NFO, 2025, 9) == date(2025, 9, 30)  # Tuesday
    assert not calendar.has_weekly(Exchange.BFO, "SENSEX", date(2025, 8, 1))
    assert calendar.has_weekly(Exchange.BFO, "SENSEX", date(2025, 9, 1))
    assert not calendar.has_weekly(Exchange.NFO, "BANKNIFTY", date(2026, 12, 1))


@pytest.mark.parametrize(
    ("day", "on"),
    [
        (date(2026, 3, 7), False),
        (date(2026, 3, 8), True),  # the second Sunday of March
        (date(2026, 10, 31), True),
        (date(2026, 11, 1), False),  # the first Sunday of November
        (date(2027, 3, 14), True),
        (date(2027, 11, 7), False),
    ],
)
def test_us_daylight_saving_when_day_given_then_second_sunday_of_march_to_first_of_november(
    day: date, on: bool
) -> None:
    assert us_daylight_saving(day) is on


def test_closes_when_dated_then_fno_at_15_40_from_3_august_2026_and_mcx_by_us_time(
    calendar: ExchangeCalendar,
) -> None:
    assert calendar.derivatives_close(date(2026, 7, 31)) == 15 * 60 + 30
    assert calendar.derivatives_close(date(2026, 8, 3)) == 15 * 60 + 40
    assert calendar.mcx_close(date(2026, 10, 30)) == 23 * 60 + 30
    assert calendar.mcx_close(date(2026, 11, 2)) == 23 * 60 + 55


def test_expiry_instant_when_contract_given_then_its_segments_close_on_its_expiry_date(
    calendar: ExchangeCalendar, master: InstrumentMaster
) -> None:
    def ist(instrument_key: str) -> datetime:
        instrument = master.get(instrument_key)
        assert instrument is not None
        return datetime.fromtimestamp(calendar.expiry_instant_ms(instrument) / 1000, IST)

    assert ist("NFO:NIFTY26DECFUT") == datetime(2026, 12, 29, 15, 40, tzinfo=IST)
    assert ist("BFO:SENSEX26DECFUT") == datetime(2026, 12, 31, 15, 40, tzinfo=IST)
    assert ist("MCX:CRUDEOIL26DECFUT") == datetime(2026, 12, 18, 23, 55, tzinfo=IST)


@pytest.mark.parametrize(
    ("exchange", "day", "monthly"),
    [
        (Exchange.NFO, date(2026, 12, 29), True),
        (Exchange.NFO, date(2026, 12, 22), False),
        (Exchange.NFO, date(2026, 11, 23), True),  # moved back from the holiday on the 24th
        (Exchange.BFO, date(2026, 12, 31), True),
        (Exchange.BFO, date(2026, 12, 24), False),
        (Exchange.MCX, date(2026, 12, 18), True),  # MCX lists monthly contracts only
    ],
)
def test_is_monthly_when_expiry_given_then_the_months_last_or_a_weekly(
    calendar: ExchangeCalendar, exchange: Exchange, day: date, monthly: bool
) -> None:
    assert calendar.is_monthly(exchange, day) is monthly


def test_expiries_crossed_when_window_given_then_each_instant_with_its_contracts(
    calendar: ExchangeCalendar, master: InstrumentMaster
) -> None:
    def at(day: int, hour: int, minute: int) -> int:
        return int(datetime(2026, 12, day, hour, minute, tzinfo=IST).timestamp() * 1000)

    crossed = calendar.expiries_crossed(master, at(1, 0, 0), at(31, 23, 59))
    assert [at_ms for at_ms, _ in crossed] == [at(18, 23, 55), at(29, 15, 40), at(31, 15, 40)]
    assert crossed[0][1] == {"MCX_FO|472789"}  # CRUDEOIL26DECFUT
    nifty = {i.instrument_id for i in master if i.expiry is not None and i.expiry.day == 29}
    assert crossed[1][1] == nifty
    assert len(nifty) == 2 + 28  # two futures and every NIFTY and BANKNIFTY option
    # The window is open at its start and closed at its end.
    assert calendar.expiries_crossed(master, at(29, 15, 40), at(31, 15, 39)) == []
    assert [a for a, _ in calendar.expiries_crossed(master, at(29, 15, 39), at(29, 15, 40))] == [
        at(29, 15, 40)
    ]
