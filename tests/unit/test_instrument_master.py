"""The sample instrument master in ``configs/instruments.csv`` is complete and self-consistent.

Proves that the shipped CSV loads through ``read_instruments_csv`` into an ``InstrumentMaster``
holding the promised mix (50+ NSE equities, BSE equities, NIFTY and BANKNIFTY futures and options,
an MCX future); that every equity ISIN is well formed with a valid check digit; that every
reference price sits on its tick and every equity tick follows the NSE price bands in force since
15 Apr 2025; that ids, tickers and (exchange, token) pairs are unique; and that derivative rows
carry the strike, expiry and lot size the order checks rely on.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Iterable
from pathlib import Path

import pytest

from engine.domain.enums import Exchange, InstrumentType
from engine.domain.instruments import Instrument, InstrumentMaster, UnderlyingKind
from engine.market.instrument_import import CSV_COLUMNS, read_instruments_csv

CSV_PATH = Path(__file__).resolve().parents[2] / "configs" / "instruments.csv"

INSTRUMENTS = read_instruments_csv(CSV_PATH)
MASTER = InstrumentMaster(INSTRUMENTS)

EQUITIES = [i for i in INSTRUMENTS if i.is_equity]
DERIVATIVES = [i for i in INSTRUMENTS if i.is_future or i.is_option]
INDICES = [i for i in INSTRUMENTS if i.is_index]
OPTIONS = [i for i in INSTRUMENTS if i.is_option]

# Upper bound of each band (exclusive) in paise, and the tick for prices below it; the last band
# is open-ended. NSE equity tick sizes by price since 15 Apr 2025 (docs/DOMAIN.md §3).
EQUITY_TICK_BANDS_PAISE: tuple[tuple[int | None, int], ...] = (
    (250_00, 1),
    (1_000_00, 5),
    (5_000_00, 10),
    (10_000_00, 50),
    (20_000_00, 100),
    (None, 500),
)

ISIN_PATTERN = re.compile(r"[A-Z]{2}[A-Z0-9]{9}[0-9]")


def equity_tick_paise(price_paise: int) -> int:
    """Return the tick an NSE/BSE equity at this price must trade in."""
    for upper_paise, tick_paise in EQUITY_TICK_BANDS_PAISE:
        if upper_paise is None or price_paise < upper_paise:
            return tick_paise
    raise AssertionError("the last band is open-ended")


def isin_check_digit_valid(isin: str) -> bool:
    """Check an ISIN: two-letter country, nine alphanumerics, Luhn check digit (ISO 6166).

    Letters expand to two digits (A=10 … Z=35); the Luhn sum over the resulting digit string,
    check digit included, must be a multiple of ten.
    """
    if not ISIN_PATTERN.fullmatch(isin):
        return False
    digits = "".join(str(int(char, 36)) for char in isin)
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _id(instrument: Instrument) -> str:
    return instrument.ticker


def _duplicates(keys: Iterable[Hashable]) -> list[Hashable]:
    return [key for key, count in Counter(keys).items() if count > 1]


# --- the helpers themselves ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("isin", "valid"),
    [
        ("US0378331005", True),  # Apple, the textbook example
        ("INE002A01018", True),  # Reliance
        ("INE0J1Y01017", True),  # LIC: letters inside the body
        ("INE002A01019", False),  # wrong check digit
        ("INE020A01018", False),  # transposed digits
        ("INE002A0101", False),  # too short
        ("ine002a01018", False),  # lower case
    ],
)
def test_isin_check_when_given_known_isin_then_matches_expected(isin: str, valid: bool) -> None:
    assert isin_check_digit_valid(isin) is valid


@pytest.mark.parametrize(
    ("price_paise", "tick_paise"),
    [
        (249_99, 1),
        (250_00, 5),
        (999_95, 5),
        (1_000_00, 10),
        (4_999_90, 10),
        (5_000_00, 50),
        (9_999_50, 50),
        (10_000_00, 100),
        (19_999_00, 100),
        (20_000_00, 500),
        (155_000_00, 500),
    ],
)
def test_equity_tick_when_price_in_band_then_band_tick(price_paise: int, tick_paise: int) -> None:
    assert equity_tick_paise(price_paise) == tick_paise


# --- shape of the file --------------------------------------------------------------------


def test_csv_header_when_read_then_columns_in_documented_order() -> None:
    header = CSV_PATH.read_text(encoding="utf-8").splitlines()[0]
    assert tuple(header.split(",")) == CSV_COLUMNS


def test_master_when_loaded_then_holds_every_row() -> None:
    assert len(MASTER) == len(INSTRUMENTS)


def test_master_when_loaded_then_has_expected_mix() -> None:
    kinds = Counter((i.exchange, i.instrument_type, i.underlying) for i in INSTRUMENTS)
    nse_equities = kinds[(Exchange.NSE, InstrumentType.EQ, "")]
    bse_equities = kinds[(Exchange.BSE, InstrumentType.EQ, "")]
    assert nse_equities >= 50
    assert bse_equities >= 5
    for underlying in ("NIFTY", "BANKNIFTY"):
        assert kinds[(Exchange.NFO, InstrumentType.FUT, underlying)] >= 1
        assert kinds[(Exchange.NFO, InstrumentType.CE, underlying)] >= 1
        assert kinds[(Exchange.NFO, InstrumentType.PE, underlying)] >= 1
    assert kinds[(Exchange.BFO, InstrumentType.FUT, "SENSEX")] >= 1
    assert kinds[(Exchange.MCX, InstrumentType.FUT, "CRUDEOIL")] >= 1


def test_instrument_ids_when_loaded_then_unique() -> None:
    duplicates = _duplicates(i.instrument_id for i in INSTRUMENTS)
    assert not duplicates


def test_exchange_tokens_when_loaded_then_unique() -> None:
    duplicates = _duplicates((i.exchange, i.token) for i in INSTRUMENTS)
    assert not duplicates


def test_tickers_when_loaded_then_unique() -> None:
    duplicates = _duplicates(i.ticker for i in INSTRUMENTS)
    assert not duplicates


# --- every row ----------------------------------------------------------------------------


@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=_id)
def test_reference_price_when_loaded_then_multiple_of_tick(instrument: Instrument) -> None:
    assert instrument.tick_paise > 0
    assert instrument.reference_price_paise > 0
    assert instrument.reference_price_paise % instrument.tick_paise == 0


@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=_id)
def test_lookup_when_by_id_or_ticker_then_same_instrument(instrument: Instrument) -> None:
    by_id = MASTER.get(instrument.instrument_id)
    assert by_id is instrument
    assert MASTER.get(instrument.ticker) is by_id
    assert MASTER.index_of(instrument.instrument_id) == MASTER.index_of(instrument.ticker)


def test_lookup_when_reliance_ticker_then_reliance_isin() -> None:
    reliance = MASTER.get("NSE:RELIANCE")
    assert reliance is not None
    assert MASTER.get("NSE_EQ|INE002A01018") is reliance
    assert reliance.token == 2885


# --- equities -----------------------------------------------------------------------------


@pytest.mark.parametrize("equity", EQUITIES, ids=_id)
def test_equity_isin_when_loaded_then_check_digit_valid(equity: Instrument) -> None:
    assert equity.isin.startswith("INE")
    assert isin_check_digit_valid(equity.isin)


@pytest.mark.parametrize("equity", EQUITIES, ids=_id)
def test_equity_tick_when_loaded_then_matches_price_band(equity: Instrument) -> None:
    assert equity.tick_paise == equity_tick_paise(equity.reference_price_paise)


@pytest.mark.parametrize("equity", EQUITIES, ids=_id)
def test_equity_row_when_loaded_then_cash_segment_shape(equity: Instrument) -> None:
    prefix = {Exchange.NSE: "NSE_EQ", Exchange.BSE: "BSE_EQ"}[equity.exchange]
    assert equity.instrument_id == f"{prefix}|{equity.isin}"
    assert equity.segment.value == equity.exchange.value
    assert equity.lot_size == 1
    assert equity.expiry is None
    assert equity.strike_paise == 0
    assert equity.underlying == ""
    assert equity.underlying_kind is UnderlyingKind.NONE


def test_bse_equities_when_loaded_then_listed_on_nse_too() -> None:
    nse_isins = {i.isin for i in EQUITIES if i.exchange is Exchange.NSE}
    bse_isins = {i.isin for i in EQUITIES if i.exchange is Exchange.BSE}
    assert bse_isins <= nse_isins


# --- derivatives --------------------------------------------------------------------------

DERIVATIVE_ID_PREFIX = {Exchange.NFO: "NSE_FO", Exchange.BFO: "BSE_FO", Exchange.MCX: "MCX_FO"}


@pytest.mark.parametrize("derivative", DERIVATIVES, ids=_id)
def test_derivative_row_when_loaded_then_contract_shape(derivative: Instrument) -> None:
    prefix = DERIVATIVE_ID_PREFIX[derivative.exchange]
    assert derivative.instrument_id == f"{prefix}|{derivative.token}"
    assert derivative.isin == ""
    assert derivative.expiry is not None
    assert derivative.lot_size > 1
    assert derivative.freeze_quantity > 0
    assert derivative.underlying
    assert derivative.underlying_kind is not UnderlyingKind.NONE
    assert derivative.symbol.startswith(derivative.underlying)


@pytest.mark.parametrize("option", OPTIONS, ids=_id)
def test_option_row_when_loaded_then_strike_and_expiry(option: Instrument) -> None:
    assert option.strike_paise > 0
    assert option.expiry is not None
    assert option.strike_paise % option.tick_paise == 0
    strike_rupees = option.strike_paise // 100
    assert option.symbol.endswith(f"{strike_rupees}{option.instrument_type.value}")


@pytest.mark.parametrize(
    ("underlying", "lot_size"),
    [("NIFTY", 65), ("BANKNIFTY", 30), ("SENSEX", 20), ("CRUDEOIL", 100)],
)
def test_lot_size_when_underlying_known_then_exchange_lot(underlying: str, lot_size: int) -> None:
    lots = {i.lot_size for i in DERIVATIVES if i.underlying == underlying}
    assert lots == {lot_size}


def test_index_rows_when_loaded_then_spot_of_each_index_underlying_not_a_contract() -> None:
    assert {i.underlying for i in INDICES} == {
        "NIFTY",
        "BANKNIFTY",
        "FINNIFTY",
        "SENSEX",
        "CRUDEOIL",
        "GOLD",
    }
    for index in INDICES:
        assert (index.segment.value, index.expiry, index.lot_size) == ("INDICES", None, 1)
        assert not index.is_equity
        assert not index.is_future
        assert not index.is_option
