"""Import a broker's instrument master: Rupeezy Vortex ``master.csv`` or the Kite instruments CSV.

Both are read by column name, so column order and extra columns do not matter. The layout is
detected from the header (our own ``configs/instruments.csv`` layout is accepted too).

Vortex ``master.csv`` (``https://static.rupeezy.in/master.csv``) columns used: ``token``,
``exchange`` (NSE_EQ, BSE_EQ, NSE_FO, BSE_FO, MCX_FO, NSE_CD), ``symbol`` (the underlying for
derivatives), ``instrument_name`` (EQUITIES, EQIDX, FUTIDX, FUTSTK, FUTCOM, OPTIDX, OPTSTK,
OPTFUT, ...), ``expiry_date`` (YYYYMMDD), ``option_type`` (CE, PE; XX otherwise),
``strike_price`` (rupees), ``tick`` (**paise**), ``lot_size``, ``security_desc``, ``isin_code``
and ``ticker`` (``NSE:RELIANCE``, whose symbol part becomes ours).

Kite instruments CSV (``GET /instruments``) columns used: ``exchange_token`` (our token, the
exchange's own number), ``tradingsymbol``, ``name``, ``last_price``, ``expiry`` (YYYY-MM-DD),
``strike``, ``tick_size`` (rupees), ``lot_size``, ``instrument_type`` (EQ, FUT, CE, PE),
``segment`` and ``exchange``.

Rows the engine cannot trade (indices, unknown exchanges or types, sub-paisa ticks) are skipped
and counted by reason. Liquidity is unknown in both files, so every import gets MEDIUM; Vortex
has no reference price (the live feed supplies it), Kite's daily ``last_price`` is used.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from engine.domain.enums import Exchange, InstrumentType, Segment
from engine.domain.instruments import (
    Instrument,
    Liquidity,
    UnderlyingKind,
)
from engine.domain.money import rupees_to_paise

CSV_COLUMNS = (
    "instrument_id",
    "token",
    "exchange",
    "segment",
    "symbol",
    "name",
    "instrument_type",
    "isin",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "reference_price",
    "liquidity",
    "underlying",
    "underlying_kind",
    "freeze_quantity",
)


def _parse_row(row: dict[str, str]) -> Instrument:
    expiry = row["expiry"].strip()
    return Instrument(
        instrument_id=row["instrument_id"].strip(),
        token=int(row["token"]),
        exchange=Exchange(row["exchange"].strip()),
        segment=Segment(row["segment"].strip()),
        symbol=row["symbol"].strip(),
        name=row["name"].strip(),
        instrument_type=InstrumentType(row["instrument_type"].strip()),
        isin=row["isin"].strip(),
        expiry=date.fromisoformat(expiry) if expiry else None,
        strike_paise=rupees_to_paise(row["strike"] or "0"),
        tick_paise=rupees_to_paise(row["tick_size"]),
        lot_size=int(row["lot_size"]),
        reference_price_paise=rupees_to_paise(row["reference_price"]),
        liquidity=Liquidity(row["liquidity"].strip()),
        underlying=row["underlying"].strip(),
        underlying_kind=UnderlyingKind(row["underlying_kind"].strip()),
        freeze_quantity=int(row["freeze_quantity"] or "0"),
    )


def read_instruments_csv(path: Path) -> list[Instrument]:
    """Read the sample master (``configs/instruments.csv``) by column name."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [_parse_row(row) for row in csv.DictReader(handle)]


VORTEX_COLUMNS = frozenset(
    {"token", "exchange", "symbol", "instrument_name", "tick", "lot_size", "option_type"}
)
KITE_COLUMNS = frozenset(
    {
        "exchange_token",
        "tradingsymbol",
        "tick_size",
        "lot_size",
        "instrument_type",
        "segment",
        "exchange",
    }
)

# Vortex exchange -> (our exchange, futures segment, options segment, cash segment).
_VORTEX_EXCHANGES: dict[str, tuple[Exchange, Segment | None, Segment | None, Segment | None]] = {
    "NSE_EQ": (Exchange.NSE, None, None, Segment.NSE),
    "BSE_EQ": (Exchange.BSE, None, None, Segment.BSE),
    "NSE_FO": (Exchange.NFO, Segment.NFO_FUT, Segment.NFO_OPT, None),
    "BSE_FO": (Exchange.BFO, Segment.BFO_FUT, Segment.BFO_OPT, None),
    "MCX_FO": (Exchange.MCX, Segment.MCX_FUT, Segment.MCX_OPT, None),
    "NSE_CD": (Exchange.CDS, Segment.CDS_FUT, Segment.CDS_OPT, None),
}
_VORTEX_CODE = {exchange: code for code, (exchange, *_rest) in _VORTEX_EXCHANGES.items()}
_VORTEX_KIND = {
    "FUTIDX": UnderlyingKind.INDEX,
    "OPTIDX": UnderlyingKind.INDEX,
    "FUTSTK": UnderlyingKind.STOCK,
    "OPTSTK": UnderlyingKind.STOCK,
    "FUTCOM": UnderlyingKind.COMMODITY,
    "OPTFUT": UnderlyingKind.COMMODITY,
    "OPTCOM": UnderlyingKind.COMMODITY,
    "FUTCUR": UnderlyingKind.NONE,
    "OPTCUR": UnderlyingKind.NONE,
}
# Index underlyings on NFO/BFO; the Kite file has no column saying index or stock.
KNOWN_INDICES = frozenset(
    {
        "NIFTY",
        "BANKNIFTY",
        "FINNIFTY",
        "MIDCPNIFTY",
        "NIFTYNXT50",
        "SENSEX",
        "BANKEX",
        "SENSEX50",
    }
)


class SkipRowError(ValueError):
    """A row the engine cannot trade; ``reason`` is counted in the import report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class MasterImport:
    """What an import produced: the layout seen, the instruments, and rows skipped by reason."""

    layout: str
    instruments: list[Instrument] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def read_master_file(path: Path) -> list[Instrument]:
    """Read a Vortex ``master.csv``, a Kite instruments CSV or our own layout (``.gz`` too)."""
    return read_master(path).instruments


def read_master(path: Path) -> MasterImport:
    """Like :func:`read_master_file`, with the detected layout and the skipped-row counts."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = {name.strip() for name in reader.fieldnames or ()}
    if set(CSV_COLUMNS) <= columns:
        return MasterImport("paperdesk", read_instruments_csv(path))
    if columns >= VORTEX_COLUMNS:
        return _import(reader, "vortex", _vortex_row)
    if columns >= KITE_COLUMNS:
        return _import(reader, "kite", _kite_row)
    msg = f"{path}: header {sorted(columns)} is neither a Vortex master nor a Kite instruments CSV"
    raise ValueError(msg)


def _import(
    reader: csv.DictReader[str],
    layout: str,
    parse: Callable[[dict[str, str], set[str]], Instrument],
) -> MasterImport:
    result = MasterImport(layout)
    used_ids: set[str] = set()
    for raw_row in reader:
        row = {(k or "").strip(): (v or "").strip() for k, v in raw_row.items()}
        try:
            instrument = parse(row, used_ids)
        except SkipRowError as skip:
            result.skipped[skip.reason] += 1
            continue
        except (ValueError, KeyError, InvalidOperation):
            result.skipped["unparseable"] += 1
            continue
        used_ids.add(instrument.instrument_id)
        result.instruments.append(instrument)
    return result


# -- shared helpers -------------------------------------------------------------------------


def _decimal(text: str) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def _whole_paise(amount: Decimal, what: str) -> int:
    if amount != amount.to_integral_value():
        raise SkipRowError(f"sub_paisa_{what}")
    return int(amount)


def _instrument_id(
    exchange: Exchange, token: int, isin: str, instrument_type: InstrumentType, used: set[str]
) -> str:
    """``NSE_EQ|<ISIN>`` for equities (as in the sample master), else ``<code>|<token>``."""
    code = _VORTEX_CODE[exchange]
    if instrument_type is InstrumentType.EQ and isin:
        by_isin = f"{code}|{isin}"
        if by_isin not in used:
            return by_isin
    return f"{code}|{token}"


def _build(
    *,
    token: int,
    exchange: Exchange,
    segment: Segment,
    symbol: str,
    name: str,
    instrument_type: InstrumentType,
    isin: str,
    expiry: date | None,
    strike_paise: int,
    tick_paise: int,
    lot_size: int,
    reference_price_paise: int,
    underlying: str,
    underlying_kind: UnderlyingKind,
    used: set[str],
) -> Instrument:
    if tick_paise <= 0:
        raise SkipRowError("no_tick")
    if lot_size <= 0:
        raise SkipRowError("no_lot_size")
    if not symbol:
        raise SkipRowError("no_symbol")
    if instrument_type is not InstrumentType.EQ and expiry is None:
        raise SkipRowError("derivative_without_expiry")
    # A reference off the tick would be rejected by every order check; drop it instead.
    reference = reference_price_paise if reference_price_paise % tick_paise == 0 else 0
    return Instrument(
        instrument_id=_instrument_id(exchange, token, isin, instrument_type, used),
        token=token,
        exchange=exchange,
        segment=segment,
        symbol=symbol,
        name=name or symbol,
        instrument_type=instrument_type,
        isin=isin,
        expiry=expiry,
        strike_paise=strike_paise,
        tick_paise=tick_paise,
        lot_size=lot_size,
        reference_price_paise=max(reference, 0),
        liquidity=Liquidity.MEDIUM,
        underlying=underlying,
        underlying_kind=underlying_kind,
        freeze_quantity=0,
    )


# -- Vortex master.csv ----------------------------------------------------------------------


def _vortex_row(row: dict[str, str], used: set[str]) -> Instrument:
    code = row["exchange"].upper()
    mapped = _VORTEX_EXCHANGES.get(code)
    if mapped is None:
        raise SkipRowError("unknown_exchange")
    exchange, futures_segment, options_segment, cash_segment = mapped
    kind_name = row["instrument_name"].upper()
    option_type = row["option_type"].upper()
    base = row["symbol"]
    ticker = row.get("ticker", "")
    symbol = ticker.split(":", 1)[1] if ":" in ticker else base
    if kind_name == "EQIDX":
        raise SkipRowError("index")
    if cash_segment is not None:
        instrument_type, segment = InstrumentType.EQ, cash_segment
        underlying, underlying_kind = "", UnderlyingKind.NONE
    elif option_type in ("CE", "PE"):
        assert options_segment is not None
        instrument_type, segment = InstrumentType(option_type), options_segment
        underlying, underlying_kind = base, _vortex_kind(kind_name, exchange)
    elif kind_name.startswith("FUT"):
        assert futures_segment is not None
        instrument_type, segment = InstrumentType.FUT, futures_segment
        underlying, underlying_kind = base, _vortex_kind(kind_name, exchange)
    else:
        raise SkipRowError("unknown_instrument")
    expiry_text = row.get("expiry_date", "")
    expiry = datetime.strptime(expiry_text, "%Y%m%d").date() if expiry_text else None
    strike_paise = 0
    if instrument_type in (InstrumentType.CE, InstrumentType.PE):
        strike_paise = _whole_paise(_decimal(row.get("strike_price", "")) * 100, "strike")
    return _build(
        token=int(row["token"]),
        exchange=exchange,
        segment=segment,
        symbol=symbol,
        name=row.get("security_desc", "") if instrument_type is InstrumentType.EQ else base,
        instrument_type=instrument_type,
        isin=row.get("isin_code", ""),
        expiry=expiry if instrument_type is not InstrumentType.EQ else None,
        strike_paise=strike_paise,
        tick_paise=_whole_paise(_decimal(row["tick"]), "tick"),  # already paise
        lot_size=int(_decimal(row["lot_size"])),
        reference_price_paise=0,
        underlying=underlying,
        underlying_kind=underlying_kind,
        used=used,
    )


def _vortex_kind(kind_name: str, exchange: Exchange) -> UnderlyingKind:
    if exchange is Exchange.MCX:
        return UnderlyingKind.COMMODITY
    kind = _VORTEX_KIND.get(kind_name)
    if kind is None:
        raise SkipRowError("unknown_instrument")
    return kind


# -- Kite instruments CSV -------------------------------------------------------------------

_KITE_SEGMENTS = {segment.value: segment for segment in Segment}


def _kite_row(row: dict[str, str], used: set[str]) -> Instrument:
    try:
        exchange = Exchange(row["exchange"].upper())
    except ValueError:
        raise SkipRowError("unknown_exchange") from None
    segment_name = row["segment"].upper()
    if segment_name == "INDICES":
        raise SkipRowError("index")
    segment = _KITE_SEGMENTS.get(segment_name)
    if segment is None:
        raise SkipRowError("unknown_segment")
    try:
        instrument_type = InstrumentType(row["instrument_type"].upper())
    except ValueError:
        raise SkipRowError("unknown_instrument") from None
    name = row.get("name", "")
    derivative = instrument_type is not InstrumentType.EQ
    expiry_text = row.get("expiry", "")
    expiry = date.fromisoformat(expiry_text) if derivative and expiry_text else None
    strike_paise = 0
    if instrument_type in (InstrumentType.CE, InstrumentType.PE):
        strike_paise = _whole_paise(_decimal(row.get("strike", "")) * 100, "strike")
    underlying = name if derivative else ""
    return _build(
        token=int(row["exchange_token"]),
        exchange=exchange,
        segment=segment,
        symbol=row["tradingsymbol"],
        name=name,
        instrument_type=instrument_type,
        isin="",
        expiry=expiry,
        strike_paise=strike_paise,
        tick_paise=_whole_paise(_decimal(row["tick_size"]) * 100, "tick"),
        lot_size=int(_decimal(row["lot_size"])),
        reference_price_paise=_reference(row.get("last_price", "")),
        underlying=underlying,
        underlying_kind=_kite_kind(exchange, underlying) if derivative else UnderlyingKind.NONE,
        used=used,
    )


def _reference(text: str) -> int:
    paise = _decimal(text) * 100
    return int(paise) if paise == paise.to_integral_value() and paise > 0 else 0


def _kite_kind(exchange: Exchange, underlying: str) -> UnderlyingKind:
    if exchange is Exchange.MCX:
        return UnderlyingKind.COMMODITY
    if exchange is Exchange.CDS:
        return UnderlyingKind.NONE
    return UnderlyingKind.INDEX if underlying in KNOWN_INDICES else UnderlyingKind.STOCK
