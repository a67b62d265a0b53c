"""Each underlying's derivatives as the option chain and the payoff read them, built once from
the instrument master: its spot, its futures by expiry, and for each expiry with options the
strikes in order, each with the instrument indices of its call and put.

Expiries are compared as instants: a contract expires at its expiry date's close for its
segment (``ExchangeCalendar.expiry_instant_ms``). Everything here is plain lookup
over the master; prices come from a market snapshot, read by the caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from engine.domain.calendar import ExchangeCalendar
from engine.domain.enums import InstrumentType
from engine.domain.instruments import Instrument, InstrumentMaster
from engine.market.market_layout import NO_INDEX, spot_indices


@dataclass(frozen=True, slots=True)
class StrikeRow:
    """One strike of a chain: its call and its put (``NO_INDEX`` where not listed)."""

    strike_paise: int
    call: int
    put: int


@dataclass(frozen=True, slots=True)
class ExpiryChain:
    """The options of one underlying expiring on one date, by strike."""

    expiry: date
    expiry_ms: int
    rows: tuple[StrikeRow, ...]  # ascending strike
    future: int  # the listed future of the same expiry, or NO_INDEX

    def indices(self) -> Iterator[int]:
        """Every option of the chain, calls and puts, by strike."""
        for row in self.rows:
            for index in (row.call, row.put):
                if index != NO_INDEX:
                    yield index

    def nearest_strike(self, price_paise: float) -> int:
        """The strike nearest ``price_paise`` (the lower of two as near)."""
        return min(
            (row.strike_paise for row in self.rows),
            key=lambda strike: (abs(strike - price_paise), strike),
        )


@dataclass(frozen=True, slots=True)
class FutureContract:
    expiry: date
    expiry_ms: int
    index: int


@dataclass(frozen=True, slots=True)
class Underlying:
    """What is written on one underlying: its spot, futures and option chains by expiry."""

    name: str
    spot: int  # the index spot or the stock, or NO_INDEX (MCX commodities have none)
    futures: tuple[FutureContract, ...]  # by expiry
    chains: tuple[ExpiryChain, ...]  # by expiry
    _by_expiry: dict[date, ExpiryChain] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_expiry", {chain.expiry: chain for chain in self.chains})

    @property
    def expiries(self) -> tuple[date, ...]:
        """The expiries with options, in order."""
        return tuple(chain.expiry for chain in self.chains)

    def chain(self, expiry: date) -> ExpiryChain | None:
        return self._by_expiry.get(expiry)

    def default_chain(self, now_ms: int) -> ExpiryChain | None:
        """The nearest chain not yet expired at ``now_ms``; once all have, the last one."""
        live = [chain for chain in self.chains if chain.expiry_ms > now_ms]
        if live:
            return live[0]
        return self.chains[-1] if self.chains else None

    def nearest_future(self, now_ms: int) -> int:
        """The nearest future not yet expired at ``now_ms`` (once all have, the last one), or
        ``NO_INDEX`` when none is listed."""
        for future in self.futures:
            if future.expiry_ms > now_ms:
                return future.index
        return self.futures[-1].index if self.futures else NO_INDEX

    def reference(self, now_ms: int) -> int:
        """What the underlying's price is read from: its spot, else its nearest future."""
        return self.spot if self.spot != NO_INDEX else self.nearest_future(now_ms)


class OptionChains:
    """Every underlying of the master's derivatives and index spots, by name."""

    def __init__(self, master: InstrumentMaster, calendar: ExchangeCalendar) -> None:
        spots = spot_indices(master)
        futures: dict[str, list[FutureContract]] = {}
        options_by: dict[str, dict[date, dict[int, dict[InstrumentType, int]]]] = {}
        expiry_ms: dict[tuple[str, date], int] = {}
        names: set[str] = set()
        for index, instrument in enumerate(master):
            name = instrument.underlying
            if not name:
                continue
            if instrument.is_index:
                names.add(name)
            if instrument.expiry is None:
                continue
            at_ms = calendar.expiry_instant_ms(instrument)
            if instrument.is_future:
                names.add(name)
                futures.setdefault(name, []).append(FutureContract(instrument.expiry, at_ms, index))
            elif instrument.is_option:
                names.add(name)
                strikes = options_by.setdefault(name, {}).setdefault(instrument.expiry, {})
                strikes.setdefault(instrument.strike_paise, {})[instrument.instrument_type] = index
                expiry_ms.setdefault((name, instrument.expiry), at_ms)
        self._by_name: dict[str, Underlying] = {}
        for name in sorted(names):
            listed = sorted(futures.get(name, []), key=lambda f: (f.expiry, f.index))
            future_on = {f.expiry: f.index for f in reversed(listed)}  # the first listed
            chains = tuple(
                _chain(expiry, expiry_ms[(name, expiry)], strikes, future_on.get(expiry))
                for expiry, strikes in sorted(options_by.get(name, {}).items())
            )
            self._by_name[name] = Underlying(name, spots.get(name, NO_INDEX), tuple(listed), chains)

    def __iter__(self) -> Iterator[Underlying]:
        """The underlyings by name."""
        return iter(self._by_name.values())

    def get(self, name: str) -> Underlying | None:
        return self._by_name.get(name)

    def of(self, instrument: Instrument) -> Underlying | None:
        """The underlying of a derivative or an index spot (None for anything else)."""
        if not (instrument.is_index or instrument.is_future or instrument.is_option):
            return None
        return self._by_name.get(instrument.underlying)


def _chain(
    expiry: date, at_ms: int, strikes: dict[int, dict[InstrumentType, int]], future: int | None
) -> ExpiryChain:
    rows = tuple(
        StrikeRow(
            strike,
            pair.get(InstrumentType.CE, NO_INDEX),
            pair.get(InstrumentType.PE, NO_INDEX),
        )
        for strike, pair in sorted(strikes.items())
    )
    return ExpiryChain(expiry, at_ms, rows, NO_INDEX if future is None else future)
