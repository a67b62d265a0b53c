"""The rates, limits and hours the domain's rules are decided on: plain frozen dataclasses.

``engine.config`` fills them from ``configs/`` (TOML); the domain reads only these types, never
the loader, so a test or another front end can build them directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from engine.domain.effective_dates import in_force
from engine.domain.enums import Exchange
from engine.domain.money import Rate


@dataclass(frozen=True, slots=True)
class CategoryRates:
    """Charge rates for one category (CNC, MIS, futures, options)."""

    brokerage: Rate
    brokerage_max_paise: int  # 0 = no cap
    brokerage_flat_paise: int  # > 0 replaces the percentage
    stt_buy: Rate
    stt_sell: Rate
    stamp_buy: Rate
    exchange: Mapping[str, Rate]
    stt_sell_by_exchange: Mapping[str, Rate]

    def exchange_rate(self, exchange: str) -> Rate:
        return self.exchange.get(exchange, Rate(0))

    def stt_sell_rate(self, exchange: str) -> Rate:
        return self.stt_sell_by_exchange.get(exchange, self.stt_sell)


@dataclass(frozen=True, slots=True)
class ChargeSchedule:
    """All charge rates in force from ``effective_from``."""

    effective_from: date
    gst: Rate
    sebi: Rate
    dp_charge_paise: int
    squareoff_charge_paise: int
    exercise_stt: Rate  # STT on the settlement value of a long option exercised at expiry
    # What a short delivery at a stock F&O's physical settlement costs on top of its close-out
    # at the settlement price: a share of the value closed out (docs/DOMAIN.md §6).
    delivery_closeout: Rate
    cnc: CategoryRates
    mis: CategoryRates
    futures: CategoryRates
    options: CategoryRates


@dataclass(frozen=True, slots=True)
class ChargesConfig:
    schedules: tuple[ChargeSchedule, ...]  # sorted by effective_from

    def on(self, trade_date: date) -> ChargeSchedule:
        """Return the schedule in force on ``trade_date``."""
        return in_force(self.schedules, trade_date)


@dataclass(frozen=True, slots=True)
class MarginConfig:
    mis_equity_min: Rate
    equity_var_elm: Rate  # a stock's VaR+ELM when ``equity_var_elm_by_symbol`` has none
    equity_var_elm_by_symbol: Mapping[str, Rate]
    portfolio: PortfolioMarginConfig


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Mark-to-market and margin calls (``[risk]``)."""

    credit_unrealised_profit: bool
    revaluation_interval_ms: int
    revaluation_move: Rate
    revaluation_min_change: Rate  # the least change of a portfolio's margin worth journaling
    margin_call_level: Rate
    liquidation_level: Rate


@dataclass(frozen=True, slots=True)
class KindParameters:
    """The SPAN parameters of one kind of underlying (index, stock, commodity)."""

    price_scan_sigmas: float  # the price scan range in daily standard deviations ..
    price_scan_min: float  # .. and at least this fraction of the price
    volatility_scan: float  # the volatility shift, this fraction of the volatility ..
    volatility_scan_min: float  # .. and at least this (0.04 is 4 points)
    exposure: Rate  # on futures' and short options' notional
    short_option_minimum: Rate  # per short option, on its notional
    calendar_spread: Rate  # per matched delta, on the far month's price
    expiry_day_extra: Rate  # on short options expiring that day


@dataclass(frozen=True, slots=True)
class PortfolioParameters:
    """The portfolio-margin parameters in force from ``effective_from``."""

    effective_from: date
    calendar_benefit_on_expiry_day: bool
    by_kind: Mapping[str, KindParameters]  # INDEX, STOCK, COMMODITY


@dataclass(frozen=True, slots=True)
class PortfolioMarginConfig:
    horizon_days: int
    extreme_weight: float
    trading_days_per_year: int
    fallback_volatility: Mapping[str, float]  # by kind
    parameters: tuple[PortfolioParameters, ...]  # sorted by effective_from

    def on(self, trade_date: date) -> PortfolioParameters:
        return in_force(self.parameters, trade_date)


@dataclass(frozen=True, slots=True)
class CircuitConfig:
    equity: Rate
    index_futures: Rate
    stock_futures: Rate
    commodity_futures: Rate
    options: Rate


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    open_orders_max: int
    order_value_max_paise: int
    quotes_per_request_max: int
    basket_orders_max: int  # orders in one basket margin request
    list_limit_max: int
    account_resets_per_day_max: int  # resets of one account per trade day (console or admin)
    iceberg_legs_min: int  # the legs of one iceberg order (docs/DOMAIN.md §3), Kite's 2 ...
    iceberg_legs_max: int  # ... to 50


@dataclass(frozen=True, slots=True)
class GttConfig:
    """GTT triggers (``[gtt]``, docs/DOMAIN.md §7)."""

    active_max: int  # active GTTs per account (a two-leg GTT counts once)
    expiry_days: int  # a GTT not fired within this many days expires


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    market_fill_delay_ms: int
    market_protection: Rate
    slippage_cap_ticks: int


@dataclass(frozen=True, slots=True)
class ExpiryRule:
    """When derivatives expire, from ``effective_from`` (``engine.domain.calendar``)."""

    effective_from: date
    weekday: Mapping[Exchange, int]  # each exchange's expiry weekday (Monday 0)
    weekly: frozenset[str]  # the underlyings with weekly expiries


@dataclass(frozen=True, slots=True)
class SessionsConfig:
    enforce_hours: bool
    timezone_offset_minutes: int
    equity_open: str
    equity_close: str
    mcx_open: str
    mcx_close_us_summer: str
    mcx_close_us_winter: str
    mis_squareoff_equity: str
    mis_squareoff_fno: str
    mis_squareoff_mcx_before_close_minutes: int
    derivatives_close: tuple[tuple[date, str], ...]  # (effective from, "HH:MM")
    holidays: tuple[date, ...]  # NSE and BSE
    mcx_holidays: tuple[date, ...]  # MCX's full-day closures
    expiry_rules: tuple[ExpiryRule, ...]
