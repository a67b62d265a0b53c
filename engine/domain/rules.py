"""Broker rules an order must pass before any state changes: product, lot, tick, circuit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from engine.domain.calendar import ExchangeCalendar
from engine.domain.enums import OrderType, Product, Rejection
from engine.domain.instruments import Instrument, UnderlyingKind
from engine.domain.money import Rate
from engine.domain.parameters import (
    ChargesConfig,
    CircuitConfig,
    ExecutionConfig,
    GttConfig,
    LimitsConfig,
    MarginConfig,
    RiskConfig,
)
from engine.domain.portfolio import PortfolioMarginModel
from engine.domain.sessions import MS_PER_DAY, SessionRules

EPOCH = date(1970, 1, 1)
# Zerodha's GTT limits ([gtt] in configs/default.toml sets them).
DEFAULT_GTT = GttConfig(active_max=250, expiry_days=365)


@dataclass(frozen=True, slots=True)
class AccountRules:
    """The slice of configuration an account's decisions depend on."""

    charges: ChargesConfig
    margin: MarginConfig
    risk: RiskConfig
    limits: LimitsConfig
    execution: ExecutionConfig
    circuits: CircuitConfig
    timezone_offset_minutes: int
    sessions: SessionRules | None  # None: trading around the clock
    calendar: ExchangeCalendar  # when contracts expire (whether hours are enforced or not)
    portfolio: PortfolioMarginModel  # futures' and options' margin, per underlying
    gtt: GttConfig = DEFAULT_GTT

    def trade_day(self, now_ms: int) -> int:
        """The exchange-local (IST) day number of a clock reading."""
        return (now_ms + self.timezone_offset_minutes * 60_000) // MS_PER_DAY

    def trade_date(self, now_ms: int) -> date:
        return _date_of_day(self.trade_day(now_ms))


@lru_cache(maxsize=64)
def _date_of_day(day: int) -> date:
    return EPOCH + timedelta(days=day)


def product_allowed(instrument: Instrument, product: Product) -> bool:
    """CNC is for cash equity, NRML for derivatives, MIS for both."""
    if product is Product.MIS:
        return True
    if product is Product.CNC:
        return instrument.is_equity
    return not instrument.is_equity


def circuit_rate(circuits: CircuitConfig, instrument: Instrument) -> Rate:
    if instrument.is_equity:
        return circuits.equity
    if instrument.is_option:
        return circuits.options
    if instrument.underlying_kind is UnderlyingKind.INDEX:
        return circuits.index_futures
    if instrument.underlying_kind is UnderlyingKind.COMMODITY:
        return circuits.commodity_futures
    return circuits.stock_futures


def circuit_band(
    circuits: CircuitConfig, instrument: Instrument, reference_paise: int
) -> tuple[int, int]:
    """The (low, high) price band around a reference, snapped inward to ticks.

    A zero rate means no band: anything from one tick up is allowed.
    """
    tick = instrument.tick_paise
    rate = circuit_rate(circuits, instrument)
    if rate.parts == 0 or reference_paise <= 0:
        return tick, 2**62
    return band_around(reference_paise, rate, tick)


def band_around(reference_paise: int, rate: Rate, tick_paise: int) -> tuple[int, int]:
    """(low, high): ``rate`` of ``reference_paise`` either side of it, snapped inward to the
    tick grid, the low never under one tick (a circuit band; a MARKET order's protection)."""
    width = rate.of(reference_paise)
    low = -(-(reference_paise - width) // tick_paise) * tick_paise
    high = (reference_paise + width) // tick_paise * tick_paise
    return max(low, tick_paise), high


def check_quantity(instrument: Instrument, quantity: int) -> Rejection | None:
    if quantity <= 0 or quantity % instrument.lot_size != 0:
        return Rejection.INVALID_QUANTITY
    if instrument.freeze_quantity and quantity > instrument.freeze_quantity:
        return Rejection.ABOVE_FREEZE_QUANTITY
    return None


def check_price(
    instrument: Instrument, price_paise: int, band: tuple[int, int]
) -> Rejection | None:
    """A price must be positive, on the tick grid and inside the circuit band."""
    if price_paise <= 0 or price_paise % instrument.tick_paise != 0:
        return Rejection.INVALID_PRICE
    if not band[0] <= price_paise <= band[1]:
        return Rejection.INVALID_PRICE
    return None


def check_order_terms(order_type: OrderType, price_paise: int, trigger_paise: int) -> bool:
    """Which prices each order type needs: LIMIT a price, SL both, SL-M a trigger, MARKET none."""
    if order_type is OrderType.MARKET:
        return price_paise == 0 and trigger_paise == 0
    if order_type is OrderType.LIMIT:
        return price_paise > 0 and trigger_paise == 0
    if order_type is OrderType.SL:
        return price_paise > 0 and trigger_paise > 0
    return price_paise == 0 and trigger_paise > 0
