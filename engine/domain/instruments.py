"""Instruments and the instrument master: tick, lot and identity rules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from engine.domain.contract_names import instrument_token
from engine.domain.enums import Exchange, InstrumentType, Segment


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
    def is_index(self) -> bool:
        """An index spot (segment INDICES): quoted, never traded."""
        return self.segment is Segment.INDICES

    @property
    def is_equity(self) -> bool:
        return self.instrument_type is InstrumentType.EQ and not self.is_index

    @property
    def is_future(self) -> bool:
        return self.instrument_type is InstrumentType.FUT

    @property
    def is_option(self) -> bool:
        return self.instrument_type in (InstrumentType.CE, InstrumentType.PE)

    @property
    def instrument_token(self) -> int:
        """Kite's number for it: the exchange token and the segment's code
        (``engine.domain.contract_names``)."""
        return instrument_token(self.token, self.exchange, index=self.is_index)

    @property
    def ticker(self) -> str:
        """The ``NSE:RELIANCE`` style identifier."""
        return f"{self.exchange.value}:{self.symbol}"


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
