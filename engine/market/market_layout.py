"""How the simulated market prices each instrument of the master (docs/DOMAIN.md §5).

Three roles, laid out from the master (again each trade day, as contracts list and expire):

* **driven** instruments follow the log-normal process themselves: index spots, stocks, and
  any contract with nothing in the master to price it from (an MCX future, a stock future
  whose stock is not listed). Each may have a *factor* (another driven instrument, its index)
  whose shocks it shares with a correlation (``[market.factor]``);
* **futures** on a listed spot follow it by cost of carry, ``F = S × e^(r × T)``;
* **options** are priced by Black-76 on their forward: the spot carried to the option's expiry,
  or, for MCX options (written on futures) and wherever no spot is listed, the future of the
  same underlying that expires first on or after the option.

Times to expiry are calendar years to the contract's expiry instant: its expiry date at its
segment's close that day (``engine.domain.calendar``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from engine.config import FactorConfig, VolatilityConfig
from engine.domain.calendar import ExchangeCalendar
from engine.domain.enums import Exchange, InstrumentType
from engine.domain.instruments import Instrument, InstrumentMaster, UnderlyingKind

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]

DAY_MS = 86_400_000
CALENDAR_YEAR_MS = 365 * DAY_MS
NO_INDEX = -1


def annual_volatility(config: VolatilityConfig, instrument: Instrument) -> float:
    """The annualised volatility a driven instrument is simulated with."""
    own = config.instruments.get(instrument.instrument_id)
    if own is not None:
        return own
    if instrument.underlying_kind is UnderlyingKind.INDEX:
        return config.index
    if (
        instrument.underlying_kind is UnderlyingKind.COMMODITY
        or instrument.exchange is Exchange.MCX
    ):
        return config.commodity
    return config.stock[instrument.liquidity]


@dataclass(frozen=True, slots=True)
class DrivenLayout:
    """The driven instruments, factors before the instruments that follow them."""

    index: Int64Array  # instrument index of each driven instrument
    volatility: Float64Array  # annualised
    factor: Int64Array  # position (in this layout) of its factor, NO_INDEX for none
    correlation: Float64Array  # with its factor (0 without one)


@dataclass(frozen=True, slots=True)
class FuturesLayout:
    """Futures priced from their spot by cost of carry."""

    index: Int64Array
    spot: Int64Array  # instrument index of the spot
    expiry_ms: Int64Array


@dataclass(frozen=True, slots=True)
class OptionsLayout:
    """Options priced by Black-76 on their forward."""

    index: Int64Array
    spot: Int64Array  # instrument index of the spot carried to expiry, or NO_INDEX
    future: Int64Array  # instrument index of the future used when there is no spot, or NO_INDEX
    strike: Float64Array  # paise
    expiry_ms: Int64Array
    is_call: npt.NDArray[np.bool_]
    surface: Int64Array  # position of the underlying in ``MarketLayout.underlyings``


@dataclass(frozen=True, slots=True)
class MarketLayout:
    driven: DrivenLayout
    futures: FuturesLayout
    options: OptionsLayout
    underlyings: tuple[str, ...]  # option underlyings, one volatility surface each
    underlying_kinds: tuple[UnderlyingKind, ...]
    spots: dict[str, int]  # underlying name -> instrument index of its spot

    @classmethod
    def of(
        cls,
        master: InstrumentMaster,
        volatility: VolatilityConfig,
        factor: FactorConfig,
        calendar: ExchangeCalendar,
        after_ms: int | None = None,
    ) -> MarketLayout:
        """The roles of ``master``'s instruments; with ``after_ms``, the futures and options
        that expired by then are left out (their last prices stay as they were)."""
        spots = spot_indices(master)
        futures = _futures_by_underlying(master)
        driven: list[int] = []
        future_rows: list[tuple[int, int, int]] = []
        option_rows: list[tuple[int, int, int, int, int, bool, str]] = []
        for index, instrument in enumerate(master):
            if (
                after_ms is not None
                and instrument.expiry is not None
                and calendar.expiry_instant_ms(instrument) <= after_ms
            ):
                continue
            spot = spots.get(instrument.underlying, NO_INDEX) if instrument.underlying else NO_INDEX
            if instrument.is_future and instrument.expiry is not None and spot != NO_INDEX:
                expiry = calendar.expiry_instant_ms(instrument)
                future_rows.append((index, spot, expiry))
            elif instrument.is_option and instrument.expiry is not None:
                future = _future_for(futures.get(instrument.underlying, []), instrument.expiry)
                if instrument.exchange is Exchange.MCX and future != NO_INDEX:
                    spot = NO_INDEX  # written on its future
                if spot == NO_INDEX and future == NO_INDEX:
                    driven.append(index)  # nothing to price it from: it walks on its own
                    continue
                expiry = calendar.expiry_instant_ms(instrument)
                is_call = instrument.instrument_type is InstrumentType.CE
                option_rows.append(
                    (index, spot, future, instrument.strike_paise, expiry, is_call,
                     instrument.underlying)
                )  # fmt: skip
            else:
                driven.append(index)
        underlyings = tuple(sorted({row[6] for row in option_rows}))
        surface_of = {name: position for position, name in enumerate(underlyings)}
        known_kinds = _kinds(master)
        kinds = tuple(known_kinds.get(name, UnderlyingKind.STOCK) for name in underlyings)
        return cls(
            driven=_driven(master, driven, volatility, factor),
            futures=FuturesLayout(
                index=np.array([r[0] for r in future_rows], dtype=np.int64),
                spot=np.array([r[1] for r in future_rows], dtype=np.int64),
                expiry_ms=np.array([r[2] for r in future_rows], dtype=np.int64),
            ),
            options=OptionsLayout(
                index=np.array([r[0] for r in option_rows], dtype=np.int64),
                spot=np.array([r[1] for r in option_rows], dtype=np.int64),
                future=np.array([r[2] for r in option_rows], dtype=np.int64),
                strike=np.array([r[3] for r in option_rows], dtype=np.float64),
                expiry_ms=np.array([r[4] for r in option_rows], dtype=np.int64),
                is_call=np.array([r[5] for r in option_rows], dtype=np.bool_),
                surface=np.array([surface_of[r[6]] for r in option_rows], dtype=np.int64),
            ),
            underlyings=underlyings,
            underlying_kinds=kinds,
            spots=spots,
        )


def spot_indices(master: InstrumentMaster) -> dict[str, int]:
    """Each underlying's spot: the index quoted in INDICES for it, or the stock of that name
    (NSE before BSE)."""
    spots: dict[str, int] = {}
    for index, instrument in enumerate(master):
        if instrument.is_index and instrument.underlying:
            spots[instrument.underlying] = index
    for exchange in (Exchange.NSE, Exchange.BSE):
        for index, instrument in enumerate(master):
            if instrument.is_equity and instrument.exchange is exchange:
                spots.setdefault(instrument.symbol, index)
    return spots


def _futures_by_underlying(master: InstrumentMaster) -> dict[str, list[tuple[date, int]]]:
    found: dict[str, list[tuple[date, int]]] = {}
    for index, instrument in enumerate(master):
        if instrument.is_future and instrument.expiry is not None:
            found.setdefault(instrument.underlying, []).append((instrument.expiry, index))
    for entries in found.values():
        entries.sort()
    return found


def _future_for(futures: list[tuple[date, int]], expiry: date) -> int:
    """The future expiring first on or after ``expiry`` (else the last one), or NO_INDEX."""
    for future_expiry, index in futures:
        if future_expiry >= expiry:
            return index
    return futures[-1][1] if futures else NO_INDEX


def _kinds(master: InstrumentMaster) -> dict[str, UnderlyingKind]:
    """What each underlying is, as the first row naming it says."""
    kinds: dict[str, UnderlyingKind] = {}
    for instrument in master:
        if instrument.underlying and instrument.underlying_kind:
            kinds.setdefault(instrument.underlying, instrument.underlying_kind)
    return kinds


def _driven(
    master: InstrumentMaster,
    indices: list[int],
    volatility: VolatilityConfig,
    factor: FactorConfig,
) -> DrivenLayout:
    """The driven instruments with their factors, ordered so each factor comes first."""
    sigma = {i: annual_volatility(volatility, master.at(i)) for i in indices}
    links: dict[int, tuple[int, float]] = {}
    for i in indices:
        link = _factor_link(master, i, factor, sigma)
        if link is not None:
            links[i] = link
    depth: dict[int, int] = {}

    def depth_of(i: int, seen: frozenset[int]) -> int:
        if i in depth:
            return depth[i]
        if i in seen:
            raise ValueError(f"market.factor: {master.at(i).ticker} is its own factor")
        link = links.get(i)
        depth[i] = 0 if link is None else depth_of(link[0], seen | {i}) + 1
        return depth[i]

    ordered = sorted(indices, key=lambda i: (depth_of(i, frozenset()), i))
    position = {i: p for p, i in enumerate(ordered)}
    return DrivenLayout(
        index=np.array(ordered, dtype=np.int64),
        volatility=np.array([sigma[i] for i in ordered], dtype=np.float64),
        factor=np.array(
            [position[links[i][0]] if i in links else NO_INDEX for i in ordered], dtype=np.int64
        ),
        correlation=np.array([links[i][1] if i in links else 0.0 for i in ordered]),
    )


def _factor_link(
    master: InstrumentMaster, index: int, config: FactorConfig, sigma: dict[int, float]
) -> tuple[int, float] | None:
    """(factor's instrument index, correlation) of one driven instrument, or None."""
    instrument = master.at(index)
    own = config.instruments.get(instrument.ticker)
    if own is None and not instrument.is_equity:
        return None  # indices follow a factor only when configured; contracts never
    factor_ticker = own.factor if own is not None and own.factor else None
    if factor_ticker is None:
        factor_ticker = config.index_by_exchange.get(instrument.exchange.value)
    factor = master.index_of(factor_ticker) if factor_ticker else None
    if factor is None or factor == index or factor not in sigma:
        return None
    if own is not None and own.beta is not None:
        correlation = own.beta * sigma[factor] / sigma[index] if sigma[index] > 0 else 0.0
    elif own is not None and own.correlation is not None:
        correlation = own.correlation
    else:
        correlation = config.correlation[instrument.liquidity]
    return factor, float(min(max(correlation, -1.0), 1.0))


def years_between(now_ms: int, expiry_ms: Int64Array) -> Float64Array:
    """Calendar years from ``now_ms`` to each expiry, 0 once passed."""
    years: Float64Array = np.maximum(expiry_ms - now_ms, 0) / CALENDAR_YEAR_MS
    return years


def carry_factor(rate: float, years: Float64Array) -> Float64Array:
    """``e^(rate × years)``: a future's premium over its spot."""
    factor: Float64Array = np.exp(rate * years)
    return factor
