"""The generated F&O universe (engine.market.universe): which expiries, strikes, symbols, tokens
and terms the simulated exchange lists on a day, and how the listing rolls when a clock crosses
an expiry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

import pytest

from engine.config import Config, ListedUnderlying
from engine.domain.calendar import ExchangeCalendar
from engine.domain.contract_names import SEGMENT_CODES
from engine.domain.enums import Exchange, InstrumentType
from engine.domain.instruments import Instrument, InstrumentMaster, Liquidity
from engine.market.universe import ContractLister

NIFTY_SPOT = "NSE:NIFTY 50"
IST = timezone(timedelta(hours=5, minutes=30))


def ms(year: int, month: int, day: int, hour: int, minute: int) -> int:
    """An IST wall-clock instant in epoch milliseconds."""
    return int(datetime(year, month, day, hour, minute, tzinfo=IST).timestamp() * 1000)


FRIDAY_4_DEC = ms(2026, 12, 4, 10, 0)


@pytest.fixture(scope="module")
def lister(config: Config) -> ContractLister:
    return ContractLister(config.market, ExchangeCalendar.from_config(config.sessions))


def listed(config: Config, name: str) -> ListedUnderlying:
    return next(u for u in config.market.universe.underlyings if u.name == name)


def references(master: InstrumentMaster, **overrides: int) -> Callable[[int], int]:
    """Each instrument's price: its reference, or the paise given for its ticker's name."""
    by_index = {master.index_of(ticker): paise for ticker, paise in overrides.items()}

    def price_of(index: int) -> int:
        return by_index.get(index, master.at(index).reference_price_paise)

    return price_of


def generated(
    lister: ContractLister, master: InstrumentMaster, now_ms: int, **prices: int
) -> list[Instrument]:
    return lister.contracts(master, now_ms, references(master, **prices))


def of(contracts: list[Instrument], underlying: str, kind: InstrumentType) -> list[Instrument]:
    return [c for c in contracts if c.underlying == underlying and c.instrument_type is kind]


# -- expiries ------------------------------------------------------------------------------------


def test_nifty_options_when_listed_on_4_dec_then_four_tuesday_weeklies_and_three_monthlies(
    config: Config, lister: ContractLister
) -> None:
    series = lister.option_series(listed(config, "NIFTY"), FRIDAY_4_DEC)
    assert [(s.expiry, s.monthly) for s in series] == [
        (date(2026, 12, 8), False),
        (date(2026, 12, 15), False),
        (date(2026, 12, 22), False),
        (date(2026, 12, 29), True),  # the last weekly is the month's series
        (date(2027, 1, 25), True),  # 26 Jan is Republic Day: a day earlier
        (date(2027, 2, 23), True),
    ]


def test_banknifty_when_listed_then_monthly_options_and_futures_only(
    config: Config, lister: ContractLister
) -> None:
    banknifty = listed(config, "BANKNIFTY")
    monthly = [date(2026, 12, 29), date(2027, 1, 25), date(2027, 2, 23)]
    assert [s.expiry for s in lister.option_series(banknifty, FRIDAY_4_DEC)] == monthly
    assert lister.future_expiries(banknifty, FRIDAY_4_DEC) == monthly


def test_sensex_when_listed_then_thursday_weeklies_ending_with_the_monthly_on_31_dec(
    config: Config, lister: ContractLister
) -> None:
    series = lister.option_series(listed(config, "SENSEX"), FRIDAY_4_DEC)
    assert [(s.expiry, s.monthly) for s in series] == [
        (date(2026, 12, 10), False),
        (date(2026, 12, 17), False),
        (date(2026, 12, 24), False),
        (date(2026, 12, 31), True),
        (date(2027, 1, 28), True),
        (date(2027, 2, 25), True),
    ]


def test_crudeoil_when_listed_then_futures_on_the_19th_moved_back_and_options_two_days_earlier(
    config: Config, lister: ContractLister
) -> None:
    crude = listed(config, "CRUDEOIL")
    # 19 Dec 2026 is a Saturday: the December future expires on Friday the 18th.
    futures = [date(2026, 12, 18), date(2027, 1, 19), date(2027, 2, 19)]
    assert lister.future_expiries(crude, FRIDAY_4_DEC) == futures
    series = lister.option_series(crude, FRIDAY_4_DEC)
    assert [(s.expiry, s.named_by) for s in series] == [
        (date(2026, 12, 16), date(2026, 12, 18)),
        (date(2027, 1, 15), date(2027, 1, 19)),
        (date(2027, 2, 17), date(2027, 2, 19)),
    ]


def test_gold_when_listed_then_only_its_contract_months(
    config: Config, lister: ContractLister
) -> None:
    gold = listed(config, "GOLD")
    # GOLD trades in even months, expiring on the 5th (5 Dec 2026 is a Saturday).
    expiries = lister.future_expiries(gold, FRIDAY_4_DEC)
    assert expiries == [date(2026, 12, 4), date(2027, 2, 5), date(2027, 4, 5)]


def test_expiry_when_its_close_passed_then_not_listed_any_more(
    config: Config, lister: ContractLister
) -> None:
    nifty = listed(config, "NIFTY")
    before_close = lister.option_series(nifty, ms(2026, 12, 8, 15, 39))
    after_close = lister.option_series(nifty, ms(2026, 12, 8, 15, 40))
    assert before_close[0].expiry == date(2026, 12, 8)
    assert after_close[0].expiry == date(2026, 12, 15)


# -- contracts ------------------------------------------------------------------------------------


def test_contracts_when_listed_then_symbols_in_kites_format(
    lister: ContractLister, master: InstrumentMaster
) -> None:
    contracts = generated(lister, master, FRIDAY_4_DEC, **{NIFTY_SPOT: 2_601_785})
    symbols = {c.symbol for c in contracts}
    assert {"NIFTY26D0826000CE", "NIFTY26D1526000PE", "NIFTY27JAN26000CE"} <= symbols
    assert {"NIFTY27JANFUT", "NIFTY27FEBFUT", "BANKNIFTY27FEBFUT", "SENSEX26D1085000CE"} <= symbols
    assert {"CRUDEOIL27JANFUT", "CRUDEOIL26DEC5300CE", "RELIANCE26DEC1550CE"} <= symbols
    # The sample master's December NIFTY contracts are kept, not listed twice.
    assert "NIFTY26DECFUT" not in symbols
    assert "NIFTY26DEC26000CE" not in symbols


def test_contracts_when_listed_then_tokens_follow_kites_scheme_unique_and_stable(
    lister: ContractLister, master: InstrumentMaster
) -> None:
    contracts = generated(lister, master, FRIDAY_4_DEC)
    for exchange in (Exchange.NFO, Exchange.BFO, Exchange.MCX):
        tokens = [i.token for i in master if i.exchange is exchange]
        tokens += [c.token for c in contracts if c.exchange is exchange]
        assert len(tokens) == len(set(tokens)), exchange
    for contract in contracts:
        assert contract.instrument_token == contract.token << 8 | SEGMENT_CODES[contract.exchange]
        assert contract.instrument_token < 1 << 32
    again = {c.symbol: c.token for c in generated(lister, master, FRIDAY_4_DEC)}
    assert again == {c.symbol: c.token for c in contracts}


def test_options_when_listed_then_strikes_either_side_of_the_money_with_liquidity_by_distance(
    config: Config, lister: ContractLister, master: InstrumentMaster
) -> None:
    contracts = generated(lister, master, FRIDAY_4_DEC, **{NIFTY_SPOT: 2_601_785})
    weekly = [c for c in of(contracts, "NIFTY", InstrumentType.CE) if c.expiry == date(2026, 12, 8)]
    count = config.market.universe.strikes_each_side
    step = 5_000  # 50 rupees
    assert [c.strike_paise for c in weekly] == [
        2_600_000 + k * step for k in range(-count, count + 1)
    ]
    tier = {c.strike_paise: c.liquidity for c in weekly}
    assert tier[2_600_000] is tier[2_615_000] is Liquidity.HIGH
    assert tier[2_620_000] is tier[2_630_000] is Liquidity.MEDIUM
    assert tier[2_635_000] is Liquidity.LOW
    # Six series of 31 puts, less the sample master's 11 December-monthly ones it keeps.
    assert len(of(contracts, "NIFTY", InstrumentType.PE)) == 6 * (2 * count + 1) - 11


def test_contracts_when_listed_then_terms_in_force_on_their_expiry(
    config: Config, lister: ContractLister, master: InstrumentMaster
) -> None:
    contracts = generated(lister, master, FRIDAY_4_DEC)
    lots = {(c.underlying, c.lot_size) for c in contracts}
    assert {("NIFTY", 65), ("BANKNIFTY", 30), ("SENSEX", 20), ("CRUDEOIL", 100)} <= lots
    nifty = listed(config, "NIFTY")
    assert nifty.terms_on(date(2025, 12, 30)).lot_size == 75
    assert nifty.terms_on(date(2026, 1, 27)).lot_size == 65
    future = next(c for c in contracts if c.symbol == "NIFTY27JANFUT")
    assert (future.tick_paise, future.freeze_quantity, future.exchange) == (10, 1800, Exchange.NFO)
    assert future.instrument_id == f"NSE_FO|{future.token}"


def test_contracts_when_listed_then_priced_near_their_forward(
    lister: ContractLister, master: InstrumentMaster
) -> None:
    contracts = generated(lister, master, FRIDAY_4_DEC, **{NIFTY_SPOT: 2_600_000})
    by_symbol = {c.symbol: c for c in contracts}
    future = by_symbol["NIFTY27FEBFUT"].reference_price_paise
    assert 2_600_000 < future < 2_600_000 * 1.02  # under three months of carry
    call = by_symbol["NIFTY26D0826000CE"].reference_price_paise
    put = by_symbol["NIFTY26D0826000PE"].reference_price_paise
    assert 0 < put < call < 40_000  # four days to expiry, at the money
    far = by_symbol["NIFTY26D0826750CE"].reference_price_paise
    assert 0 < far < call
    assert all(c.reference_price_paise >= c.tick_paise for c in contracts)  # never at zero


def test_listing_when_master_already_holds_the_contracts_then_nothing_new(
    lister: ContractLister, master: InstrumentMaster
) -> None:
    contracts = generated(lister, master, FRIDAY_4_DEC)
    grown = InstrumentMaster([*master, *contracts])
    assert generated(lister, grown, FRIDAY_4_DEC) == []


def test_listing_when_spot_unpriced_then_its_underlying_is_skipped(
    lister: ContractLister, master: InstrumentMaster
) -> None:
    contracts = generated(lister, master, FRIDAY_4_DEC, **{NIFTY_SPOT: 0})
    assert not [c for c in contracts if c.underlying == "NIFTY"]
    assert [c for c in contracts if c.underlying == "BANKNIFTY"]


# -- the roll -------------------------------------------------------------------------------------


def test_clock_when_crossing_a_weekly_expiry_then_the_next_weekly_appears_and_strikes_recentre(
    lister: ContractLister, master: InstrumentMaster
) -> None:
    first = generated(lister, master, FRIDAY_4_DEC, **{NIFTY_SPOT: 2_600_000})
    day_one = InstrumentMaster([*master, *first])
    after_expiry = ms(2026, 12, 9, 9, 0)
    rolled = generated(lister, day_one, after_expiry, **{NIFTY_SPOT: 2_700_000})
    new_expiries = {c.expiry for c in of(rolled, "NIFTY", InstrumentType.CE)}
    assert date(2027, 1, 5) in new_expiries  # the fourth weekly now
    assert date(2026, 12, 8) not in new_expiries
    strikes = {c.strike_paise for c in rolled if c.expiry == date(2026, 12, 15)}
    # The market rose 1,000 points: the strikes around 27,000 are added to the 15 Dec series.
    assert 2_700_000 in strikes and 2_775_000 in strikes
    assert 2_600_000 not in strikes
    series = lister.option_series(listed_nifty(lister), after_expiry)
    assert series[0].expiry == date(2026, 12, 15)


def listed_nifty(lister: ContractLister) -> ListedUnderlying:
    return next(u for u in lister.config.underlyings if u.name == "NIFTY")
