"""The derivatives the simulated exchange lists (docs/DOMAIN.md §6), decided afresh each trade day.

For each configured underlying (``[market.universe]``), on the day of ``now_ms``:

* **futures** for the next ``monthly_future_series`` monthly expiries (NSE and BSE: the
  exchange's monthly expiry; MCX: ``future_expiry_day`` of each contract month, moved back over
  MCX holidays);
* **options** for the next ``weekly_option_series`` weekly expiries where the exchange has a
  weekly series for the underlying, and the next ``monthly_option_series`` monthly ones; an MCX
  option expires ``option_expiry_trading_days_before`` MCX trading days before the future it is
  written on and is named by that future's month;
* at ``strikes_each_side`` strikes either side of the at-the-money strike (the strike step
  nearest the spot's price now), a call and a put at each: liquidity HIGH within
  ``high_liquidity_strikes`` of ATM, MEDIUM within ``medium_liquidity_strikes``, LOW beyond
  (never above the underlying's own tier).

Only expiries still ahead of ``now_ms`` are listed, and only contracts the master lacks (by
underlying, kind, expiry and strike), so listing again the next day adds the new weekly and the
strikes around where the market has gone while everything listed before stays. Each contract's
lot, freeze quantity, strike step and ticks are the terms in force on its expiry date. A new
future's reference price is its spot carried to expiry; a new option's is Black-76 on that
forward at its underlying's at-the-money volatility.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice

from engine.config import ListedUnderlying, MarketConfig, UniverseConfig
from engine.domain.calendar import ExchangeCalendar
from engine.domain.contract_names import contract_symbol, exchange_token
from engine.domain.enums import Exchange, InstrumentType, Segment
from engine.domain.instruments import Instrument, InstrumentMaster, Liquidity
from engine.market.black76_reference import price_option
from engine.market.market_layout import CALENDAR_YEAR_MS

# The instrument-id prefix and segments of each derivatives exchange.
ID_PREFIX = {Exchange.NFO: "NSE_FO", Exchange.BFO: "BSE_FO", Exchange.MCX: "MCX_FO"}
FUTURE_SEGMENT = {
    Exchange.NFO: Segment.NFO_FUT,
    Exchange.BFO: Segment.BFO_FUT,
    Exchange.MCX: Segment.MCX_FUT,
}
OPTION_SEGMENT = {
    Exchange.NFO: Segment.NFO_OPT,
    Exchange.BFO: Segment.BFO_OPT,
    Exchange.MCX: Segment.MCX_OPT,
}
TIERS = (Liquidity.HIGH, Liquidity.MEDIUM, Liquidity.LOW)

PriceOf = Callable[[int], int]  # an instrument index's price now, paise (0: unknown)


@dataclass(frozen=True, slots=True)
class OptionSeries:
    """One expiry of an underlying's options: whether it is the month's series, and the date
    whose month names it (its own, or for MCX its future's)."""

    expiry: date
    monthly: bool
    named_by: date


class ContractLister:
    """Decides the contracts to list on a day from the configuration, the calendar and the
    spots' prices; pure apart from reading the master it is given."""

    def __init__(self, market: MarketConfig, calendar: ExchangeCalendar) -> None:
        self.config: UniverseConfig = market.universe
        self.calendar = calendar
        self.rate = market.options.rate
        surface = market.options.surface
        self._volatility = {
            listed.name: surface.underlyings.get(listed.name, surface.atm[listed.kind.value])
            for listed in self.config.underlyings
        }

    # -- expiries ---------------------------------------------------------------------------

    def _ahead(self, exchange: Exchange, expiries: Iterator[date], now_ms: int) -> Iterator[date]:
        return (day for day in expiries if self.calendar.close_instant_ms(exchange, day) > now_ms)

    def _mcx_futures(self, listed: ListedUnderlying, today: date) -> Iterator[date]:
        year, month = today.year, today.month
        while True:
            if month in listed.contract_months:
                first_of_next = date(year + month // 12, month % 12 + 1, 1)
                last_day = (first_of_next - timedelta(days=1)).day
                day = date(year, month, min(listed.future_expiry_day, last_day))
                yield self.calendar.previous_trading_day(day, Exchange.MCX)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def future_expiries(self, listed: ListedUnderlying, now_ms: int) -> list[date]:
        """The expiries of the futures listed on ``listed`` at ``now_ms``."""
        today, exchange = self.calendar.local_date(now_ms), listed.exchange
        if exchange is Exchange.MCX:
            expiries = self._mcx_futures(listed, today)
        else:
            expiries = self.calendar.monthly_expiries(exchange, today)
        return list(
            islice(self._ahead(exchange, expiries, now_ms), self.config.monthly_future_series)
        )

    def option_series(self, listed: ListedUnderlying, now_ms: int) -> list[OptionSeries]:
        """The option expiries listed on ``listed`` at ``now_ms``, in order."""
        config, calendar = self.config, self.calendar
        today, exchange = self.calendar.local_date(now_ms), listed.exchange
        if exchange is Exchange.MCX:
            before = listed.option_expiry_trading_days_before
            written_on = [
                (calendar.trading_days_before(future, before, exchange), future)
                for future in islice(
                    self._mcx_futures(listed, today), config.monthly_option_series + 1
                )
            ]
            return [
                OptionSeries(expiry, monthly=True, named_by=future)
                for expiry, future in written_on
                if self.calendar.close_instant_ms(exchange, expiry) > now_ms
            ][: config.monthly_option_series]
        monthly = self._ahead(exchange, calendar.monthly_expiries(exchange, today), now_ms)
        expiries = set(islice(monthly, config.monthly_option_series))
        if calendar.has_weekly(exchange, listed.name, today):
            weekly = self._ahead(exchange, calendar.weekly_expiries(exchange, today), now_ms)
            expiries.update(islice(weekly, config.weekly_option_series))
        return [
            OptionSeries(expiry, calendar.is_monthly(exchange, expiry), expiry)
            for expiry in sorted(expiries)
        ]

    # -- contracts --------------------------------------------------------------------------

    def contracts(
        self, master: InstrumentMaster, now_ms: int, price_of: PriceOf
    ) -> list[Instrument]:
        """The contracts to list at ``now_ms`` that ``master`` does not hold yet."""
        held: set[tuple[str, InstrumentType, date | None, int]] = {
            (i.underlying, i.instrument_type, i.expiry, i.strike_paise)
            for i in master
            if i.expiry is not None
        }
        taken: dict[Exchange, set[int]] = {}
        for instrument in master:
            taken.setdefault(instrument.exchange, set()).add(instrument.token)
        listed_now: list[Instrument] = []
        for listed in self.config.underlyings:
            spot_index = master.index_of(listed.spot)
            spot = 0 if spot_index is None else price_of(spot_index)
            if spot <= 0:
                continue  # no spot, or not priced yet: nothing to centre strikes on
            tokens = taken.setdefault(listed.exchange, set())
            for contract in self._contracts_of(listed, spot, now_ms, tokens):
                key = (
                    listed.name,
                    contract.instrument_type,
                    contract.expiry,
                    contract.strike_paise,
                )
                if key not in held:
                    held.add(key)
                    tokens.add(contract.token)
                    listed_now.append(contract)
        return listed_now

    def _contracts_of(
        self, listed: ListedUnderlying, spot: int, now_ms: int, tokens: set[int]
    ) -> Iterator[Instrument]:
        for expiry in self.future_expiries(listed, now_ms):
            terms = listed.terms_on(expiry)
            forward = spot * math.exp(self.rate * self._years(listed.exchange, expiry, now_ms))
            yield self._instrument(
                listed,
                tokens,
                symbol=contract_symbol(listed.name, expiry, InstrumentType.FUT),
                instrument_type=InstrumentType.FUT,
                expiry=expiry,
                strike=0,
                tick=terms.future_tick_paise,
                reference=round(forward / terms.future_tick_paise) * terms.future_tick_paise,
                liquidity=listed.liquidity,
            )
        count = self.config.strikes_each_side
        for series in self.option_series(listed, now_ms):
            terms = listed.terms_on(series.expiry)
            step = terms.strike_step_paise
            at_the_money = round(spot / step)
            years = self._years(listed.exchange, series.expiry, now_ms)
            forward = spot * math.exp(self.rate * years)
            for offset in range(-count, count + 1):
                strike = (at_the_money + offset) * step
                if strike <= 0:
                    continue
                liquidity = self._liquidity(listed.liquidity, abs(offset))
                for kind in (InstrumentType.CE, InstrumentType.PE):
                    value = price_option(
                        forward,
                        strike,
                        years,
                        self._volatility[listed.name],
                        kind is InstrumentType.CE,
                        self.rate,
                    ).price
                    tick = terms.option_tick_paise
                    yield self._instrument(
                        listed,
                        tokens,
                        symbol=contract_symbol(
                            listed.name, series.named_by, kind, strike, monthly=series.monthly
                        ),
                        instrument_type=kind,
                        expiry=series.expiry,
                        strike=strike,
                        tick=tick,
                        reference=max(round(value / tick), 1) * tick,
                        liquidity=liquidity,
                    )

    def _years(self, exchange: Exchange, expiry: date, now_ms: int) -> float:
        """Calendar years from ``now_ms`` to the expiry instant (0 once passed)."""
        return max(self.calendar.close_instant_ms(exchange, expiry) - now_ms, 0) / CALENDAR_YEAR_MS

    def _liquidity(self, tier: Liquidity, strikes_away: int) -> Liquidity:
        config = self.config
        if strikes_away <= config.high_liquidity_strikes:
            by_distance = Liquidity.HIGH
        elif strikes_away <= config.medium_liquidity_strikes:
            by_distance = Liquidity.MEDIUM
        else:
            by_distance = Liquidity.LOW
        return TIERS[max(TIERS.index(tier), TIERS.index(by_distance))]

    @staticmethod
    def _instrument(
        listed: ListedUnderlying,
        tokens: set[int],
        *,
        symbol: str,
        instrument_type: InstrumentType,
        expiry: date,
        strike: int,
        tick: int,
        reference: int,
        liquidity: Liquidity,
    ) -> Instrument:
        exchange = listed.exchange
        token = exchange_token(f"{exchange.value}:{symbol}", tokens)
        terms = listed.terms_on(expiry)
        future = instrument_type is InstrumentType.FUT
        return Instrument(
            instrument_id=f"{ID_PREFIX[exchange]}|{token}",
            token=token,
            exchange=exchange,
            segment=(FUTURE_SEGMENT if future else OPTION_SEGMENT)[exchange],
            symbol=symbol,
            name=listed.name,
            instrument_type=instrument_type,
            isin="",
            expiry=expiry,
            strike_paise=strike,
            tick_paise=tick,
            lot_size=terms.lot_size,
            reference_price_paise=reference,
            liquidity=liquidity,
            underlying=listed.name,
            underlying_kind=listed.kind,
            freeze_quantity=terms.freeze_quantity,
        )
