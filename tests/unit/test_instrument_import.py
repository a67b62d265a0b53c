"""Importing a broker's instrument master: Rupeezy Vortex ``master.csv`` and Kite instruments CSV.

Proves that ``read_master_file`` detects each layout from its header and reads it by column name
(column order is irrelevant); that Vortex ticks are taken as paise and Kite ticks as rupees;
that equities, index and stock futures and options and MCX futures become engine instruments with
the right exchange, segment, expiry, strike, lot, underlying and id; that untradable rows
(indices, unknown exchanges, malformed lines) are skipped and counted; that a gzipped file and our
own sample layout load too; and that an unknown header is refused.
"""

# The CSV fixtures keep whole rows on one line, as the files have them.
# ruff: noqa: E501

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from engine.config import DEFAULT_INSTRUMENTS_PATH
from engine.domain.enums import Exchange, InstrumentType, Segment
from engine.domain.instruments import InstrumentMaster, Liquidity, UnderlyingKind
from engine.market.instrument_import import read_master, read_master_file

# The Vortex master.csv header (https://static.rupeezy.in/master.csv) and rows shaped like it.
VORTEX_CSV = """\
token,exchange,symbol,instrument_name,series,expiry_date,option_type,strike_price,tick,lot_size,eligibility,security_desc,asm_gsm_stage,last_trading_date,isin_code,ticker,has_cas_session
2885,NSE_EQ,RELIANCE,EQUITIES,EQ,,,,10,1,1,RELIANCE INDUSTRIES LTD,,,INE002A01018,NSE:RELIANCE,true
500325,BSE_EQ,RELIANCE,EQUITIES,A,,,,10,1,1,RELIANCE INDUSTRIES LTD,,,INE002A01018,BSE:RELIANCE,true
766440,NSE_EQ,PAPADMALJI,EQUITIES,ST,,,,5,1600,1,PAPADMALJI AGRO FOODS LTD,,,INE1V7901010,NSE:PAPADMALJI-ST,false
26000,NSE_EQ,NIFTY,EQIDX,EQ,,,,5,0,0,NIFTY,,,,NSE:NIFTYIDX,true
48704,NSE_FO,NIFTY,FUTIDX,XX,20261027,XX,-0.010000000000000000,10,65,1,NIFTY26OCTFUT,,,,NSE:NIFTY26OCTFUT,false
51440,NSE_FO,NIFTY,OPTIDX,XX,20261027,CE,25000.0000000000,5,65,1,NIFTY26OCT25000CE,,,,NSE:NIFTY26OCT25000CE,false
86883,NSE_FO,BANKBARODA,OPTSTK,XX,20261027,PE,177.50000000000000,1,2925,1,BANKBARODA26OCT177.5PE,,,,NSE:BANKBARODA26OCT177.5PE,false
585909,MCX_FO,CRUDEOIL,FUTCOM,XX,20280320,XX,0.000000000000000000,100,100,1,LIGHT SWEET CRUDE OIL,,1837209599,,MCX:CRUDEOIL28MARFUT,false
1,XYZ_FO,ODD,FUTIDX,XX,20261027,XX,0,5,1,1,ODD,,,,XYZ:ODD,false
notanumber,NSE_EQ,BROKEN,EQUITIES,EQ,,,,5,1,1,BROKEN,,,,NSE:BROKEN,false
"""

# The Kite instruments CSV header as documented (note the spaces after the commas).
KITE_CSV = """\
instrument_token, exchange_token, tradingsymbol, name, last_price, expiry, strike, tick_size, lot_size, instrument_type, segment, exchange
408065,1594,INFY,INFOSYS,1548.30,,,0.05,1,EQ,NSE,NSE
5720322,22345,NIFTY26DECFUT,NIFTY,26138.6,2026-12-29,,0.1,65,FUT,NFO-FUT,NFO
5720578,22346,NIFTY26DEC26000CE,NIFTY,441.45,2026-12-29,26000,0.05,65,CE,NFO-OPT,NFO
5720579,22347,SBIN26DEC900PE,SBIN,12.33,2026-12-29,900,0.05,750,PE,NFO-OPT,NFO
645639,109230,CRUDEOIL26DECFUT,CRUDEOIL,5312.0,2026-12-18,,1,100,FUT,MCX-FUT,MCX
256265,26000,NIFTY 50,NIFTY 50,0,,,0.05,1,EQ,INDICES,NSE
999,1,USDINR26DECFUT,USDINR,0,2026-12-29,,0.0025,1,FUT,BCD-FUT,BCD
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def by_ticker(path: Path) -> dict[str, object]:
    return {i.ticker: i for i in read_master_file(path)}


def test_vortex_master_when_read_then_equities_futures_options_mcx_become_instruments(
    tmp_path: Path,
) -> None:
    result = read_master(write(tmp_path, "master.csv", VORTEX_CSV))
    assert result.layout == "vortex"
    assert len(result.instruments) == 7
    assert result.skipped == {"index": 1, "unknown_exchange": 1, "unparseable": 1}
    master = InstrumentMaster(result.instruments)

    reliance = master.get("NSE:RELIANCE")
    assert reliance is not None
    assert reliance.instrument_id == "NSE_EQ|INE002A01018"
    assert (reliance.token, reliance.exchange, reliance.segment) == (
        2885,
        Exchange.NSE,
        Segment.NSE,
    )
    assert reliance.instrument_type is InstrumentType.EQ
    assert (reliance.tick_paise, reliance.lot_size) == (10, 1)  # tick column is in paise
    assert (reliance.name, reliance.isin) == ("RELIANCE INDUSTRIES LTD", "INE002A01018")
    assert (reliance.reference_price_paise, reliance.liquidity) == (0, Liquidity.MEDIUM)
    assert reliance.expiry is None

    bse = master.get("BSE:RELIANCE")
    assert bse is not None
    assert (bse.instrument_id, bse.token, bse.segment) == (
        "BSE_EQ|INE002A01018",
        500325,
        Segment.BSE,
    )
    sme = master.get("NSE:PAPADMALJI-ST")
    assert sme is not None
    assert (sme.tick_paise, sme.lot_size) == (5, 1600)

    future = master.get("NFO:NIFTY26OCTFUT")
    assert future is not None
    assert future.instrument_id == "NSE_FO|48704"
    assert (future.instrument_type, future.segment) == (InstrumentType.FUT, Segment.NFO_FUT)
    assert (future.expiry, future.strike_paise) == (date(2026, 10, 27), 0)
    assert (future.tick_paise, future.lot_size) == (10, 65)
    assert (future.underlying, future.underlying_kind) == ("NIFTY", UnderlyingKind.INDEX)

    call = master.get("NFO:NIFTY26OCT25000CE")
    assert call is not None
    assert (call.instrument_type, call.segment) == (InstrumentType.CE, Segment.NFO_OPT)
    assert (call.strike_paise, call.tick_paise) == (2_500_000, 5)

    put = master.get("NFO:BANKBARODA26OCT177.5PE")
    assert put is not None
    assert (put.instrument_type, put.strike_paise, put.tick_paise) == (InstrumentType.PE, 17750, 1)
    assert (put.underlying, put.underlying_kind) == ("BANKBARODA", UnderlyingKind.STOCK)

    crude = master.get("MCX:CRUDEOIL28MARFUT")
    assert crude is not None
    assert (crude.instrument_id, crude.segment) == ("MCX_FO|585909", Segment.MCX_FUT)
    assert (crude.tick_paise, crude.lot_size) == (100, 100)
    assert crude.underlying_kind is UnderlyingKind.COMMODITY
    assert crude.expiry == date(2028, 3, 20)


def test_vortex_master_when_columns_reordered_then_read_by_name(tmp_path: Path) -> None:
    lines = VORTEX_CSV.splitlines()
    rows = [line.split(",") for line in lines[:3]]
    reordered = "\n".join(",".join(reversed(row)) for row in rows) + "\n"
    original = read_master_file(write(tmp_path, "a.csv", "\n".join(lines[:3]) + "\n"))
    assert read_master_file(write(tmp_path, "b.csv", reordered)) == original


def test_kite_csv_when_read_then_ticks_in_rupees_and_last_price_as_reference(
    tmp_path: Path,
) -> None:
    result = read_master(write(tmp_path, "instruments.csv", KITE_CSV))
    assert result.layout == "kite"
    assert len(result.instruments) == 5
    assert result.skipped == {"index": 1, "unknown_exchange": 1}
    master = InstrumentMaster(result.instruments)

    infy = master.get("NSE:INFY")
    assert infy is not None
    assert infy.instrument_id == "NSE_EQ|1594"  # no ISIN in Kite's file: exchange token
    assert (infy.token, infy.tick_paise, infy.lot_size) == (1594, 5, 1)
    assert infy.reference_price_paise == 154830
    assert infy.underlying_kind is UnderlyingKind.NONE

    future = master.get("NFO:NIFTY26DECFUT")
    assert future is not None
    assert (future.token, future.instrument_id) == (22345, "NSE_FO|22345")
    assert (future.tick_paise, future.lot_size, future.expiry) == (10, 65, date(2026, 12, 29))
    assert (future.reference_price_paise, future.underlying_kind) == (2613860, UnderlyingKind.INDEX)

    call = master.get("NFO:NIFTY26DEC26000CE")
    assert call is not None
    assert (call.strike_paise, call.segment, call.reference_price_paise) == (
        2_600_000,
        Segment.NFO_OPT,
        44145,
    )
    put = master.get("NFO:SBIN26DEC900PE")
    assert put is not None
    assert (put.underlying, put.underlying_kind) == ("SBIN", UnderlyingKind.STOCK)
    assert put.reference_price_paise == 0  # ₹12.33 is off the ₹0.05 tick: left to the feed

    crude = master.get("MCX:CRUDEOIL26DECFUT")
    assert crude is not None
    assert (crude.tick_paise, crude.lot_size, crude.segment) == (100, 100, Segment.MCX_FUT)
    assert crude.underlying_kind is UnderlyingKind.COMMODITY


def test_master_file_when_gzipped_then_read_the_same(tmp_path: Path) -> None:
    plain = read_master_file(write(tmp_path, "instruments.csv", KITE_CSV))
    packed = tmp_path / "instruments.csv.gz"
    packed.write_bytes(gzip.compress(KITE_CSV.encode()))
    assert read_master_file(packed) == plain


def test_master_file_when_our_own_layout_then_read_as_the_sample_master() -> None:
    result = read_master(DEFAULT_INSTRUMENTS_PATH)
    assert result.layout == "paperdesk"
    assert len(result.instruments) == 112  # 106 contracts, 4 index spots and 2 commodity spots


def test_master_file_when_header_unknown_then_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "other.csv", "symbol,price\nRELIANCE,1542.80\n")
    with pytest.raises(ValueError, match="neither a Vortex master nor a Kite"):
        read_master_file(path)
