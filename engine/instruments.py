"""Instruments and the instrument master: tick, lot and identity rules."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

from engine.enums import Exchange, InstrumentType, Segment
from engine.money import rupees_to_paise


class UnderlyingKind(StrEnum):
    """What a derivative is written on; drives the margin table."""

    NONE = ""
    INDEX = "INDEX"
    STOCK = "STOCK"
    COMMODITY = "COMMODITY"


class Liquidity(StrEnum):
    """Liquidity tier; drives spread and slippage."""

    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable contract, as the instrument master describes it."""

    instrument_id: str
    token: int
    exchange: Exchange
    segment: Segment
    symbol: str
    name: str
    instrument_type: InstrumentType
    isin: str
    expiry: date | None
    strike_paise: int
    tick_paise: int
    lot_size: int
    reference_price_paise: int
    liquidity: Liquidity
    underlying: str
    underlying_kind: UnderlyingKind
    freeze_quantity: int

    @property
    def is_equity(self) -> bool:
        return self.instrument_type is InstrumentType.EQ

    @property
    def is_future(self) -> bool:
        return self.instrument_type is InstrumentType.FUT

    @property
    def is_option(self) -> bool:
        return self.instrument_type in (InstrumentType.CE, InstrumentType.PE)

    @property
    def ticker(self) -> str:
        """The ``NSE:RELIANCE`` style identifier."""
        return f"{self.exchange.value}:{self.symbol}"


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


class InstrumentMaster:
    """Look instruments up by id (``NSE_EQ|INE…``), ticker (``NSE:RELIANCE``) or dense index.

    The dense index (0..n-1) is what the market and risk kernels use to address arrays.
    """

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_index: list[Instrument] = []
        self._index_by_id: dict[str, int] = {}
        self._index_by_ticker: dict[str, int] = {}
        for instrument in instruments:
            self.add(instrument)

    def add(self, instrument: Instrument) -> int:
        """Add or replace an instrument; return its dense index."""
        existing = self._index_by_id.get(instrument.instrument_id)
        if existing is not None:
            self._index_by_ticker.pop(self._by_index[existing].ticker, None)
            self._by_index[existing] = instrument
            self._index_by_ticker[instrument.ticker] = existing
            return existing
        index = len(self._by_index)
        self._by_index.append(instrument)
        self._index_by_id[instrument.instrument_id] = index
        self._index_by_ticker[instrument.ticker] = index
        return index

    def __len__(self) -> int:
        return len(self._by_index)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_index)

    def index_of(self, key: str) -> int | None:
        """Resolve an instrument id or ticker to its dense index."""
        index = self._index_by_id.get(key)
        return index if index is not None else self._index_by_ticker.get(key)

    def get(self, key: str) -> Instrument | None:
        index = self.index_of(key)
        return None if index is None else self._by_index[index]

    def at(self, index: int) -> Instrument:
        return self._by_index[index]
